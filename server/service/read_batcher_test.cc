#include "server/service/read_batcher.h"

#include <algorithm>
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
#include "server/service/user_mapper.h"
#include "server/testing/fake_user_reader.h"
#include "server/testing/fake_user_writer.h"
#include "server/testing/in_process_user_service.h"
#include "userservice/v1/user_service.grpc.pb.h"

// How GetUser calls that arrive together are answered: through the
// service and its dispatcher, with the one dispatcher thread held so that
// calls pile up behind it.

namespace userservice {
namespace {

// Holds the first read of one key (by id: any read that includes the id)
// until released.
class GatedReader : public FakeUserReader {
 public:
  void Gate(UserKey key) {
    absl::MutexLock lock(&mu_);
    gated_ = std::move(key);
  }
  absl::StatusOr<Positioned<User>> GetUser(const UserKey& key,
                                           const RequestContext& ctx) override {
    MaybeHold([&](const UserKey& gated) {
      return key.kind == gated.kind && key.id == gated.id &&
             key.text == gated.text;
    });
    return FakeUserReader::GetUser(key, ctx);
  }
  absl::StatusOr<Positioned<std::vector<User>>> GetUsersByIds(
      absl::Span<const uint64_t> ids, const RequestContext& ctx) override {
    MaybeHold([&](const UserKey& gated) {
      return gated.kind == UserKey::Kind::kId &&
             std::find(ids.begin(), ids.end(), gated.id) != ids.end();
    });
    return FakeUserReader::GetUsersByIds(ids, ctx);
  }
  void WaitUntilHeld() {
    entered_.WaitForNotificationWithTimeout(absl::Seconds(20));
  }
  void Release() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }

 private:
  template <typename Matches>
  void MaybeHold(Matches matches) {
    bool hold = false;
    {
      absl::MutexLock lock(&mu_);
      hold = matches(gated_) && !entered_.HasBeenNotified();
      if (hold) entered_.Notify();
    }
    if (hold) {
      gate_.WaitForNotificationWithTimeout(absl::Seconds(20));
    }
  }

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

  // The held read, then all the others.
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 2);
  EXPECT_EQ(replica_.last_ids(), (std::vector<uint64_t>{1, 3, 5, 404}));
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
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 2);  // with the held read
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
  EXPECT_EQ(primary_.get_users_by_ids_calls(), 2);  // with the held read
  for (Reply* reply : replies) EXPECT_EQ(ServedBy(reply->context), "primary");
  EXPECT_TRUE(replies[0]->status.ok());
  EXPECT_EQ(replies[1]->response.user().id(), 2u);
  EXPECT_EQ(replies[2]->status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReadBatcherTest, SessionReadsThatMayWaitAreAnsweredAlone) {
  v1::GetUserRequest session = ById(2, v1::CONSISTENCY_SESSION);
  session.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(WritePosition()));
  std::vector<Reply*> replies = SendWhileHeld(
      replica_, v1::CONSISTENCY_EVENTUAL, {session, ById(1), ById(3)});

  EXPECT_EQ(replica_.wait_calls(), 1);
  // The held read; the two eventual reads together; the session read
  // alone.
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 3);
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

TEST_F(ReadBatcherTest, SessionReadsJoinTheBatchWhenAReplicaIsKnownThere) {
  service_.replica_applied().Observe(2, WritePosition());
  v1::GetUserRequest session = ById(2, v1::CONSISTENCY_SESSION);
  session.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(WritePosition()));
  v1::GetUserRequest other_session = ById(4, v1::CONSISTENCY_SESSION);
  other_session.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(*ReplicationPosition::Parse("0-1-7")));
  std::vector<Reply*> replies = SendWhileHeld(
      replica_, v1::CONSISTENCY_EVENTUAL, {session, ById(1), other_session});

  EXPECT_EQ(replica_.wait_calls(), 0);
  // The held read, the eventual read, the two session reads together.
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 3);
  EXPECT_EQ(primary_.read_calls(), 0);
  for (Reply* reply : replies) {
    ASSERT_TRUE(reply->status.ok()) << reply->status.error_message();
    EXPECT_EQ(ServedBy(reply->context), "replica-0");
  }
}

