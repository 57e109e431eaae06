#include "server/service/read_batcher.h"

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/service/consistency_token.h"
#include "server/testing/fake_user_reader.h"
#include "server/testing/fake_user_writer.h"
#include "server/testing/in_process_user_service.h"
#include "userservice/v1/user_service.grpc.pb.h"

// How GetUser calls that arrive together are answered: through the
// service and its dispatcher, with the one dispatcher thread held so that
// calls pile up behind it.

namespace userservice {
namespace {

// Holds the first GetUser of one key until released.
class GatedReader : public FakeUserReader {
 public:
  void Gate(UserKey key) {
    absl::MutexLock lock(&mu_);
    gated_ = std::move(key);
  }
  absl::StatusOr<User> GetUser(const UserKey& key,
                               const RequestContext& ctx) override {
    bool hold = false;
    {
      absl::MutexLock lock(&mu_);
      hold = key.kind == gated_.kind && key.id == gated_.id &&
             key.text == gated_.text && !entered_.HasBeenNotified();
    }
    if (hold) {
      entered_.Notify();
      gate_.WaitForNotificationWithTimeout(absl::Seconds(20));
    }
    return FakeUserReader::GetUser(key, ctx);
  }
  void WaitUntilHeld() {
    entered_.WaitForNotificationWithTimeout(absl::Seconds(20));
  }
  void Release() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }

 private:
  absl::Mutex mu_;
  UserKey gated_ ABSL_GUARDED_BY(mu_) = UserKey::Id(5);
  absl::Notification entered_;
  absl::Notification gate_;
};

class ReadBatcherTest : public ::testing::Test {
 protected:
  using Reply = AsyncReply<v1::GetUserResponse>;

  void SetUp() override {
    DispatcherOptions dispatcher;
    dispatcher.threads = 1;  // so that calls pile up behind a held one
    service_.Start(&writer_, &primary_, &replica_, ServiceOptions(),
                   dispatcher);
    stub_ = service_.stub();
    for (uint64_t id = 1; id <= 5; ++id) {
      const User user = MakeUser(id, absl::StrCat("user", id));
      primary_.AddUser(user);
      replica_.AddUser(user);
    }
  }

  void TearDown() override {
    replica_.Release();
    primary_.Release();
    service_.Stop();
  }

  // Starts a GetUser without waiting for it.
  Reply* Send(const v1::GetUserRequest& request) {
    return SendAsync(replies_, request, [this](auto... args) {
      stub_->async()->GetUser(args...);
    });
  }

  static v1::GetUserRequest ById(
      uint64_t id, v1::Consistency consistency = v1::CONSISTENCY_EVENTUAL) {
    v1::GetUserRequest request;
    request.set_id(id);
    request.mutable_read_options()->set_consistency(consistency);
    return request;
  }

  // Holds the only GetUser thread with a read of user 5 on `reader`, sends
  // `requests` meanwhile, then lets everything go and waits for all.
  std::vector<Reply*> SendWhileHeld(GatedReader& reader,
                                    v1::Consistency held_consistency,
                                    std::vector<v1::GetUserRequest> requests) {
    return userservice::SendWhileHeld<v1::GetUserResponse>(
        reader, [this](const v1::GetUserRequest& r) { return Send(r); },
        ById(5, held_consistency), requests);
  }

