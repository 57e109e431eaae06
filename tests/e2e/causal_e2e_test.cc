// Causal consistency against the real server and cluster: tokens taken from
// reads and writes, merged tokens, BatchGetUsers at every level, tokens on
// both sides of a switchover, and userctl passing tokens along a chain of
// callers. Replicas that must not have a write have their SQL thread
// stopped, so only a token can make a read find it. Every test leaves the
// cluster as it found it: node `primary` the writer, every replica applying.

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/metrics_scrape.h"

namespace userservice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kCallDeadline = absl::Seconds(10);
constexpr char kCaughtUp[] = "replica_caught_up";

// A finished read: its status, response and x-served-by.
template <typename Response>
struct Answer {
  grpc::Status status;
  Response response;
  std::string served_by;
};

// Read options at `consistency`: the first token as consistency_token, the
// others as consistency_tokens (what userctl --token does).
v1::ReadOptions Options(v1::Consistency consistency,
                        const std::vector<std::string>& tokens = {}) {
  v1::ReadOptions options;
  options.set_consistency(consistency);
  for (const std::string& token : tokens) {
    if (options.consistency_token().empty()) {
      options.set_consistency_token(token);
    } else {
      options.add_consistency_tokens(token);
    }
  }
  return options;
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(CodeName(status.error_code()), " ",
                      status.error_message());
}

std::vector<uint64_t> IdsOf(const v1::BatchGetUsersResponse& response) {
  std::vector<uint64_t> ids;
  for (const v1::User& user : response.users()) ids.push_back(user.id());
  return ids;
}

