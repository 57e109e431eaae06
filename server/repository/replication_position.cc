#include "server/repository/replication_position.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace userservice {
namespace {

// Digits only: SimpleAtoi would also take signs and surrounding spaces.
template <typename Int>
bool ParseNumber(absl::string_view text, Int* out) {
  uint64_t value = 0;
  if (text.empty() || text.size() > 20 ||
      !std::all_of(text.begin(), text.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(text, &value) ||
      value > std::numeric_limits<Int>::max()) {
    return false;
  }
  *out = static_cast<Int>(value);
  return true;
}

bool ParseGtid(absl::string_view text, ReplicationPosition::Gtid* gtid) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  return parts.size() == 3 && ParseNumber(parts[0], &gtid->domain) &&
         ParseNumber(parts[1], &gtid->server_id) &&
         ParseNumber(parts[2], &gtid->sequence);
}

bool ByDomain(const ReplicationPosition::Gtid& a,
              const ReplicationPosition::Gtid& b) {
  return a.domain < b.domain;
}

}  // namespace

absl::StatusOr<ReplicationPosition> ReplicationPosition::Parse(
    absl::string_view gtids) {
  ReplicationPosition position;
  if (absl::StripAsciiWhitespace(gtids).empty()) return position;
  for (absl::string_view entry : absl::StrSplit(gtids, ',')) {
    Gtid gtid;
    if (!ParseGtid(absl::StripAsciiWhitespace(entry), &gtid)) {
      return absl::InvalidArgumentError(
          "not a GTID list (domain-server-sequence, comma-separated)");
    }
    position.gtids_.push_back(gtid);
  }
  std::sort(position.gtids_.begin(), position.gtids_.end(), ByDomain);
  for (size_t i = 1; i < position.gtids_.size(); ++i) {
    if (position.gtids_[i].domain == position.gtids_[i - 1].domain) {
      return absl::InvalidArgumentError(absl::StrCat(
          "GTID list names domain ", position.gtids_[i].domain, " twice"));
    }
  }
  return position;
}

std::string ReplicationPosition::ToString() const {
  return absl::StrJoin(gtids_, ",", [](std::string* out, const Gtid& gtid) {
    absl::StrAppend(out, gtid.domain, "-", gtid.server_id, "-", gtid.sequence);
  });
}

void ReplicationPosition::Merge(const ReplicationPosition& other) {
  std::vector<Gtid> merged;
  merged.reserve(gtids_.size() + other.gtids_.size());
  auto mine = gtids_.begin();
  auto theirs = other.gtids_.begin();
  while (mine != gtids_.end() || theirs != other.gtids_.end()) {
    if (theirs == other.gtids_.end() ||
        (mine != gtids_.end() && mine->domain < theirs->domain)) {
      merged.push_back(*mine++);
    } else if (mine == gtids_.end() || theirs->domain < mine->domain) {
      merged.push_back(*theirs++);
    } else {
      merged.push_back(theirs->sequence > mine->sequence ? *theirs : *mine);
      ++mine;
      ++theirs;
    }
  }
  gtids_ = std::move(merged);
}

bool ReplicationPosition::Covers(const ReplicationPosition& other) const {
  auto mine = gtids_.begin();
  for (const Gtid& wanted : other.gtids_) {
    mine = std::lower_bound(mine, gtids_.end(), wanted, ByDomain);
    if (mine == gtids_.end() || mine->domain != wanted.domain ||
        mine->sequence < wanted.sequence) {
      return false;
    }
  }
  return true;
}

}  // namespace userservice
