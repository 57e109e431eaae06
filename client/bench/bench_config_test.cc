#include "client/bench/bench_config.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userbench {
namespace {

using ::testing::HasSubstr;
using Level = ReadConsistency::Level;

TEST(ParseWorkloadTest, AcceptsTheThreeForms) {
  EXPECT_EQ(ParseWorkload("read")->read_percent, 100);
  EXPECT_EQ(ParseWorkload("write")->read_percent, 0);
  EXPECT_EQ(ParseWorkload("mixed:95")->read_percent, 95);
  EXPECT_EQ(ParseWorkload("MIXED:0")->read_percent, 0);
}

TEST(ParseWorkloadTest, BatchIsReadsOfNIds) {
  for (const auto& [text, n] : {std::pair<const char*, int>{"batch:1", 1},
                                {"batch:50", 50},
                                {"BATCH:1000", 1000}}) {
    absl::StatusOr<Workload> workload = ParseWorkload(text);
    ASSERT_TRUE(workload.ok()) << text << ": " << workload.status();
    EXPECT_EQ(workload->batch_size, n) << text;
    EXPECT_EQ(workload->read_percent, 100) << text;
  }
  EXPECT_EQ(ParseWorkload("read")->batch_size, 0);
  EXPECT_EQ(ParseWorkload("mixed:95")->batch_size, 0);
}

TEST(ParseWorkloadTest, RejectsOthersNamingTheFlag) {
  for (const char* bad : {"", "reads", "mixed", "mixed:", "mixed:101",
                          "mixed:-1", "mixed:9x", "batch", "batch:", "batch:0",
                          "batch:1001", "batch:-5", "batch:2x", "batch:1.5"}) {
    absl::StatusOr<Workload> got = ParseWorkload(bad);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(got.status().message(), HasSubstr("--workload")) << bad;
  }
}

TEST(ParseWorkloadTest, NamesRoundTrip) {
  for (const char* name :
       {"read", "write", "mixed:95", "mixed:50", "batch:1", "batch:1000"}) {
    EXPECT_EQ(WorkloadName(*ParseWorkload(name)), name);
  }
}

TEST(ParseReadConsistencyTest, AcceptsLevelsAndBounds) {
  EXPECT_EQ(ParseReadConsistency("eventual")->level, Level::kEventual);
  EXPECT_EQ(ParseReadConsistency("session")->level, Level::kSession);
  EXPECT_EQ(ParseReadConsistency("Strong")->level, Level::kStrong);
  absl::StatusOr<ReadConsistency> bounded =
      ParseReadConsistency("bounded:250ms");
  ASSERT_TRUE(bounded.ok());
  EXPECT_EQ(bounded->level, Level::kBounded);
  EXPECT_EQ(bounded->max_staleness, absl::Milliseconds(250));
  EXPECT_EQ(ConsistencyName(*bounded), "bounded:250ms");
}

TEST(ParseReadConsistencyTest, RejectsMissingOrNonPositiveBounds) {
  for (const char* bad : {"bounded", "bounded:", "bounded:0s", "bounded:-1s",
                          "bounded:soon", "linearizable"}) {
    EXPECT_EQ(ParseReadConsistency(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ParseHostPortTest, AcceptsNamesAndBracketedIpv6) {
  absl::StatusOr<HostPort> v4 = ParseHostPort("127.0.0.1:33306");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 33306);
  absl::StatusOr<HostPort> v6 = ParseHostPort("[::1]:3306");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  for (const char* bad :
       {"", "host", ":3306", "host:0", "host:70000", "::1:3306", "[::1:3306"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(ParseHostPortListTest, SplitsOnCommas) {
  absl::StatusOr<std::vector<HostPort>> list = ParseHostPortList("a:1, b:2,");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].host, "b");
  EXPECT_TRUE(ParseHostPortList("")->empty());
  EXPECT_FALSE(ParseHostPortList("a:1,b").ok());
}

TEST(ValidateConfigTest, DefaultsAreValid) {
  EXPECT_TRUE(ValidateConfig(BenchConfig()).ok());
}

TEST(ValidateConfigTest, NamesTheOffendingFlag) {
  struct Case {
    void (*mutate)(BenchConfig&);
    const char* flag;
  };
  const Case cases[] = {
      {[](BenchConfig& c) { c.concurrency = 0; }, "--concurrency"},
      {[](BenchConfig& c) { c.channels = 0; }, "--channels"},
      {[](BenchConfig& c) { c.duration = absl::ZeroDuration(); }, "--duration"},
      {[](BenchConfig& c) { c.warmup = absl::Seconds(-1); }, "--warmup"},
      {[](BenchConfig& c) { c.timeout = absl::ZeroDuration(); }, "--timeout"},
      {[](BenchConfig& c) { c.rate = -1; }, "--rate"},
      {[](BenchConfig& c) { c.dataset = 0; }, "--dataset"},
      {[](BenchConfig& c) { c.prefix = "Bench"; }, "--prefix"},
      {[](BenchConfig& c) { c.prefix = "toolongprefix"; }, "--prefix"},
      {[](BenchConfig& c) { c.target = Target::kDirect; }, "--db-primary"},
  };
  for (const Case& c : cases) {
    BenchConfig config;
    c.mutate(config);
    absl::Status status = ValidateConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_THAT(status.message(), HasSubstr(c.flag));
  }
}

TEST(ValidateConfigTest, WritesNeedNoDataset) {
  BenchConfig config;
  config.workload.read_percent = 0;
  config.dataset = 0;
  EXPECT_TRUE(ValidateConfig(config).ok());
}

}  // namespace
}  // namespace userbench