class CausalE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster().Restore().ok());
    metrics_port_ = FreePort();
    absl::StatusOr<std::unique_ptr<E2eServer>> server = E2eServer::Start(
        {"--health-check-interval=200ms",
         absl::StrCat("--metrics-listen=127.0.0.1:", metrics_port_)});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    // Every endpoint checked once: the writer elected, each replica in
    // rotation with a known applied position.
    ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
      if (!server_->EndpointIs("primary", admin::v1::ENDPOINT_STATE_WRITABLE)) {
        return false;
      }
      for (const std::string& replica : cluster().ReplicaNodes()) {
        if (!server_->EndpointIs(replica, admin::v1::ENDPOINT_STATE_HEALTHY)) {
          return false;
        }
      }
      return true;
    })) << server_->process().Log();
  }

  void TearDown() override {
    // Restarted even when the test failed half-way.
    for (const std::string& node : stopped_) {
      absl::Status started = cluster().Execute(node, "START SLAVE SQL_THREAD");
      EXPECT_TRUE(started.ok()) << node << ": " << started;
    }
    stopped_.clear();
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->process().Log();
    }
    server_.reset();
    // A moved writer, or a test that failed half-way, needs the whole
    // restore; otherwise the replicas only have to catch up.
    absl::Status restored =
        switched_over_ || HasFailure() ? cluster().Restore() : cluster().Sync();
    EXPECT_TRUE(restored.ok()) << restored;
  }

  static TestCluster& cluster() { return TestCluster::Get(); }

  // Stops `node`'s SQL thread until StartSql or the end of the test.
  void StopSql(const std::string& node) {
    stopped_.insert(node);
    absl::Status stopped = cluster().Execute(node, "STOP SLAVE SQL_THREAD");
    ASSERT_TRUE(stopped.ok()) << node << ": " << stopped;
  }

  // Moves the writer to `node` (TearDown moves it back).
  void Switchover(const std::string& node) {
    switched_over_ = true;
    absl::Status switched = cluster().Switchover(node);
    ASSERT_TRUE(switched.ok()) << switched;
  }

  void StartSql(const std::string& node) {
    absl::Status started = cluster().Execute(node, "START SLAVE SQL_THREAD");
    ASSERT_TRUE(started.ok()) << node << ": " << started;
    stopped_.erase(node);
  }

  v1::CreateUserResponse Create(const std::string& name) {
    v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(name + "@example.com");
    v1::CreateUserResponse response;
    auto context = ContextWithDeadline(kCallDeadline);
    grpc::Status status =
        server_->users().CreateUser(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << Describe(status);
    EXPECT_FALSE(response.consistency_token().empty());
    return response;
  }

  v1::UpdateUserResponse UpdateEmail(const v1::User& user,
                                     const std::string& email) {
    v1::UpdateUserRequest request;
    request.mutable_user()->set_id(user.id());
    request.mutable_user()->set_email(email);
    request.mutable_update_mask()->add_paths("email");
    request.set_expected_version(user.version());
    v1::UpdateUserResponse response;
    auto context = ContextWithDeadline(kCallDeadline);
    grpc::Status status =
        server_->users().UpdateUser(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << Describe(status);
    EXPECT_EQ(response.user().version(), user.version() + 1);
    return response;
  }

  Answer<v1::GetUserResponse> Get(uint64_t id, const v1::ReadOptions& options) {
    v1::GetUserRequest request;
    request.set_id(id);
    return Get(request, options);
  }

  // Calls the stub's `method` with `request` read with `options`.
  template <typename Response, typename Request>
  Answer<Response> Read(grpc::Status (v1::UserService::Stub::*method)(
                            grpc::ClientContext*, const Request&, Response*),
                        Request request, const v1::ReadOptions& options) {
    *request.mutable_read_options() = options;
    Answer<Response> answer;
    auto context = ContextWithDeadline(kCallDeadline);
    answer.status =
        (server_->users().*method)(context.get(), request, &answer.response);
    answer.served_by = ServedByOf(*context);
    return answer;
  }

  // GetUser by whatever key `request` sets.
  Answer<v1::GetUserResponse> Get(v1::GetUserRequest request,
                                  const v1::ReadOptions& options) {
    return Read(&v1::UserService::Stub::GetUser, std::move(request), options);
  }

  Answer<v1::BatchGetUsersResponse> BatchGet(const std::vector<uint64_t>& ids,
                                             const v1::ReadOptions& options) {
    v1::BatchGetUsersRequest request;
    request.mutable_ids()->Add(ids.begin(), ids.end());
    return Read(&v1::UserService::Stub::BatchGetUsers, std::move(request),
                options);
  }

  Answer<v1::ListUsersResponse> List(const std::string& page_token,
                                     const v1::ReadOptions& options) {
    v1::ListUsersRequest request;
    request.set_page_size(1000);
    request.set_page_token(page_token);
    return Read(&v1::UserService::Stub::ListUsers, std::move(request), options);
  }

  // The page_token of the 1000-user page holding user `id`, paging from the
  // writer.
  std::string PageTokenOf(uint64_t id) {
    std::string page_token;
    for (int pages = 0; pages < 1000; ++pages) {
      Answer<v1::ListUsersResponse> page =
          List(page_token, Options(v1::CONSISTENCY_STRONG));
      EXPECT_TRUE(page.status.ok()) << Describe(page.status);
      if (!page.status.ok()) return "";
      for (const v1::User& user : page.response.users()) {
        if (user.id() == id) return page_token;
      }
      if (page.response.next_page_token().empty()) break;
      page_token = page.response.next_page_token();
    }
    ADD_FAILURE() << "no page holds user " << id;
    return "";
  }

  // userservice_reads_total{reason} summed over the endpoints (or of one).
  double ReadsTotal(const std::string& reason,
                    const std::string& endpoint = "") {
    absl::StatusOr<MetricsScrape> scrape = MetricsScrape::Fetch(metrics_port_);
    EXPECT_TRUE(scrape.ok()) << scrape.status();
    if (!scrape.ok()) return -1;
    MetricsScrape::Labels labels = {{"reason", reason}};
    if (!endpoint.empty()) labels["endpoint"] = endpoint;
    return scrape->Sum("userservice_reads_total", labels).value_or(0);
  }

  // A new user updated to version 2 while `stopped`'s SQL thread is
  // stopped (it keeps version 1); the other replicas applied both.
  v1::User UpdatedWhileStopped(const std::string& stopped) {
    v1::CreateUserResponse created = Create(UniqueUsername("causal_"));
    EXPECT_TRUE(cluster().Sync().ok());
    StopSql(stopped);
    v1::UpdateUserResponse updated =
        UpdateEmail(created.user(), created.user().username() + "@v2.example");
    return updated.user();
  }

  int metrics_port_ = 0;
  std::unique_ptr<E2eServer> server_;
  std::set<std::string> stopped_;
  bool switched_over_ = false;
};

class CausalReadTokenTest : public CausalE2eTest {
 protected:
  // 20 reads of `user` by id with only `token` at the unspecified level,
  // 20 at SESSION, then a few by username and by email (which take another
  // path through the server): each sees version 2 and none is served by
  // `stopped`. Returns who served them.
  std::map<std::string, int> ReadsWithOnly(const v1::User& user,
                                           const std::string& token,
                                           const std::string& stopped) {
    v1::GetUserRequest by_id, by_username, by_email;
    by_id.set_id(user.id());
    by_username.set_username(user.username());
    by_email.set_email(user.email());
    std::map<std::string, int> served;
    for (const auto& [level, request, reads] :
         {std::tuple(v1::CONSISTENCY_UNSPECIFIED, by_id, 20),
          std::tuple(v1::CONSISTENCY_SESSION, by_id, 20),
          std::tuple(v1::CONSISTENCY_SESSION, by_username, 3),
          std::tuple(v1::CONSISTENCY_UNSPECIFIED, by_email, 3)}) {
      for (int i = 0; i < reads; ++i) {
        Answer<v1::GetUserResponse> read =
            Get(request, Options(level, {token}));
        SCOPED_TRACE(absl::StrCat(v1::Consistency_Name(level), " read ", i,
                                  " of ", request.ShortDebugString(),
                                  " served by ", read.served_by));
        EXPECT_TRUE(read.status.ok()) << Describe(read.status);
        EXPECT_EQ(read.response.user().version(), 2);
        EXPECT_FALSE(read.served_by.empty());
        EXPECT_NE(read.served_by, stopped);
        EXPECT_FALSE(read.response.consistency_token().empty());
        ++served[read.served_by];
      }
    }
    return served;
  }

  static std::string Summary(const std::map<std::string, int>& served) {
    std::vector<std::string> parts;
    for (const auto& [name, count] : served) {
      parts.push_back(absl::StrCat(name, " x", count));
    }
    return absl::StrJoin(parts, ", ");
  }
};

TEST_F(CausalReadTokenTest, ATokenFromAGetUserAvoidsTheReplicaThatLacksIt) {
  const std::string stopped = "replica-1";
  const v1::User user = UpdatedWhileStopped(stopped);
  ASSERT_EQ(user.version(), 2);
  // Eventual reads go round every replica: the stopped one shows the lag is
  // real, another one gives version 2 and its token.
  bool stopped_served = false;
  std::string token, token_from;
  ASSERT_TRUE(WaitFor(
      absl::Seconds(10),
      [&] {
        Answer<v1::GetUserResponse> read =
            Get(user.id(), Options(v1::CONSISTENCY_EVENTUAL));
        EXPECT_TRUE(read.status.ok()) << Describe(read.status);
        if (read.served_by == stopped) {
          EXPECT_EQ(read.response.user().version(), 1);
          stopped_served = true;
        } else if (absl::StartsWith(read.served_by, "replica-") &&
                   read.response.user().version() == 2 && token.empty()) {
          token = read.response.consistency_token();
          token_from = read.served_by;
        }
        return stopped_served && !token.empty();
      }))
      << "stopped replica served: " << stopped_served << "; token from "
      << token_from;
  ASSERT_FALSE(HasFailure());

  const double caught_up_before = ReadsTotal(kCaughtUp);
  const double stopped_before = ReadsTotal(kCaughtUp, stopped);
  const std::map<std::string, int> served = ReadsWithOnly(user, token, stopped);
  const double caught_up = ReadsTotal(kCaughtUp) - caught_up_before;
  std::cerr << "token from " << token_from << "; reads served by "
            << Summary(served) << "; " << caught_up
            << " of them without a wait\n";
  EXPECT_GT(caught_up, 0) << Summary(served);
  EXPECT_EQ(ReadsTotal(kCaughtUp, stopped), stopped_before);

  // The other replica that applied the update never served this token, so
  // only its health checks can show it is there: it joins the rotation.
  std::string other;
  for (const std::string& replica : cluster().ReplicaNodes()) {
    if (replica != stopped && replica != token_from) other = replica;
  }
  const double other_before = ReadsTotal(kCaughtUp, other);
  EXPECT_TRUE(WaitFor(absl::Seconds(5),
                      [&] {
                        Answer<v1::GetUserResponse> read =
                            Get(user.id(),
                                Options(v1::CONSISTENCY_SESSION, {token}));
                        EXPECT_TRUE(read.status.ok()) << Describe(read.status);
                        EXPECT_EQ(read.response.user().version(), 2);
                        EXPECT_NE(read.served_by, stopped);
                        return read.served_by == other;
                      }))
      << other << " never served the token";
  EXPECT_GT(ReadsTotal(kCaughtUp, other), other_before);
}

TEST_F(CausalReadTokenTest,
       ATokenFromAListUsersPageAvoidsTheReplicaThatLacksIt) {
  const std::string stopped = "replica-0";
  const v1::User user = UpdatedWhileStopped(stopped);
  ASSERT_EQ(user.version(), 2);
  const std::string page_token = PageTokenOf(user.id());
  ASSERT_FALSE(HasFailure());
  // The version of `user` on a page (0: not on it).
  auto version_on = [&](const v1::ListUsersResponse& page) -> int64_t {
    for (const v1::User& listed : page.users()) {
      if (listed.id() == user.id()) return listed.version();
    }
    return 0;
  };
  bool stopped_served = false;
  std::string token, token_from;
  ASSERT_TRUE(
      WaitFor(absl::Seconds(10),
              [&] {
                Answer<v1::ListUsersResponse> page =
                    List(page_token, Options(v1::CONSISTENCY_EVENTUAL));
                EXPECT_TRUE(page.status.ok()) << Describe(page.status);
                if (page.served_by == stopped) {
                  EXPECT_EQ(version_on(page.response), 1);
                  stopped_served = true;
                } else if (absl::StartsWith(page.served_by, "replica-") &&
                           version_on(page.response) == 2 && token.empty()) {
                  token = page.response.consistency_token();
                  token_from = page.served_by;
                }
                return stopped_served && !token.empty();
              }))
      << "stopped replica served: " << stopped_served;
  ASSERT_FALSE(HasFailure());

  const double caught_up_before = ReadsTotal(kCaughtUp);
  std::map<std::string, int> served = ReadsWithOnly(user, token, stopped);
  // The same page again, with only the page's token.
  for (int i = 0; i < 5; ++i) {
    Answer<v1::ListUsersResponse> page =
        List(page_token, Options(v1::CONSISTENCY_UNSPECIFIED, {token}));
    ASSERT_TRUE(page.status.ok()) << Describe(page.status);
    EXPECT_EQ(version_on(page.response), 2) << "served by " << page.served_by;
    EXPECT_NE(page.served_by, stopped);
    ++served[page.served_by];
  }
  const double caught_up = ReadsTotal(kCaughtUp) - caught_up_before;
  std::cerr << "token from " << token_from << "; reads served by "
            << Summary(served) << "; " << caught_up
            << " of them without a wait\n";
  EXPECT_GT(caught_up, 0) << Summary(served);
}

TEST_F(CausalE2eTest, MergedTokensFindTheNewerWrite) {
  // tOld: a user every replica has. tNew: one only the primary has.
  const v1::CreateUserResponse old_write = Create(UniqueUsername("old_"));
  ASSERT_TRUE(cluster().Sync().ok());
  for (const std::string& replica : cluster().ReplicaNodes()) StopSql(replica);
  const v1::CreateUserResponse new_write = Create(UniqueUsername("new_"));
  ASSERT_FALSE(HasFailure());
  const std::string t_old = old_write.consistency_token();
  const std::string t_new = new_write.consistency_token();
  const uint64_t old_id = old_write.user().id();
  const uint64_t new_id = new_write.user().id();

  // tOld alone is satisfied by any replica, which lacks the newer user.
  Answer<v1::GetUserResponse> alone =
      Get(new_id, Options(v1::CONSISTENCY_SESSION, {t_old}));
  EXPECT_EQ(alone.status.error_code(), grpc::StatusCode::NOT_FOUND)
      << Describe(alone.status);
  EXPECT_THAT(alone.served_by, StartsWith("replica-"));

  // Reads that do not wait for tokens still cover them in their own.
  v1::ReadOptions bounded = Options(v1::CONSISTENCY_BOUNDED_STALENESS, {t_new});
  bounded.mutable_max_staleness()->set_seconds(30);
  for (const v1::ReadOptions& options :
       {Options(v1::CONSISTENCY_EVENTUAL, {t_new}), bounded}) {
    SCOPED_TRACE(options.ShortDebugString());
    Answer<v1::GetUserResponse> stale = Get(old_id, options);
    ASSERT_TRUE(stale.status.ok()) << Describe(stale.status);
    Answer<v1::BatchGetUsersResponse> stale_batch = BatchGet({old_id}, options);
    ASSERT_TRUE(stale_batch.status.ok()) << Describe(stale_batch.status);
    Answer<v1::ListUsersResponse> stale_page = List("", options);
    ASSERT_TRUE(stale_page.status.ok()) << Describe(stale_page.status);
    if (options.consistency() == v1::CONSISTENCY_EVENTUAL) {
      EXPECT_THAT(stale.served_by, StartsWith("replica-"));
      EXPECT_THAT(stale_batch.served_by, StartsWith("replica-"));
      EXPECT_THAT(stale_page.served_by, StartsWith("replica-"));
    }
    for (const std::string& token : {stale.response.consistency_token(),
                                     stale_batch.response.consistency_token(),
                                     stale_page.response.consistency_token()}) {
      Answer<v1::GetUserResponse> read =
          Get(new_id, Options(v1::CONSISTENCY_UNSPECIFIED, {token}));
      EXPECT_TRUE(read.status.ok()) << Describe(read.status);
      EXPECT_EQ(read.served_by, "primary");
    }
  }

  // Together, in either field, they reach the primary.
  v1::ReadOptions only_list = Options(v1::CONSISTENCY_UNSPECIFIED);
  only_list.add_consistency_tokens(t_old);
  only_list.add_consistency_tokens(t_new);
  std::string merged;
  for (const v1::ReadOptions& options :
       {Options(v1::CONSISTENCY_UNSPECIFIED, {t_old, t_new}),
        Options(v1::CONSISTENCY_SESSION, {t_old, t_new}),
        Options(v1::CONSISTENCY_SESSION, {t_new, t_old}), only_list}) {
    for (int i = 0; i < 3; ++i) {
      Answer<v1::GetUserResponse> read = Get(new_id, options);
      SCOPED_TRACE(options.ShortDebugString());
      ASSERT_TRUE(read.status.ok()) << Describe(read.status);
      EXPECT_EQ(read.response.user().id(), new_id);
      EXPECT_EQ(read.served_by, "primary");
      merged = read.response.consistency_token();
    }
  }

  // The response token alone covers both writes.
  for (uint64_t id : {new_id, old_id}) {
    Answer<v1::GetUserResponse> read =
        Get(id, Options(v1::CONSISTENCY_UNSPECIFIED, {merged}));
    ASSERT_TRUE(read.status.ok()) << id << ": " << Describe(read.status);
    EXPECT_EQ(read.response.user().id(), id);
    EXPECT_EQ(read.served_by, "primary");
  }
  Answer<v1::BatchGetUsersResponse> both =
      BatchGet({old_id, new_id}, Options(v1::CONSISTENCY_SESSION, {merged}));
  ASSERT_TRUE(both.status.ok()) << Describe(both.status);
  EXPECT_THAT(IdsOf(both.response), ::testing::ElementsAre(old_id, new_id));

  // A replica that applied the newer write may serve the merged tokens
  // (once a health check has seen it there); the stopped ones never do.
  StartSql("replica-2");
  std::map<std::string, int> served;
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    Answer<v1::GetUserResponse> read =
        Get(new_id, Options(v1::CONSISTENCY_SESSION, {t_old, t_new}));
    EXPECT_TRUE(read.status.ok()) << Describe(read.status);
    EXPECT_THAT(read.served_by, ::testing::AnyOf("primary", "replica-2"));
    ++served[read.served_by];
    return read.served_by == "replica-2";
  }));
  for (int i = 0; i < 10; ++i) {
    Answer<v1::GetUserResponse> read =
        Get(new_id, Options(v1::CONSISTENCY_SESSION, {t_old, t_new}));
    EXPECT_TRUE(read.status.ok()) << Describe(read.status);
    EXPECT_THAT(read.served_by, ::testing::AnyOf("primary", "replica-2"));
    ++served[read.served_by];
  }
  std::cerr << "merged reads served by primary x" << served["primary"]
            << ", replica-2 x" << served["replica-2"] << "\n";
}