  FakeUserWriter writer_;
  GatedReader primary_;
  GatedReader replica_;
  InProcessUserService service_;
  v1::UserService::Stub* stub_ = nullptr;
  std::vector<std::unique_ptr<Reply>> replies_;
};

TEST_F(ReadBatcherTest, ReadsThatArriveTogetherShareOneStatement) {
  std::vector<v1::GetUserRequest> requests;
  for (uint64_t id : {3, 1, 404, 5, 3}) requests.push_back(ById(id));
  std::vector<Reply*> replies =
      SendWhileHeld(replica_, v1::CONSISTENCY_EVENTUAL, requests);

  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(replica_.get_user_calls(), 1);  // the held read
  EXPECT_EQ(primary_.read_calls(), 0);
  const std::vector<uint64_t> expected = {3, 1, 0, 5, 3};
  for (size_t i = 0; i < replies.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(ServedBy(replies[i]->context), "replica-0");
    if (expected[i] == 0) {
      EXPECT_EQ(replies[i]->status.error_code(), grpc::StatusCode::NOT_FOUND);
      EXPECT_EQ(replies[i]->status.error_message(), "user 404 not found");
      continue;
    }
    ASSERT_TRUE(replies[i]->status.ok()) << replies[i]->status.error_message();
    EXPECT_EQ(replies[i]->response.user().id(), expected[i]);
    EXPECT_EQ(replies[i]->response.user().username(),
              absl::StrCat("user", expected[i]));
  }
}

TEST_F(ReadBatcherTest, OnlyReadsWithTheSameConsistencyShareAStatement) {
  std::vector<v1::GetUserRequest> requests = {
      ById(1, v1::CONSISTENCY_STRONG), ById(2), ById(3, v1::CONSISTENCY_STRONG),
      ById(4)};
  std::vector<Reply*> replies =
      SendWhileHeld(replica_, v1::CONSISTENCY_EVENTUAL, requests);

  EXPECT_EQ(primary_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  for (size_t i = 0; i < replies.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(replies[i]->status.ok()) << replies[i]->status.error_message();
    EXPECT_EQ(replies[i]->response.user().id(), i + 1);
    EXPECT_EQ(ServedBy(replies[i]->context),
              i % 2 == 0 ? "primary" : "replica-0");
  }
}

TEST_F(ReadBatcherTest, AFailedSharedStatementIsRetriedLikeOneRead) {
  replica_.FailReads(absl::UnavailableError("replica-0 unreachable"));
  std::vector<v1::GetUserRequest> requests = {ById(1), ById(2), ById(404)};
  // The held read goes to the primary (STRONG) while the replica is down.
  std::vector<Reply*> replies =
      SendWhileHeld(primary_, v1::CONSISTENCY_STRONG, requests);

  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(primary_.get_users_by_ids_calls(), 1);
  for (Reply* reply : replies) EXPECT_EQ(ServedBy(reply->context), "primary");
  EXPECT_TRUE(replies[0]->status.ok());
  EXPECT_EQ(replies[1]->response.user().id(), 2u);
  EXPECT_EQ(replies[2]->status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReadBatcherTest, SessionReadsWithAPositionAreAnsweredAlone) {
  v1::GetUserRequest session = ById(2, v1::CONSISTENCY_SESSION);
  session.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(WritePosition()));
  std::vector<Reply*> replies = SendWhileHeld(
      replica_, v1::CONSISTENCY_EVENTUAL, {session, ById(1), ById(3)});

  EXPECT_EQ(replica_.wait_calls(), 1);
  // The two eventual reads together; the session read alone.
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(replica_.get_user_calls(), 2);
  for (size_t i = 0; i < replies.size(); ++i) {
    ASSERT_TRUE(replies[i]->status.ok()) << replies[i]->status.error_message();
  }
  EXPECT_EQ(replies[0]->response.user().id(), 2u);
}

TEST_F(ReadBatcherTest, ALookupThatWaitsDoesNotHoldUpReadsById) {
  // A lookup by username stands in for any read that may wait (a session
  // read waits up to --session-wait for a replica).
  replica_.Gate(UserKey::Username("user1"));
  v1::GetUserRequest lookup;
  lookup.set_username("user1");
  lookup.mutable_read_options()->set_consistency(v1::CONSISTENCY_EVENTUAL);
  Reply* held = Send(lookup);
  replica_.WaitUntilHeld();

  Reply* by_id = Send(ById(2));
  EXPECT_TRUE(by_id->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE(by_id->status.ok()) << by_id->status.error_message();
  EXPECT_FALSE(held->done.HasBeenNotified());
  replica_.Release();
  EXPECT_TRUE(held->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(held->response.user().id(), 1u);
}

}  // namespace
}  // namespace userservice
