// Replica health, lag-aware routing and fault tolerance of the real
// user_server against the real cluster: replication stopped, nodes killed,
// the primary made read-only, row and table locks held, pools exhausted.
// Each test starts its own server with the flags it needs, observes it
// through AdminService.GetStatus, x-served-by and the health service, and
// puts the cluster back in cleanups that run even when it fails.

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"

namespace userservice::testing {
namespace {

using admin::v1::ENDPOINT_STATE_EJECTED;
using admin::v1::ENDPOINT_STATE_HEALTHY;
using admin::v1::ENDPOINT_STATE_WRITABLE;
using grpc::health::v1::HealthCheckResponse;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Duration LagOf(const admin::v1::EndpointStatus& endpoint) {
  return absl::Seconds(endpoint.lag().seconds()) +
         absl::Nanoseconds(endpoint.lag().nanos());
}

// One finished call, as seen by the client.
struct CallRecord {
  absl::Time start;
  absl::Time end;
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::string served_by;
};

std::string Describe(const CallRecord& r) {
  return absl::StrCat(CodeName(r.code), " by '", r.served_by, "' after ",
                      absl::FormatDuration(r.end - r.start), ": ", r.message);
}

class HealthE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = &TestCluster::Get();
    // Every test starts from a whole, replicating, writable cluster.
    absl::Status restored = cluster_->Restore();
    ASSERT_TRUE(restored.ok()) << restored;
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->process().Log();
      absl::StatusOr<admin::v1::GetStatusResponse> status = server_->Status();
      std::cerr << "---- GetStatus at the end ----\n"
                << (status.ok() ? status->DebugString()
                                : status.status().ToString())
                << "\n";
    }
    server_.reset();
    // A safety net only: each test restores what it broke in its own
    // cleanups. This must find nothing to repair.
    absl::Status restored = cluster_->Restore();
    EXPECT_TRUE(restored.ok()) << restored;
  }

  // Starts the server under test; failures are fatal to the test.
  void StartServer(const std::vector<std::string>& flags) {
    absl::StatusOr<std::unique_ptr<E2eServer>> started =
        E2eServer::Start(flags);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  v1::UserService::Stub& users() { return server_->users(); }

  v1::User CreateUser(const std::string& prefix) {
    v1::CreateUserRequest request;
    request.set_username(UniqueUsername(prefix));
    request.set_email(request.username() + "@example.com");
    v1::CreateUserResponse response;
    auto context = ContextWithDeadline(absl::Seconds(5));
    grpc::Status status = users().CreateUser(context.get(), request, &response);
    EXPECT_TRUE(status.ok())
        << CodeName(status.error_code()) << " " << status.error_message();
    return response.user();
  }

  grpc::Status CreateUser(const std::string& prefix, absl::Duration timeout,
                          v1::CreateUserResponse* response) {
    v1::CreateUserRequest request;
    request.set_username(UniqueUsername(prefix));
    request.set_email(request.username() + "@example.com");
    auto context = ContextWithDeadline(timeout);
    return users().CreateUser(context.get(), request, response);
  }

  grpc::Status UpdateEmail(uint64_t id, const std::string& email,
                           grpc::ClientContext* context,
                           v1::UpdateUserResponse* response) {
    v1::UpdateUserRequest request;
    request.mutable_user()->set_id(id);
    request.mutable_user()->set_email(email);
    request.mutable_update_mask()->add_paths("email");
    return users().UpdateUser(context, request, response);
  }

  // GetUser by id; max_staleness only for BOUNDED_STALENESS.
  CallRecord List(v1::Consistency consistency, absl::Duration timeout) {
    v1::ListUsersRequest request;
    request.set_page_size(1);
    request.mutable_read_options()->set_consistency(consistency);
    v1::ListUsersResponse response;
    auto context = ContextWithDeadline(timeout);
    CallRecord record;
    record.start = absl::Now();
    grpc::Status status = users().ListUsers(context.get(), request, &response);
    record.end = absl::Now();
    record.code = status.error_code();
    record.message = status.error_message();
    record.served_by = ServedByOf(*context);
    return record;
  }

  CallRecord Read(uint64_t id, v1::Consistency consistency,
                  absl::Duration timeout = absl::Seconds(5),
                  absl::Duration max_staleness = absl::ZeroDuration(),
                  v1::GetUserResponse* out = nullptr,
                  const std::string& token = "") {
    v1::GetUserRequest request;
    request.set_id(id);
    request.mutable_read_options()->set_consistency(consistency);
    request.mutable_read_options()->set_consistency_token(token);
    if (max_staleness > absl::ZeroDuration()) {
      request.mutable_read_options()->mutable_max_staleness()->set_nanos(
          static_cast<int32_t>(absl::ToInt64Nanoseconds(max_staleness) %
                               1000000000));
      request.mutable_read_options()->mutable_max_staleness()->set_seconds(
          absl::ToInt64Seconds(max_staleness));
    }
    v1::GetUserResponse response;
    auto context = ContextWithDeadline(timeout);
    CallRecord record;
    record.start = absl::Now();
    grpc::Status status = users().GetUser(context.get(), request, &response);
    record.end = absl::Now();
    record.code = status.error_code();
    record.message = status.error_message();
    record.served_by = ServedByOf(*context);
    if (status.ok()) {
      EXPECT_EQ(response.user().id(), id);
      if (out != nullptr) *out = response;
    }
    return record;
  }

  // Waits until every replica is HEALTHY with a measured lag and the
  // primary WRITABLE, so a test starts from steady state.
  void WaitUntilSteady(absl::Duration timeout = absl::Seconds(15)) {
    const std::vector<std::string> replicas = cluster_->ReplicaNodes();
    absl::StatusOr<admin::v1::GetStatusResponse> last;
    const bool steady = WaitFor(timeout, [&] {
      last = server_->Status();
      if (!last.ok()) return false;
      int healthy = 0;
      bool writable = false;
      for (const admin::v1::EndpointStatus& e : last->endpoints()) {
        if (e.name() == "primary") {
          writable = e.state() == ENDPOINT_STATE_WRITABLE;
        } else if (e.state() == ENDPOINT_STATE_HEALTHY && e.has_lag()) {
          ++healthy;
        }
      }
      return writable && healthy == static_cast<int>(replicas.size());
    });
    ASSERT_TRUE(steady) << "not steady within " << absl::FormatDuration(timeout)
                        << ": "
                        << (last.ok() ? last->ShortDebugString()
                                      : last.status().ToString());
  }

  // Restarts `node` unless it is up (for cleanups).
  void EnsureUp(const std::string& node) {
    absl::Status s = cluster_->EnsureUp(node);
    EXPECT_TRUE(s.ok()) << node << ": " << s;
  }

  TestCluster* cluster_ = nullptr;
  std::unique_ptr<E2eServer> server_;
};

