#include "server/routing/write_router.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/repository/write_outcome.h"
#include "server/testing/fake_user_writer.h"
#include "server/testing/fixed_topology.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;

Positioned<User> Created(uint64_t id) {
  Positioned<User> written;
  written.value.id = id;
  written.position = *ReplicationPosition::Parse("0-1-9");
  return written;
}

RequestContext Within(absl::Duration d) {
  RequestContext ctx;
  ctx.deadline = absl::Now() + d;
  return ctx;
}

NewUser Carol(std::string request_id = "") {
  NewUser user;
  user.username = "carol";
  user.email = "carol@example.com";
  user.request_id = std::move(request_id);
  return user;
}

// Three endpoints; endpoint 0 is the writer until the test says otherwise.
class WriteRouterTest : public ::testing::Test {
 protected:
  WriteRouterTest() {
    TopologyOptions options;
    options.write_hold = absl::Milliseconds(200);
    topology_ = std::make_unique<Topology>(
        std::vector<std::string>{"primary", "replica-0", "replica-1"}, options,
        [this] {
          ++rechecks_;
          if (on_recheck_) on_recheck_();
        });
    topology_->Record(0, WriterProbe(1));
    topology_->Record(1, ReplicaProbe(2, 1));
    topology_->Record(2, ReplicaProbe(3, 1));
    for (auto& writer : writers_) writer.SetCreateResult(Created(5));
    router_ = std::make_unique<WriteRouter>(
        std::vector<UserWriter*>{&writers_[0], &writers_[1], &writers_[2]},
        topology_.get());
  }

  // What the checks after a failure find: replica-0 was promoted.
  void PromoteReplica0() {
    topology_->Record(0, ReplicaProbe(1, 2));
    topology_->Record(1, WriterProbe(2));
    topology_->Record(2, ReplicaProbe(3, 2));
  }

  FakeUserWriter writers_[3];
  int rechecks_ = 0;
  std::function<void()> on_recheck_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<WriteRouter> router_;
};

TEST_F(WriteRouterTest, WritesGoToTheElectedWriterOnly) {
  ASSERT_TRUE(router_->CreateUser(Carol(), Within(absl::Seconds(5))).ok());
  PromoteReplica0();
  ASSERT_TRUE(router_->CreateUser(Carol(), Within(absl::Seconds(5))).ok());
  EXPECT_EQ(writers_[0].calls(), 1);
  EXPECT_EQ(writers_[1].calls(), 1);
  EXPECT_EQ(writers_[2].calls(), 0);
}

TEST_F(WriteRouterTest, AWriteThatDidNotRunGoesToTheNextWriter) {
  writers_[0].SetCreateResult(MarkNotExecuted(
      absl::UnavailableError("database is read-only (error 1290)")));
  on_recheck_ = [this] { PromoteReplica0(); };
  absl::StatusOr<Positioned<User>> created =
      router_->CreateUser(Carol(), Within(absl::Seconds(5)));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(writers_[1].calls(), 1);
  EXPECT_EQ(rechecks_, 1);
  EXPECT_EQ(router_->resends(), 1);
}

TEST_F(WriteRouterTest, AWriteThatMayHaveRunIsAnsweredUnavailable) {
  writers_[0].SetUpdateResult(
      absl::UnavailableError("database connection failed (error 2013)"));
  on_recheck_ = [this] { PromoteReplica0(); };
  UserUpdate update;
  update.id = 5;
  update.username = "carol2";
  absl::StatusOr<Positioned<User>> updated =
      router_->UpdateUser(update, Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsUnavailable(updated.status()));
  EXPECT_EQ(writers_[1].calls(), 0);
  EXPECT_EQ(rechecks_, 1);  // but the roles are checked at once
  EXPECT_EQ(router_->resends(), 0);
}

TEST_F(WriteRouterTest, ACreateWithARequestIdIsAlwaysSafeToSendAgain) {
  writers_[0].SetCreateResult(
      absl::UnavailableError("database connection failed (error 2013)"));
  on_recheck_ = [this] { PromoteReplica0(); };
  absl::StatusOr<Positioned<User>> created =
      router_->CreateUser(Carol("req-1"), Within(absl::Seconds(5)));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(writers_[1].last_new_user().request_id, "req-1");
}

TEST_F(WriteRouterTest, WithoutASuccessorTheWriteFailsAfterTheHold) {
  writers_[0].SetCreateResult(MarkNotExecuted(
      absl::UnavailableError("database connection failed (error 2003)")));
  const absl::Time start = absl::Now();
  absl::StatusOr<Positioned<User>> created =
      router_->CreateUser(Carol(), Within(absl::Seconds(30)));
  EXPECT_TRUE(absl::IsUnavailable(created.status()));
  EXPECT_THAT(created.status().message(), HasSubstr("no writable database"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(writers_[1].calls() + writers_[2].calls(), 0);
}

TEST_F(WriteRouterTest, OtherErrorsAreTheCallersAndKeepTheWriter) {
  writers_[0].SetCreateResult(absl::AlreadyExistsError("taken"));
  absl::StatusOr<Positioned<User>> created =
      router_->CreateUser(Carol(), Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsAlreadyExists(created.status()));
  EXPECT_EQ(topology_->writer(), 0);
  EXPECT_EQ(rechecks_, 0);
}

TEST_F(WriteRouterTest, ARepeatedlyFailingWriterIsTriedABoundedNumberOfTimes) {
  writers_[0].SetCreateResult(MarkNotExecuted(
      absl::UnavailableError("database has no free connections")));
  // Each check finds the same writer again.
  on_recheck_ = [this] { topology_->Record(0, WriterProbe(1)); };
  absl::StatusOr<Positioned<User>> created =
      router_->CreateUser(Carol(), Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsUnavailable(created.status()));
  EXPECT_EQ(writers_[0].calls(), WriteRouter::kMaxAttempts);
}

}  // namespace
}  // namespace userservice
