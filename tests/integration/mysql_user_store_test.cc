// The MariaDB store against the real primary + replicas started by
// tests/run.sh: SQL, replication, uniqueness, idempotency, versions,
// deadlines.

#include "server/mysql/mysql_user_store.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/mysql/migrations.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/primary_demotion.h"
#include "tests/integration/app_database.h"
#include "tests/support/test_cluster.h"

namespace userservice::mysql {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using userservice::testing::TestCluster;

// A read's rows without its position, for the tests about rows.
template <typename T>
absl::StatusOr<T> Rows(absl::StatusOr<Positioned<T>> read) {
  if (!read.ok()) return read.status();
  return std::move(read->value);
}

class StoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    settings_ = new ConnectionSettings(AppSettings());
    ASSERT_TRUE(MigrateAppSchema().ok());
  }

  void SetUp() override {
    TestCluster& cluster = TestCluster::Get();
    primary_ = MakeStore("primary", cluster.primary());
    replica_ = MakeStore("replica-0", cluster.replicas().at(0));
  }

  struct EndpointStore {
    std::unique_ptr<MysqlPool> pool;
    std::unique_ptr<PrimaryDemotion> demotion;  // the primary's only
    std::unique_ptr<AppliedPosition> applied;
    std::unique_ptr<MysqlUserStore> store;
    MysqlUserStore* operator->() { return store.get(); }
  };

  EndpointStore MakeStore(const std::string& name, const std::string& address,
                          int pool_size = 4) {
    EndpointStore s;
    PoolOptions options;
    options.name = name;
    options.max_size = pool_size;
    options.acquire_timeout = absl::Seconds(2);
    Endpoint endpoint = EndpointFor(name, address);
    ConnectionSettings settings = *settings_;
    s.pool = std::make_unique<MysqlPool>(
        options, [endpoint, settings](absl::Time deadline) {
          return MysqlConnection::Open(endpoint, settings, deadline);
        });
    if (name == "primary") {
      s.demotion = std::make_unique<PrimaryDemotion>(s.pool.get());
    }
    s.applied = std::make_unique<AppliedPosition>();
    StoreHooks hooks{nullptr, s.demotion.get()};
    hooks.applied = s.applied.get();
    s.store = std::make_unique<MysqlUserStore>(name, s.pool.get(), hooks);
    return s;
  }

  Positioned<User> CreateOrDie(const std::string& username,
                               const std::string& email,
                               const std::string& request_id = "") {
    absl::StatusOr<Positioned<User>> created = primary_->CreateUser(
        NewUser{username, email, request_id}, Within(absl::Seconds(5)));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : Positioned<User>{};
  }

  static ConnectionSettings* settings_;
  EndpointStore primary_;
  EndpointStore replica_;
};

ConnectionSettings* StoreTest::settings_ = nullptr;

TEST_F(StoreTest, CreateAssignsIdVersionTimestampsAndGtid) {
  const std::string name = Unique("create_");
  const absl::Time before = absl::Now() - absl::Seconds(1);
  Positioned<User> created = CreateOrDie(name, name + "@Example.com");
  EXPECT_GT(created.value.id, 0u);
  EXPECT_EQ(created.value.username, name);
  EXPECT_EQ(created.value.email, name + "@Example.com");
  EXPECT_EQ(created.value.version, 1);
  EXPECT_GE(created.value.create_time, before);
  EXPECT_LE(created.value.create_time, absl::Now() + absl::Seconds(1));
  EXPECT_EQ(created.value.create_time, created.value.update_time);
  EXPECT_THAT(created.position.ToString(),
              ::testing::MatchesRegex("[0-9]+-[0-9]+-[0-9]+"));

  absl::StatusOr<User> read = Rows(primary_->GetUser(
      UserKey::Id(created.value.id), Within(absl::Seconds(5))));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->username, name);
  // Microseconds survive the round trip through DATETIME(6).
  EXPECT_EQ(read->create_time, created.value.create_time);
}

TEST_F(StoreTest, WriteIsReplicatedAndWaitForPositionObservesIt) {
  const std::string name = Unique("repl_");
  Positioned<User> created = CreateOrDie(name, name + "@example.com");
  absl::StatusOr<bool> applied = replica_->WaitForPosition(
      created.position, absl::Seconds(10), Within(absl::Seconds(15)));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(*applied);
  absl::StatusOr<User> on_replica =
      Rows(replica_->GetUser(UserKey::Username(absl::AsciiStrToUpper(name)),
                             Within(absl::Seconds(5))));
  ASSERT_TRUE(on_replica.ok()) << on_replica.status();
  EXPECT_EQ(on_replica->id, created.value.id);
}

