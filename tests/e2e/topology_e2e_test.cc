// The server follows the database topology: planned switchovers and crash
// failovers done with deploy/local/cluster.sh (MariaDB's own statements)
// under load, the old primary returning writable beside the new one, and
// frozen (SIGSTOPped) endpoints. Every test leaves the cluster as it found
// it: node `primary` the writer, every node up and replicating.

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"

namespace userservice::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

// What the load threads saw, shared by them.
class Outcomes {
 public:
  void Record(const std::string& what, const grpc::Status& status,
              absl::Duration took) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (status.ok()) return;
    ++failures_[absl::StrCat(what, " ", CodeName(status.error_code()))];
    slowest_failure_ = std::max(slowest_failure_, took);
    if (examples_.size() < 10) {
      examples_.push_back(absl::StrCat(
          what, ": ", CodeName(status.error_code()), " ",
          status.error_message(), " after ", absl::FormatDuration(took)));
    }
  }
  int failed() const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [key, count] : failures_) n += count;
    return n;
  }
  int failed_other_than_unavailable() const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [key, count] : failures_) {
      if (!absl::EndsWith(key, " UNAVAILABLE")) n += count;
    }
    return n;
  }
  absl::Duration slowest_failure() const {
    std::lock_guard<std::mutex> lock(mu_);
    return slowest_failure_;
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::string Summary() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> parts;
    for (const auto& [key, count] : failures_) {
      parts.push_back(absl::StrCat(key, " x", count));
    }
    return absl::StrCat(calls_,
                        " calls; failures: ", absl::StrJoin(parts, ", "),
                        "\n  ", absl::StrJoin(examples_, "\n  "));
  }

 private:
  mutable std::mutex mu_;
  int calls_ = 0;
  std::map<std::string, int> failures_;
  std::vector<std::string> examples_;
  absl::Duration slowest_failure_;
};

// A create the server acknowledged.
struct Acknowledged {
  uint64_t id = 0;
  std::string username;
  std::string token;
  absl::Time at;
};

class TopologyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster().Restore().ok());
    absl::StatusOr<std::unique_ptr<E2eServer>> server =
        E2eServer::Start({"--health-check-interval=200ms"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
      return server_->EndpointIs("primary", admin::v1::ENDPOINT_STATE_WRITABLE);
    })) << server_->process().Log();
  }

  void TearDown() override {
    for (const char* node : {"primary", "replica-0", "replica-1"}) {
      cluster().Thaw(node).IgnoreError();
    }
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->process().Log();
    }
    server_.reset();
    absl::Status restored = cluster().Restore();
    EXPECT_TRUE(restored.ok()) << restored;
  }

  static TestCluster& cluster() { return TestCluster::Get(); }

  // One create with a request id; records it when acknowledged.
  grpc::Status Create(const std::string& name, Acknowledged* out,
                      absl::Duration deadline = kCallDeadline) {
    v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(name + "@example.com");
    request.set_request_id(absl::StrCat("req-", name));
    v1::CreateUserResponse response;
    auto context = ContextWithDeadline(deadline);
    grpc::Status status =
        server_->users().CreateUser(context.get(), request, &response);
    if (status.ok()) {
      *out = {response.user().id(), name, response.consistency_token(),
              absl::Now()};
    }
    return status;
  }

  grpc::Status Get(uint64_t id, v1::Consistency consistency,
                   const std::string& token, std::string* served_by,
                   absl::Duration deadline = kCallDeadline) {
    v1::GetUserRequest request;
    request.set_id(id);
    request.mutable_read_options()->set_consistency(consistency);
    request.mutable_read_options()->set_consistency_token(token);
    v1::GetUserResponse response;
    auto context = ContextWithDeadline(deadline);
    grpc::Status status =
        server_->users().GetUser(context.get(), request, &response);
    if (served_by != nullptr) *served_by = ServedByOf(*context);
    return status;
  }

  // Creates and session-reads each create, until `stop`; every
  // acknowledged create goes to `acked`.
  void WriteAndReadLoop(int thread, const std::atomic<bool>& stop,
                        Outcomes* outcomes, std::vector<Acknowledged>* acked,
                        std::mutex* acked_mu) {
    for (int i = 0; !stop.load(); ++i) {
      Acknowledged created;
      const absl::Time start = absl::Now();
      grpc::Status status =
          Create(UniqueUsername(absl::StrCat("topo", thread, "_")), &created);
      outcomes->Record("create", status, absl::Now() - start);
      if (!status.ok()) continue;
      {
        std::lock_guard<std::mutex> lock(*acked_mu);
        acked->push_back(created);
      }
      const absl::Time read_start = absl::Now();
      grpc::Status read =
          Get(created.id, v1::CONSISTENCY_SESSION, created.token, nullptr);
      outcomes->Record("session read", read, absl::Now() - read_start);
    }
  }

  // Eventual reads of `id` until `stop`, noting who served them.
  void EventualLoop(uint64_t id, const std::atomic<bool>& stop,
                    Outcomes* outcomes, std::map<std::string, int>* served,
                    std::mutex* served_mu) {
    while (!stop.load()) {
      std::string by;
      const absl::Time start = absl::Now();
      grpc::Status status = Get(id, v1::CONSISTENCY_EVENTUAL, "", &by);
      outcomes->Record("eventual read", status, absl::Now() - start);
      if (status.ok()) {
        std::lock_guard<std::mutex> lock(*served_mu);
        ++(*served)[by];
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  // Every acknowledged create, read STRONG from the writer now.
  int CountMissing(const std::vector<Acknowledged>& acked) {
    int missing = 0;
    for (const Acknowledged& a : acked) {
      grpc::Status status = Get(a.id, v1::CONSISTENCY_STRONG, "", nullptr);
      if (!status.ok()) ++missing;
    }
    return missing;
  }

  std::unique_ptr<E2eServer> server_;
};

TEST_F(TopologyE2eTest, PlannedSwitchoverUnderLoadFailsNoCall) {
  Acknowledged seed;
  ASSERT_TRUE(Create(UniqueUsername("seed"), &seed).ok());
  ASSERT_TRUE(cluster().Sync().ok());
  std::atomic<bool> stop{false};
  Outcomes outcomes;
  std::vector<Acknowledged> acked;
  std::mutex acked_mu;
  std::map<std::string, int> served_before, served_after;
  std::mutex served_mu;
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t) {
    load.emplace_back(
        [&, t] { WriteAndReadLoop(t, stop, &outcomes, &acked, &acked_mu); });
  }
  std::atomic<bool> stop_eventual{false};
  std::thread eventual([&] {
    EventualLoop(seed.id, stop_eventual, &outcomes, &served_before, &served_mu);
  });
  absl::SleepFor(absl::Seconds(1));
  const absl::Time switched_at = absl::Now();
  ASSERT_TRUE(cluster().Switchover("replica-0").ok());
  const absl::Duration switchover_took = absl::Now() - switched_at;
  // The old primary now replicates from replica-0: it joins the rotation.
  stop_eventual = true;
  eventual.join();
  stop_eventual = false;
  std::thread eventual_after([&] {
    EventualLoop(seed.id, stop_eventual, &outcomes, &served_after, &served_mu);
  });
  const bool old_primary_reads = WaitFor(absl::Seconds(10), [&] {
    std::lock_guard<std::mutex> lock(served_mu);
    return served_after["primary"] > 0;
  });
  absl::SleepFor(absl::Seconds(1));
  stop = true;
  stop_eventual = true;
  for (std::thread& t : load) t.join();
  eventual_after.join();

  std::cerr << "switchover took " << switchover_took << "; "
            << outcomes.Summary() << "\n";
  EXPECT_EQ(outcomes.failed(), 0) << outcomes.Summary();
  EXPECT_TRUE(old_primary_reads) << "the old primary never served a read";
  EXPECT_EQ(served_after["replica-0"], 0)
      << "the new writer left the read rotation";
  absl::StatusOr<admin::v1::EndpointStatus> writer =
      server_->Endpoint("replica-0");
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ(writer->role(), admin::v1::ROLE_PRIMARY);
  ASSERT_GT(acked.size(), 10u);
  EXPECT_EQ(CountMissing(acked), 0);
  EXPECT_THAT(server_->process().Log(), HasSubstr("writer elected"));
}

TEST_F(TopologyE2eTest, CrashFailoverResumesWritesAndFencesTheOldPrimary) {
  Acknowledged before;
  ASSERT_TRUE(Create(UniqueUsername("prefail"), &before).ok());
  ASSERT_TRUE(cluster().Sync().ok());
  std::atomic<bool> stop{false};
  Outcomes outcomes;
  std::vector<Acknowledged> acked;
  std::mutex acked_mu;
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&, t] {
      while (!stop.load()) {
        Acknowledged created;
        const absl::Time start = absl::Now();
        grpc::Status status =
            Create(UniqueUsername(absl::StrCat("fail", t, "_")), &created,
                   absl::Seconds(10));
        outcomes.Record("create", status, absl::Now() - start);
        if (status.ok()) {
          std::lock_guard<std::mutex> lock(acked_mu);
          acked.push_back(created);
        } else {
          absl::SleepFor(absl::Milliseconds(20));
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(800));
  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE(cluster().Kill("primary").ok());
  absl::SleepFor(absl::Seconds(2));
  ASSERT_TRUE(cluster().Failover("replica-0").ok());
  const absl::Time promoted_at = absl::Now();
  const bool resumed = WaitFor(absl::Seconds(5), [&] {
    std::lock_guard<std::mutex> lock(acked_mu);
    return !acked.empty() && acked.back().at > promoted_at;
  });
  const absl::Duration resumed_after = absl::Now() - promoted_at;
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  for (std::thread& t : load) t.join();

  std::cerr << "writes resumed " << resumed_after << " after the promotion; "
            << outcomes.Summary() << "\n";
  EXPECT_TRUE(resumed);
  EXPECT_LE(resumed_after, absl::Seconds(2));
  EXPECT_EQ(outcomes.failed_other_than_unavailable(), 0) << outcomes.Summary();
  EXPECT_LE(outcomes.slowest_failure(), absl::Milliseconds(3500))
      << outcomes.Summary();
  // Asynchronous replication may lose what only the dead primary had:
  // only creates acknowledged just before the kill.
  int lost = 0;
  for (const Acknowledged& a : acked) {
    if (!Get(a.id, v1::CONSISTENCY_STRONG, "", nullptr).ok()) {
      ++lost;
      EXPECT_LE(a.at, killed_at + absl::Milliseconds(100))
          << "user " << a.id << " acknowledged after the kill is lost";
    }
  }
  std::cerr << lost << " of " << acked.size()
            << " acknowledged creates were lost with the killed primary\n";

  // A session token from before the failover still reads its write.
  std::string by;
  grpc::Status session =
      Get(before.id, v1::CONSISTENCY_SESSION, before.token, &by);
  EXPECT_TRUE(session.ok()) << session.error_message();

  // The killed primary comes back writable beside the promoted one (as a
  // node restarted with its old configuration would).
  ASSERT_TRUE(cluster().StartNode("primary").ok());
  ASSERT_TRUE(cluster().Execute("primary", "SET GLOBAL read_only=0").ok());
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
    absl::StatusOr<admin::v1::EndpointStatus> old =
        server_->Endpoint("primary");
    return old.ok() && old->role() == admin::v1::ROLE_RIVAL;
  })) << server_->Status()->ShortDebugString();
  absl::StatusOr<std::string> fenced_pos =
      cluster().QueryValue("primary", "SELECT @@gtid_binlog_pos");
  ASSERT_TRUE(fenced_pos.ok());
  for (int i = 0; i < 20; ++i) {
    Acknowledged created;
    grpc::Status status = Create(UniqueUsername("split"), &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(
      cluster().QueryValue("primary", "SELECT @@gtid_binlog_pos").value_or(""),
      *fenced_pos)
      << "a write or heartbeat reached the fenced old primary";
  EXPECT_THAT(server_->process().Log(), HasSubstr("split brain"));

  // Rejoined, it serves reads again.
  ASSERT_TRUE(cluster().Rejoin("primary").ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(10), [&] {
    std::string served;
    return Get(before.id, v1::CONSISTENCY_EVENTUAL, "", &served).ok() &&
           served == "primary";
  }));
}