TEST_F(CausalE2eTest, MalformedOrTooManyTokensAreInvalidArgument) {
  const v1::CreateUserResponse created = Create(UniqueUsername("tok_"));
  const std::string token = created.consistency_token();
  const uint64_t id = created.user().id();
  const std::string field = "read_options.consistency_tokens[1]";
  for (const std::string& bad :
       {std::string("garbage"), std::string("v1.!!!"), std::string("v2.AAAA"),
        token.substr(0, token.size() - 2) + "*"}) {
    SCOPED_TRACE(bad);
    v1::ReadOptions options =
        Options(v1::CONSISTENCY_SESSION, {token, token, bad});
    Answer<v1::GetUserResponse> get = Get(id, options);
    EXPECT_EQ(get.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(get.status.error_message(), StartsWith(field));
    Answer<v1::BatchGetUsersResponse> batch = BatchGet({id}, options);
    EXPECT_EQ(batch.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(batch.status.error_message(), StartsWith(field));
    Answer<v1::ListUsersResponse> list = List("", options);
    EXPECT_EQ(list.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(list.status.error_message(), StartsWith(field));
    // Every level checks its tokens, also those that do not wait for them.
    options.set_consistency(v1::CONSISTENCY_EVENTUAL);
    get = Get(id, options);
    EXPECT_EQ(get.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(get.status.error_message(), StartsWith(field));
  }

  // At most 64 in consistency_tokens, beside consistency_token.
  v1::ReadOptions most = Options(v1::CONSISTENCY_SESSION, {token});
  for (int i = 0; i < 64; ++i) most.add_consistency_tokens(token);
  Answer<v1::GetUserResponse> read = Get(id, most);
  EXPECT_TRUE(read.status.ok()) << Describe(read.status);
  most.add_consistency_tokens(token);
  for (v1::Consistency level :
       {v1::CONSISTENCY_SESSION, v1::CONSISTENCY_UNSPECIFIED,
        v1::CONSISTENCY_STRONG}) {
    most.set_consistency(level);
    read = Get(id, most);
    EXPECT_EQ(read.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << v1::Consistency_Name(level);
    EXPECT_THAT(read.status.error_message(),
                StartsWith("read_options.consistency_tokens"));
    Answer<v1::BatchGetUsersResponse> batch = BatchGet({id}, most);
    EXPECT_EQ(batch.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << v1::Consistency_Name(level);
  }
}

TEST_F(CausalE2eTest, BatchGetUsersKeepsOrderAndDuplicatesAndFailsWhole) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Create(UniqueUsername("batch_")).user().id());
  }
  const uint64_t a = ids[0], b = ids[1], c = ids[2];
  const v1::ReadOptions strong = Options(v1::CONSISTENCY_STRONG);
  Answer<v1::BatchGetUsersResponse> got = BatchGet({c, a, b, a, c}, strong);
  ASSERT_TRUE(got.status.ok()) << Describe(got.status);
  EXPECT_THAT(IdsOf(got.response), ::testing::ElementsAre(c, a, b, a, c));
  EXPECT_EQ(got.served_by, "primary");
  EXPECT_FALSE(got.response.consistency_token().empty());

  const uint64_t gone = c + 5000000, also_gone = c + 5000001;
  Answer<v1::BatchGetUsersResponse> missing =
      BatchGet({a, gone, b, also_gone}, strong);
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.status.error_message(),
            absl::StrCat("2 of the 4 requested users not found: ", gone, ", ",
                         also_gone, "; no user is returned"));
  EXPECT_EQ(missing.response.users_size(), 0);

  // No ids, no tokens: nothing at all. No ids with a token: it travels on.
  Answer<v1::BatchGetUsersResponse> none = BatchGet({}, strong);
  ASSERT_TRUE(none.status.ok()) << Describe(none.status);
  EXPECT_EQ(none.response.users_size(), 0);
  EXPECT_EQ(none.response.consistency_token(), "");
  const std::string token = got.response.consistency_token();
  none = BatchGet({}, Options(v1::CONSISTENCY_SESSION, {token}));
  ASSERT_TRUE(none.status.ok()) << Describe(none.status);
  EXPECT_FALSE(none.response.consistency_token().empty());
  Answer<v1::BatchGetUsersResponse> again = BatchGet(
      {c},
      Options(v1::CONSISTENCY_SESSION, {none.response.consistency_token()}));
  EXPECT_TRUE(again.status.ok()) << Describe(again.status);

  // 1000 ids made of a few users' are one call; 1001 are too many.
  std::vector<uint64_t> thousand;
  for (int i = 0; i < 1000; ++i) thousand.push_back(ids[(i * 7) % 3]);
  ASSERT_TRUE(cluster().Sync().ok());
  for (const v1::ReadOptions& options :
       {strong, Options(v1::CONSISTENCY_EVENTUAL),
        Options(v1::CONSISTENCY_SESSION, {token})}) {
    got = BatchGet(thousand, options);
    ASSERT_TRUE(got.status.ok()) << Describe(got.status);
    EXPECT_EQ(IdsOf(got.response), thousand);
    EXPECT_FALSE(got.served_by.empty());
  }
  thousand.push_back(a);
  got = BatchGet(thousand, strong);
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(got.status.error_message(), StartsWith("ids"));
  EXPECT_THAT(got.status.error_message(), HasSubstr("1000"));

  // Validation names the entry.
  got = BatchGet({a, b, 0}, strong);
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(got.status.error_message(), StartsWith("ids[2]"));
  got = BatchGet({a}, Options(v1::CONSISTENCY_SESSION, {"not-a-token"}));
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(got.status.error_message(),
              StartsWith("read_options.consistency_token"));
}

TEST_F(CausalE2eTest, BatchGetUsersIsRoutedByItsConsistency) {
  const v1::CreateUserResponse first = Create(UniqueUsername("lvl_"));
  const v1::CreateUserResponse second = Create(UniqueUsername("lvl_"));
  const std::vector<uint64_t> ids = {second.user().id(), first.user().id()};
  ASSERT_TRUE(cluster().Sync().ok());

  Answer<v1::BatchGetUsersResponse> got =
      BatchGet(ids, Options(v1::CONSISTENCY_STRONG));
  ASSERT_TRUE(got.status.ok()) << Describe(got.status);
  EXPECT_EQ(got.served_by, "primary");
  EXPECT_EQ(IdsOf(got.response), ids);

  std::set<std::string> served;
  for (size_t i = 0; i < 2 * cluster().ReplicaNodes().size(); ++i) {
    got = BatchGet(ids, Options(v1::CONSISTENCY_EVENTUAL));
    ASSERT_TRUE(got.status.ok()) << Describe(got.status);
    EXPECT_EQ(IdsOf(got.response), ids);
    EXPECT_THAT(got.served_by, StartsWith("replica-"));
    served.insert(got.served_by);
  }
  const std::vector<std::string> replicas = cluster().ReplicaNodes();
  EXPECT_EQ(served, std::set<std::string>(replicas.begin(), replicas.end()));

  // Replicas qualify for a 5 s bound once their lag is measured.
  v1::ReadOptions bounded = Options(v1::CONSISTENCY_BOUNDED_STALENESS);
  bounded.mutable_max_staleness()->set_seconds(5);
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    got = BatchGet(ids, bounded);
    EXPECT_TRUE(got.status.ok()) << Describe(got.status);
    EXPECT_EQ(IdsOf(got.response), ids);
    EXPECT_THAT(got.served_by,
                ::testing::AnyOf("primary", StartsWith("replica-")));
    return absl::StartsWith(got.served_by, "replica-");
  }));
  bounded.clear_max_staleness();
  got = BatchGet(ids, bounded);
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(got.status.error_message(),
              StartsWith("read_options.max_staleness"));

  // SESSION with a fresh write's token finds it although no replica
  // applies it; so does the response's token alone.
  for (const std::string& replica : cluster().ReplicaNodes()) StopSql(replica);
  const v1::CreateUserResponse fresh = Create(UniqueUsername("fresh_"));
  ASSERT_FALSE(HasFailure());
  const std::vector<uint64_t> with_fresh = {ids[0], fresh.user().id(), ids[1]};
  got = BatchGet(with_fresh, Options(v1::CONSISTENCY_EVENTUAL));
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(got.status.error_message(),
            absl::StrCat("1 of the 3 requested users not found: ",
                         fresh.user().id(), "; no user is returned"));
  EXPECT_THAT(got.served_by, StartsWith("replica-"));
  for (v1::Consistency level :
       {v1::CONSISTENCY_SESSION, v1::CONSISTENCY_UNSPECIFIED}) {
    got = BatchGet(with_fresh, Options(level, {fresh.consistency_token()}));
    ASSERT_TRUE(got.status.ok()) << Describe(got.status);
    EXPECT_EQ(IdsOf(got.response), with_fresh);
    EXPECT_EQ(got.served_by, "primary");
  }
  got = BatchGet(
      {fresh.user().id()},
      Options(v1::CONSISTENCY_UNSPECIFIED, {got.response.consistency_token()}));
  ASSERT_TRUE(got.status.ok()) << Describe(got.status);
  EXPECT_EQ(got.served_by, "primary");

  // A delete's token: the replicas still have the user, the token's reads
  // do not.
  v1::DeleteUserRequest remove;
  remove.set_id(ids[1]);
  v1::DeleteUserResponse removed;
  auto context = ContextWithDeadline(kCallDeadline);
  ASSERT_TRUE(
      server_->users().DeleteUser(context.get(), remove, &removed).ok());
  got = BatchGet({ids[1]}, Options(v1::CONSISTENCY_EVENTUAL));
  EXPECT_TRUE(got.status.ok()) << Describe(got.status);
  got = BatchGet({ids[0], ids[1]}, Options(v1::CONSISTENCY_SESSION,
                                           {removed.consistency_token()}));
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::NOT_FOUND)
      << Describe(got.status) << " from " << got.served_by;
  EXPECT_EQ(got.status.error_message(),
            absl::StrCat("1 of the 2 requested users not found: ", ids[1],
                         "; no user is returned"));
  EXPECT_EQ(got.response.users_size(), 0);
}

