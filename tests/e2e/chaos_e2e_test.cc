// Chaos: client threads run a seeded mix of writes and reads against the
// real user_server while a fixed script kills and restarts replicas and the
// primary, switches the writer over and fails it over. Afterwards every acknowledged write must be on the primary and
// on every replica, every SESSION read must have seen the caller's latest
// write, and the server must still be running.

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"

namespace userservice::testing {
namespace {

constexpr uint32_t kSeed = 20261124;
constexpr int kThreads = 4;
constexpr absl::Duration kCallDeadline = absl::Seconds(2);

// A user one worker created, as its acknowledged writes left it.
struct OwnUser {
  uint64_t id = 0;
  int64_t version = 0;  // of the latest OK write
  std::string username;
  std::string email;
  int ok_writes = 0;  // OK creates and updates of this user
  absl::Time acked_at;  // of the latest OK write
};

// The latest acknowledged write of a worker.
struct LatestWrite {
  uint64_t id = 0;
  int64_t version = 0;
  std::string token;
  absl::Time acked_at;
};

// When the script killed a writer and failed over to a replica.
// Asynchronous replication may lose the last commits of a dead writer:
// only writes acknowledged shortly before such a kill may be missing
// afterwards; they are counted and reported, never excused otherwise.
class FailoverKills {
 public:
  static constexpr absl::Duration kWindow = absl::Seconds(1);

  void Add(absl::Time killed_at) {
    std::lock_guard<std::mutex> lock(mu_);
    kills_.push_back(killed_at);
  }
  bool MayBeLost(absl::Time acked_at) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (absl::Time kill : kills_) {
      if (acked_at >= kill - kWindow && acked_at <= kill) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<absl::Time> kills_;
};

// Outcomes of every call, shared by the workers.
class Tally {
 public:
  void Record(const std::string& rpc, const grpc::Status& status,
              bool expected) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (status.ok()) {
      ++ok_;
      return;
    }
    ++errors_[CodeName(status.error_code())];
    if (!expected && unexpected_.size() < 20) {
      unexpected_.push_back(absl::StrCat(rpc, ": ",
                                         CodeName(status.error_code()), " ",
                                         status.error_message()));
    }
    if (!expected) ++unexpected_count_;
  }
  void Violation(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    ++violations_;
    if (violation_samples_.size() < 20) violation_samples_.push_back(what);
  }

  std::mutex mu_;
  int64_t calls_ = 0;
  int64_t ok_ = 0;
  int64_t violations_ = 0;
  int64_t unexpected_count_ = 0;
  std::map<std::string, int64_t> errors_;
  std::vector<std::string> unexpected_;
  std::vector<std::string> violation_samples_;
};

class Worker {
 public:
  Worker(int index, v1::UserService::Stub* stub, Tally* tally,
         const FailoverKills* kills)
      : index_(index),
        stub_(stub),
        tally_(tally),
        kills_(kills),
        rng_(kSeed + index) {}

  void Run(const std::atomic<bool>& stop) {
    while (!stop) {
      const int op = Uniform(100);
      if (op < 20 || users_.empty()) {
        Create();
      } else if (op < 40) {
        Update();
      } else if (op < 70) {
        SessionRead();
      } else if (op < 90) {
        EventualRead();
      } else {
        List();
      }
      absl::SleepFor(absl::Milliseconds(2 + Uniform(10)));
    }
  }

  const std::vector<OwnUser>& users() const { return users_; }
  int64_t session_reads_checked() const { return session_reads_checked_; }
  int64_t lost_session_writes() const { return lost_session_writes_; }

 private:
  int Uniform(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }

  void Create() {
    v1::CreateUserRequest request;
    request.set_username(absl::StrCat("ch", index_, "_", UniqueUsername("")));
    request.set_email(request.username() + "@chaos.example");
    v1::CreateUserResponse response;
    auto context = ContextWithDeadline(kCallDeadline);
    grpc::Status status = stub_->CreateUser(context.get(), request, &response);
    tally_->Record("CreateUser", status, IsTransient(status));
    if (!status.ok()) return;
    OwnUser user;
    user.id = response.user().id();
    user.version = response.user().version();
    user.username = response.user().username();
    user.email = response.user().email();
    user.ok_writes = 1;
    user.acked_at = absl::Now();
    if (user.id == 0 || user.version != 1 ||
        user.username != request.username() || user.email != request.email() ||
        response.consistency_token().empty()) {
      tally_->Violation(absl::StrCat("CreateUser OK with a bad response: ",
                                     response.ShortDebugString()));
    }
    users_.push_back(user);
    latest_ = {user.id, user.version, response.consistency_token(),
               user.acked_at};
  }

