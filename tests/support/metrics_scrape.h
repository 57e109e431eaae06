#ifndef USERSERVICE_TESTS_SUPPORT_METRICS_SCRAPE_H_
#define USERSERVICE_TESTS_SUPPORT_METRICS_SCRAPE_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace userservice::testing {

// The body of GET http://127.0.0.1:`port``path`, over a plain socket
// (HTTP/1.0, so the server closes the connection after the response).
// Fails unless the status is 200.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path,
                                    absl::Duration timeout = absl::Seconds(5));

// A parsed Prometheus text-format scrape.
class MetricsScrape {
 public:
  using Labels = std::map<std::string, std::string>;

  // Fails on a line that is not a comment or a well-formed sample.
  static absl::StatusOr<MetricsScrape> Parse(absl::string_view text);
  // GET /metrics on 127.0.0.1:`port`, parsed.
  static absl::StatusOr<MetricsScrape> Fetch(int port);

  // The sample `name` (as written: histograms have name_count, name_sum,
  // name_bucket) with exactly `labels`; nullopt if there is none.
  std::optional<double> Value(const std::string& name,
                              const Labels& labels = {}) const;
  // Sum over the samples `name` whose labels include `labels`; nullopt if
  // none matches.
  std::optional<double> Sum(const std::string& name,
                            const Labels& labels = {}) const;
  // Whether `name` is a metric family (declared by # TYPE) or a sample name
  // in the scrape.
  bool Has(const std::string& name) const;

  const std::set<std::string>& families() const { return families_; }

 private:
  struct Sample {
    Labels labels;
    double value;
  };
  std::map<std::string, std::vector<Sample>> samples_;
  std::set<std::string> families_;
};

// Metric names used in the `expr:` of the rules in a Prometheus rules file
// (such as deploy/prometheus/alerts.yml): identifiers with one of
// `prefixes`, outside quoted strings, that no `record:` rule of the file
// defines. `*rules` is set to the number of alert and record rules.
std::set<std::string> MetricNamesInRules(
    absl::string_view yaml, const std::vector<std::string>& prefixes,
    int* rules);

}  // namespace userservice::testing

#endif  // USERSERVICE_TESTS_SUPPORT_METRICS_SCRAPE_H_