// Reads of many threads in a loop until stopped, every call recorded.
class ReadLoad {
 public:
  ReadLoad(v1::UserService::Stub* stub, uint64_t id, v1::Consistency level,
           int threads)
      : stub_(stub), id_(id), level_(level) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~ReadLoad() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  std::vector<CallRecord> Records() {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }

 private:
  void Run() {
    while (!stop_) {
      v1::GetUserRequest request;
      request.set_id(id_);
      request.mutable_read_options()->set_consistency(level_);
      v1::GetUserResponse response;
      auto context = ContextWithDeadline(absl::Seconds(5));
      CallRecord record;
      record.start = absl::Now();
      grpc::Status status = stub_->GetUser(context.get(), request, &response);
      record.end = absl::Now();
      record.code = status.error_code();
      record.message = status.error_message();
      record.served_by = ServedByOf(*context);
      if (status.ok() && response.user().id() != id_) {
        record.code = grpc::StatusCode::INTERNAL;
        record.message = "wrong user returned";
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        records_.push_back(std::move(record));
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  }

  v1::UserService::Stub* const stub_;
  const uint64_t id_;
  const v1::Consistency level_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<CallRecord> records_;
  std::vector<std::thread> threads_;
};

TEST_F(HealthE2eTest, LagIsMeasuredAndBoundsBoundedStalenessReads) {
  StartServer({});
  const v1::User user = CreateUser("lag_");
  ASSERT_TRUE(cluster_->Sync().ok());
  WaitUntilSteady();

  ASSERT_TRUE(cluster_->Execute("replica-0", "STOP SLAVE SQL_THREAD").ok());
  absl::Cleanup restart_sql = [&] {
    EXPECT_TRUE(cluster_->Execute("replica-0", "START SLAVE SQL_THREAD").ok());
  };

  // The heartbeat keeps being written on the primary but no longer
  // applied on replica-0: its measured lag grows past a second.
  absl::StatusOr<admin::v1::EndpointStatus> lagging;
  ASSERT_TRUE(WaitFor(absl::Seconds(5),
                      [&] {
                        lagging = server_->Endpoint("replica-0");
                        return lagging.ok() && lagging->has_lag() &&
                               LagOf(*lagging) > absl::Seconds(1);
                      }))
      << (lagging.ok() ? lagging->ShortDebugString()
                       : lagging.status().ToString());
  EXPECT_FALSE(lagging->sql_running());
  EXPECT_TRUE(lagging->io_running());
  EXPECT_TRUE(lagging->replication_status_known());
  // Lag below --max-eventual-lag keeps it in rotation.
  EXPECT_EQ(lagging->state(), ENDPOINT_STATE_HEALTHY);
  const absl::Duration first = LagOf(*lagging);
  absl::SleepFor(absl::Milliseconds(1200));
  absl::StatusOr<admin::v1::EndpointStatus> later =
      server_->Endpoint("replica-0");
  ASSERT_TRUE(later.ok()) << later.status();
  ASSERT_TRUE(later->has_lag()) << later->ShortDebugString();
  EXPECT_GT(LagOf(*later), first + absl::Milliseconds(500))
      << "lag must keep growing while the SQL thread is stopped";

  // BOUNDED_STALENESS of 500 ms: never replica-0.
  std::map<std::string, int> bounded;
  for (int i = 0; i < 60; ++i) {
    CallRecord r = Read(user.id(), v1::CONSISTENCY_BOUNDED_STALENESS,
                        absl::Seconds(5), absl::Milliseconds(500));
    ASSERT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
    ++bounded[r.served_by];
  }
  EXPECT_EQ(bounded.count("replica-0"), 0u)
      << "a replica lagging > 1 s served a read bounded to 500 ms";
  EXPECT_GT(bounded["replica-1"] + bounded["replica-2"], 0)
      << "the replicas in sync should serve bounded reads";
  for (const auto& [name, n] : bounded) {
    EXPECT_THAT(name, AnyOf("primary", "replica-1", "replica-2"));
  }

  // EVENTUAL: replica-0 still serves (lag < --max-eventual-lag of 30 s).
  std::map<std::string, int> eventual;
  for (int i = 0; i < 9; ++i) {
    CallRecord r = Read(user.id(), v1::CONSISTENCY_EVENTUAL);
    ASSERT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
    ++eventual[r.served_by];
  }
  EXPECT_GT(eventual["replica-0"], 0)
      << "a replica within --max-eventual-lag left the EVENTUAL rotation";

  ASSERT_TRUE(cluster_->Execute("replica-0", "START SLAVE SQL_THREAD").ok());
  absl::StatusOr<admin::v1::EndpointStatus> caught_up;
  EXPECT_TRUE(WaitFor(absl::Seconds(10),
                      [&] {
                        caught_up = server_->Endpoint("replica-0");
                        return caught_up.ok() && caught_up->has_lag() &&
                               LagOf(*caught_up) < absl::Milliseconds(500);
                      }))
      << (caught_up.ok() ? caught_up->ShortDebugString()
                         : caught_up.status().ToString());
  EXPECT_TRUE(caught_up.ok() && caught_up->sql_running());
  // ... and bounded reads are served by replica-0 again.
  CallRecord last;
  EXPECT_TRUE(WaitFor(
      absl::Seconds(10),
      [&] {
        last = Read(user.id(), v1::CONSISTENCY_BOUNDED_STALENESS,
                    absl::Seconds(5), absl::Milliseconds(500));
        EXPECT_EQ(last.code, grpc::StatusCode::OK) << Describe(last);
        return last.served_by == "replica-0";
      },
      absl::Milliseconds(10)))
      << "replica-0 never served a bounded read after catching up; last: "
      << Describe(last);
}

TEST_F(HealthE2eTest, ReplicaBeyondMaxEventualLagGetsNoEventualReads) {
  StartServer({"--max-eventual-lag=1s"});
  const v1::User user = CreateUser("maxlag_");
  ASSERT_TRUE(cluster_->Sync().ok());
  WaitUntilSteady();

  ASSERT_TRUE(cluster_->Execute("replica-1", "STOP SLAVE SQL_THREAD").ok());
  absl::Cleanup restart_sql = [&] {
    EXPECT_TRUE(cluster_->Execute("replica-1", "START SLAVE SQL_THREAD").ok());
  };
  absl::StatusOr<admin::v1::EndpointStatus> lagging;
  ASSERT_TRUE(WaitFor(absl::Seconds(5),
                      [&] {
                        lagging = server_->Endpoint("replica-1");
                        return lagging.ok() && lagging->has_lag() &&
                               LagOf(*lagging) > absl::Milliseconds(1500);
                      }))
      << (lagging.ok() ? lagging->ShortDebugString()
                       : lagging.status().ToString());
  // Reachable and checked: healthy, but out of the EVENTUAL rotation.
  EXPECT_EQ(lagging->state(), ENDPOINT_STATE_HEALTHY);
  std::map<std::string, int> served;
  for (int i = 0; i < 12; ++i) {
    CallRecord r = Read(user.id(), v1::CONSISTENCY_EVENTUAL);
    ASSERT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
    ++served[r.served_by];
  }
  EXPECT_EQ(served.count("replica-1"), 0u)
      << "a replica beyond --max-eventual-lag served an EVENTUAL read";
  EXPECT_GT(served["replica-0"], 0);
  EXPECT_GT(served["replica-2"], 0);

  ASSERT_TRUE(cluster_->Execute("replica-1", "START SLAVE SQL_THREAD").ok());
  CallRecord last;
  EXPECT_TRUE(WaitFor(
      absl::Seconds(10),
      [&] {
        last = Read(user.id(), v1::CONSISTENCY_EVENTUAL);
        EXPECT_EQ(last.code, grpc::StatusCode::OK) << Describe(last);
        return last.served_by == "replica-1";
      },
      absl::Milliseconds(10)))
      << "replica-1 caught up but gets no EVENTUAL reads";
}

TEST_F(HealthE2eTest, EventualReadsAlternateOverTheReplicasLeftInRotation) {
  StartServer({});
  const v1::User user = CreateUser("fair_");
  ASSERT_TRUE(cluster_->Sync().ok());
  WaitUntilSteady();
  ASSERT_TRUE(cluster_->Kill("replica-1").ok());
  absl::Cleanup restart = [&] { EnsureUp("replica-1"); };
  ASSERT_TRUE(WaitFor(absl::Seconds(5), [&] {
    return server_->EndpointIs("replica-1", ENDPOINT_STATE_EJECTED);
  })) << "replica-1 not EJECTED within 5 s of being killed";

  // Round-robin over the replicas in rotation: replica-0 and replica-2 take
  // turns, each about half of the reads. (Handing an ejected replica's turn
  // to its successor would give replica-2 two thirds.)
  std::vector<std::string> served;
  for (int i = 0; i < 30; ++i) {
    CallRecord r = Read(user.id(), v1::CONSISTENCY_EVENTUAL);
    ASSERT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
    served.push_back(r.served_by);
  }
  const int to0 =
      static_cast<int>(std::count(served.begin(), served.end(), "replica-0"));
  const int to2 =
      static_cast<int>(std::count(served.begin(), served.end(), "replica-2"));
  EXPECT_EQ(to0 + to2, 30) << absl::StrJoin(served, ",");
  EXPECT_LE(std::abs(to0 - to2), 4)
      << "uneven share between the replicas left in rotation: replica-0 " << to0
      << ", replica-2 " << to2 << ": " << absl::StrJoin(served, ",");
}

TEST_F(HealthE2eTest, KilledReplicaIsEjectedWithoutFailedReadsAndReadmitted) {
  StartServer({});
  const v1::User user = CreateUser("eject_");
  ASSERT_TRUE(cluster_->Sync().ok());
  WaitUntilSteady();

  ReadLoad load(&users(), user.id(), v1::CONSISTENCY_EVENTUAL, 4);
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(cluster_->Kill("replica-1").ok());
  absl::Cleanup restart = [&] {
    load.Stop();
    EnsureUp("replica-1");
  };
  const absl::Time killed = absl::Now();

  ASSERT_TRUE(WaitFor(absl::Seconds(5), [&] {
    return server_->EndpointIs("replica-1", ENDPOINT_STATE_EJECTED);
  })) << "replica-1 not EJECTED within 5 s of being killed";
  const absl::Time ejected = absl::Now();
  // Its lag is unknown once a check failed to reach it, never stale.
  absl::StatusOr<admin::v1::EndpointStatus> dead;
  EXPECT_TRUE(WaitFor(absl::Seconds(3), [&] {
    dead = server_->Endpoint("replica-1");
    return dead.ok() && !dead->has_lag() && !dead->reason().empty() &&
           dead->state() == ENDPOINT_STATE_EJECTED;
  })) << (dead.ok() ? dead->ShortDebugString() : dead.status().ToString());
  absl::SleepFor(absl::Seconds(1));

  const absl::Time restarting = absl::Now();
  ASSERT_TRUE(cluster_->StartNode("replica-1").ok());
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
    return server_->EndpointIs("replica-1", ENDPOINT_STATE_HEALTHY);
  })) << "replica-1 not HEALTHY within 10 s of its restart";
  const absl::Time healthy = absl::Now();
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    for (const CallRecord& r : load.Records()) {
      if (r.start > healthy && r.served_by == "replica-1") return true;
    }
    return false;
  })) << "replica-1 HEALTHY again but serves no reads";
  load.Stop();

  const std::vector<CallRecord> records = load.Records();
  int failed = 0, during_ejection = 0, after = 0;
  std::map<std::string, int> served_after_kill;
  for (const CallRecord& r : records) {
    if (r.code != grpc::StatusCode::OK) {
      if (++failed <= 5) ADD_FAILURE() << "failed read: " << Describe(r);
      continue;
    }
    if (r.start > killed) ++served_after_kill[r.served_by];
    if (r.start > ejected && r.end < restarting) {
      ++during_ejection;
      EXPECT_NE(r.served_by, "replica-1") << "served while ejected";
    }
    if (r.start > healthy) ++after;
  }
  EXPECT_EQ(failed, 0) << "of " << records.size() << " reads";
  EXPECT_GT(during_ejection, 10);
  EXPECT_GT(after, 0);
  EXPECT_GT(served_after_kill["replica-0"], 0);
  EXPECT_GT(served_after_kill["replica-2"], 0);
  std::cout << "eject: reads=" << records.size()
            << " ejected_after=" << absl::FormatDuration(ejected - killed)
            << " healthy_after_restart="
            << absl::FormatDuration(healthy - restarting) << "\n";
}