TEST_F(ReadBatcherTest, EveryResponseTokenCoversItsRequestAndTheRead) {
  replica_.SetPosition(ReplicaPosition());
  v1::GetUserRequest with_token = ById(2);  // EVENTUAL: routed without it
  with_token.mutable_read_options()->add_consistency_tokens(
      EncodeConsistencyToken(WritePosition()));
  std::vector<Reply*> replies =
      SendWhileHeld(replica_, v1::CONSISTENCY_EVENTUAL, {with_token, ById(1)});

  ReplicationPosition both = WritePosition();
  both.Merge(ReplicaPosition());
  ASSERT_TRUE(replies[0]->status.ok());
  EXPECT_EQ(replies[0]->response.consistency_token(),
            EncodeConsistencyToken(both));
  ASSERT_TRUE(replies[1]->status.ok());
  EXPECT_EQ(replies[1]->response.consistency_token(),
            EncodeConsistencyToken(ReplicaPosition()));
}

class BatchGetUsersTest : public ReadBatcherTest {
 protected:
  using BatchReply = AsyncReply<v1::BatchGetUsersResponse>;

  BatchReply* SendBatch(const v1::BatchGetUsersRequest& request) {
    return SendAsync(batch_replies_, request, [this](auto... args) {
      stub_->async()->BatchGetUsers(args...);
    });
  }

  static v1::BatchGetUsersRequest Ids(std::vector<uint64_t> ids) {
    v1::BatchGetUsersRequest request;
    for (uint64_t id : ids) request.add_ids(id);
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_EVENTUAL);
    return request;
  }

  BatchReply* Call(const v1::BatchGetUsersRequest& request) {
    BatchReply* reply = SendBatch(request);
    EXPECT_TRUE(reply->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
    return reply;
  }

  static std::vector<uint64_t> IdsOf(const v1::BatchGetUsersResponse& r) {
    std::vector<uint64_t> ids;
    for (const v1::User& user : r.users()) ids.push_back(user.id());
    return ids;
  }

  std::vector<std::unique_ptr<BatchReply>> batch_replies_;
};

TEST_F(BatchGetUsersTest, ReturnsUsersInRequestOrderWithDuplicates) {
  replica_.SetPosition(ReplicaPosition());
  BatchReply* reply = Call(Ids({4, 2, 4, 1}));
  ASSERT_TRUE(reply->status.ok()) << reply->status.error_message();
  EXPECT_EQ(IdsOf(reply->response), (std::vector<uint64_t>{4, 2, 4, 1}));
  EXPECT_EQ(reply->response.users(1).username(), "user2");
  EXPECT_EQ(ServedBy(reply->context), "replica-0");
  EXPECT_EQ(reply->response.consistency_token(),
            EncodeConsistencyToken(ReplicaPosition()));
  // One statement, each id once.
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(replica_.last_ids(), (std::vector<uint64_t>{1, 2, 4}));
}

