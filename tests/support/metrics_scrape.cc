#include "tests/support/metrics_scrape.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace userservice::testing {
namespace {

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

// Reads an identifier from the front of `text`.
std::string ConsumeName(absl::string_view* text) {
  size_t n = 0;
  while (n < text->size() &&
         (n == 0 ? IsNameStart((*text)[n]) : IsNameChar((*text)[n]))) {
    ++n;
  }
  std::string name(text->substr(0, n));
  text->remove_prefix(n);
  return name;
}

// Parses `{a="x",b="y"}` from the front of `text` (which starts after '{').
bool ConsumeLabels(absl::string_view* text, MetricsScrape::Labels* labels) {
  while (true) {
    *text = absl::StripLeadingAsciiWhitespace(*text);
    if (absl::ConsumePrefix(text, "}")) return true;
    std::string name = ConsumeName(text);
    if (name.empty() || !absl::ConsumePrefix(text, "=\"")) return false;
    std::string value;
    while (true) {
      if (text->empty()) return false;
      const char c = text->front();
      text->remove_prefix(1);
      if (c == '"') break;
      if (c == '\\') {
        if (text->empty()) return false;
        const char escaped = text->front();
        text->remove_prefix(1);
        value.push_back(escaped == 'n' ? '\n' : escaped);
      } else {
        value.push_back(c);
      }
    }
    (*labels)[name] = value;
    absl::ConsumePrefix(text, ",");
  }
}

bool Includes(const MetricsScrape::Labels& all,
              const MetricsScrape::Labels& some) {
  for (const auto& [name, value] : some) {
    auto it = all.find(name);
    if (it == all.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> HttpGet(int port, const std::string& path,
                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to 127.0.0.1:", port, ": ", std::strerror(errno)));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::UnavailableError("cannot send the HTTP request");
  }
  std::string response;
  char buffer[8192];
  while (true) {
    const int wait_ms =
        static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (wait_ms <= 0) return absl::DeadlineExceededError("HTTP GET timed out");
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) continue;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0) return absl::UnavailableError("recv failed");
    if (n == 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) {
    return absl::UnavailableError("malformed HTTP response: " + response);
  }
  const std::string status_line = response.substr(0, response.find("\r\n"));
  if (!absl::StrContains(status_line, " 200 ")) {
    return absl::UnavailableError("HTTP GET " + path + ": " + status_line);
  }
  return response.substr(body + 4);
}

absl::StatusOr<MetricsScrape> MetricsScrape::Parse(absl::string_view text) {
  MetricsScrape scrape;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (absl::ConsumePrefix(&line, "#")) {
      line = absl::StripLeadingAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, "TYPE ")) {
        scrape.families_.insert(ConsumeName(&line));
      }
      continue;
    }
    const absl::string_view original = line;
    const std::string name = ConsumeName(&line);
    Sample sample;
    if (name.empty() || (absl::ConsumePrefix(&line, "{") &&
                         !ConsumeLabels(&line, &sample.labels))) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed sample line: ", original));
    }
    // The value, then an optional timestamp.
    const std::string value(absl::StripAsciiWhitespace(line).substr(
        0, absl::StripAsciiWhitespace(line).find(' ')));
    char* end = nullptr;
    sample.value = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed sample value: ", original));
    }
    scrape.samples_[name].push_back(std::move(sample));
  }
  return scrape;
}

absl::StatusOr<MetricsScrape> MetricsScrape::Fetch(int port) {
  absl::StatusOr<std::string> body = HttpGet(port, "/metrics");
  if (!body.ok()) return body.status();
  return Parse(*body);
}

std::optional<double> MetricsScrape::Value(const std::string& name,
                                           const Labels& labels) const {
  auto it = samples_.find(name);
  if (it == samples_.end()) return std::nullopt;
  for (const Sample& sample : it->second) {
    if (sample.labels == labels) return sample.value;
  }
  return std::nullopt;
}

std::optional<double> MetricsScrape::Sum(const std::string& name,
                                         const Labels& labels) const {
  auto it = samples_.find(name);
  if (it == samples_.end()) return std::nullopt;
  std::optional<double> sum;
  for (const Sample& sample : it->second) {
    if (Includes(sample.labels, labels)) sum = sum.value_or(0) + sample.value;
  }
  return sum;
}

bool MetricsScrape::Has(const std::string& name) const {
  return families_.count(name) > 0 || samples_.count(name) > 0;
}

std::set<std::string> MetricNamesInRules(
    absl::string_view yaml, const std::vector<std::string>& prefixes,
    int* rules) {
  *rules = 0;
  std::set<std::string> used;
  std::set<std::string> recorded;
  std::vector<absl::string_view> lines = absl::StrSplit(yaml, '\n');
  auto indent = [](absl::string_view line) {
    return line.size() - absl::StripLeadingAsciiWhitespace(line).size();
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = absl::StripLeadingAsciiWhitespace(lines[i]);
    absl::ConsumePrefix(&line, "- ");
    line = absl::StripLeadingAsciiWhitespace(line);
    if (absl::StartsWith(line, "alert:")) ++*rules;
    if (absl::ConsumePrefix(&line, "record:")) {
      ++*rules;
      recorded.insert(std::string(absl::StripAsciiWhitespace(line)));
    }
    if (!absl::ConsumePrefix(&line, "expr:")) continue;
    // The expression: the rest of the line, and for a block scalar
    // (`expr: |`) the lines indented deeper than `expr:`.
    std::string expr(line);
    const size_t expr_indent = indent(lines[i]);
    while (i + 1 < lines.size() &&
           (absl::StripAsciiWhitespace(lines[i + 1]).empty() ||
            indent(lines[i + 1]) > expr_indent)) {
      absl::StrAppend(&expr, " ", lines[++i]);
    }
    absl::string_view rest = expr;
    while (!rest.empty()) {
      const char c = rest.front();
      if (c == '"' || c == '\'' || c == '`') {
        // A label value or a string: skip to its closing quote.
        rest.remove_prefix(1);
        while (!rest.empty() && rest.front() != c) {
          if (rest.front() == '\\' && rest.size() > 1) rest.remove_prefix(1);
          rest.remove_prefix(1);
        }
        if (!rest.empty()) rest.remove_prefix(1);
        continue;
      }
      if (c == '#') break;  // a YAML/PromQL comment
      if (IsNameStart(c)) {
        const std::string name = ConsumeName(&rest);
        for (const std::string& prefix : prefixes) {
          if (absl::StartsWith(name, prefix)) used.insert(name);
        }
        continue;
      }
      rest.remove_prefix(1);
    }
  }
  for (const std::string& name : recorded) used.erase(name);
  return used;
}

}  // namespace userservice::testing
