#!/usr/bin/env bash
# Writes the fuzz targets' seed corpora (tests/fuzz/corpus/NAME/): a few
# valid and near-valid inputs each, in the form each target reads (see the
# comment at the top of NAME_fuzzer.cc). The seeds are committed; rerun
# this after changing it or the request protos, and commit the result. It
# rewrites the files it names and leaves the others (findings) alone.
# Needs protoc (protobuf-compiler) and python3.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="$REPO_ROOT/tests/fuzz/corpus"

# seed TARGET NAME BYTES...: one seed file from printf-style BYTES.
seed() {
  mkdir -p "$CORPUS/$1"
  # shellcheck disable=SC2059  # the bytes are the format on purpose
  printf "$3" >"$CORPUS/$1/$2"
}

# b64 TEXT: unpadded base64url, as the tokens use it.
b64() { python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.argv[1].encode()).decode().rstrip("="), end="")' "$1"; }

# request NAME MODE TYPE TEXT: a request_validation seed, the method byte
# MODE then the userservice.v1.TYPE written as TEXT (protobuf text format).
request() {
  local dir="$CORPUS/request_validation"
  mkdir -p "$dir"
  { printf "\\x$2"
    protoc --proto_path="$REPO_ROOT/proto" --proto_path=/usr/include \
      --encode="userservice.v1.$3" userservice/v1/user_service.proto <<<"$4"
  } >"$dir/$1"
}

token="v1.$(b64 'mariadb:0-1-42')"
token2="v1.$(b64 'mariadb:0-1-40,1-2-7')"
page="p1.$(b64 'after:42')"

request create-valid 00 CreateUserRequest \
  'username: "ada_1815" email: "ada@example.com" request_id: "6f1c0e9a-7b1d-4e0e-9a55-2f7c4d1b8e11"'
request create-unicode-email 00 CreateUserRequest \
  'username: "ada.l" email: "\303\244d\303\244@ex\303\244mple.com"'
request create-bad-email 00 CreateUserRequest 'username: "ab" email: "ada at example.com"'
request get-by-id 01 GetUserRequest 'id: 42'
request get-session 01 GetUserRequest \
  "username: \"ada_1815\" read_options { consistency: CONSISTENCY_SESSION consistency_token: \"$token\" }"
request get-bounded 01 GetUserRequest \
  'email: "ada@example.com" read_options { consistency: CONSISTENCY_BOUNDED_STALENESS max_staleness { seconds: 5 nanos: 1 } }'
request get-tokens 01 GetUserRequest \
  "id: 7 read_options { consistency_token: \"$token\" consistency_tokens: \"$token2\" consistency_tokens: \"$token\" }"
request batch-valid 02 BatchGetUsersRequest 'ids: [1, 2, 3] read_options { consistency: CONSISTENCY_STRONG }'
request batch-zero-id 02 BatchGetUsersRequest 'ids: [5, 0]'
request list-next-page 03 ListUsersRequest "page_size: 10 page_token: \"$page\""
request list-negative-size 03 ListUsersRequest 'page_size: -1'
request update-email 04 UpdateUserRequest \
  'user { id: 7 username: "ada_1815" email: "ada@example.com" } update_mask { paths: "email" } expected_version: 3'
request update-no-mask 04 UpdateUserRequest 'user { id: 7 username: "ada_1815" email: "ada@example.com" }'
request update-unknown-path 04 UpdateUserRequest \
  'user { id: 7 email: "ada@example.com" } update_mask { paths: "version" }'
request delete-valid 05 DeleteUserRequest 'id: 7 expected_version: 2'
request delete-negative-version 05 DeleteUserRequest 'id: 7 expected_version: -1'
# Mode 06: the string rules on raw bytes; the next byte picks the rule
# (0 email, 1 username, 2 request id).
seed request_validation rule-email '\x06\x00ada@example.com'
seed request_validation rule-email-surrogate '\x06\x00a\xed\xa0\x80@example.com'
seed request_validation rule-email-nbsp '\x06\x00ada\xc2\xa0@example.com'
seed request_validation rule-username '\x06\x01ada_1815'
seed request_validation rule-request-id '\x06\x02req-6f1c0e9a'

# consistency_token: an odd first byte wraps the rest as the payload.
seed consistency_token one-domain "\\x00$token"
seed consistency_token two-domains "\\x00$token2"
seed consistency_token empty-position "\\x00v1.$(b64 'mariadb:')"
seed consistency_token payload-one-domain '\x01mariadb:0-1-42'
seed consistency_token payload-max '\x01mariadb:0-1-42,4294967295-4294967295-18446744073709551615'
seed consistency_token payload-mysql '\x01mysql:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'
seed consistency_token payload-unsorted '\x01mariadb:1-2-7,0-1-42'
seed consistency_token padded "\\x00$token=="
seed consistency_token stray-bits '\x00v1.bWFyaWFkYjowLTEtNDa'

# page_token: an odd first byte wraps the rest as the payload.
seed page_token after-42 "\\x00$page"
seed page_token after-max "\\x00p1.$(b64 'after:18446744073709551615')"
seed page_token payload-after-7 '\x01after:7'
seed page_token payload-zero '\x01after:0'
seed page_token payload-overflow '\x01after:18446744073709551616'
seed page_token payload-leading-zeros '\x01after:0042'
seed page_token stray-bits '\x00p1.YWZ0ZXI6MTg0NDY3NDQwMk'

# update_mask: first byte bit 0 = valid username, bit 1 = valid email; the
# rest are the paths, one per line.
seed update_mask both-valid-no-mask '\x03'
seed update_mask email '\x02email'
seed update_mask both '\x03username\nemail'
seed update_mask username-invalid-email-masked-out '\x02email'
seed update_mask unknown '\x03username\nversion'
seed update_mask nested '\x03user.email'

seed request_id uuid '6f1c0e9a-7b1d-4e0e-9a55-2f7c4d1b8e11'
seed request_id trace-id '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
seed request_id with-space 'req 1'
seed request_id email 'ada@example.com'

seed replication_position one '0-1-42'
seed replication_position two-and-one '0-1-42,1-2-7|1-3-9'
seed replication_position spaces ' 0-1-42 ,\n1-2-7 |'
seed replication_position max '4294967295-4294967295-18446744073709551615|0-1-1'
seed replication_position duplicate-domain '0-1-42,0-2-43'
seed replication_position overflow '4294967296-1-1|0-1-18446744073709551616'
