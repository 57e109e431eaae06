// Transport and call limits of the real user_server: the request size limit,
// the cap on how long a call may run whatever deadline it asks for, the
// maximum connection age and the handshake timeout.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/test_cluster.h"

namespace userservice::testing {
namespace {

class LimitsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { TestCluster::Get(); }
  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->process().Log();
    }
  }

  std::unique_ptr<E2eServer> server_;
};

TEST_F(LimitsE2eTest, RequestAboveTheMessageLimitIsResourceExhausted) {
  absl::StatusOr<std::unique_ptr<E2eServer>> started =
      E2eServer::Start({"--max-receive-message-size=65536"});
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = std::move(*started);

  auto create = [&](size_t username_size) {
    v1::CreateUserRequest request;
    request.set_username(std::string(username_size, 'a'));
    request.set_email("big@example.com");
    v1::CreateUserResponse response;
    auto context = ContextWithDeadline(absl::Seconds(10));
    return server_->users().CreateUser(context.get(), request, &response);
  };
  // Under the limit the request arrives and validation rejects the name.
  grpc::Status small = create(10000);
  EXPECT_EQ(small.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << CodeName(small.error_code()) << " " << small.error_message();
  grpc::Status large = create(100000);
  EXPECT_EQ(large.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << CodeName(large.error_code()) << " " << large.error_message();
  // The connection stays usable.
  EXPECT_EQ(create(1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(LimitsE2eTest, LongDeadlineIsCutToTheMaximum) {
  absl::StatusOr<std::unique_ptr<E2eServer>> started =
      E2eServer::Start({"--max-deadline=1s", "--default-deadline=1s"});
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = std::move(*started);
  TestCluster& cluster = TestCluster::Get();

  const std::string name = UniqueUsername("cap");
  v1::CreateUserRequest create;
  create.set_username(name);
  create.set_email(name + "@example.com");
  v1::CreateUserResponse created;
  auto create_context = ContextWithDeadline(absl::Seconds(10));
  ASSERT_TRUE(
      server_->users().CreateUser(create_context.get(), create, &created).ok());

  // A row lock held elsewhere makes the update wait: without the cap it
  // would wait for innodb_lock_wait_timeout (50 s) and fail with ABORTED.
  absl::StatusOr<std::unique_ptr<AdminSession>> locker =
      AdminSession::Open("primary");
  ASSERT_TRUE(locker.ok()) << locker.status();
  absl::Cleanup release = [&] { (*locker)->Close(); };
  ASSERT_TRUE((*locker)->Execute("START TRANSACTION").ok());
  ASSERT_TRUE((*locker)
                  ->Execute(absl::StrCat("SELECT id FROM `", cluster.db_name(),
                                         "`.users WHERE id = ",
                                         created.user().id(), " FOR UPDATE"))
                  .ok());

  v1::UpdateUserRequest update;
  *update.mutable_user() = created.user();
  update.mutable_user()->set_email("capped-" + name + "@example.com");
  update.mutable_update_mask()->add_paths("email");
  v1::UpdateUserResponse updated;
  auto context = ContextWithDeadline(absl::Seconds(60));
  const absl::Time start = absl::Now();
  grpc::Status status =
      server_->users().UpdateUser(context.get(), update, &updated);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << CodeName(status.error_code()) << " " << status.error_message();
  EXPECT_LT(took, absl::Seconds(10)) << absl::FormatDuration(took);
  EXPECT_GE(took, absl::Milliseconds(800)) << absl::FormatDuration(took);
}

TEST_F(LimitsE2eTest,
       ConnectionsAreRecycledAfterTheirMaximumAgeWithoutFailingCalls) {
  absl::StatusOr<std::unique_ptr<E2eServer>> started = E2eServer::Start(
      {"--max-connection-age=1s", "--max-connection-age-grace=1s",
       "--access-log-sample=1"});
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = std::move(*started);

  // One channel calling steadily for 4 s: its connection is replaced about
  // every second, and no call notices.
  const absl::Time end = absl::Now() + absl::Seconds(4);
  int calls = 0;
  while (absl::Now() < end) {
    v1::GetUserRequest request;
    request.set_id(4000000000ull);
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
    v1::GetUserResponse response;
    auto context = ContextWithDeadline(absl::Seconds(5));
    grpc::Status status =
        server_->users().GetUser(context.get(), request, &response);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
        << CodeName(status.error_code()) << " " << status.error_message();
    ++calls;
    absl::SleepFor(absl::Milliseconds(50));
  }

  // The access log names each call's peer address; a new connection has a
  // new source port. Log lines are written in batches every 100 ms.
  std::set<std::string> peers;
  int logged = 0;
  const std::string kPeer = "\"peer\":\"";
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  do {
    absl::SleepFor(absl::Milliseconds(100));
    peers.clear();
    logged = 0;
    const std::string log = server_->process().Log();
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      if (!absl::StrContains(line, "UserService/GetUser")) continue;
      const size_t at = line.find(kPeer);
      if (at == absl::string_view::npos) continue;
      const size_t start = at + kPeer.size();
      peers.insert(
          std::string(line.substr(start, line.find('"', start) - start)));
      ++logged;
    }
  } while (logged < calls && absl::Now() < give_up);
  EXPECT_EQ(logged, calls);
  EXPECT_GE(peers.size(), 3u) << "peers: " << absl::StrJoin(peers, " ");
}

// A TCP connection to 127.0.0.1:port that sent `bytes` (-1: not connected).
int ConnectAndSend(int port, absl::string_view bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(bytes.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

// How long until the peer closes `fd` (reads whatever it sends first);
// InfiniteDuration if it is still open after `limit`.
absl::Duration TimeUntilClosed(int fd, absl::Duration limit) {
  const absl::Time start = absl::Now();
  char buffer[4096];
  while (absl::Now() - start < limit) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return absl::Now() - start;
  }
  return absl::InfiniteDuration();
}

TEST_F(LimitsE2eTest, AConnectionThatNeverFinishesItsHandshakeIsClosed) {
  absl::StatusOr<std::unique_ptr<E2eServer>> started =
      E2eServer::Start({"--handshake-timeout=2s"});
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = std::move(*started);
  // Half of the HTTP/2 client preface, then nothing.
  const int half_preface =
      ConnectAndSend(server_->process().port(), "PRI * HTTP/2.0\r\n");
  // The whole preface but no SETTINGS frame.
  const int no_settings = ConnectAndSend(server_->process().port(),
                                         "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  ASSERT_GE(half_preface, 0);
  ASSERT_GE(no_settings, 0);
  absl::Cleanup close_both = [&] {
    close(half_preface);
    close(no_settings);
  };
  const absl::Duration half = TimeUntilClosed(half_preface, absl::Seconds(15));
  const absl::Duration settings =
      TimeUntilClosed(no_settings, absl::Seconds(15));
  EXPECT_GE(half, absl::Seconds(1));
  EXPECT_LT(half, absl::Seconds(6));
  EXPECT_LT(settings, absl::Seconds(6));
  // Meanwhile and afterwards, a real client is served.
  v1::GetUserRequest request;
  request.set_id(1);
  v1::GetUserResponse response;
  auto context = ContextWithDeadline(absl::Seconds(5));
  grpc::Status status =
      server_->users().GetUser(context.get(), request, &response);
  EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

}  // namespace
}  // namespace userservice::testing
