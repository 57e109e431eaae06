#include "client/bench/report.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userbench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RunReport MixedReport() {
  RunReport report;
  report.config.workload.read_percent = 95;
  report.measured_seconds = 2;
  for (int i = 1; i <= 100; ++i) report.stats.read.latency.Record(i * 10'000);
  report.stats.read.ok = 99;
  report.stats.read.errors["NOT_FOUND"] = 1;
  report.stats.write.latency.Record(2'000'000);
  report.stats.write.ok = 1;
  report.process = ProcessWindow{77, 2020, 51200};
  report.client = ProcessWindow{88, 1010, 1024};
  return report;
}

TEST(ReportTest, TableHasARowPerKindAndTheErrors) {
  const std::string table = FormatTable(MixedReport());
  EXPECT_THAT(table, HasSubstr("service localhost:50051 (4 channels)"));
  EXPECT_THAT(table, HasSubstr("mixed:95"));
  EXPECT_THAT(table, HasSubstr("\nread "));
  EXPECT_THAT(table, HasSubstr("\nwrite "));
  EXPECT_THAT(table, HasSubstr("\nall "));
  EXPECT_THAT(table, HasSubstr("errors: NOT_FOUND 1"));
  // 2020 us over 101 calls.
  EXPECT_THAT(table, HasSubstr("process 77: 20.0 us CPU per call"));
  EXPECT_THAT(table, HasSubstr("peak RSS 50.0 MiB"));
  EXPECT_THAT(table, HasSubstr("user_bench: 10.0 us CPU per call"));
}

TEST(ReportTest, ReadOnlyTableHasNoAllRow) {
  RunReport report = MixedReport();
  report.config.workload.read_percent = 100;
  EXPECT_THAT(FormatTable(report), Not(HasSubstr("\nall ")));
  EXPECT_THAT(FormatTable(report), Not(HasSubstr("\nwrite ")));
}

TEST(ReportTest, JsonCarriesThroughputPercentilesAndErrors) {
  const std::string json = FormatJson(MixedReport());
  EXPECT_THAT(json, HasSubstr("\"target\": \"service\""));
  EXPECT_THAT(json, HasSubstr("\"workload\": \"mixed:95\""));
  // 99 successful reads in 2 s.
  EXPECT_THAT(json, HasSubstr("\"throughput\": 49.5"));
  EXPECT_THAT(json, HasSubstr("\"errors\": {\"NOT_FOUND\": 1}"));
  EXPECT_THAT(json, HasSubstr("\"p99\": "));
  EXPECT_THAT(json, HasSubstr("\"p99.9\": "));
  EXPECT_THAT(json, HasSubstr("\"cpu_us_per_call\": 20.00"));
  EXPECT_THAT(json, HasSubstr("\"client\": {\"pid\": 88"));
  EXPECT_THAT(json, HasSubstr("\"total\": {\"calls\": 101, \"ok\": 100"));
}

TEST(ReportTest, BatchReportsUsersPerSecond) {
  RunReport report = MixedReport();
  report.config.workload = Workload{100, 20};
  // 99 successful calls of 20 ids in 2 s.
  const std::string table = FormatTable(report);
  EXPECT_THAT(table, HasSubstr("workload batch:20,"));
  EXPECT_THAT(table, HasSubstr("\nbatch: 20 ids per call, 990.0 users/s\n"));
  const std::string json = FormatJson(report);
  EXPECT_THAT(json, HasSubstr("\"workload\": \"batch:20\""));
  EXPECT_THAT(json, HasSubstr("\"throughput\": 49.5"));
  EXPECT_THAT(json, HasSubstr("\"batch_size\": 20,\n"));
  EXPECT_THAT(json, HasSubstr("\"users_per_s\": 990.0,\n"));
  EXPECT_THAT(FormatJson(MixedReport()), Not(HasSubstr("users_per_s")));
}

}  // namespace
}  // namespace userbench
