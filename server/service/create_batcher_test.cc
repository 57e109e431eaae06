#include "server/service/create_batcher.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/testing/fake_user_reader.h"
#include "server/testing/in_process_user_service.h"
#include "userservice/v1/user_service.grpc.pb.h"

// How CreateUser calls queued together are written: through the service
// and its dispatcher, with the one write worker held so that creates pile
// up behind it.

namespace userservice {
namespace {

// Keeps usernames unique as the users table does, answers a batch all or
// nothing, and can hold one create until released.
class UniqueUsersWriter : public UserWriter {
 public:
  void AddExisting(const std::string& username) {
    absl::MutexLock lock(&mu_);
    taken_.insert(username);
  }
  // The next single create waits in the writer until Release().
  void HoldNextCreate() {
    absl::MutexLock lock(&mu_);
    hold_next_ = true;
  }
  void WaitUntilHeld() {
    entered_.WaitForNotificationWithTimeout(absl::Seconds(20));
  }
  void Release() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }

  absl::StatusOr<Positioned<User>> CreateUser(const NewUser& user,
                                              const RequestContext&) override {
    bool hold = false;
    {
      absl::MutexLock lock(&mu_);
      hold = std::exchange(hold_next_, false);
    }
    if (hold) {
      entered_.Notify();
      gate_.WaitForNotificationWithTimeout(absl::Seconds(20));
    }
    absl::MutexLock lock(&mu_);
    single_creates_.push_back(user.username);
    if (!user.request_id.empty()) idempotent_creates_.push_back(user.username);
    if (taken_.contains(user.username)) {
      return absl::AlreadyExistsError(
          absl::StrCat("username \"", user.username, "\" is already taken"));
    }
    return Record(user, ++commits_);
  }
  absl::StatusOr<std::vector<Positioned<User>>> CreateUsers(
      absl::Span<const NewUser> users, const RequestContext&) override {
    absl::MutexLock lock(&mu_);
    batch_sizes_.push_back(users.size());
    absl::flat_hash_set<std::string> in_batch;
    for (const NewUser& user : users) {
      if (taken_.contains(user.username) ||
          !in_batch.insert(user.username).second) {
        return absl::AlreadyExistsError("Duplicate entry");
      }
    }
    const int commit = ++commits_;
    std::vector<Positioned<User>> created;
    for (const NewUser& user : users) created.push_back(Record(user, commit));
    return created;
  }
  absl::StatusOr<Positioned<User>> UpdateUser(const UserUpdate&,
                                              const RequestContext&) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<ReplicationPosition> DeleteUser(
      uint64_t, int64_t, const RequestContext&) override {
    return absl::UnimplementedError("not used");
  }

  std::vector<size_t> batch_sizes() const {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }
  std::vector<std::string> single_creates() const {
    absl::MutexLock lock(&mu_);
    return single_creates_;
  }
  std::vector<std::string> idempotent_creates() const {
    absl::MutexLock lock(&mu_);
    return idempotent_creates_;
  }

 private:
  Positioned<User> Record(const NewUser& user, int commit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    taken_.insert(user.username);
    Positioned<User> written;
    written.value = MakeUser(taken_.size() + 100, user.username);
    written.value.email = user.email;
    written.position =
        *ReplicationPosition::Parse(absl::StrCat("0-1-", commit));
    return written;
  }

  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> taken_ ABSL_GUARDED_BY(mu_);
  bool hold_next_ ABSL_GUARDED_BY(mu_) = false;
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<size_t> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> single_creates_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> idempotent_creates_ ABSL_GUARDED_BY(mu_);
  absl::Notification entered_;
  absl::Notification gate_;
};

class CreateBatcherTest : public ::testing::Test {
 protected:
  using Reply = AsyncReply<v1::CreateUserResponse>;

  void SetUp() override {
    // One write worker, so that calls pile up behind a held one; one
    // dispatcher thread, so that they are queued in the order they arrive.
    ServiceOptions options;
    options.creates.write_workers = 1;
    DispatcherOptions dispatcher;
    dispatcher.threads = 1;
    service_.Start(&writer_, &primary_, &replica_, options, dispatcher);
    writer_.AddExisting("taken");
  }
  void TearDown() override {
    writer_.Release();
    service_.Stop();
  }

  static v1::CreateUserRequest NewUserRequest(
      const std::string& username, const std::string& request_id = "") {
    v1::CreateUserRequest request;
    request.set_username(username);
    request.set_email(absl::StrCat(username, "@example.com"));
    request.set_request_id(request_id);
    return request;
  }

  Reply* Send(const v1::CreateUserRequest& request) {
    return SendAsync(replies_, request, [this](auto... args) {
      service_.stub()->async()->CreateUser(args...);
    });
  }

  // Holds the only write worker with one create, sends `requests`
  // meanwhile, then lets everything go and waits for all.
  std::vector<Reply*> SendWhileHeld(
      const std::vector<v1::CreateUserRequest>& requests) {
    writer_.HoldNextCreate();
    return userservice::SendWhileHeld<v1::CreateUserResponse>(
        writer_, [this](const v1::CreateUserRequest& r) { return Send(r); },
        NewUserRequest("held"), requests);
  }

