// Endpoints that stop answering (mariadbd frozen with SIGSTOP) against the
// real cluster: statements on them are abandoned long before their
// deadline, the pool recovers once they answer again, and writes that
// certainly did not run are marked so.

#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/mysql/dedicated_connection.h"
#include "server/mysql/endpoint_liveness.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/mysql_user_store.h"
#include "server/mysql/socket_watchdog.h"
#include "server/repository/write_outcome.h"
#include "tests/integration/app_database.h"
#include "tests/support/test_cluster.h"

namespace userservice::mysql {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using userservice::testing::ReadFileOrDie;
using userservice::testing::TestCluster;

constexpr absl::Duration kHungTimeout = absl::Seconds(1);

// The pid of `node`'s mariadbd, from the pid file cluster.sh keeps.
pid_t NodePid(const std::string& node) {
  const char* dir = std::getenv("CLUSTER_DIR");
  if (dir == nullptr) return -1;
  int pid = -1;
  if (!absl::SimpleAtoi(
          ReadFileOrDie(absl::StrCat(dir, "/", node, "/mysqld.pid")), &pid)) {
    return -1;
  }
  return pid;
}

// Whether every thread of `pid` is stopped (state T in /proc).
bool AllThreadsStopped(pid_t pid) {
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return false;
  bool stopped = true;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream stat(absl::StrCat(tasks, "/", entry->d_name, "/stat"));
    std::string line;
    std::getline(stat, line);
    // "TID (COMM) STATE ...": COMM may hold spaces, so look after the ')'.
    const size_t paren = line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= line.size() ||
        line[paren + 2] != 'T') {
      stopped = false;
    }
  }
  closedir(dir);
  return stopped;
}

// A TCP port on 127.0.0.1 where nothing listens.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class HungEndpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(MigrateAppSchema().ok()); }

  // Every frozen node runs again, whatever happened to the test.
  void TearDown() override { ThawAll(); }

  void Freeze(const std::string& node) {
    const pid_t pid = NodePid(node);
    ASSERT_GT(pid, 0) << "no running mariadbd for " << node;
    frozen_.push_back(pid);
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    // kill returns before every thread has stopped; one still running could
    // answer the test's first statement.
    const absl::Time give_up = absl::Now() + absl::Seconds(5);
    while (!AllThreadsStopped(pid)) {
      ASSERT_LT(absl::Now(), give_up) << node << " did not stop";
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  void ThawAll() {
    for (pid_t pid : frozen_) kill(pid, SIGCONT);
    frozen_.clear();
  }

  // One endpoint's pool and store, abandoning statements after
  // kHungTimeout of silence.
  struct EndpointStore {
    EndpointLiveness liveness;
    std::unique_ptr<MysqlPool> pool;
    std::unique_ptr<MysqlUserStore> store;
    MysqlUserStore* operator->() { return store.get(); }
  };

  std::unique_ptr<EndpointStore> MakeStore(const Endpoint& endpoint) {
    auto s = std::make_unique<EndpointStore>();
    PoolOptions options;
    options.name = endpoint.name;
    options.max_size = 4;
    ConnectionSettings settings = AppSettings();
    s->pool = std::make_unique<MysqlPool>(
        options, [endpoint, settings](absl::Time deadline) {
          return MysqlConnection::Open(endpoint, settings, deadline);
        });
    StoreHooks hooks;
    hooks.watchdog = &watchdog_;
    hooks.liveness = &s->liveness;
    hooks.hung_timeout = kHungTimeout;
    s->store =
        std::make_unique<MysqlUserStore>(endpoint.name, s->pool.get(), hooks);
    return s;
  }

  // A user created on the primary and replicated everywhere.
  uint64_t ReplicatedUser() {
    const std::string name = Unique("hung_");
    auto primary = MakeStore(PrimaryEndpoint());
    absl::StatusOr<Positioned<User>> created = (*primary)->CreateUser(
        NewUser{name, name + "@example.com", ""}, Within(absl::Seconds(5)));
    EXPECT_TRUE(created.ok()) << created.status();
    EXPECT_TRUE(TestCluster::Get().Sync().ok());
    return created.ok() ? created->value.id : 0;
  }

  SocketWatchdog watchdog_;
  std::vector<pid_t> frozen_;
};

TEST_F(HungEndpointTest, ReadOnAFrozenReplicaFailsFastAndThePoolRecovers) {
  const uint64_t id = ReplicatedUser();
  auto replica = MakeStore(ReplicaEndpoint(0));
  // An idle session, as a busy server has, that the read will lease.
  ASSERT_TRUE(
      (*replica)->GetUser(UserKey::Id(id), Within(absl::Seconds(5))).ok());

  auto thaw = absl::MakeCleanup([this] { ThawAll(); });
  Freeze("replica-0");
  const absl::Time start = absl::Now();
  absl::StatusOr<Positioned<User>> read =
      (*replica)->GetUser(UserKey::Id(id), Within(absl::Seconds(5)));
  const absl::Duration took = absl::Now() - start;
  ThawAll();

  EXPECT_TRUE(absl::IsUnavailable(read.status())) << read.status();
  EXPECT_THAT(read.status().message(),
              HasSubstr("database replica-0 did not answer for 1s"));
  EXPECT_THAT(read.status().message(), Not(HasSubstr("SELECT")));
  EXPECT_LT(took, absl::Milliseconds(1500));
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_EQ(watchdog_.cuts(), 1u);

  // The cut session was dropped; a new one serves the next read.
  absl::StatusOr<Positioned<User>> again =
      (*replica)->GetUser(UserKey::Id(id), Within(absl::Seconds(5)));
  EXPECT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*replica).pool->Stats().closed_broken, 1u);
}