TEST_F(HealthE2eTest, AllReplicasDownFallBackToThePrimaryWithinItsBudget) {
  constexpr int kLimit = 2;
  StartServer({absl::StrCat("--max-fallback-reads=", kLimit)});
  v1::CreateUserResponse created;
  grpc::Status create = CreateUser("fallback_", absl::Seconds(5), &created);
  ASSERT_TRUE(create.ok()) << create.error_message();
  const v1::User user = created.user();
  ASSERT_TRUE(cluster_->Sync().ok());
  WaitUntilSteady();

  const std::vector<std::string> replicas = cluster_->ReplicaNodes();
  absl::Cleanup restart = [&] {
    for (const std::string& node : replicas) EnsureUp(node);
  };
  for (const std::string& node : replicas) {
    ASSERT_TRUE(cluster_->Kill(node).ok()) << node;
  }
  absl::StatusOr<admin::v1::GetStatusResponse> status;
  ASSERT_TRUE(WaitFor(
      absl::Seconds(5),
      [&] {
        status = server_->Status();
        if (!status.ok()) return false;
        for (const admin::v1::EndpointStatus& e : status->endpoints()) {
          if (e.name() != "primary" && e.state() != ENDPOINT_STATE_EJECTED) {
            return false;
          }
        }
        return true;
      }))
      << (status.ok() ? status->ShortDebugString()
                      : status.status().ToString());
  EXPECT_EQ(status->fallback_reads_limit(), kLimit);
  EXPECT_TRUE(status->serving()) << "the primary is writable";
  absl::StatusOr<HealthCheckResponse::ServingStatus> health = server_->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthCheckResponse::SERVING);

  // One at a time, within the budget: the primary serves them all.
  for (int i = 0; i < 10; ++i) {
    CallRecord r = Read(user.id(), v1::CONSISTENCY_EVENTUAL);
    ASSERT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
    EXPECT_EQ(r.served_by, "primary");
  }

  // Pressure: a table lock makes every primary read wait, so the fallback
  // reads that get in hold the budget while the others arrive.
  absl::StatusOr<std::unique_ptr<AdminSession>> locker =
      AdminSession::Open("primary");
  ASSERT_TRUE(locker.ok()) << locker.status();
  ASSERT_TRUE((*locker)
                  ->Execute(absl::StrCat("LOCK TABLES `", cluster_->db_name(),
                                         "`.users WRITE"))
                  .ok());
  absl::Cleanup unlock = [&] { (*locker)->Close(); };

  // EVENTUAL reads as ListUsers: GetUsers that arrive together share one
  // statement, and so one unit of the budget (the budget counts statements
  // on the primary, which is what it protects); ListUsers go one by one.
  constexpr int kEventualThreads = 16;
  // STRONG and SESSION reads need the primary: never refused.
  constexpr int kStrongThreads = 4;
  constexpr absl::Duration kDeadline = absl::Seconds(6);
  std::vector<CallRecord> eventual(kEventualThreads), strong(kStrongThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kEventualThreads; ++i) {
    threads.emplace_back([&, i] {
      eventual[i] = List(v1::CONSISTENCY_EVENTUAL, kDeadline);
    });
  }
  for (int i = 0; i < kStrongThreads; ++i) {
    threads.emplace_back([&, i] {
      strong[i] = i % 2 == 0
                      ? Read(user.id(), v1::CONSISTENCY_STRONG, kDeadline)
                      : Read(user.id(), v1::CONSISTENCY_SESSION, kDeadline,
                             absl::ZeroDuration(), nullptr,
                             created.consistency_token());
    });
  }
  // Whatever fails below, the lock goes and every call is joined.
  absl::Cleanup join = [&] {
    (*locker)->Close();
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
  };
  absl::StatusOr<admin::v1::GetStatusResponse> pressured;
  EXPECT_TRUE(WaitFor(absl::Seconds(3),
                      [&] {
                        pressured = server_->Status();
                        return pressured.ok() &&
                               pressured->fallback_reads_in_flight() ==
                                   kLimit &&
                               pressured->fallback_reads_refused() > 0;
                      }))
      << (pressured.ok() ? pressured->ShortDebugString()
                         : pressured.status().ToString());
  absl::SleepFor(absl::Milliseconds(500));
  pressured = server_->Status();
  EXPECT_TRUE(pressured.ok()) << pressured.status();
  if (pressured.ok()) {
    EXPECT_LE(pressured->fallback_reads_in_flight(), kLimit)
        << "more fallback reads on the primary than --max-fallback-reads";
  }
  EXPECT_TRUE((*locker)->Execute("UNLOCK TABLES").ok());
  std::move(join).Invoke();

  int ok = 0, unavailable = 0;
  for (const CallRecord& r : eventual) {
    EXPECT_LT(r.end - r.start, kDeadline) << Describe(r);
    if (r.code == grpc::StatusCode::OK) {
      ++ok;
      EXPECT_EQ(r.served_by, "primary") << Describe(r);
    } else if (r.code == grpc::StatusCode::UNAVAILABLE) {
      ++unavailable;
      EXPECT_LT(r.end - r.start, absl::Seconds(1))
          << "a refused fallback read must fail fast: " << Describe(r);
    } else {
      ADD_FAILURE() << "EVENTUAL read under pressure: " << Describe(r);
    }
  }
  EXPECT_GE(unavailable, 1) << "16 concurrent fallback reads, limit 2";
  EXPECT_LE(ok, kLimit) << "only the reads within the budget could wait for "
                           "the lock and succeed";
  EXPECT_GE(ok, 1);
  for (const CallRecord& r : strong) {
    EXPECT_EQ(r.code, grpc::StatusCode::OK)
        << "STRONG and SESSION reads are never refused: " << Describe(r);
    EXPECT_EQ(r.served_by, "primary");
  }
  absl::StatusOr<admin::v1::GetStatusResponse> after = server_->Status();
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->fallback_reads_refused(), unavailable);
  EXPECT_EQ(after->fallback_reads_in_flight(), 0);

  // Replicas back: reads go back to them.
  for (const std::string& node : replicas) {
    ASSERT_TRUE(cluster_->StartNode(node).ok()) << node;
  }
  ASSERT_TRUE(cluster_->Sync().ok());
  WaitUntilSteady();
  std::set<std::string> served;
  for (int i = 0; i < 6; ++i) {
    CallRecord r = Read(user.id(), v1::CONSISTENCY_EVENTUAL);
    ASSERT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
    EXPECT_THAT(r.served_by, StartsWith("replica-"));
    served.insert(r.served_by);
  }
  EXPECT_EQ(served.size(), replicas.size());
}