  void Update() {
    OwnUser& user = users_[Uniform(static_cast<int>(users_.size()))];
    v1::UpdateUserRequest request;
    request.mutable_user()->set_id(user.id);
    request.mutable_user()->set_email(
        absl::StrCat(user.username, "+", ++updates_, "@chaos.example"));
    request.mutable_update_mask()->add_paths("email");
    v1::UpdateUserResponse response;
    auto context = ContextWithDeadline(kCallDeadline);
    grpc::Status status = stub_->UpdateUser(context.get(), request, &response);
    // The user's latest write may have been lost with a killed writer.
    const bool may_be_lost = kills_->MayBeLost(user.acked_at);
    tally_->Record(
        "UpdateUser", status,
        IsTransient(status) ||
            (may_be_lost && status.error_code() == grpc::StatusCode::NOT_FOUND));
    if (!status.ok()) return;
    if (response.user().id() != user.id ||
        (response.user().version() <= user.version && !may_be_lost) ||
        response.user().email() != request.user().email()) {
      tally_->Violation(absl::StrCat(
          "UpdateUser OK with a bad response: ", response.ShortDebugString(),
          " after v", user.version));
    }
    user.version = response.user().version();
    user.email = response.user().email();
    ++user.ok_writes;
    user.acked_at = absl::Now();
    latest_ = {user.id, user.version, response.consistency_token(),
               user.acked_at};
  }

  void SessionRead() {
    if (latest_.id == 0) return EventualRead();
    v1::GetUserRequest request;
    request.set_id(latest_.id);
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_SESSION);
    request.mutable_read_options()->set_consistency_token(latest_.token);
    v1::GetUserResponse response;
    auto context = ContextWithDeadline(kCallDeadline);
    grpc::Status status = stub_->GetUser(context.get(), request, &response);
    tally_->Record("GetUser(SESSION)", status, IsTransient(status));
    const bool saw_write = status.ok() && response.user().id() == latest_.id &&
                           response.user().version() >= latest_.version;
    if ((status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND) &&
        !saw_write && kills_->MayBeLost(latest_.acked_at)) {
      ++lost_session_writes_;
      return;
    }
    if (status.ok()) {
      ++session_reads_checked_;
      if (response.user().id() != latest_.id ||
          response.user().version() < latest_.version) {
        tally_->Violation(
            absl::StrCat("SESSION read by ", ServedByOf(*context), " saw ",
                         response.user().ShortDebugString(), " after writing v",
                         latest_.version, " of user ", latest_.id));
      }
    } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      ++session_reads_checked_;
      tally_->Violation(absl::StrCat("SESSION read by ", ServedByOf(*context),
                                     " did not find user ", latest_.id,
                                     " after writing v", latest_.version));
    }
  }

  void EventualRead() {
    const OwnUser& user = users_[Uniform(static_cast<int>(users_.size()))];
    v1::GetUserRequest request;
    request.set_id(user.id);
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_EVENTUAL);
    v1::GetUserResponse response;
    auto context = ContextWithDeadline(kCallDeadline);
    grpc::Status status = stub_->GetUser(context.get(), request, &response);
    // A lagging replica may not have the user yet.
    tally_->Record("GetUser(EVENTUAL)", status,
                   IsTransient(status) ||
                       status.error_code() == grpc::StatusCode::NOT_FOUND);
    if (status.ok() && response.user().id() != user.id) {
      tally_->Violation(absl::StrCat("EVENTUAL read of ", user.id, " returned ",
                                     response.user().ShortDebugString()));
    }
  }

  void List() {
    v1::ListUsersRequest request;
    request.set_page_size(20);
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_EVENTUAL);
    v1::ListUsersResponse response;
    auto context = ContextWithDeadline(kCallDeadline);
    grpc::Status status = stub_->ListUsers(context.get(), request, &response);
    tally_->Record("ListUsers", status, IsTransient(status));
    if (!status.ok()) return;
    for (int i = 1; i < response.users_size(); ++i) {
      if (response.users(i).id() <= response.users(i - 1).id()) {
        tally_->Violation("ListUsers page not in ascending id order");
        break;
      }
    }
  }

  // What a call may fail with while nodes die and come back.
  static bool IsTransient(const grpc::Status& status) {
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
      case grpc::StatusCode::ABORTED:
        return true;
      default:
        return false;
    }
  }

  const int index_;
  v1::UserService::Stub* const stub_;
  Tally* const tally_;
  const FailoverKills* const kills_;
  std::mt19937 rng_;
  std::vector<OwnUser> users_;
  LatestWrite latest_;
  int updates_ = 0;
  int64_t session_reads_checked_ = 0;
  int64_t lost_session_writes_ = 0;
};