TEST_F(HungEndpointTest, AReadGetsAThirdOfItsRemainingTime) {
  const uint64_t id = ReplicatedUser();
  auto replica = MakeStore(ReplicaEndpoint(1));
  ASSERT_TRUE(
      (*replica)->GetUser(UserKey::Id(id), Within(absl::Seconds(5))).ok());

  auto thaw = absl::MakeCleanup([this] { ThawAll(); });
  Freeze("replica-1");
  const absl::Time start = absl::Now();
  absl::StatusOr<Positioned<User>> read =
      (*replica)->GetUser(UserKey::Id(id), Within(absl::Milliseconds(1500)));
  const absl::Duration took = absl::Now() - start;
  ThawAll();

  // Cut after ~500 ms, leaving a retry elsewhere two thirds of the call.
  EXPECT_TRUE(absl::IsUnavailable(read.status())) << read.status();
  EXPECT_LT(took, absl::Milliseconds(900));
}

TEST_F(HungEndpointTest, WriteOnAFrozenPrimaryFailsFastAndThePoolRecovers) {
  auto primary = MakeStore(PrimaryEndpoint());
  const std::string warm = Unique("hung_w_");
  // With the same deadline, so the session's statement budget is already
  // set and the insert itself is what waits.
  ASSERT_TRUE((*primary)
                  ->CreateUser(NewUser{warm, warm + "@example.com", ""},
                               Within(absl::Seconds(10)))
                  .ok());

  absl::StatusOr<Positioned<User>> created;
  absl::Duration took;
  {
    auto thaw = absl::MakeCleanup([this] { ThawAll(); });
    Freeze("primary");
    const std::string name = Unique("hung_w_");
    const absl::Time start = absl::Now();
    created = (*primary)->CreateUser(NewUser{name, name + "@example.com", ""},
                                     Within(absl::Seconds(10)));
    took = absl::Now() - start;
  }
  EXPECT_TRUE(absl::IsUnavailable(created.status())) << created.status();
  EXPECT_THAT(created.status().message(), HasSubstr("did not answer"));
  // It was sent: it may have run.
  EXPECT_FALSE(WasNotExecuted(created.status()));
  EXPECT_LT(took, absl::Seconds(2));

  const std::string after = Unique("hung_w_");
  absl::StatusOr<Positioned<User>> again = (*primary)->CreateUser(
      NewUser{after, after + "@example.com", ""}, Within(absl::Seconds(10)));
  EXPECT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(TestCluster::Get().Sync().ok());
}

