// The GTID list parser every consistency token carries
// (ReplicationPosition in server/repository/replication_position.h). The
// input is two lists separated by the first '|'.
//
// Invariants: no crash or undefined behaviour; a parsed list is canonical
// after ToString (ascending, one entry per domain) and parses back to
// itself; a rejection is INVALID_ARGUMENT and does not echo the list;
// Merge covers both sides, agrees with Covers, and is commutative and
// idempotent by (domain, sequence); a position's token decodes to it.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/repository/replication_position.h"
#include "server/service/consistency_token.h"
#include "tests/fuzz/fuzz_invariants.h"

namespace {

using userservice::ReplicationPosition;
using userservice::fuzz::Check;

// (domain, sequence) pairs: what Covers and MASTER_GTID_WAIT compare.
std::string Sequences(const ReplicationPosition& position) {
  std::string out;
  for (const ReplicationPosition::Gtid& gtid : position.gtids()) {
    absl::StrAppend(&out, gtid.domain, ":", gtid.sequence, ",");
  }
  return out;
}

void CheckParsed(const ReplicationPosition& position) {
  const std::string text = position.ToString();
  absl::StatusOr<ReplicationPosition> again = ReplicationPosition::Parse(text);
  Check(again.ok() && *again == position && again->ToString() == text,
        "a position parses back from its ToString", text);
  Check(position.empty() == position.gtids().empty(), "empty() means no GTID",
        text);
  for (size_t i = 1; i < position.gtids().size(); ++i) {
    Check(position.gtids()[i - 1].domain < position.gtids()[i].domain,
          "GTIDs are ascending by domain, one per domain", text);
  }
  Check(position.Covers(position), "a position covers itself", text);
  Check(position.Covers(ReplicationPosition()),
        "a position covers the empty one", text);

  const std::string token = userservice::EncodeConsistencyToken(position);
  if (token.size() <= userservice::kMaxConsistencyTokenSize) {
    absl::StatusOr<ReplicationPosition> decoded =
        userservice::DecodeConsistencyToken("consistency_token", token);
    Check(decoded.ok() && *decoded == position,
          "a position's token decodes to it", token);
  }
}

// Covers, spelled out: every domain of `b` at or below `a`'s sequence.
bool CoversByHand(const ReplicationPosition& a, const ReplicationPosition& b) {
  for (const ReplicationPosition::Gtid& wanted : b.gtids()) {
    bool found = false;
    for (const ReplicationPosition::Gtid& have : a.gtids()) {
      if (have.domain == wanted.domain && have.sequence >= wanted.sequence) {
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

void CheckMerge(const ReplicationPosition& a, const ReplicationPosition& b) {
  ReplicationPosition ab = a;
  ab.Merge(b);
  ReplicationPosition ba = b;
  ba.Merge(a);
  ReplicationPosition aa = a;
  aa.Merge(a);
  CheckParsed(ab);
  Check(ab.Covers(a) && ab.Covers(b), "a merge covers both sides",
        ab.ToString());
  Check(Sequences(ab) == Sequences(ba), "Merge is commutative",
        absl::StrCat(ab.ToString(), " vs ", ba.ToString()));
  Check(aa == a, "Merge is idempotent", a.ToString());
  Check(a.Covers(b) == CoversByHand(a, b) && b.Covers(a) == CoversByHand(b, a),
        "Covers compares per domain by sequence",
        absl::StrCat(a.ToString(), " / ", b.ToString()));
  Check(a.Covers(b) == (Sequences(ab) == Sequences(a)),
        "a covers b exactly when merging b changes no sequence of a",
        absl::StrCat(a.ToString(), " / ", b.ToString()));
}

absl::StatusOr<ReplicationPosition> ParseChecked(absl::string_view text) {
  absl::StatusOr<ReplicationPosition> position =
      ReplicationPosition::Parse(text);
  if (position.ok()) {
    CheckParsed(*position);
  } else {
    Check(position.status().code() == absl::StatusCode::kInvalidArgument,
          "a rejected list is INVALID_ARGUMENT", position.status().ToString());
    // As fuzz::CheckRejection: wording stays when the list is disguised.
    const absl::string_view message = position.status().message();
    const std::string disguised = userservice::fuzz::Disguise(text);
    if (text.size() >= userservice::fuzz::kMinEchoLength && disguised != text &&
        userservice::fuzz::Contains(message, text)) {
      Check(userservice::fuzz::Contains(
                ReplicationPosition::Parse(disguised).status().message(), text),
            "a rejection does not echo the list", message);
    }
  }
  return position;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t bar = input.find('|');
  const absl::string_view first = input.substr(0, bar);
  const absl::string_view second = bar == absl::string_view::npos
                                       ? absl::string_view()
                                       : input.substr(bar + 1);
  absl::StatusOr<ReplicationPosition> a = ParseChecked(first);
  absl::StatusOr<ReplicationPosition> b = ParseChecked(second);
  if (a.ok() && b.ok()) CheckMerge(*a, *b);
  return 0;
}
