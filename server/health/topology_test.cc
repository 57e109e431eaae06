#include "server/health/topology.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/log.h"
#include "server/testing/fake_clock.h"
#include "server/testing/fixed_topology.h"
#include "server/testing/log_capture.h"

namespace userservice {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr auto kWriter = EndpointRole::kWriter;
constexpr auto kReplica = EndpointRole::kReplica;
constexpr auto kRival = EndpointRole::kRival;
constexpr auto kDetached = EndpointRole::kDetached;
constexpr auto kUnreachable = EndpointRole::kUnreachable;
constexpr auto kUnknown = EndpointRole::kUnknown;

// Everything logged so far, batched lines included.
std::string Logged(const log::LogCapture& capture) {
  log::Flush();
  return capture.Text();
}

int Count(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

RoleFacts Facts(const ProbeResult& result) { return RoleFacts::Of(result); }

RoleFacts Down() {
  ProbeResult down;
  down.error = "connection refused";
  return Facts(down);
}

ProbeResult ReadOnlyAlone(int64_t server_id) {
  ProbeResult seen = WriterProbe(server_id);
  seen.read_only = true;
  return seen;
}

TEST(ElectWriterTest, TheWritableServerThatReplicatesFromNobodyIsTheWriter) {
  const Election e = ElectWriter(
      {Facts(WriterProbe(1)), Facts(ReplicaProbe(2, 1)),
       Facts(ReplicaProbe(3, 1))},
      -1);
  EXPECT_EQ(e.writer, 0);
  EXPECT_THAT(e.roles, ElementsAre(kWriter, kReplica, kReplica));
  EXPECT_THAT(e.claimants, ElementsAre(0));
}

TEST(ElectWriterTest, NobodyIsElectedUntilEveryEndpointWasChecked) {
  const Election e =
      ElectWriter({Facts(WriterProbe(1)), RoleFacts(), Down()}, -1);
  EXPECT_EQ(e.writer, -1);
  EXPECT_THAT(e.no_writer_reason, HasSubstr("check of every database"));
  EXPECT_THAT(e.roles, ElementsAre(EndpointRole::kRival, kUnknown,
                                   kUnreachable));
}

TEST(ElectWriterTest, NoWritableServerMeansNoWriter) {
  // A switchover half-way: the old writer is read-only, the new one not
  // promoted yet. The replica stays in rotation.
  const Election e = ElectWriter(
      {Facts(ReadOnlyAlone(1)), Facts(ReplicaProbe(2, 1)), Down()}, 0);
  EXPECT_EQ(e.writer, -1);
  EXPECT_THAT(e.roles, ElementsAre(kDetached, kReplica, kUnreachable));
  EXPECT_THAT(e.no_writer_reason, HasSubstr("read-only"));
}

TEST(ElectWriterTest, OfTwoWritableServersTheOneTheReplicasFollowWins) {
  // The killed old primary came back writable beside the promoted one.
  const Election e = ElectWriter(
      {Facts(WriterProbe(1)), Facts(WriterProbe(2)), Facts(ReplicaProbe(3, 2))},
      -1);
  EXPECT_EQ(e.writer, 1);
  EXPECT_THAT(e.roles, ElementsAre(kRival, kWriter, kReplica));
  EXPECT_EQ(e.claimants.size(), 2u);
}

TEST(ElectWriterTest, OnATieTheCurrentWriterStaysElseNobody) {
  const std::vector<RoleFacts> tie = {Facts(WriterProbe(1)),
                                      Facts(WriterProbe(2))};
  EXPECT_EQ(ElectWriter(tie, 1).writer, 1);
  EXPECT_EQ(ElectWriter(tie, 0).writer, 0);
  const Election none = ElectWriter(tie, -1);
  EXPECT_EQ(none.writer, -1);
  EXPECT_THAT(none.roles, ElementsAre(kRival, kRival));
  EXPECT_THAT(none.no_writer_reason, HasSubstr("several"));
}

TEST(ElectWriterTest, AReplicaFollowingARivalIsOutOfRotation) {
  const Election e = ElectWriter(
      {Facts(WriterProbe(1)), Facts(WriterProbe(2)), Facts(ReplicaProbe(3, 2)),
       Facts(ReplicaProbe(4, 2)), Facts(ReplicaProbe(5, 1))},
      -1);
  EXPECT_EQ(e.writer, 1);
  EXPECT_THAT(e.roles,
              ElementsAre(kRival, kWriter, kReplica, kReplica, kDetached));
}

TEST(ElectWriterTest, BrokenReplicationIsOutOfRotationEvenIfPositionsLookFine) {
  // A diverged old primary: its source refused it (1236) and the IO thread
  // stopped; the SQL thread still runs.
  ProbeResult diverged = ReplicaProbe(1, 2);
  diverged.io_running = false;
  diverged.last_io_errno = 1236;
  // A source that is down is not broken: the IO thread keeps retrying.
  ProbeResult retrying = ReplicaProbe(3, 2);
  retrying.io_running = false;
  retrying.io_connecting = true;
  retrying.last_io_errno = 2003;
  ProbeResult sql_error = ReplicaProbe(4, 2);
  sql_error.sql_running = false;
  sql_error.last_sql_errno = 1062;
  const Election e = ElectWriter({Facts(diverged), Facts(WriterProbe(2)),
                                  Facts(retrying), Facts(sql_error)},
                                 -1);
  EXPECT_EQ(e.writer, 1);
  EXPECT_THAT(e.roles, ElementsAre(kDetached, kWriter, kReplica, kDetached));
}

TEST(ElectWriterTest, AWritableServerWithBrokenReplicationIsNoWriter) {
  ProbeResult broken = WriterProbe(1);
  broken.replication_configured = true;
  broken.source_server_id = 2;
  broken.last_io_errno = 1236;
  const Election e = ElectWriter({Facts(broken), Facts(WriterProbe(2))}, 0);
  EXPECT_EQ(e.writer, 1);
  EXPECT_THAT(e.roles, ElementsAre(kDetached, kWriter));
  EXPECT_EQ(e.claimants.size(), 1u);
}

TEST(ElectWriterTest, TheSameServerUnderTwoNamesIsOneWriter) {
  // A Service name and the pod's own name both reach server 1.
  const Election e = ElectWriter(
      {Facts(WriterProbe(1)), Facts(ReplicaProbe(2, 1)), Facts(WriterProbe(1))},
      -1);
  EXPECT_EQ(e.writer, 0);
  EXPECT_THAT(e.roles, ElementsAre(kWriter, kReplica, EndpointRole::kAlias));
  EXPECT_EQ(e.claimants.size(), 1u);
}

TEST(ElectWriterTest, WithoutSlaveMonitorReadOnlyMeansReplica) {
  ProbeResult replica = ReadOnlyAlone(2);
  replica.replication_status_known = false;
  ProbeResult writer = WriterProbe(1);
  writer.replication_status_known = false;
  const Election e = ElectWriter({Facts(writer), Facts(replica)}, -1);
  EXPECT_EQ(e.writer, 0);
  EXPECT_THAT(e.roles, ElementsAre(kWriter, kReplica));
}

class TopologyTest : public ::testing::Test {
 protected:
  TopologyTest() { Reset(TopologyOptions()); }

  void Reset(TopologyOptions options) {
    topology_ = std::make_unique<Topology>(
        std::vector<std::string>{"primary", "replica-0", "replica-1"}, options,
        [this] { ++rechecks_; }, clock_.AsClock());
  }
  void Switchover() {
    // replica-0 promoted; the others follow it.
    topology_->Record(0, ReplicaProbe(1, 2));
    topology_->Record(1, WriterProbe(2));
    topology_->Record(2, ReplicaProbe(3, 2));
  }
  void Initial() {
    topology_->Record(0, WriterProbe(1));
    topology_->Record(1, ReplicaProbe(2, 1));
    topology_->Record(2, ReplicaProbe(3, 1));
  }

  FakeClock clock_;
  std::atomic<int> rechecks_{0};
  std::unique_ptr<Topology> topology_;
};

TEST_F(TopologyTest, FollowsASwitchoverAndLogsEachChange) {
  log::LogCapture logs;
  Initial();
  EXPECT_EQ(topology_->writer(), 0);
  topology_->Record(0, ReadOnlyAlone(1));  // the old writer turns read-only
  EXPECT_EQ(topology_->writer(), -1);
  clock_.Advance(absl::Milliseconds(300));
  Switchover();
  EXPECT_EQ(topology_->writer(), 1);
  EXPECT_EQ(topology_->role(0), kReplica);
  const TopologyStats stats = topology_->stats();
  EXPECT_EQ(stats.writer_changes, 3);  // none -> primary -> none -> replica-0
  EXPECT_THAT(Logged(logs), HasSubstr("no writer"));
  EXPECT_THAT(Logged(logs), HasSubstr("\"writerless_for\":\"300ms\""));
  EXPECT_THAT(Logged(logs), HasSubstr("database role changed"));
}

TEST_F(TopologyTest, AFlappingWriterNeverHandsWritesToAnotherServer) {
  Initial();
  ProbeResult down;
  down.error = "timed out";
  for (int i = 0; i < 10; ++i) {
    topology_->Record(0, i % 2 == 0 ? down : WriterProbe(1));
    EXPECT_EQ(topology_->writer(), i % 2 == 0 ? -1 : 0);
    EXPECT_EQ(topology_->role(1), kReplica);
    EXPECT_EQ(topology_->role(2), kReplica);
  }
  EXPECT_EQ(topology_->stats().writer_changes, 11);
}

TEST_F(TopologyTest, SplitBrainIsLoggedOnceWithBothEndpoints) {
  log::LogCapture logs;
  Switchover();
  for (int i = 0; i < 5; ++i) topology_->Record(0, WriterProbe(1));
  EXPECT_EQ(topology_->writer(), 1);
  EXPECT_EQ(topology_->role(0), kRival);
  EXPECT_EQ(topology_->stats().writable_servers, 2);
  EXPECT_EQ(Count(Logged(logs), "split brain:"), 1) << Logged(logs);
  EXPECT_THAT(Logged(logs), HasSubstr("primary,replica-0"));
  topology_->Record(0, ReplicaProbe(1, 2));  // rejoined
  EXPECT_EQ(topology_->role(0), kReplica);
  EXPECT_EQ(Count(Logged(logs), "split brain over"), 1);
}

TEST_F(TopologyTest, AFailedWriterIsVoidUntilItsNextCheck) {
  Initial();
  topology_->WriterFailed(1, "not the writer");  // ignored
  EXPECT_EQ(rechecks_.load(), 0);
  topology_->WriterFailed(0, "read-only (error 1290)");
  EXPECT_EQ(topology_->writer(), -1);
  EXPECT_EQ(topology_->role(0), kUnknown);
  EXPECT_EQ(rechecks_.load(), 1);
  topology_->Record(0, WriterProbe(1));
  EXPECT_EQ(topology_->writer(), 0);
}

TEST_F(TopologyTest, AWaitingCallGetsTheWriterElectedDuringItsHold) {
  Initial();
  topology_->Record(0, ReadOnlyAlone(1));
  absl::StatusOr<size_t> writer;
  std::thread waiter(
      [&] { writer = topology_->AwaitWriter(absl::Now() + absl::Seconds(10)); });
  while (topology_->stats().held_now == 0) absl::SleepFor(absl::Milliseconds(1));
  Switchover();
  waiter.join();
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ(*writer, 1u);
  EXPECT_EQ(topology_->stats().holds_ended_with_writer, 1);
}

TEST_F(TopologyTest, TheHoldEndsUnavailableAtWriteHoldOrTheDeadline) {
  TopologyOptions options;
  options.write_hold = absl::Milliseconds(50);
  Reset(options);
  const absl::Time start = absl::Now();
  absl::StatusOr<size_t> writer =
      topology_->AwaitWriter(absl::Now() + absl::Seconds(10));
  EXPECT_TRUE(absl::IsUnavailable(writer.status())) << writer.status();
  EXPECT_THAT(writer.status().message(), HasSubstr("switchover or failover"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  options.write_hold = absl::Seconds(30);
  Reset(options);
  const absl::Time start2 = absl::Now();
  writer = topology_->AwaitWriter(absl::Now() + absl::Milliseconds(30));
  EXPECT_TRUE(absl::IsUnavailable(writer.status()));
  EXPECT_LT(absl::Now() - start2, absl::Seconds(5));
  EXPECT_EQ(topology_->stats().holds_timed_out, 1);
}

TEST_F(TopologyTest, TooManyWaitingCallsAreRefusedAtOnce) {
  TopologyOptions options;
  options.max_held_calls = 1;
  Reset(options);
  std::thread waiter(
      [&] { topology_->AwaitWriter(absl::Now() + absl::Seconds(10)).IgnoreError(); });
  while (topology_->stats().held_now == 0) absl::SleepFor(absl::Milliseconds(1));
  absl::StatusOr<size_t> refused =
      topology_->AwaitWriter(absl::Now() + absl::Seconds(10));
  EXPECT_TRUE(absl::IsUnavailable(refused.status()));
  EXPECT_THAT(refused.status().message(), HasSubstr("already wait"));
  EXPECT_EQ(topology_->stats().holds_refused, 1);
  Initial();
  waiter.join();
}

}  // namespace
}  // namespace userservice
