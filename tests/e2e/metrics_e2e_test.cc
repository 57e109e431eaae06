// The real user_server's /metrics after known traffic: every count that
// traffic implies, read over HTTP from a --metrics-listen on loopback.

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/metrics_scrape.h"

namespace userservice::testing {
namespace {

constexpr char kUserService[] = "userservice.v1.UserService";

MetricsScrape::Labels Rpc(const std::string& method) {
  return {{"grpc_service", kUserService}, {"grpc_method", method}};
}

MetricsScrape::Labels Handled(const std::string& method,
                              const std::string& code) {
  MetricsScrape::Labels labels = Rpc(method);
  labels["grpc_code"] = code;
  return labels;
}

class MetricsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(TestCluster::Get().Restore().ok());
    metrics_port_ = FreePort();
    absl::StatusOr<std::unique_ptr<E2eServer>> started = E2eServer::Start(
        {absl::StrCat("--metrics-listen=127.0.0.1:", metrics_port_)});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->process().Log();
      absl::StatusOr<std::string> body = HttpGet(metrics_port_, "/metrics");
      std::cerr << "---- /metrics ----\n"
                << (body.ok() ? *body : body.status().ToString()) << "\n";
    }
  }

  MetricsScrape Scrape() {
    absl::StatusOr<MetricsScrape> scrape = MetricsScrape::Fetch(metrics_port_);
    EXPECT_TRUE(scrape.ok()) << scrape.status();
    return scrape.ok() ? *std::move(scrape) : MetricsScrape();
  }

  grpc::Status Create(const std::string& username,
                      v1::CreateUserResponse* response) {
    v1::CreateUserRequest request;
    request.set_username(username);
    request.set_email(username + "@example.com");
    auto context = ContextWithDeadline(absl::Seconds(5));
    return server_->users().CreateUser(context.get(), request, response);
  }

  grpc::Status Get(uint64_t id, v1::Consistency consistency,
                   const std::string& token = "") {
    v1::GetUserRequest request;
    request.set_id(id);
    request.mutable_read_options()->set_consistency(consistency);
    request.mutable_read_options()->set_consistency_token(token);
    v1::GetUserResponse response;
    auto context = ContextWithDeadline(absl::Seconds(5));
    return server_->users().GetUser(context.get(), request, &response);
  }

  int metrics_port_ = 0;
  std::unique_ptr<E2eServer> server_;
};

