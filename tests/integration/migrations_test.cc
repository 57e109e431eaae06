// Schema migrations against the real primary, in scratch databases so the
// service's own schema is not disturbed.

#include "server/mysql/migrations.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/mysql/mysql_connection.h"
#include "tests/support/test_cluster.h"

namespace userservice::mysql {
namespace {

using userservice::testing::TestCluster;

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitDriver();
    TestCluster& cluster = TestCluster::Get();
    database_ = absl::StrCat("migrations_test_",
                             absl::ToUnixMicros(absl::Now()) % 100000000);
    ASSERT_TRUE(
        cluster.Execute("primary", "CREATE DATABASE " + database_).ok());
    const std::string& primary = cluster.primary();
    endpoint_ = Endpoint{"primary", primary.substr(0, primary.rfind(':')),
                         std::stoi(primary.substr(primary.rfind(':') + 1))};
    settings_.database = database_;
    settings_.user = cluster.admin_user();
    const std::string password = cluster.admin_password();
    settings_.password = [password]() -> absl::StatusOr<std::string> {
      return password;
    };
  }

  void TearDown() override {
    TestCluster::Get()
        .Execute("primary", "DROP DATABASE IF EXISTS " + database_)
        .IgnoreError();
  }

  std::unique_ptr<MysqlConnection> Connect() {
    auto conn = MysqlConnection::Open(endpoint_, settings_,
                                      absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }

  std::string database_;
  Endpoint endpoint_;
  ConnectionSettings settings_;
};

TEST_F(MigrationsTest, AppliesEveryMigrationOnceInOrder) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  absl::StatusOr<MigrationResult> first =
      Migrate(*conn, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->applied, static_cast<int>(AllMigrations().size()));
  EXPECT_EQ(first->schema_version, AllMigrations().back().version);

  absl::StatusOr<MigrationResult> second =
      Migrate(*conn, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->applied, 0);

  auto versions = TestCluster::Get().Query(
      "primary", absl::StrCat("SELECT version FROM ", database_,
                              ".schema_migrations ORDER BY version"));
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), AllMigrations().size());
  for (size_t i = 0; i < versions->size(); ++i) {
    EXPECT_EQ((*versions)[i][0], absl::StrCat(AllMigrations()[i].version));
  }
  auto collation = TestCluster::Get().QueryValue(
      "primary",
      absl::StrCat("SELECT TABLE_COLLATION FROM information_schema.TABLES "
                   "WHERE TABLE_SCHEMA = '",
                   database_, "' AND TABLE_NAME = 'users'"));
  ASSERT_TRUE(collation.ok());
  EXPECT_EQ(*collation, "utf8mb4_bin");
}

TEST_F(MigrationsTest, ConcurrentServersMigrateOnce) {
  constexpr int kServers = 4;
  std::vector<std::thread> threads;
  std::atomic<int> applied_total{0};
  std::atomic<int> failures{0};
  absl::Notification go;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&] {
      auto conn = Connect();
      if (conn == nullptr) {
        ++failures;
        return;
      }
      go.WaitForNotification();
      absl::StatusOr<MigrationResult> result =
          Migrate(*conn, absl::Now() + absl::Seconds(30));
      if (!result.ok()) {
        ++failures;
        return;
      }
      applied_total += result->applied;
    });
  }
  go.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(applied_total.load(), static_cast<int>(AllMigrations().size()));
  auto rows = TestCluster::Get().QueryValue(
      "primary",
      absl::StrCat("SELECT COUNT(*) FROM ", database_, ".schema_migrations"));
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, absl::StrCat(AllMigrations().size()));
}

TEST_F(MigrationsTest, SchemaReplicatesToReplicas) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(Migrate(*conn, absl::Now() + absl::Seconds(30)).ok());
  TestCluster& cluster = TestCluster::Get();
  ASSERT_TRUE(cluster.Sync().ok());
  for (const std::string& replica : cluster.ReplicaNodes()) {
    auto tables = cluster.QueryValue(
        replica, absl::StrCat("SELECT COUNT(*) FROM information_schema.TABLES "
                              "WHERE TABLE_SCHEMA = '",
                              database_, "'"));
    ASSERT_TRUE(tables.ok()) << tables.status();
    // users, create_requests, heartbeat, schema_migrations
    EXPECT_EQ(*tables, "4") << replica;
  }
}

}  // namespace
}  // namespace userservice::mysql
