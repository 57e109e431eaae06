#include "tests/support/metrics_scrape.h"

#include <cmath>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace userservice::testing {
namespace {

TEST(MetricsScrapeTest, ParsesSamplesLabelsAndSpecialValues) {
  absl::StatusOr<MetricsScrape> scrape =
      MetricsScrape::Parse(R"(# HELP a_total Things.
# TYPE a_total counter
a_total{kind="x",note="say \"hi\"\\"} 3
a_total{kind="y"} 4.5 1700000000000
# TYPE lag_seconds gauge
lag_seconds NaN
h_seconds_bucket{le="+Inf"} 7
)");
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_EQ(scrape->Value("a_total", {{"kind", "x"}, {"note", "say \"hi\"\\"}}),
            3);
  EXPECT_EQ(scrape->Value("a_total", {{"kind", "y"}}), 4.5);
  EXPECT_FALSE(scrape->Value("a_total", {{"kind", "z"}}).has_value());
  EXPECT_EQ(scrape->Sum("a_total"), 7.5);
  EXPECT_EQ(scrape->Sum("a_total", {{"kind", "y"}}), 4.5);
  EXPECT_FALSE(scrape->Sum("a_total", {{"kind", "z"}}).has_value());
  EXPECT_TRUE(std::isnan(*scrape->Value("lag_seconds")));
  EXPECT_EQ(scrape->Value("h_seconds_bucket", {{"le", "+Inf"}}), 7);
  EXPECT_TRUE(scrape->Has("lag_seconds"));
  EXPECT_TRUE(scrape->Has("h_seconds_bucket"));
  EXPECT_FALSE(scrape->Has("h_seconds"));
}

TEST(MetricsScrapeTest, RejectsMalformedLines) {
  EXPECT_FALSE(MetricsScrape::Parse("a_total{kind=\"x} 3\n").ok());
  EXPECT_FALSE(MetricsScrape::Parse("a_total three\n").ok());
  EXPECT_FALSE(MetricsScrape::Parse("{x=\"1\"} 3\n").ok());
}

TEST(MetricsScrapeTest, FindsTheMetricNamesOfRules) {
  int rules = 0;
  const std::set<std::string> names =
      MetricNamesInRules(R"(groups:
  - name: userservice
    rules:
      - record: userservice:error_ratio
        expr: sum(rate(grpc_server_handled_total{grpc_code!="OK"}[5m]))
      - alert: Slow
        expr: |
          histogram_quantile(0.99,
            sum by (le) (rate(grpc_server_handling_seconds_bucket[5m]))) > 0.5
          and userservice:error_ratio > 0
        for: 5m
        labels:
          severity: page
      - alert: Fallbacks
        expr: rate(userservice_reads_total{reason="userservice_not_a_metric"}[5m]) > 1  # trailing
        annotations:
          summary: "process_not_a_metric in text"
)",
                         {"grpc_server_", "userservice_", "process_"}, &rules);
  EXPECT_EQ(rules, 3);
  EXPECT_EQ(names, (std::set<std::string>{"grpc_server_handled_total",
                                          "grpc_server_handling_seconds_bucket",
                                          "userservice_reads_total"}));
}

}  // namespace
}  // namespace userservice::testing