TEST_F(TopologyE2eTest, AFrozenReplicaFailsNoRead) {
  Acknowledged seed;
  ASSERT_TRUE(Create(UniqueUsername("frozen"), &seed).ok());
  ASSERT_TRUE(cluster().Sync().ok());
  ASSERT_TRUE(cluster().Freeze("replica-1").ok());
  absl::Cleanup thaw = [] {
    TestCluster::Get().Thaw("replica-1").IgnoreError();
  };
  Outcomes outcomes;
  absl::Duration slowest;
  std::vector<std::string> slow;
  for (int i = 0; i < 40; ++i) {
    const absl::Time start = absl::Now();
    grpc::Status status =
        Get(seed.id, v1::CONSISTENCY_EVENTUAL, "", nullptr, absl::Seconds(5));
    const absl::Duration took = absl::Now() - start;
    slowest = std::max(slowest, took);
    outcomes.Record("eventual read", status, took);
    if (took > absl::Milliseconds(300)) {
      slow.push_back(
          absl::StrCat("read ", i, " took ", absl::FormatDuration(took)));
    }
  }
  std::cerr << "slowest read " << slowest << "; " << outcomes.Summary()
            << "\n  " << absl::StrJoin(slow, "\n  ") << "\n";
  EXPECT_EQ(outcomes.failed(), 0) << outcomes.Summary();
  EXPECT_LT(slowest, absl::Seconds(2));
}

TEST_F(TopologyE2eTest, AFrozenWriterFailsWritesUnavailableWithinFiveSeconds) {
  ASSERT_TRUE(cluster().Freeze("primary").ok());
  absl::Cleanup thaw = [] { TestCluster::Get().Thaw("primary").IgnoreError(); };
  Outcomes outcomes;
  for (int i = 0; i < 3; ++i) {
    Acknowledged created;
    const absl::Time start = absl::Now();
    grpc::Status status =
        Create(UniqueUsername("stuck"), &created, absl::Seconds(10));
    const absl::Duration took = absl::Now() - start;
    outcomes.Record("create", status, took);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << CodeName(status.error_code()) << " " << status.error_message();
    EXPECT_LT(took, absl::Seconds(5));
  }
  std::cerr << outcomes.Summary() << "\n";
}

}  // namespace
}  // namespace userservice::testing