TEST_F(StoreTest, ReadsReturnAPositionCoveringWhatTheySaw) {
  const std::string name = Unique("readpos_");
  Positioned<User> created = CreateOrDie(name, name + "@example.com");
  const RequestContext ctx = Within(absl::Seconds(5));
  absl::StatusOr<Positioned<User>> one =
      primary_->GetUser(UserKey::Id(created.value.id), ctx);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_TRUE(one->position.Covers(created.position))
      << one->position.ToString() << " vs " << created.position.ToString();
  absl::StatusOr<Positioned<std::vector<User>>> ids =
      primary_->GetUsersByIds({created.value.id}, ctx);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_TRUE(ids->position.Covers(created.position));
  absl::StatusOr<Positioned<std::vector<User>>> page =
      primary_->ListUsers(created.value.id - 1, 1, ctx);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->position.Covers(created.position));

  // On a replica once it has the row, and the store remembers that the
  // replica applied it.
  ASSERT_TRUE(*replica_->WaitForPosition(created.position, absl::Seconds(10),
                                         Within(absl::Seconds(15))));
  EXPECT_TRUE(replica_.applied->Covers(created.position));
  replica_.applied->Forget();
  absl::StatusOr<Positioned<User>> replicated =
      replica_->GetUser(UserKey::Id(created.value.id), ctx);
  ASSERT_TRUE(replicated.ok()) << replicated.status();
  EXPECT_TRUE(replicated->position.Covers(created.position));
  EXPECT_TRUE(replica_.applied->Covers(created.position));
}

TEST_F(StoreTest, AReplicaBehindReturnsAPositionThatDoesNotCoverTheWrite) {
  TestCluster& cluster = TestCluster::Get();
  ASSERT_TRUE(cluster.Execute("replica-0", "STOP SLAVE SQL_THREAD").ok());
  const std::string name = Unique("behind_");
  Positioned<User> created = CreateOrDie(name, name + "@example.com");
  absl::StatusOr<Positioned<std::vector<User>>> stale =
      replica_->GetUsersByIds({created.value.id}, Within(absl::Seconds(5)));
  ASSERT_TRUE(cluster.Execute("replica-0", "START SLAVE SQL_THREAD").ok());
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_TRUE(stale->value.empty());
  EXPECT_FALSE(stale->position.Covers(created.position))
      << stale->position.ToString() << " vs " << created.position.ToString();
  EXPECT_FALSE(replica_.applied->Covers(created.position));
}

TEST_F(StoreTest, StoppedReplicationMakesWaitTimeOutAndHidesTheRow) {
  TestCluster& cluster = TestCluster::Get();
  ASSERT_TRUE(cluster.Execute("replica-0", "STOP SLAVE SQL_THREAD").ok());
  const std::string name = Unique("lag_");
  Positioned<User> created = CreateOrDie(name, name + "@example.com");

  absl::StatusOr<bool> applied = replica_->WaitForPosition(
      created.position, absl::Milliseconds(300), Within(absl::Seconds(5)));
  absl::StatusOr<User> stale = Rows(replica_->GetUser(
      UserKey::Id(created.value.id), Within(absl::Seconds(5))));
  ASSERT_TRUE(cluster.Execute("replica-0", "START SLAVE SQL_THREAD").ok());

  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_FALSE(*applied);
  EXPECT_TRUE(absl::IsNotFound(stale.status())) << stale.status();
  applied = replica_->WaitForPosition(created.position, absl::Seconds(10),
                                      Within(absl::Seconds(15)));
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(*applied);
}

TEST_F(StoreTest, UniquenessIsCaseInsensitiveAndNamesTheField) {
  const std::string name = Unique("Dup_");
  CreateOrDie(name, name + "@example.com");

  absl::StatusOr<Positioned<User>> same_username = primary_->CreateUser(
      NewUser{absl::AsciiStrToUpper(name), Unique("x") + "@example.com", ""},
      Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsAlreadyExists(same_username.status()));
  EXPECT_THAT(same_username.status().message(), HasSubstr("username"));

  absl::StatusOr<Positioned<User>> same_email = primary_->CreateUser(
      NewUser{Unique("other_"), absl::AsciiStrToUpper(name) + "@EXAMPLE.com",
              ""},
      Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsAlreadyExists(same_email.status()));
  EXPECT_THAT(same_email.status().message(), HasSubstr("email"));
  // The message must not echo the (personal) email back.
  EXPECT_THAT(same_email.status().message(),
              Not(HasSubstr(absl::AsciiStrToLower(name) + "@")));
}