// Stored (version, email) per id on `node`, for `ids`.
absl::StatusOr<std::map<uint64_t, std::pair<int64_t, std::string>>> Stored(
    const std::string& node, const std::vector<uint64_t>& ids) {
  TestCluster& cluster = TestCluster::Get();
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = cluster.Query(
      node,
      absl::StrCat("SELECT id, version, email FROM `", cluster.db_name(),
                   "`.users WHERE id IN (", absl::StrJoin(ids, ","), ")"));
  if (!rows.ok()) return rows.status();
  std::map<uint64_t, std::pair<int64_t, std::string>> out;
  for (const std::vector<std::string>& row : *rows) {
    uint64_t id = 0;
    int64_t version = 0;
    if (row.size() != 3 || !absl::SimpleAtoi(row[0], &id) ||
        !absl::SimpleAtoi(row[1], &version)) {
      return absl::InternalError("unexpected row from " + node);
    }
    out[id] = {version, row[2]};
  }
  return out;
}

class ChaosE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = &TestCluster::Get();
    absl::Status restored = cluster_->Restore();
    ASSERT_TRUE(restored.ok()) << restored;
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log (tail) ----\n";
      const std::string log = server_->process().Log();
      std::cerr << log.substr(log.size() > 20000 ? log.size() - 20000 : 0);
    }
    server_.reset();
    absl::Status restored = cluster_->Restore();
    EXPECT_TRUE(restored.ok()) << restored;
  }

  TestCluster* cluster_ = nullptr;
  std::unique_ptr<E2eServer> server_;
};