TEST_F(BatchGetUsersTest, AnyMissingIdFailsTheCallNamingTheMissingIds) {
  BatchReply* reply = Call(Ids({1, 404, 2, 405}));
  EXPECT_EQ(reply->status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(reply->status.error_message(),
            "2 of the 4 requested users not found: 404, 405; no user is "
            "returned");
  EXPECT_EQ(reply->response.users_size(), 0);
  // Ids are counted and named once however often they were asked for.
  reply = Call(Ids({404, 1, 404, 405, 1}));
  EXPECT_EQ(reply->status.error_message(),
            "2 of the 3 requested users not found: 404, 405; no user is "
            "returned");
}

TEST_F(BatchGetUsersTest, LongListsOfMissingIdsAreCut) {
  std::vector<uint64_t> ids;
  for (uint64_t id = 100; id < 130; ++id) ids.push_back(id);
  BatchReply* reply = Call(Ids(ids));
  EXPECT_EQ(reply->status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(reply->status.error_message(),
              ::testing::HasSubstr("108, 109 and 20 more"));
}

TEST_F(BatchGetUsersTest, EmptyIdsReadNothingAndPassTheTokensOn) {
  v1::BatchGetUsersRequest request = Ids({});
  BatchReply* reply = Call(request);
  ASSERT_TRUE(reply->status.ok());
  EXPECT_EQ(reply->response.users_size(), 0);
  EXPECT_EQ(reply->response.consistency_token(), "");
  request.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(WritePosition()));
  reply = Call(request);
  ASSERT_TRUE(reply->status.ok());
  EXPECT_EQ(reply->response.consistency_token(),
            EncodeConsistencyToken(WritePosition()));
  EXPECT_EQ(replica_.read_calls() + primary_.read_calls(), 0);
}

TEST_F(BatchGetUsersTest, ValidationErrorsNameTheField) {
  BatchReply* zero = Call(Ids({3, 0}));
  EXPECT_EQ(zero->status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(zero->status.error_message(), ::testing::StartsWith("ids[1]:"));
  std::vector<uint64_t> many(kMaxBatchGetIds + 1, 1);
  BatchReply* too_many = Call(Ids(many));
  EXPECT_EQ(too_many->status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::BatchGetUsersRequest bad_token = Ids({1});
  bad_token.mutable_read_options()->add_consistency_tokens("nope");
  BatchReply* token = Call(bad_token);
  EXPECT_EQ(token->status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(token->status.error_message(),
              ::testing::StartsWith("read_options.consistency_tokens[0]:"));
  EXPECT_EQ(replica_.read_calls() + primary_.read_calls(), 0);
}

TEST_F(BatchGetUsersTest, EveryConsistencyLevelRoutesLikeGetUser) {
  struct Case {
    v1::Consistency consistency;
    const char* served_by;
  };
  for (const Case& c : {Case{v1::CONSISTENCY_EVENTUAL, "replica-0"},
                        Case{v1::CONSISTENCY_STRONG, "primary"},
                        Case{v1::CONSISTENCY_SESSION, "replica-0"}}) {
    SCOPED_TRACE(v1::Consistency_Name(c.consistency));
    v1::BatchGetUsersRequest request = Ids({1, 2});
    request.mutable_read_options()->set_consistency(c.consistency);
    BatchReply* reply = Call(request);
    ASSERT_TRUE(reply->status.ok()) << reply->status.error_message();
    EXPECT_EQ(ServedBy(reply->context), c.served_by);
  }
  v1::BatchGetUsersRequest bounded = Ids({1, 2});
  bounded.mutable_read_options()->set_consistency(
      v1::CONSISTENCY_BOUNDED_STALENESS);
  bounded.mutable_read_options()->mutable_max_staleness()->set_seconds(5);
  BatchReply* reply = Call(bounded);
  ASSERT_TRUE(reply->status.ok()) << reply->status.error_message();
  // No health checks here: no replica's lag is known, so the primary.
  EXPECT_EQ(ServedBy(reply->context), "primary");
  // A session read with a token the replica reaches (the fake's wait).
  v1::BatchGetUsersRequest session = Ids({1});
  session.mutable_read_options()->set_consistency(v1::CONSISTENCY_SESSION);
  session.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(WritePosition()));
  reply = Call(session);
  ASSERT_TRUE(reply->status.ok()) << reply->status.error_message();
  EXPECT_EQ(ServedBy(reply->context), "replica-0");
  EXPECT_EQ(replica_.wait_calls(), 1);
}

TEST_F(BatchGetUsersTest, BatchesThatArriveTogetherShareStatementsUpToTheMax) {
  std::vector<uint64_t> half(kMaxBatchGetIds / 2, 1);
  std::vector<uint64_t> full(kMaxBatchGetIds, 2);
  std::vector<BatchReply*> replies =
      userservice::SendWhileHeld<v1::BatchGetUsersResponse>(
          replica_,
          [this](const v1::BatchGetUsersRequest& r) { return SendBatch(r); },
          Ids({5}), {Ids(half), Ids(half), Ids(full)});
  // The held call; the two halves together; the full one alone.
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 3);
  for (BatchReply* reply : replies) {
    ASSERT_TRUE(reply->status.ok()) << reply->status.error_message();
  }
  EXPECT_EQ(replies[2]->response.users_size(), kMaxBatchGetIds);
}

}  // namespace
}  // namespace userservice