TEST_F(HealthE2eTest, KilledPrimaryFailsWritesFastAndRecoversWithoutRestart) {
  StartServer({});
  const v1::User user = CreateUser("prim_");
  ASSERT_TRUE(cluster_->Sync().ok());
  WaitUntilSteady();
  const pid_t pid = server_->process().pid();

  ASSERT_TRUE(cluster_->Kill("primary").ok());
  absl::Cleanup restart = [&] { EnsureUp("primary"); };

  for (int i = 0; i < 3; ++i) {
    v1::CreateUserResponse created;
    const absl::Time start = absl::Now();
    grpc::Status status = CreateUser("down_", absl::Seconds(10), &created);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
    // No successor: the write hold (2 s) passes first.
    EXPECT_LT(absl::Now() - start, absl::Seconds(3));

    auto context = ContextWithDeadline(absl::Seconds(10));
    v1::UpdateUserResponse updated;
    const absl::Time update_start = absl::Now();
    status = UpdateEmail(user.id(), UniqueUsername("u") + "@down.example",
                         context.get(), &updated);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
    EXPECT_LT(absl::Now() - update_start, absl::Seconds(3));
  }
  for (int i = 0; i < 6; ++i) {
    CallRecord r = Read(user.id(), v1::CONSISTENCY_EVENTUAL);
    EXPECT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
    EXPECT_THAT(r.served_by, StartsWith("replica-"));
  }
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    absl::StatusOr<admin::v1::EndpointStatus> primary =
        server_->Endpoint("primary");
    return primary.ok() && primary->role() == admin::v1::ROLE_UNREACHABLE;
  })) << "GetStatus does not show the killed primary UNREACHABLE";
  // The replicas still serve reads: the service stays SERVING.
  absl::StatusOr<HealthCheckResponse::ServingStatus> health = server_->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthCheckResponse::SERVING);

  ASSERT_TRUE(cluster_->StartNode("primary").ok());
  const absl::Time started = absl::Now();
  grpc::Status write;
  int attempts = 0;
  WaitFor(
      absl::Seconds(5),
      [&] {
        v1::CreateUserResponse created;
        ++attempts;
        write = CreateUser("up_", absl::Seconds(2), &created);
        return write.ok();
      },
      absl::Milliseconds(100));
  EXPECT_TRUE(write.ok()) << "no successful write within 5 s of the primary's "
                             "restart after "
                          << attempts
                          << " attempts; last: " << CodeName(write.error_code())
                          << " " << write.error_message();
  std::cout << "primary: first write "
            << absl::FormatDuration(absl::Now() - started)
            << " after restart\n";
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    return server_->EndpointIs("primary", ENDPOINT_STATE_WRITABLE);
  }));
  EXPECT_TRUE(server_->process().Running());
  EXPECT_EQ(server_->process().pid(), pid);
}

