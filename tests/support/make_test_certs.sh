#!/usr/bin/env bash
# Writes throwaway TLS material for tests into DIR (created if needed):
#   ca.pem ca.key                 the test CA
#   server.pem server.key         leaf for localhost / 127.0.0.1, signed by ca
#   server-rotated.pem/.key       another such leaf (new key, new serial)
#   client.pem client.key         client leaf (clientAuth), signed by ca
#   other-ca.pem other-ca.key     a second CA nobody trusts
#   other-client.pem/.key         client leaf signed by other-ca
#   wrong-name.pem/.key           leaf signed by ca for example.invalid only
# Keys are P-256 (fast to make); certificates are valid for two days. Never
# committed: tests generate them at run time.
set -euo pipefail
dir="${1:?usage: make_test_certs.sh DIR}"
mkdir -p "$dir"
cd "$dir"

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # ca NAME CN
  newkey "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() {  # leaf NAME CA CN EXTENSIONS
  newkey "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "$4" >"$1.ext"
  # A random serial per certificate, so a rotated leaf is told apart.
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
    -set_serial "0x$(openssl rand -hex 12)" -days 2 -out "$1.pem" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

server_ext=$'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1'
ca ca "userservice test CA"
ca other-ca "untrusted test CA"
leaf server ca localhost "$server_ext"
leaf server-rotated ca localhost "$server_ext"
leaf client ca "test client" "extendedKeyUsage=clientAuth"
leaf other-client other-ca "untrusted client" "extendedKeyUsage=clientAuth"
leaf wrong-name ca example.invalid $'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:example.invalid'
chmod 600 ./*.key