TEST_F(ChaosE2eTest, AcknowledgedWritesSurviveAndSessionReadsSeeThem) {
  absl::StatusOr<std::unique_ptr<E2eServer>> started = E2eServer::Start({});
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = std::move(*started);
  const absl::Time begin = absl::Now();

  Tally tally;
  FailoverKills kills;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    workers.push_back(
        std::make_unique<Worker>(i, &server_->users(), &tally, &kills));
  }
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { workers[i]->Run(stop); });
  }
  absl::Cleanup stop_workers = [&] {
    stop = true;
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
  };

  // The script: every step's failure is reported, and the run goes on.
  std::vector<std::string> script_log;
  auto step = [&](const std::string& what, absl::Status status) {
    script_log.push_back(
        absl::StrCat(absl::FormatDuration(absl::Trunc(absl::Now() - begin,
                                                      absl::Milliseconds(100))),
                     " ", what));
    EXPECT_TRUE(status.ok()) << what << ": " << status;
  };
  auto pause = [](int seconds) { absl::SleepFor(absl::Seconds(seconds)); };
  pause(2);
  step("kill replica-0", cluster_->Kill("replica-0"));
  pause(3);
  step("kill replica-2", cluster_->Kill("replica-2"));
  pause(3);
  step("start replica-0", cluster_->StartNode("replica-0"));
  pause(2);
  step("kill primary", cluster_->Kill("primary"));
  pause(3);
  step("start primary", cluster_->StartNode("primary"));
  pause(3);
  step("start replica-2", cluster_->StartNode("replica-2"));
  pause(2);
  step("kill replica-1", cluster_->Kill("replica-1"));
  step("stop SQL thread on replica-0",
       cluster_->Execute("replica-0", "STOP SLAVE SQL_THREAD"));
  pause(3);
  step("start SQL thread on replica-0",
       cluster_->Execute("replica-0", "START SLAVE SQL_THREAD"));
  step("kill primary", cluster_->Kill("primary"));
  pause(2);
  step("start primary", cluster_->StartNode("primary"));
  pause(3);
  step("start replica-1", cluster_->StartNode("replica-1"));
  pause(2);
  step("switchover to replica-1", cluster_->Switchover("replica-1"));
  pause(3);
  kills.Add(absl::Now());
  step("kill replica-1 (the writer)", cluster_->Kill("replica-1"));
  pause(2);
  step("failover to replica-0", cluster_->Failover("replica-0"));
  pause(3);
  step("start replica-1", cluster_->StartNode("replica-1"));
  step("rejoin replica-1", cluster_->Rejoin("replica-1"));
  pause(2);
  step("switchover to primary", cluster_->Switchover("primary"));
  pause(2);
  std::move(stop_workers).Invoke();
  const absl::Duration chaos = absl::Now() - begin;

  // Everything back and in sync, then the invariants.
  absl::Status restored = cluster_->Restore();
  ASSERT_TRUE(restored.ok()) << restored << "\nscript:\n"
                             << absl::StrJoin(script_log, "\n");
  EXPECT_TRUE(server_->process().Running())
      << "user_server died during the chaos";

  std::vector<uint64_t> ids;
  std::map<uint64_t, OwnUser> acknowledged;
  int64_t ok_writes = 0, session_reads = 0, lost_session_writes = 0;
  for (const auto& worker : workers) {
    lost_session_writes += worker->lost_session_writes();
    for (const OwnUser& user : worker->users()) {
      ids.push_back(user.id);
      acknowledged[user.id] = user;
      ok_writes += user.ok_writes;
    }
    session_reads += worker->session_reads_checked();
  }
  ASSERT_GT(ids.size(), 10u) << "too few acknowledged creates to mean much";

  int64_t writes_verified = 0;
  std::set<uint64_t> lost_writes;  // acknowledged just before a writer kill
  std::vector<std::string> nodes = {"primary"};
  for (const std::string& replica : cluster_->ReplicaNodes()) {
    nodes.push_back(replica);
  }
  for (const std::string& node : nodes) {
    absl::StatusOr<std::map<uint64_t, std::pair<int64_t, std::string>>> stored =
        Stored(node, ids);
    ASSERT_TRUE(stored.ok()) << node << ": " << stored.status();
    int missing = 0;
    for (const auto& [id, user] : acknowledged) {
      auto it = stored->find(id);
      const bool may_be_lost = kills.MayBeLost(user.acked_at);
      if ((it == stored->end() || it->second.first < user.version) &&
          may_be_lost) {
        lost_writes.insert(id);
        continue;
      }
      if (it == stored->end()) {
        if (++missing <= 5) {
          ADD_FAILURE() << node << " lacks acknowledged user " << id;
        }
        continue;
      }
      const auto& [version, email] = it->second;
      // A write that failed may still have committed: the stored version
      // is at least the last acknowledged one, and equal to it only with
      // the acknowledged content.
      EXPECT_GE(version, user.version) << node << " user " << id;
      if (version == user.version) {
        EXPECT_EQ(email, user.email) << node << " user " << id;
      }
      if (node == "primary" && version >= user.version) {
        writes_verified += user.ok_writes;
      }
    }
    EXPECT_EQ(missing, 0) << node;
  }

  std::vector<std::string> errors;
  for (const auto& [code, n] : tally.errors_) {
    errors.push_back(absl::StrCat(code, ":", n));
  }
  std::cout << "chaos: calls=" << tally.calls_ << " ok=" << tally.ok_
            << " errors={" << absl::StrJoin(errors, ",")
            << "} violations=" << tally.violations_
            << " writes_verified=" << writes_verified
            << " session_reads=" << session_reads
            << " lost_with_killed_writer=" << lost_writes.size()
            << " (session reads of them: " << lost_session_writes << ")"
            << " duration="
            << absl::FormatDuration(absl::Trunc(chaos, absl::Seconds(1)))
            << std::endl;
  std::cout << "chaos script:\n  " << absl::StrJoin(script_log, "\n  ")
            << std::endl;

  EXPECT_EQ(tally.violations_, 0)
      << absl::StrJoin(tally.violation_samples_, "\n");
  EXPECT_EQ(tally.unexpected_count_, 0)
      << "calls failed with codes that no node failure explains:\n"
      << absl::StrJoin(tally.unexpected_, "\n");
  // A write lost with the killed writer counts once per acknowledged
  // write of its user; they are reported above.
  int64_t lost_ok_writes = 0;
  for (uint64_t id : lost_writes) lost_ok_writes += acknowledged[id].ok_writes;
  EXPECT_EQ(writes_verified + lost_ok_writes, ok_writes);
  EXPECT_GT(session_reads, 50);
}

}  // namespace
}  // namespace userservice::testing
