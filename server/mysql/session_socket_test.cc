#include "server/mysql/session_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace userservice::mysql {
namespace {

int PortOf(int fd, bool peer) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  auto* raw = reinterpret_cast<sockaddr*>(&addr);
  EXPECT_EQ(peer ? getpeername(fd, raw, &len) : getsockname(fd, raw, &len), 0);
  return ntohs(addr.sin_port);
}

// A TCP connection over loopback, both ends in this process: `client` is
// what a database session's socket looks like.
class LoopbackConnection : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
              0);
    ASSERT_EQ(listen(listener_, 1), 0);
    server_port_ = PortOf(listener_, false);
    addr.sin_port = htons(server_port_);
    client_ = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(
        connect(client_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    accepted_ = accept(listener_, nullptr, nullptr);
    ASSERT_GE(accepted_, 0);
    client_port_ = PortOf(client_, false);
  }
  void TearDown() override {
    close(client_);
    close(accepted_);
    close(listener_);
  }

  int listener_ = -1;
  int client_ = -1;
  int accepted_ = -1;
  int server_port_ = 0;
  int client_port_ = 0;
};

TEST_F(LoopbackConnection, FindsTheClientSocketByTheServersView) {
  EXPECT_EQ(
      FindSessionSocket(absl::StrCat("127.0.0.1:", client_port_), server_port_),
      client_);
  EXPECT_EQ(FindSessionSocket(absl::StrCat("::ffff:127.0.0.1:", client_port_),
                              server_port_),
            client_);
}

TEST_F(LoopbackConnection, AHostNameIsMatchedByPortsAlone) {
  EXPECT_EQ(
      FindSessionSocket(absl::StrCat("localhost:", client_port_), server_port_),
      client_);
}

TEST_F(LoopbackConnection, OtherAddressesFindNothing) {
  // NAT: the server saw another address or port.
  EXPECT_EQ(
      FindSessionSocket(absl::StrCat("10.1.2.3:", client_port_), server_port_),
      -1);
  EXPECT_EQ(FindSessionSocket(absl::StrCat("127.0.0.1:", client_port_),
                              server_port_ + 1),
            -1);
  // A unix socket session has no port.
  EXPECT_EQ(FindSessionSocket("localhost", server_port_), -1);
  EXPECT_EQ(FindSessionSocket("", server_port_), -1);
}

}  // namespace
}  // namespace userservice::mysql
