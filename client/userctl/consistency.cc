#include "client/userctl/consistency.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

using ::userservice::v1::Consistency;

absl::StatusOr<Consistency> ParseConsistency(absl::string_view name) {
  std::string normalized = absl::StrReplaceAll(
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(name)), {{"-", "_"}});
  absl::string_view short_name = normalized;
  absl::ConsumePrefix(&short_name, "consistency_");

  struct Entry {
    absl::string_view name;
    Consistency value;
  };
  static constexpr Entry kEntries[] = {
      {"unspecified", userservice::v1::CONSISTENCY_UNSPECIFIED},
      {"eventual", userservice::v1::CONSISTENCY_EVENTUAL},
      {"bounded_staleness", userservice::v1::CONSISTENCY_BOUNDED_STALENESS},
      {"bounded", userservice::v1::CONSISTENCY_BOUNDED_STALENESS},
      {"session", userservice::v1::CONSISTENCY_SESSION},
      {"strong", userservice::v1::CONSISTENCY_STRONG},
  };
  for (const Entry& entry : kEntries) {
    if (short_name == entry.name) return entry.value;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid --consistency \"", name,
      "\": want unspecified, eventual, bounded_staleness (or bounded), "
      "session or strong"));
}

}  // namespace userctl