  UniqueUsersWriter writer_;
  FakeUserReader primary_;
  FakeUserReader replica_;
  InProcessUserService service_;
  std::vector<std::unique_ptr<Reply>> replies_;
};

TEST_F(CreateBatcherTest, CreatesThatArriveTogetherShareOneInsert) {
  std::vector<Reply*> replies = SendWhileHeld(
      {NewUserRequest("anne"), NewUserRequest("bobby"), NewUserRequest("cyd")});

  EXPECT_THAT(writer_.batch_sizes(), ::testing::ElementsAre(3u));
  EXPECT_THAT(writer_.single_creates(), ::testing::ElementsAre("held"));
  const std::vector<std::string> names = {"anne", "bobby", "cyd"};
  for (size_t i = 0; i < replies.size(); ++i) {
    SCOPED_TRACE(names[i]);
    ASSERT_TRUE(replies[i]->status.ok()) << replies[i]->status.error_message();
    EXPECT_EQ(replies[i]->response.user().username(), names[i]);
    EXPECT_EQ(replies[i]->response.user().email(),
              absl::StrCat(names[i], "@example.com"));
    // One commit: every caller's token names it.
    EXPECT_EQ(replies[i]->response.consistency_token(),
              replies[0]->response.consistency_token());
  }
  EXPECT_NE(replies[0]->response.user().id(), replies[1]->response.user().id());
}

TEST_F(CreateBatcherTest, AClashIsFoundByHalvingAndTheRestAreCreated) {
  std::vector<Reply*> replies =
      SendWhileHeld({NewUserRequest("anne"), NewUserRequest("taken"),
                     NewUserRequest("bobby"), NewUserRequest("cyd")});

  // All four fail together; of the halves, the one with "taken" fails too
  // and its two go alone, the other goes through together. (Which name
  // shares a half with "taken" depends on the order the calls arrived.)
  EXPECT_THAT(writer_.batch_sizes(), ::testing::ElementsAre(4u, 2u, 2u));
  const std::vector<std::string> singles = writer_.single_creates();
  ASSERT_EQ(singles.size(), 3u);
  EXPECT_EQ(singles[0], "held");
  EXPECT_THAT(singles, ::testing::Contains("taken"));
  EXPECT_TRUE(replies[0]->status.ok());
  EXPECT_EQ(replies[1]->status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // The lone culprit gets the single create's precise message.
  EXPECT_EQ(replies[1]->status.error_message(),
            "username \"taken\" is already taken");
  EXPECT_TRUE(replies[2]->status.ok());
  EXPECT_TRUE(replies[3]->status.ok());
  EXPECT_EQ(replies[3]->response.user().username(), "cyd");
}

TEST_F(CreateBatcherTest, OfTwoEqualCreatesInOneBatchExactlyOneWins) {
  std::vector<Reply*> replies =
      SendWhileHeld({NewUserRequest("dupe"), NewUserRequest("dupe")});

  // Which one wins depends on the order the calls arrived.
  EXPECT_NE(replies[0]->status.ok(), replies[1]->status.ok());
  const Reply& lost = replies[0]->status.ok() ? *replies[1] : *replies[0];
  EXPECT_EQ(lost.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(CreateBatcherTest, IdempotentAndInvalidCreatesDoNotJoinTheInsert) {
  v1::CreateUserRequest invalid = NewUserRequest("anne");
  invalid.set_email("not-an-email");
  std::vector<Reply*> replies = SendWhileHeld(
      {NewUserRequest("idem", "7f1c2a9e-3b4d-4c5e-8f6a-1b2c3d4e5f60"), invalid,
       NewUserRequest("bobby"), NewUserRequest("cyd")});

  EXPECT_THAT(writer_.idempotent_creates(), ::testing::ElementsAre("idem"));
  EXPECT_THAT(writer_.batch_sizes(), ::testing::ElementsAre(2u));
  EXPECT_TRUE(replies[0]->status.ok()) << replies[0]->status.error_message();
  EXPECT_EQ(replies[1]->status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(replies[2]->status.ok());
  EXPECT_TRUE(replies[3]->status.ok());
}

TEST_F(CreateBatcherTest, ACallWhoseCallerLeftWhileQueuedWritesNothing) {
  writer_.HoldNextCreate();
  Reply* first = Send(NewUserRequest("held"));
  writer_.WaitUntilHeld();
  Reply* gone = Send(NewUserRequest("gone"));
  Reply* kept = Send(NewUserRequest("kept"));
  absl::SleepFor(absl::Milliseconds(300));
  gone->context.TryCancel();
  ASSERT_TRUE(gone->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  // The server learns of the cancellation before the queue is served.
  absl::SleepFor(absl::Milliseconds(300));
  writer_.Release();
  ASSERT_TRUE(first->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  ASSERT_TRUE(kept->done.WaitForNotificationWithTimeout(absl::Seconds(20)));

  EXPECT_EQ(gone->status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(kept->status.ok()) << kept->status.error_message();
  EXPECT_THAT(writer_.batch_sizes(), ::testing::IsEmpty());
  EXPECT_THAT(writer_.single_creates(), ::testing::ElementsAre("held", "kept"));
}

}  // namespace
}  // namespace userservice