TEST_F(StoreTest, UsernameLookupIgnoresCaseEmailLookupToo) {
  const std::string name = Unique("Mixed_");
  Positioned<User> created = CreateOrDie(name, name + "@Example.COM");
  auto by_email = Rows(primary_->GetUser(
      UserKey::Email(absl::AsciiStrToLower(name) + "@example.com"),
      Within(absl::Seconds(5))));
  ASSERT_TRUE(by_email.ok()) << by_email.status();
  EXPECT_EQ(by_email->id, created.value.id);
  EXPECT_EQ(by_email->email, name + "@Example.COM");  // stored as given
}

TEST_F(StoreTest, IdempotentCreateReturnsTheOriginalUser) {
  const std::string name = Unique("idem_");
  const std::string request_id = Unique("req-");
  Positioned<User> first = CreateOrDie(name, name + "@example.com", request_id);
  Positioned<User> again = CreateOrDie(name, name + "@example.com", request_id);
  EXPECT_EQ(again.value.id, first.value.id);
  EXPECT_EQ(again.value.create_time, first.value.create_time);
  EXPECT_FALSE(again.position.empty());

  absl::StatusOr<Positioned<User>> reused = primary_->CreateUser(
      NewUser{Unique("else_"), Unique("e") + "@example.com", request_id},
      Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsInvalidArgument(reused.status())) << reused.status();
}

TEST_F(StoreTest, ConcurrentIdempotentCreatesMakeExactlyOneUser) {
  const std::string name = Unique("race_");
  const std::string request_id = Unique("race-req-");
  EndpointStore wide = MakeStore("primary", TestCluster::Get().primary(), 8);
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<Positioned<User>>> results(8,
                                                        absl::UnknownError(""));
  absl::Notification go;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      results[i] =
          wide->CreateUser(NewUser{name, name + "@example.com", request_id},
                           Within(absl::Seconds(10)));
    });
  }
  go.Notify();
  for (auto& t : threads) t.join();
  std::set<uint64_t> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    ids.insert(r->value.id);
  }
  EXPECT_EQ(ids.size(), 1u);
  auto count = TestCluster::Get().QueryValue(
      "primary", absl::StrCat("SELECT COUNT(*) FROM userservice.users WHERE "
                              "username = '",
                              name, "'"));
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, "1");
}

TEST_F(StoreTest, IdempotentRetryAfterDeleteIsFailedPrecondition) {
  const std::string name = Unique("gone_");
  const std::string request_id = Unique("gone-req-");
  Positioned<User> created =
      CreateOrDie(name, name + "@example.com", request_id);
  ASSERT_TRUE(
      primary_->DeleteUser(created.value.id, 0, Within(absl::Seconds(5))).ok());
  absl::StatusOr<Positioned<User>> retry =
      primary_->CreateUser(NewUser{name, name + "@example.com", request_id},
                           Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsFailedPrecondition(retry.status())) << retry.status();
}

TEST_F(StoreTest, ExpiredRequestIdsArePurgedInBoundedStatements) {
  TestCluster& cluster = TestCluster::Get();
  const std::string kept_name = Unique("kept_");
  const std::string kept_id = Unique("kept-req-");
  Positioned<User> kept =
      CreateOrDie(kept_name, kept_name + "@example.com", kept_id);
  std::vector<std::string> old_ids;
  std::vector<std::string> old_names;
  for (int i = 0; i < 3; ++i) {
    old_names.push_back(Unique("aged_"));
    old_ids.push_back(Unique("aged-req-"));
    CreateOrDie(old_names.back(), old_names.back() + "@example.com",
                old_ids.back());
    ASSERT_TRUE(cluster
                    .Execute("primary",
                             absl::StrCat("UPDATE `", cluster.db_name(),
                                          "`.create_requests SET create_time "
                                          "= NOW(6) - INTERVAL 2 DAY WHERE "
                                          "request_id = '",
                                          old_ids.back(), "'"))
                    .ok());
  }

  // The limit bounds one statement; the next takes the rest.
  absl::StatusOr<int64_t> purged = primary_->PurgeCreateRequests(
      absl::Hours(24), 2, Within(absl::Seconds(5)));
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 2);
  purged = primary_->PurgeCreateRequests(absl::Hours(24), 1000,
                                         Within(absl::Seconds(5)));
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);

  // A forgotten key is an ordinary create again: the user still exists.
  absl::StatusOr<Positioned<User>> retry = primary_->CreateUser(
      NewUser{old_names[0], old_names[0] + "@example.com", old_ids[0]},
      Within(absl::Seconds(5)));
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kAlreadyExists)
      << retry.status();
  // A recent key still returns the original user.
  retry = primary_->CreateUser(
      NewUser{kept_name, kept_name + "@example.com", kept_id},
      Within(absl::Seconds(5)));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->value.id, kept.value.id);
}