TEST_F(HungEndpointTest, ASlowStatementOnAnAnsweringEndpointIsNotCut) {
  const uint64_t id = ReplicatedUser();
  auto primary = MakeStore(PrimaryEndpoint());
  absl::StatusOr<std::unique_ptr<testing::AdminSession>> locker =
      testing::AdminSession::Open("primary");
  ASSERT_TRUE(locker.ok()) << locker.status();
  ASSERT_TRUE((*locker)->Execute("START TRANSACTION").ok());
  absl::StatusOr<std::vector<std::vector<std::string>>> locked =
      (*locker)->Query(absl::StrCat("SELECT id FROM ",
                                    TestCluster::Get().db_name(),
                                    ".users WHERE id = ", id, " FOR UPDATE"));
  ASSERT_TRUE(locked.ok()) << locked.status();
  // The endpoint keeps answering others, as it does the health checks.
  std::atomic<bool> checking{true};
  std::thread checks([&] {
    DedicatedConnection probe(PrimaryEndpoint(), AppSettings(),
                              absl::Seconds(1));
    while (checking.load()) {
      if (probe
              .Run(absl::Now() + absl::Seconds(1),
                   [](MysqlConnection& conn) {
                     conn.Execute("DO 1");
                     return absl::OkStatus();
                   })
              .ok()) {
        primary->liveness.RecordAnswer(absl::Now());
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  });
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(2500));
    (*locker)->Execute("COMMIT").IgnoreError();
  });
  const std::string name = Unique("slow_");
  absl::StatusOr<Positioned<User>> updated = (*primary)->UpdateUser(
      UserUpdate{id, name, std::nullopt, 0}, Within(absl::Seconds(10)));
  release.join();
  checking.store(false);
  checks.join();
  EXPECT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(watchdog_.cuts(), 0u);
}

TEST_F(HungEndpointTest, DedicatedConnectionKeepsItsDeadlineOnAFrozenNode) {
  auto do_one = [](MysqlConnection& c) {
    c.Execute("DO 1");
    return absl::OkStatus();
  };
  DedicatedConnection probe(ReplicaEndpoint(2), AppSettings(),
                            absl::Seconds(1));
  // Its socket timeouts (whole seconds) would end a call only after 3 s.
  DedicatedConnection patient(ReplicaEndpoint(2), AppSettings(),
                              absl::Seconds(3));
  ASSERT_TRUE(probe.Run(absl::Now() + absl::Seconds(1), do_one).ok());
  ASSERT_TRUE(patient.Run(absl::Now() + absl::Seconds(1), do_one).ok());

  auto thaw = absl::MakeCleanup([this] { ThawAll(); });
  Freeze("replica-2");
  absl::Time start = absl::Now();
  const absl::Status status = probe.Run(absl::Now() + absl::Seconds(1), do_one);
  const absl::Duration took = absl::Now() - start;
  start = absl::Now();
  const absl::Status patient_status =
      patient.Run(absl::Now() + absl::Milliseconds(700), do_one);
  const absl::Duration patient_took = absl::Now() - start;
  ThawAll();

  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_LT(took, absl::Milliseconds(1300));
  EXPECT_FALSE(probe.connected());
  EXPECT_TRUE(absl::IsDeadlineExceeded(patient_status)) << patient_status;
  EXPECT_THAT(patient_status.message(), HasSubstr("did not answer"));
  EXPECT_LT(patient_took, absl::Milliseconds(1000));
  EXPECT_FALSE(patient.connected());
  EXPECT_TRUE(probe.Run(absl::Now() + absl::Seconds(2), do_one).ok());
}

TEST_F(HungEndpointTest, AWriteThatCouldNotConnectWasNotExecuted) {
  auto nowhere = MakeStore(Endpoint{"primary", "127.0.0.1", UnusedPort()});
  const std::string name = Unique("refused_");
  absl::StatusOr<Positioned<User>> created = (*nowhere)->CreateUser(
      NewUser{name, name + "@example.com", ""}, Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsUnavailable(created.status())) << created.status();
  EXPECT_TRUE(WasNotExecuted(created.status())) << created.status();
}

TEST_F(HungEndpointTest, AWriteRefusedAsReadOnlyWasNotExecuted) {
  ASSERT_TRUE(
      TestCluster::Get().Execute("replica-2", "SET GLOBAL read_only = 1").ok());
  auto replica = MakeStore(ReplicaEndpoint(2));
  const std::string name = Unique("ro_");
  absl::StatusOr<Positioned<User>> created = (*replica)->CreateUser(
      NewUser{name, name + "@example.com", ""}, Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsUnavailable(created.status())) << created.status();
  EXPECT_THAT(created.status().message(), HasSubstr("error 1290"));
  EXPECT_TRUE(WasNotExecuted(created.status())) << created.status();
}

TEST_F(HungEndpointTest, ADuplicateMayHaveRun) {
  auto primary = MakeStore(PrimaryEndpoint());
  const std::string name = Unique("dup_");
  const NewUser user{name, name + "@example.com", ""};
  ASSERT_TRUE((*primary)->CreateUser(user, Within(absl::Seconds(5))).ok());
  absl::StatusOr<Positioned<User>> again =
      (*primary)->CreateUser(user, Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_FALSE(WasNotExecuted(again.status()));
}

}  // namespace
}  // namespace userservice::mysql