TEST_F(HealthE2eTest, ReadOnlyPrimaryRefusesWritesUntilWritableAgain) {
  StartServer({});
  const v1::User user = CreateUser("ro_");
  ASSERT_TRUE(cluster_->Sync().ok());
  WaitUntilSteady();

  ASSERT_TRUE(cluster_->Execute("primary", "SET GLOBAL read_only=ON").ok());
  absl::Cleanup writable = [&] {
    EXPECT_TRUE(cluster_->Execute("primary", "SET GLOBAL read_only=OFF").ok());
  };

  for (int i = 0; i < 3; ++i) {
    v1::CreateUserResponse created;
    const absl::Time start = absl::Now();
    grpc::Status status = CreateUser("ro_", absl::Seconds(10), &created);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
    EXPECT_THAT(absl::AsciiStrToLower(status.error_message()),
                AnyOf(HasSubstr("read-only"), HasSubstr("read only")));
    EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  }
  auto context = ContextWithDeadline(absl::Seconds(10));
  v1::UpdateUserResponse updated;
  grpc::Status update = UpdateEmail(
      user.id(), UniqueUsername("u") + "@ro.example", context.get(), &updated);
  EXPECT_EQ(update.error_code(), grpc::StatusCode::UNAVAILABLE)
      << update.error_message();
  EXPECT_THAT(absl::AsciiStrToLower(update.error_message()),
              AnyOf(HasSubstr("read-only"), HasSubstr("read only")));

  absl::StatusOr<admin::v1::EndpointStatus> primary;
  EXPECT_TRUE(WaitFor(absl::Seconds(3),
                      [&] {
                        primary = server_->Endpoint("primary");
                        // Read-only and replicating from nobody: out of
                        // use until it is writable or replicates again.
                        return primary.ok() &&
                               primary->role() == admin::v1::ROLE_DETACHED;
                      }))
      << (primary.ok() ? primary->ShortDebugString()
                       : primary.status().ToString());
  CallRecord read = Read(user.id(), v1::CONSISTENCY_EVENTUAL);
  EXPECT_EQ(read.code, grpc::StatusCode::OK) << Describe(read);

  ASSERT_TRUE(cluster_->Execute("primary", "SET GLOBAL read_only=OFF").ok());
  grpc::Status write;
  WaitFor(
      absl::Seconds(5),
      [&] {
        v1::CreateUserResponse created;
        write = CreateUser("rw_", absl::Seconds(2), &created);
        return write.ok();
      },
      absl::Milliseconds(100));
  EXPECT_TRUE(write.ok()) << "writes did not recover within 5 s of "
                             "read_only=OFF: "
                          << write.error_message();
  EXPECT_TRUE(WaitFor(absl::Seconds(3), [&] {
    return server_->EndpointIs("primary", ENDPOINT_STATE_WRITABLE);
  }));
}