TEST_F(StoreTest, UpdateBumpsVersionAndChecksExpectedVersion) {
  const std::string name = Unique("upd_");
  Positioned<User> created = CreateOrDie(name, name + "@example.com");
  UserUpdate change;
  change.id = created.value.id;
  change.email = name + "@new.example.com";
  change.expected_version = 1;
  absl::StatusOr<Positioned<User>> updated =
      primary_->UpdateUser(change, Within(absl::Seconds(5)));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->value.version, 2);
  EXPECT_EQ(updated->value.username, name);  // untouched
  EXPECT_EQ(updated->value.email, name + "@new.example.com");
  EXPECT_GT(updated->value.update_time, created.value.update_time);
  EXPECT_EQ(updated->value.create_time, created.value.create_time);
  EXPECT_NE(updated->position, created.position);

  // A stale writer loses.
  absl::StatusOr<Positioned<User>> stale =
      primary_->UpdateUser(change, Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  EXPECT_THAT(stale.status().message(), HasSubstr("version 2"));

  change.id = 999999999;
  change.expected_version = 0;
  EXPECT_TRUE(absl::IsNotFound(
      primary_->UpdateUser(change, Within(absl::Seconds(5))).status()));
}

TEST_F(StoreTest, UpdateToATakenUsernameIsAlreadyExists) {
  const std::string a = Unique("ua_");
  const std::string b = Unique("ub_");
  CreateOrDie(a, a + "@example.com");
  Positioned<User> user_b = CreateOrDie(b, b + "@example.com");
  UserUpdate change;
  change.id = user_b.value.id;
  change.username = absl::AsciiStrToUpper(a);
  absl::StatusOr<Positioned<User>> result =
      primary_->UpdateUser(change, Within(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsAlreadyExists(result.status())) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("username"));
  // Renaming a user to a different case of its own name is allowed.
  change.username = absl::AsciiStrToUpper(b);
  EXPECT_TRUE(primary_->UpdateUser(change, Within(absl::Seconds(5))).ok());
}

TEST_F(StoreTest, DeleteChecksVersionAndReportsMissingRows) {
  const std::string name = Unique("del_");
  Positioned<User> created = CreateOrDie(name, name + "@example.com");
  EXPECT_TRUE(absl::IsAborted(
      primary_->DeleteUser(created.value.id, 7, Within(absl::Seconds(5)))
          .status()));
  absl::StatusOr<ReplicationPosition> deleted =
      primary_->DeleteUser(created.value.id, 1, Within(absl::Seconds(5)));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_FALSE(deleted->empty());
  EXPECT_TRUE(absl::IsNotFound(
      primary_->DeleteUser(created.value.id, 0, Within(absl::Seconds(5)))
          .status()));
  EXPECT_TRUE(
      absl::IsNotFound(Rows(primary_->GetUser(UserKey::Id(created.value.id),
                                              Within(absl::Seconds(5))))
                           .status()));
}

TEST_F(StoreTest, ListUsesKeysetPagination) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) {
    const std::string name = Unique("list_");
    ids.push_back(CreateOrDie(name, name + "@example.com").value.id);
  }
  absl::StatusOr<std::vector<User>> page =
      Rows(primary_->ListUsers(ids[0], 2, Within(absl::Seconds(5))));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, ids[1]);
  EXPECT_EQ((*page)[1].id, ids[2]);
  page = Rows(primary_->ListUsers(ids[4], 10, Within(absl::Seconds(5))));
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->empty());
}