TEST_F(MetricsE2eTest, KnownTrafficGivesExactCounts) {
  constexpr int kCreates = 3;
  constexpr int kStrongReads = 4;
  constexpr int kMissingReads = 2;
  // Before any call, the series exist at zero.
  {
    MetricsScrape before = Scrape();
    EXPECT_EQ(before.Value("grpc_server_started_total", Rpc("GetUser")), 0);
    EXPECT_EQ(before.Value("grpc_server_handled_total",
                           Handled("DeleteUser", "NOT_FOUND")),
              0);
    EXPECT_EQ(
        before.Value("userservice_reads_total",
                     {{"endpoint", "primary"}, {"reason", "primary_strong"}}),
        0);
  }

  std::vector<uint64_t> ids;
  for (int i = 0; i < kCreates; ++i) {
    v1::CreateUserResponse created;
    grpc::Status status = Create(UniqueUsername("metrics_"), &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ids.push_back(created.user().id());
  }
  v1::CreateUserResponse unused;
  ASSERT_EQ(Create("x", &unused).error_code(),  // too short a username
            grpc::StatusCode::INVALID_ARGUMENT);
  for (int i = 0; i < kStrongReads; ++i) {
    grpc::Status status = Get(ids[i % ids.size()], v1::CONSISTENCY_STRONG);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  for (int i = 0; i < kMissingReads; ++i) {
    ASSERT_EQ(
        Get(ids.back() + 1000000 + i, v1::CONSISTENCY_STRONG).error_code(),
        grpc::StatusCode::NOT_FOUND);
  }

  MetricsScrape scrape = Scrape();
  EXPECT_EQ(scrape.Value("grpc_server_started_total", Rpc("CreateUser")),
            kCreates + 1);
  EXPECT_EQ(
      scrape.Value("grpc_server_handled_total", Handled("CreateUser", "OK")),
      kCreates);
  EXPECT_EQ(scrape.Value("grpc_server_handled_total",
                         Handled("CreateUser", "INVALID_ARGUMENT")),
            1);
  EXPECT_EQ(scrape.Sum("grpc_server_handled_total", Rpc("CreateUser")),
            kCreates + 1);
  EXPECT_EQ(
      scrape.Value("grpc_server_handling_seconds_count", Rpc("CreateUser")),
      kCreates + 1);

  EXPECT_EQ(scrape.Value("grpc_server_started_total", Rpc("GetUser")),
            kStrongReads + kMissingReads);
  EXPECT_EQ(scrape.Value("grpc_server_handled_total", Handled("GetUser", "OK")),
            kStrongReads);
  EXPECT_EQ(scrape.Value("grpc_server_handled_total",
                         Handled("GetUser", "NOT_FOUND")),
            kMissingReads);
  EXPECT_EQ(scrape.Sum("grpc_server_handled_total", Rpc("GetUser")),
            kStrongReads + kMissingReads);
  EXPECT_EQ(scrape.Value("grpc_server_handling_seconds_count", Rpc("GetUser")),
            kStrongReads + kMissingReads);
  // The +Inf bucket holds every call.
  MetricsScrape::Labels inf = Rpc("GetUser");
  inf["le"] = "+Inf";
  EXPECT_EQ(scrape.Value("grpc_server_handling_seconds_bucket", inf),
            kStrongReads + kMissingReads);
  EXPECT_EQ(scrape.Value("grpc_server_in_flight", Rpc("GetUser")), 0);
  EXPECT_EQ(scrape.Value("grpc_server_started_total", Rpc("ListUsers")), 0);

  // Every read was STRONG: the primary, for that reason, and nothing else.
  EXPECT_EQ(
      scrape.Value("userservice_reads_total",
                   {{"endpoint", "primary"}, {"reason", "primary_strong"}}),
      kStrongReads + kMissingReads);
  EXPECT_EQ(scrape.Sum("userservice_reads_total"),
            kStrongReads + kMissingReads);
  EXPECT_EQ(scrape.Sum("userservice_gtid_wait_total"), 0);
  EXPECT_EQ(scrape.Value("userservice_read_fallback_refused_total"), 0);
  // One create at a time: each insert carried one user.
  EXPECT_EQ(scrape.Value("userservice_create_insert_users_count"), kCreates);
  EXPECT_EQ(scrape.Value("userservice_create_insert_users_sum"), kCreates);
  EXPECT_EQ(scrape.Value("userservice_create_insert_clashes_total"), 0);

  // Pools: the primary's served every call that reached the database.
  const MetricsScrape::Labels primary = {{"endpoint", "primary"}};
  EXPECT_EQ(scrape.Value("userservice_pool_max_connections", primary), 16);
  EXPECT_GE(scrape.Value("userservice_pool_connections_opened_total", primary)
                .value_or(0),
            1);
  EXPECT_GE(scrape.Value("userservice_pool_acquire_wait_seconds_count", primary)
                .value_or(0),
            kCreates + kStrongReads + kMissingReads);
  EXPECT_EQ(scrape.Value("userservice_pool_connections",
                         {{"endpoint", "primary"}, {"state", "in_use"}}),
            0);
  EXPECT_EQ(scrape.Sum("userservice_pool_acquire_failures_total", primary), 0);
  EXPECT_EQ(scrape.Value("userservice_pool_waiters", primary), 0);

  // Replicas: one state each, and a measured lag once checked.
  for (const std::string& replica : TestCluster::Get().ReplicaNodes()) {
    EXPECT_EQ(scrape.Sum("userservice_replica_state", {{"endpoint", replica}}),
              1)
        << replica;
    EXPECT_TRUE(scrape
                    .Value("userservice_replica_ejections_total",
                           {{"endpoint", replica}})
                    .has_value());
    EXPECT_TRUE(
        scrape.Value("userservice_replica_lag_seconds", {{"endpoint", replica}})
            .has_value());
  }
  EXPECT_GT(scrape.Value("process_cpu_seconds_total").value_or(0), 0);
  EXPECT_GT(scrape.Value("process_resident_memory_bytes").value_or(0), 0);
}

// `bytes` as the request of `method` ("GetUser"), whatever they are.
grpc::Status CallWithBytes(grpc::Channel& channel, const std::string& method,
                           const std::string& bytes) {
  const std::string path = absl::StrCat("/", kUserService, "/", method);
  const grpc::internal::RpcMethod rpc(path.c_str(),
                                      grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::Slice slice(bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  auto context = ContextWithDeadline(absl::Seconds(5));
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      &channel, rpc, context.get(), request, &response);
}

// A request that does not parse is the client's mistake: INVALID_ARGUMENT
// on the async (dispatcher) and sync methods alike, counted, and never an
// INTERNAL that the error-ratio alert would page for or an error line.
TEST_F(MetricsE2eTest, RequestsThatDoNotParseAreInvalidArgumentAndCounted) {
  const std::string truncated(
      "\x0a\x05"
      "ab",
      4);                                  // field 1, 5 bytes: 2 sent
  const std::string overlong(11, '\xff');  // a varint that never ends
  // Field 1 (username) of CreateUserRequest, field 2 of GetUserRequest:
  // strings, here not UTF-8.
  const std::string bad_utf8_create("\x0a\x02\xc3\x28", 4);
  const std::string bad_utf8_get("\x12\x02\xc3\x28", 4);
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"GetUser", truncated},          {"GetUser", bad_utf8_get},
      {"BatchGetUsers", overlong},     {"CreateUser", truncated},
      {"CreateUser", bad_utf8_create}, {"UpdateUser", overlong},
      {"DeleteUser", truncated},       {"ListUsers", overlong}};
  std::map<std::string, int> sent;
  const size_t log_before = server_->process().Log().size();
  for (const auto& [method, bytes] : calls) {
    grpc::Status status = CallWithBytes(*server_->channel(), method, bytes);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method << ": " << CodeName(status.error_code()) << " "
        << status.error_message();
    EXPECT_THAT(status.error_message(),
                ::testing::HasSubstr("/" + method + " is not a valid"));
    ++sent[method];
  }
  // The server still answers well-formed calls.
  v1::GetUserRequest get;
  get.set_id(1);
  v1::GetUserResponse got;
  auto context = ContextWithDeadline(absl::Seconds(5));
  grpc::Status ok = server_->users().GetUser(context.get(), get, &got);
  EXPECT_NE(ok.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const MetricsScrape scrape = Scrape();
  for (const auto& [method, count] : sent) {
    EXPECT_EQ(
        scrape.Value("userservice_unparseable_requests_total", Rpc(method)),
        count)
        << method;
    EXPECT_EQ(scrape.Value("grpc_server_handled_total",
                           Handled(method, "INVALID_ARGUMENT")),
              count)
        << method;
  }
  EXPECT_EQ(
      scrape.Sum("grpc_server_handled_total", {{"grpc_code", "INTERNAL"}}), 0);
  const std::string log = server_->process().Log().substr(log_before);
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    EXPECT_FALSE(absl::StrContains(line, "\"level\":\"error\"")) << line;
  }
}

TEST_F(MetricsE2eTest, ASessionReadReportsItsWaitAndWhereItRan) {
  v1::CreateUserResponse created;
  grpc::Status status = Create(UniqueUsername("metrics_s_"), &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = Get(created.user().id(), v1::CONSISTENCY_SESSION,
               created.consistency_token());
  ASSERT_TRUE(status.ok()) << status.error_message();

  MetricsScrape scrape = Scrape();
  // One wait on one replica, with some outcome; then one read, on that
  // replica or (if it had not caught up) on the primary.
  EXPECT_EQ(scrape.Sum("userservice_gtid_wait_total"), 1);
  EXPECT_EQ(scrape.Sum("userservice_gtid_wait_seconds_count"), 1);
  const double on_replica =
      scrape.Sum("userservice_reads_total", {{"reason", "replica"}})
          .value_or(-1);
  const double fallback = scrape
                              .Value("userservice_reads_total",
                                     {{"endpoint", "primary"},
                                      {"reason", "primary_session_fallback"}})
                              .value_or(-1);
  EXPECT_EQ(on_replica + fallback, 1);
  EXPECT_EQ(scrape.Sum("userservice_gtid_wait_total", {{"outcome", "reached"}}),
            on_replica);
  EXPECT_EQ(scrape.Sum("userservice_reads_total"), 1);
}

TEST_F(MetricsE2eTest, EveryMetricTheAlertRulesUseIsExported) {
  const std::string path = SourceDir() + "/deploy/prometheus/alerts.yml";
  std::ifstream in(path);
  if (!in) {
    // Written by the deployment work; until it is in this tree there is
    // nothing to check (not a skip: the test checks what exists).
    std::cout << "checked 0 rules: " << path << " does not exist\n";
    return;
  }
  std::stringstream yaml;
  yaml << in.rdbuf();
  int rules = 0;
  const std::set<std::string> names = MetricNamesInRules(
      yaml.str(), {"grpc_server_", "userservice_", "process_"}, &rules);
  EXPECT_GT(rules, 0) << path << " has no rules";
  // Some traffic, so that nothing is missing only for lack of it.
  v1::CreateUserResponse created;
  ASSERT_TRUE(Create(UniqueUsername("metrics_a_"), &created).ok());
  MetricsScrape scrape = Scrape();
  std::vector<std::string> missing;
  for (const std::string& name : names) {
    if (!scrape.Has(name)) missing.push_back(name);
  }
  EXPECT_THAT(missing, ::testing::IsEmpty())
      << "used in " << path
      << " but not exported: " << absl::StrJoin(missing, ", ");
  std::cout << "checked " << rules << " rules using " << names.size()
            << " metric names: " << absl::StrJoin(names, ", ") << "\n";
}

}  // namespace
}  // namespace userservice::testing