// Holds row locks on the primary in one open transaction.
class RowLocks {
 public:
  explicit RowLocks(const std::vector<uint64_t>& ids) {
    absl::StatusOr<std::unique_ptr<AdminSession>> session =
        AdminSession::Open("primary");
    if (!session.ok()) {
      status_ = session.status();
      return;
    }
    session_ = std::move(*session);
    status_ = session_->Execute("START TRANSACTION");
    if (!status_.ok()) return;
    absl::StatusOr<std::vector<std::vector<std::string>>> rows =
        session_->Query(absl::StrCat(
            "SELECT id FROM `", TestCluster::Get().db_name(),
            "`.users WHERE id IN (", absl::StrJoin(ids, ","), ") FOR UPDATE"));
    if (!rows.ok()) {
      status_ = rows.status();
    } else if (rows->size() != ids.size()) {
      status_ = absl::InternalError(
          absl::StrCat("locked ", rows->size(), " of ", ids.size(), " rows"));
    }
  }
  const absl::Status& status() const { return status_; }
  // Ends the transaction (and the connection): the locks are gone.
  void Release() {
    if (session_ != nullptr) session_->Close();
  }
  ~RowLocks() { Release(); }

 private:
  absl::Status status_;
  std::unique_ptr<AdminSession> session_;
};

TEST_F(HealthE2eTest, QueryBlockedPastItsDeadlineIsStoppedInTheDatabase) {
  StartServer({});
  const v1::User user = CreateUser("slow_");
  RowLocks locks({user.id()});
  ASSERT_TRUE(locks.status().ok()) << locks.status();

  auto context = ContextWithDeadline(absl::Milliseconds(500));
  v1::UpdateUserResponse updated;
  grpc::Status status;
  absl::Time returned;
  const absl::Time start = absl::Now();
  std::thread call([&] {
    status = UpdateEmail(user.id(), user.username() + "@slow.example",
                         context.get(), &updated);
    returned = absl::Now();
  });
  // The UPDATE reached the database and waits for the lock.
  const bool blocked = WaitFor(
      absl::Milliseconds(450),
      [&] {
        absl::StatusOr<int> n =
            cluster_->RunningStatements("primary", "UPDATE users%");
        return n.ok() && *n > 0;
      },
      absl::Milliseconds(10));
  call.join();
  EXPECT_TRUE(blocked) << "the UPDATE never showed in the PROCESSLIST";
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_LT(returned - start, absl::Seconds(1));

  // Gone from the database right after, while the lock is still held: it
  // was stopped, not left to run when the lock frees.
  absl::StatusOr<int> running;
  EXPECT_TRUE(WaitFor(
      absl::Milliseconds(500),
      [&] {
        running = cluster_->RunningStatements("primary", "UPDATE users%");
        return running.ok() && *running == 0;
      },
      absl::Milliseconds(20)))
      << "the UPDATE is still running "
      << absl::FormatDuration(absl::Now() - returned)
      << " after its call returned: "
      << (running.ok() ? absl::StrCat(*running) : running.status().ToString());

  locks.Release();
  absl::SleepFor(absl::Milliseconds(300));
  v1::GetUserResponse read;
  CallRecord r = Read(user.id(), v1::CONSISTENCY_STRONG, absl::Seconds(5),
                      absl::ZeroDuration(), &read);
  ASSERT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
  EXPECT_EQ(read.user().version(), 1) << "the stopped UPDATE was applied";
  EXPECT_EQ(read.user().email(), user.email());
}