TEST_F(StoreTest, GetUsersByIdsReturnsTheUsersThatExist) {
  // More ids than one statement takes (128), with duplicates and misses,
  // so every arity and the padding are exercised.
  std::vector<uint64_t> created;
  for (int i = 0; i < 150; ++i) {
    const std::string name = Unique("batch_");
    created.push_back(CreateOrDie(name, name + "@example.com").value.id);
  }
  std::vector<uint64_t> asked = created;
  asked.push_back(created[7]);
  asked.push_back(created.back() + 1000000);  // no such user
  absl::StatusOr<std::vector<User>> users =
      Rows(primary_->GetUsersByIds(asked, Within(absl::Seconds(5))));
  ASSERT_TRUE(users.ok()) << users.status();
  std::vector<uint64_t> found;
  for (const User& user : *users) {
    found.push_back(user.id);
    EXPECT_EQ(user.version, 1);
    EXPECT_TRUE(absl::StartsWith(user.username, "batch_"));
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  EXPECT_EQ(found, created);

  for (size_t n : {1, 2, 3, 5}) {
    SCOPED_TRACE(n);
    users = Rows(primary_->GetUsersByIds(
        absl::MakeConstSpan(created).subspan(0, n), Within(absl::Seconds(5))));
    ASSERT_TRUE(users.ok()) << users.status();
    EXPECT_EQ(users->size(), n);
  }
  users = Rows(primary_->GetUsersByIds({created.back() + 1000000},
                                       Within(absl::Seconds(5))));
  ASSERT_TRUE(users.ok()) << users.status();
  EXPECT_TRUE(users->empty());
}

std::vector<NewUser> NewUsers(const std::string& prefix, int n) {
  std::vector<NewUser> users;
  for (int i = 0; i < n; ++i) {
    const std::string name = Unique(prefix);
    users.push_back(NewUser{name, name + "@example.com", ""});
  }
  return users;
}

TEST_F(StoreTest, CreateUsersInsertsAllInOneCommitInTheirOrder) {
  // 1 and 3 fit one statement; 150 is split over three in a transaction.
  for (int n : {1, 3, 150}) {
    SCOPED_TRACE(n);
    const std::vector<NewUser> users = NewUsers("many_", n);
    absl::StatusOr<std::vector<Positioned<User>>> created =
        primary_->CreateUsers(users, Within(absl::Seconds(10)));
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_EQ(created->size(), users.size());
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < users.size(); ++i) {
      const Positioned<User>& written = (*created)[i];
      EXPECT_EQ(written.value.username, users[i].username);
      EXPECT_EQ(written.value.email, users[i].email);
      EXPECT_EQ(written.value.version, 1);
      EXPECT_EQ(written.position.ToString(),
                created->front().position.ToString());
      ids.push_back(written.value.id);
    }
    absl::StatusOr<std::vector<User>> read =
        Rows(primary_->GetUsersByIds(ids, Within(absl::Seconds(5))));
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->size(), users.size());
    // The shared position covers every row: a session read of any of them
    // through the replica sees it.
    absl::StatusOr<bool> applied =
        replica_->WaitForPosition(created->front().position, absl::Seconds(10),
                                  Within(absl::Seconds(15)));
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_TRUE(*applied);
    read = Rows(replica_->GetUsersByIds(ids, Within(absl::Seconds(5))));
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->size(), users.size());
  }
}

TEST_F(StoreTest, CreateUsersWithAClashCreatesNone) {
  const std::string existing = Unique("exists_");
  CreateOrDie(existing, existing + "@example.com");
  // A clash with an existing user in one statement, a clash between two new
  // users, and one in the last of three statements.
  std::vector<std::vector<NewUser>> batches;
  batches.push_back(NewUsers("clash_", 3));
  batches.back()[1].username = absl::AsciiStrToUpper(existing);
  batches.push_back(NewUsers("twins_", 4));
  batches.back()[3].email = absl::AsciiStrToUpper(batches.back()[0].email);
  batches.push_back(NewUsers("late_", 140));
  batches.back()[139].username = existing;
  for (const std::vector<NewUser>& users : batches) {
    SCOPED_TRACE(users.front().username);
    absl::StatusOr<std::vector<Positioned<User>>> created =
        primary_->CreateUsers(users, Within(absl::Seconds(10)));
    EXPECT_EQ(created.status().code(), absl::StatusCode::kAlreadyExists)
        << created.status();
    for (const NewUser& user : users) {
      if (absl::EqualsIgnoreCase(user.username, existing)) continue;
      absl::StatusOr<User> read = Rows(primary_->GetUser(
          UserKey::Username(user.username), Within(absl::Seconds(5))));
      EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound)
          << user.username << " was created: " << read.status();
    }
  }
  // The pool's connections came back clean: a later batch works.
  absl::StatusOr<std::vector<Positioned<User>>> after =
      primary_->CreateUsers(NewUsers("after_", 2), Within(absl::Seconds(10)));
  EXPECT_TRUE(after.ok()) << after.status();
}