TEST_F(CausalE2eTest, ConcurrentBatchesOfAThousandDistinctIds) {
  // Creates in flight together share inserts, so a thousand take little.
  constexpr int kUsers = 1000;
  struct Call {
    grpc::ClientContext context;
    v1::CreateUserRequest request;
    v1::CreateUserResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> creates;
  absl::BlockingCounter created(kUsers);
  for (int i = 0; i < kUsers; ++i) {
    auto call = std::make_unique<Call>();
    call->request.set_username(UniqueUsername("many_"));
    call->request.set_email(call->request.username() + "@example.com");
    call->context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    Call* c = call.get();
    server_->users().async()->CreateUser(&c->context, &c->request, &c->response,
                                         [c, &created](grpc::Status s) {
                                           c->status = std::move(s);
                                           created.DecrementCount();
                                         });
    creates.push_back(std::move(call));
  }
  created.Wait();
  std::vector<uint64_t> ids;
  for (const auto& call : creates) {
    ASSERT_TRUE(call->status.ok()) << Describe(call->status);
    ids.push_back(call->response.user().id());
  }
  // Concurrent creates commit in any order, so no create's token covers
  // them all; a read on the writer after the last of them does.
  Answer<v1::BatchGetUsersResponse> strong =
      BatchGet({ids.front()}, Options(v1::CONSISTENCY_STRONG));
  ASSERT_TRUE(strong.status.ok()) << Describe(strong.status);
  const std::string all_token = strong.response.consistency_token();

  // Several batches at once, each in its own order, beside single reads:
  // each gets exactly its users.
  struct Batch {
    grpc::ClientContext context;
    v1::BatchGetUsersRequest request;
    v1::BatchGetUsersResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Batch>> batches;
  for (int b = 0; b < 4; ++b) {
    auto batch = std::make_unique<Batch>();
    std::vector<uint64_t> order = ids;
    std::rotate(order.begin(), order.begin() + b * 250, order.end());
    if (b % 2 == 1) std::reverse(order.begin(), order.end());
    batch->request.mutable_ids()->Add(order.begin(), order.end());
    *batch->request.mutable_read_options() =
        Options(v1::CONSISTENCY_SESSION, {all_token});
    batch->context.set_deadline(
        absl::ToChronoTime(absl::Now() + kCallDeadline));
    batches.push_back(std::move(batch));
  }
  absl::BlockingCounter answered(static_cast<int>(batches.size()));
  for (auto& batch : batches) {
    Batch* b = batch.get();
    server_->users().async()->BatchGetUsers(
        &b->context, &b->request, &b->response, [b, &answered](grpc::Status s) {
          b->status = std::move(s);
          answered.DecrementCount();
        });
  }
  for (int i = 0; i < 20; ++i) {
    Answer<v1::GetUserResponse> one =
        Get(ids[i * 37], Options(v1::CONSISTENCY_SESSION, {all_token}));
    EXPECT_TRUE(one.status.ok()) << Describe(one.status);
    EXPECT_EQ(one.response.user().id(), ids[i * 37]);
  }
  answered.Wait();
  for (const auto& batch : batches) {
    ASSERT_TRUE(batch->status.ok()) << Describe(batch->status);
    EXPECT_EQ(IdsOf(batch->response),
              std::vector<uint64_t>(batch->request.ids().begin(),
                                    batch->request.ids().end()));
    EXPECT_FALSE(ServedByOf(batch->context).empty());
  }
}

TEST_F(CausalE2eTest, TokensFromBothSidesOfASwitchoverFindBothWrites) {
  const v1::CreateUserResponse before = Create(UniqueUsername("pre_"));
  ASSERT_TRUE(cluster().Sync().ok());
  Switchover("replica-0");
  ASSERT_FALSE(HasFatalFailure());
  const std::vector<std::string> followers = {"primary", "replica-1",
                                              "replica-2"};
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
    absl::StatusOr<admin::v1::EndpointStatus> writer =
        server_->Endpoint("replica-0");
    if (!writer.ok() || writer->role() != admin::v1::ROLE_PRIMARY) return false;
    for (const std::string& node : followers) {
      absl::StatusOr<admin::v1::EndpointStatus> follower =
          server_->Endpoint(node);
      if (!follower.ok() || follower->role() != admin::v1::ROLE_REPLICA) {
        return false;
      }
    }
    return true;
  })) << server_->Status()->ShortDebugString();
  // Only the new writer will have the next write.
  for (const std::string& node : followers) StopSql(node);
  const v1::CreateUserResponse after = Create(UniqueUsername("post_"));
  ASSERT_FALSE(HasFailure());
  const std::string t_pre = before.consistency_token();
  const std::string t_post = after.consistency_token();
  const std::vector<uint64_t> ids = {before.user().id(), after.user().id()};

  Answer<v1::GetUserResponse> control =
      Get(ids[1], Options(v1::CONSISTENCY_SESSION, {t_pre}));
  EXPECT_EQ(control.status.error_code(), grpc::StatusCode::NOT_FOUND)
      << Describe(control.status) << " from " << control.served_by;
  for (const std::vector<std::string>& tokens :
       {std::vector<std::string>{t_pre, t_post},
        std::vector<std::string>{t_post, t_pre}}) {
    for (uint64_t id : ids) {
      Answer<v1::GetUserResponse> read =
          Get(id, Options(v1::CONSISTENCY_UNSPECIFIED, tokens));
      ASSERT_TRUE(read.status.ok()) << id << ": " << Describe(read.status);
      EXPECT_EQ(read.served_by, "replica-0");
    }
    Answer<v1::BatchGetUsersResponse> both =
        BatchGet(ids, Options(v1::CONSISTENCY_SESSION, tokens));
    ASSERT_TRUE(both.status.ok()) << Describe(both.status);
    EXPECT_EQ(IdsOf(both.response), ids);
    EXPECT_EQ(both.served_by, "replica-0");
  }

  // A token read after the switchover: the followers apply again but for
  // replica-1, and an update is read back from one that has it.
  StartSql("primary");
  StartSql("replica-2");
  const v1::UpdateUserResponse updated =
      UpdateEmail(after.user(), after.user().username() + "@v2.example");
  std::string token, token_from;
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
    Answer<v1::GetUserResponse> read =
        Get(ids[1], Options(v1::CONSISTENCY_EVENTUAL));
    if (read.status.ok() && read.response.user().version() == 2 &&
        read.served_by != "replica-1") {
      token = read.response.consistency_token();
      token_from = read.served_by;
    }
    return !token.empty();
  }));
  std::map<std::string, int> served;
  for (int i = 0; i < 10; ++i) {
    Answer<v1::GetUserResponse> read =
        Get(ids[1], Options(v1::CONSISTENCY_UNSPECIFIED, {token}));
    ASSERT_TRUE(read.status.ok()) << Describe(read.status);
    EXPECT_EQ(read.response.user().version(), 2);
    EXPECT_NE(read.served_by, "replica-1");
    EXPECT_FALSE(read.served_by.empty());
    ++served[read.served_by];
  }
  Answer<v1::BatchGetUsersResponse> both =
      BatchGet(ids, Options(v1::CONSISTENCY_SESSION, {token}));
  ASSERT_TRUE(both.status.ok()) << Describe(both.status);
  EXPECT_EQ(both.response.users(1).version(), 2);
  EXPECT_NE(both.served_by, "replica-1");
  std::cerr << "token read from " << token_from << "; served by primary x"
            << served["primary"] << ", replica-0 x" << served["replica-0"]
            << ", replica-2 x" << served["replica-2"] << "\n";
}

