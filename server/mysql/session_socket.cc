#include "server/mysql/session_socket.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"

namespace userservice::mysql {
namespace {

struct SocketAddress {
  std::string ip;  // IPv4-mapped IPv6 addresses as plain IPv4
  int port = 0;
};

std::string Unmapped(absl::string_view ip) {
  absl::ConsumePrefix(&ip, "::ffff:");
  return std::string(ip);
}

std::optional<SocketAddress> FromSockaddr(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    return SocketAddress{text, ntohs(in.sin_port)};
  }
  if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof(text));
    return SocketAddress{Unmapped(text), ntohs(in6.sin6_port)};
  }
  return std::nullopt;
}

// The addresses of a TCP socket, or nullopt for anything else.
std::optional<SocketAddress> LocalAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return std::nullopt;
  }
  return FromSockaddr(addr);
}

std::optional<SocketAddress> PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return std::nullopt;
  }
  return FromSockaddr(addr);
}

// "IP:PORT", "[IP]:PORT" or "HOST:PORT"; nullopt without a port.
std::optional<SocketAddress> ParseClientAddress(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  SocketAddress parsed;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &parsed.port) ||
      parsed.port <= 0) {
    return std::nullopt;
  }
  absl::string_view host = text.substr(0, colon);
  absl::ConsumePrefix(&host, "[");
  absl::ConsumeSuffix(&host, "]");
  parsed.ip = Unmapped(host);
  return parsed;
}

bool IsNumericIp(const std::string& ip) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

}  // namespace

int FindSessionSocket(absl::string_view client_address, int server_port) {
  const std::optional<SocketAddress> client =
      ParseClientAddress(client_address);
  if (!client.has_value()) return -1;
  const bool compare_ip = IsNumericIp(client->ip);
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  const int dir_fd = dirfd(dir);
  int found = -1;
  int matches = 0;
  while (const dirent* entry = readdir(dir)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == dir_fd) continue;
    const std::optional<SocketAddress> local = LocalAddress(fd);
    if (!local.has_value() || local->port != client->port) continue;
    if (compare_ip && local->ip != client->ip) continue;
    const std::optional<SocketAddress> peer = PeerAddress(fd);
    if (!peer.has_value() || peer->port != server_port) continue;
    found = fd;
    ++matches;
  }
  closedir(dir);
  return matches == 1 ? found : -1;
}

}  // namespace userservice::mysql