TEST_F(StoreTest, LockWaitPastTheDeadlineIsDeadlineExceededAndStopsTheQuery) {
  const std::string name = Unique("lock_");
  Positioned<User> created = CreateOrDie(name, name + "@example.com");
  TestCluster& cluster = TestCluster::Get();
  // Hold the row lock from another session for longer than the call's
  // deadline: the update must give up on time.
  std::thread holder([&] {
    cluster
        .Execute("primary",
                 absl::StrCat("BEGIN NOT ATOMIC START TRANSACTION; SELECT id "
                              "FROM userservice.users WHERE id = ",
                              created.value.id,
                              " FOR UPDATE; DO SLEEP(3); COMMIT; END"))
        .IgnoreError();
  });
  absl::SleepFor(absl::Milliseconds(300));
  UserUpdate change;
  change.id = created.value.id;
  change.email = name + "@locked.example.com";
  const absl::Time start = absl::Now();
  absl::StatusOr<Positioned<User>> result =
      primary_->UpdateUser(change, Within(absl::Milliseconds(500)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
  EXPECT_LT(took, absl::Seconds(2));
  // The statement is gone from the server, not left waiting for the lock.
  auto waiting = cluster.QueryValue(
      "primary",
      "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE "
      "'UPDATE users SET%'");
  holder.join();
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_EQ(*waiting, "0");
  // The pool is healthy afterwards.
  EXPECT_TRUE(Rows(primary_->GetUser(UserKey::Id(created.value.id),
                                     Within(absl::Seconds(5))))
                  .ok());
}

TEST_F(StoreTest, ReadOnlyPrimaryRefusesWritesWithUnavailable) {
  TestCluster& cluster = TestCluster::Get();
  {
    // Two idle sessions: the write takes one, the other stays idle.
    absl::StatusOr<MysqlPool::Lease> a =
        primary_.pool->Acquire(absl::Now() + absl::Seconds(5));
    absl::StatusOr<MysqlPool::Lease> b =
        primary_.pool->Acquire(absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(a.ok() && b.ok());
  }
  ASSERT_EQ(primary_.pool->Stats().idle, 2);
  ASSERT_TRUE(cluster.Execute("primary", "SET GLOBAL read_only = ON").ok());
  const std::string name = Unique("ro_");
  absl::StatusOr<Positioned<User>> refused = primary_->CreateUser(
      NewUser{name, name + "@example.com", ""}, Within(absl::Seconds(5)));
  ASSERT_TRUE(cluster.Execute("primary", "SET GLOBAL read_only = OFF").ok());
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("read-only"));
  // The store reported the refusal once, and no session of the demoted
  // server stayed pooled.
  EXPECT_EQ(primary_.demotion->refusals(), 1);
  EXPECT_EQ(primary_.pool->Stats().idle, 0);
  CreateOrDie(name, name + "@example.com");
}

TEST_F(StoreTest, UnreachableEndpointIsUnavailableAndPoolRecovers) {
  // Nothing listens on this port.
  EndpointStore nowhere = MakeStore("replica-x", "127.0.0.1:1");
  absl::StatusOr<User> result =
      Rows(nowhere->GetUser(UserKey::Id(1), Within(absl::Seconds(5))));
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
  EXPECT_EQ(nowhere.pool->Stats().size(), 0);
}

TEST_F(StoreTest, WrongPasswordIsUnavailableWithoutLeakingIt) {
  ConnectionSettings settings = *settings_;
  settings.password = []() -> absl::StatusOr<std::string> {
    return std::string("not-the-password-xyzzy");
  };
  absl::StatusOr<std::unique_ptr<MysqlConnection>> conn = MysqlConnection::Open(
      EndpointFor("primary", TestCluster::Get().primary()), settings,
      absl::Now() + absl::Seconds(5));
  ASSERT_FALSE(conn.ok());
  EXPECT_TRUE(absl::IsUnavailable(conn.status())) << conn.status();
  EXPECT_THAT(conn.status().message(), HasSubstr("credentials"));
  EXPECT_THAT(conn.status().message(), Not(HasSubstr("xyzzy")));
}

}  // namespace
}  // namespace userservice::mysql