// userctl, as the client guide's chain of services runs it.
class CausalUserctlTest : public CausalE2eTest {
 protected:
  CommandResult Userctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {UserctlPath(),
                                     "--addr=" + server_->process().address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, absl::Seconds(30));
  }

  // userctl's JSON output as `message`.
  template <typename Message>
  static Message Parse(const CommandResult& result) {
    Message message;
    EXPECT_EQ(result.exit_code, 0) << result.err;
    auto status =
        google::protobuf::util::JsonStringToMessage(result.out, &message);
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << result.out;
    return message;
  }
};

TEST_F(CausalUserctlTest, ThreeServicesPassTokensAlong) {
  const v1::CreateUserResponse created = Create(UniqueUsername("chain_"));
  ASSERT_TRUE(cluster().Sync().ok());
  for (const std::string& replica : cluster().ReplicaNodes()) StopSql(replica);
  const std::string id = absl::StrCat(created.user().id());
  const std::string email = created.user().username() + "@chain.example";

  // A updates; B reads with A's token; C reads with B's.
  const auto a = Parse<v1::UpdateUserResponse>(
      Userctl({"update", id, "--email=" + email}));
  ASSERT_FALSE(a.consistency_token().empty());
  CommandResult b_run =
      Userctl({"get", id, "--token", a.consistency_token(), "--verbose"});
  const auto b = Parse<v1::GetUserResponse>(b_run);
  EXPECT_EQ(b.user().email(), email);
  EXPECT_EQ(b.user().version(), 2);
  EXPECT_THAT(b_run.err, HasSubstr("served-by: primary"));
  ASSERT_FALSE(b.consistency_token().empty());
  const auto c = Parse<v1::GetUserResponse>(
      Userctl({"get", id, "--token", b.consistency_token()}));
  EXPECT_EQ(c.user().email(), email);
  EXPECT_EQ(c.user().version(), 2);

  // D creates another user; a caller holding tA and tD sees both.
  const std::string other = UniqueUsername("chain_d_");
  const auto d = Parse<v1::CreateUserResponse>(Userctl(
      {"create", "--username=" + other, "--email=" + other + "@example.com"}));
  const std::string other_id = absl::StrCat(d.user().id());
  CommandResult eventual = Userctl({"--consistency=eventual", "get", other_id});
  EXPECT_EQ(eventual.exit_code,
            10 + static_cast<int>(grpc::StatusCode::NOT_FOUND))
      << "the replicas were expected to lack user " << other_id;
  const auto newer = Parse<v1::GetUserResponse>(
      Userctl({"get", other_id, "--token", a.consistency_token(), "--token",
               d.consistency_token()}));
  EXPECT_EQ(newer.user().username(), other);
  for (const std::vector<std::string>& token_flags :
       {std::vector<std::string>{"--token", a.consistency_token(), "--token",
                                 d.consistency_token()},
        std::vector<std::string>{
            "--token",
            absl::StrCat(a.consistency_token(), ",", d.consistency_token())}}) {
    std::vector<std::string> args = {"get", id, other_id};
    args.insert(args.end(), token_flags.begin(), token_flags.end());
    const auto both = Parse<v1::BatchGetUsersResponse>(Userctl(args));
    ASSERT_EQ(both.users_size(), 2) << absl::StrJoin(args, " ");
    EXPECT_EQ(both.users(0).email(), email);
    EXPECT_EQ(both.users(1).username(), other);
    EXPECT_FALSE(both.consistency_token().empty());
  }
}

}  // namespace
}  // namespace userservice::testing