TEST_F(HealthE2eTest, CancelledCallsHaveTheirStatementKilled) {
  StartServer({});
  const v1::User user = CreateUser("cancel_");

  ASSERT_TRUE(cluster_->Sync().ok());

  // An UpdateUser blocked on a row lock on the primary, a STRONG GetUser
  // blocked on a table lock on the primary, an EVENTUAL GetUser blocked on
  // table locks on every replica: each cancelled by the client after
  // 300 ms.
  struct Case {
    std::string name;
    std::vector<std::string> nodes;  // locked, and where it may run
    std::string statement_like;
  };
  const std::vector<Case> cases = {
      {"UpdateUser", {"primary"}, "UPDATE users%"},
      {"GetUser STRONG", {"primary"}, "SELECT%FROM users%"},
      {"GetUser EVENTUAL", cluster_->ReplicaNodes(), "SELECT%FROM users%"}};
  const std::string users_table =
      absl::StrCat("`", cluster_->db_name(), "`.users");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::unique_ptr<AdminSession>> lockers;
    absl::Cleanup release = [&] {
      for (auto& locker : lockers) locker->Close();
    };
    for (const std::string& node : c.nodes) {
      absl::StatusOr<std::unique_ptr<AdminSession>> locker =
          AdminSession::Open(node);
      ASSERT_TRUE(locker.ok()) << locker.status();
      lockers.push_back(std::move(*locker));
      if (c.name == "UpdateUser") {
        ASSERT_TRUE(lockers.back()->Execute("START TRANSACTION").ok());
        ASSERT_TRUE(lockers.back()
                        ->Execute(absl::StrCat("SELECT id FROM ", users_table,
                                               " WHERE id = ", user.id(),
                                               " FOR UPDATE"))
                        .ok());
      } else {
        absl::Status locked = lockers.back()->Execute(
            absl::StrCat("LOCK TABLES ", users_table, " WRITE"));
        ASSERT_TRUE(locked.ok()) << node << ": " << locked;
      }
    }
    auto running_now = [&]() -> absl::StatusOr<int> {
      int total = 0;
      for (const std::string& node : c.nodes) {
        absl::StatusOr<int> n =
            cluster_->RunningStatements(node, c.statement_like);
        if (!n.ok()) return n.status();
        total += *n;
      }
      return total;
    };

    auto context = ContextWithDeadline(absl::Seconds(20));
    grpc::Status status;
    std::thread call([&] {
      if (c.name == "UpdateUser") {
        v1::UpdateUserResponse updated;
        status = UpdateEmail(user.id(), user.username() + "@cancel.example",
                             context.get(), &updated);
      } else {
        v1::GetUserRequest request;
        request.set_id(user.id());
        request.mutable_read_options()->set_consistency(
            c.name == "GetUser STRONG" ? v1::CONSISTENCY_STRONG
                                       : v1::CONSISTENCY_EVENTUAL);
        v1::GetUserResponse response;
        status = users().GetUser(context.get(), request, &response);
      }
    });
    absl::Cleanup join = [&] {
      context->TryCancel();
      call.join();
    };
    const bool blocked = WaitFor(
        absl::Seconds(2),
        [&] {
          absl::StatusOr<int> n = running_now();
          return n.ok() && *n > 0;
        },
        absl::Milliseconds(20));
    ASSERT_TRUE(blocked) << "the statement never showed in the PROCESSLIST";
    absl::SleepFor(absl::Milliseconds(300));
    context->TryCancel();
    const absl::Time cancelled = absl::Now();
    absl::StatusOr<int> running;
    EXPECT_TRUE(WaitFor(
        absl::Seconds(1),
        [&] {
          running = running_now();
          return running.ok() && *running == 0;
        },
        absl::Milliseconds(20)))
        << "the statement of the cancelled call is still running "
        << absl::FormatDuration(absl::Now() - cancelled) << " later";
    // Not retried elsewhere either.
    absl::SleepFor(absl::Milliseconds(200));
    running = running_now();
    EXPECT_TRUE(running.ok() && *running == 0)
        << "a statement of the cancelled call started after the cancel";
    std::move(join).Invoke();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED)
        << status.error_message();
  }

  absl::SleepFor(absl::Milliseconds(300));
  v1::GetUserResponse read;
  CallRecord r = Read(user.id(), v1::CONSISTENCY_STRONG, absl::Seconds(5),
                      absl::ZeroDuration(), &read);
  ASSERT_EQ(r.code, grpc::StatusCode::OK) << Describe(r);
  EXPECT_EQ(read.user().version(), 1) << "the killed UPDATE was applied";
}

TEST_F(HealthE2eTest, ExhaustedPoolFailsCallsInTimeAndLeaksNoConnection) {
  StartServer({"--pool-size=2", "--pool-acquire-timeout=300ms"});
  const v1::User a = CreateUser("pool_");
  const v1::User b = CreateUser("pool_");
  RowLocks locks({a.id(), b.id()});
  ASSERT_TRUE(locks.status().ok()) << locks.status();

  // 20 concurrent updates of locked rows, 10x the pool: each one that gets
  // a connection holds it, blocked, until its deadline.
  constexpr int kCalls = 20;
  constexpr absl::Duration kDeadline = absl::Seconds(2);
  std::vector<CallRecord> records(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      const v1::User& user = i % 2 == 0 ? a : b;
      auto context = ContextWithDeadline(kDeadline);
      v1::UpdateUserResponse updated;
      CallRecord& r = records[i];
      r.start = absl::Now();
      grpc::Status status = UpdateEmail(
          user.id(), absl::StrCat(user.username(), "-", i, "@x.example"),
          context.get(), &updated);
      r.end = absl::Now();
      r.code = status.error_code();
      r.message = status.error_message();
    });
  }
  absl::StatusOr<admin::v1::EndpointStatus> busy;
  EXPECT_TRUE(WaitFor(
      absl::Seconds(1),
      [&] {
        busy = server_->Endpoint("primary");
        return busy.ok() && busy->pool().in_use() == 2;
      },
      absl::Milliseconds(10)))
      << (busy.ok() ? busy->ShortDebugString() : busy.status().ToString());
  for (std::thread& t : threads) t.join();
  locks.Release();

  std::map<std::string, int> codes;
  for (const CallRecord& r : records) {
    ++codes[CodeName(r.code)];
    EXPECT_THAT(r.code, AnyOf(grpc::StatusCode::OK,
                              grpc::StatusCode::RESOURCE_EXHAUSTED,
                              grpc::StatusCode::DEADLINE_EXCEEDED))
        << Describe(r);
    EXPECT_LT(r.end - r.start, kDeadline + absl::Milliseconds(300))
        << Describe(r);
    if (r.code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      EXPECT_LT(r.end - r.start, absl::Milliseconds(1500))
          << "the pool wait is bounded by --pool-acquire-timeout: "
          << Describe(r);
    }
  }
  EXPECT_GE(codes["RESOURCE_EXHAUSTED"], 1);
  std::cout << "pool: " << absl::StrJoin(codes, ",", absl::PairFormatter("="))
            << "\n";

  // Every lease came back.
  absl::StatusOr<admin::v1::GetStatusResponse> status;
  EXPECT_TRUE(WaitFor(absl::Seconds(3),
                      [&] {
                        status = server_->Status();
                        if (!status.ok()) return false;
                        for (const admin::v1::EndpointStatus& e :
                             status->endpoints()) {
                          if (e.pool().in_use() != 0 || e.pool().waiters() != 0)
                            return false;
                        }
                        return true;
                      }))
      << (status.ok() ? status->ShortDebugString()
                      : status.status().ToString());
  for (const admin::v1::EndpointStatus& e : status->endpoints()) {
    EXPECT_EQ(e.pool().max_size(), 2) << e.name();
    EXPECT_LE(e.pool().size(), 2) << e.name();
  }
  // And the pool still works.
  auto context = ContextWithDeadline(absl::Seconds(5));
  v1::UpdateUserResponse updated;
  grpc::Status after = UpdateEmail(a.id(), a.username() + "@after.example",
                                   context.get(), &updated);
  EXPECT_TRUE(after.ok()) << CodeName(after.error_code()) << " "
                          << after.error_message();
}

TEST_F(HealthE2eTest, HealthIsServingWhileAnyEndpointCanServe) {
  StartServer({});
  WaitUntilSteady();
  auto serving_is = [&](HealthCheckResponse::ServingStatus want) {
    absl::StatusOr<HealthCheckResponse::ServingStatus> health =
        server_->Health();
    absl::StatusOr<admin::v1::GetStatusResponse> status = server_->Status();
    return health.ok() && *health == want && status.ok() &&
           status->serving() == (want == HealthCheckResponse::SERVING);
  };
  EXPECT_TRUE(serving_is(HealthCheckResponse::SERVING));

  const std::vector<std::string> replicas = cluster_->ReplicaNodes();
  absl::Cleanup restart = [&] {
    EnsureUp("primary");
    for (const std::string& node : replicas) EnsureUp(node);
  };
  ASSERT_TRUE(cluster_->Kill("primary").ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    absl::StatusOr<admin::v1::EndpointStatus> primary =
        server_->Endpoint("primary");
    return primary.ok() && primary->role() == admin::v1::ROLE_UNREACHABLE;
  }));
  EXPECT_TRUE(serving_is(HealthCheckResponse::SERVING))
      << "replicas in rotation: still SERVING";

  for (const std::string& node : replicas) {
    ASSERT_TRUE(cluster_->Kill(node).ok()) << node;
  }
  EXPECT_TRUE(WaitFor(absl::Seconds(6), [&] {
    return serving_is(HealthCheckResponse::NOT_SERVING);
  })) << "nothing can serve: NOT_SERVING";
  // Liveness ("", the process) is not about the databases.
  absl::StatusOr<HealthCheckResponse::ServingStatus> liveness =
      server_->Health("");
  ASSERT_TRUE(liveness.ok()) << liveness.status();
  EXPECT_EQ(*liveness, HealthCheckResponse::SERVING);

  ASSERT_TRUE(cluster_->StartNode("primary").ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    return serving_is(HealthCheckResponse::SERVING);
  })) << "the primary is writable again: SERVING";
}

}  // namespace
}  // namespace userservice::testing
