#include "server/service/validation.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace userservice {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// Decodes one UTF-8 code point at `text[*pos]`, advancing *pos. False on a
// malformed, overlong or surrogate sequence.
bool NextCodePoint(absl::string_view text, size_t* pos, uint32_t* cp) {
  const auto byte = [&](size_t i) {
    return static_cast<unsigned char>(text[i]);
  };
  const unsigned char lead = byte(*pos);
  int extra;
  uint32_t min;
  if (lead < 0x80) {
    *cp = lead;
    ++*pos;
    return true;
  } else if ((lead & 0xE0) == 0xC0) {
    extra = 1, *cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2, *cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3, *cp = lead & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (*pos + extra >= text.size()) return false;  // truncated sequence
  for (int i = 1; i <= extra; ++i) {
    const unsigned char c = byte(*pos + i);
    if ((c & 0xC0) != 0x80) return false;
    *cp = (*cp << 6) | (c & 0x3F);
  }
  *pos += extra + 1;
  return *cp >= min && *cp <= 0x10FFFF && !(*cp >= 0xD800 && *cp <= 0xDFFF);
}

bool IsControl(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Unicode White_Space plus the zero-width and byte-order marks that render
// as nothing and make look-alike addresses.
bool IsSpaceLike(uint32_t cp) {
  switch (cp) {
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x180E:
    case 0x200B:
    case 0x200C:
    case 0x200D:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x2060:
    case 0x3000:
    case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace

absl::Status ValidateUsername(absl::string_view field,
                              absl::string_view username) {
  if (username.empty()) return Invalid(field, "is required");
  if (username.size() < kMinUsernameLength ||
      username.size() > kMaxUsernameLength) {
    return Invalid(
        field,
        absl::StrCat("must be ", kMinUsernameLength, " to ", kMaxUsernameLength,
                     " characters long, got ", username.size()));
  }
  for (char c : username) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '.' && c != '-') {
      return Invalid(field,
                     "may contain only letters A-Z and a-z, digits, '_', "
                     "'.' and '-'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEmail(absl::string_view field, absl::string_view email) {
  if (email.empty()) return Invalid(field, "is required");
  size_t pos = 0;
  int code_points = 0;
  int ats = 0;
  while (pos < email.size()) {
    uint32_t cp;
    if (!NextCodePoint(email, &pos, &cp)) {
      return Invalid(field, "is not valid UTF-8");
    }
    ++code_points;
    if (IsControl(cp))
      return Invalid(field, "must not contain control characters");
    if (IsSpaceLike(cp)) return Invalid(field, "must not contain whitespace");
    if (cp == '@') ++ats;
  }
  if (code_points > kMaxEmailLength) {
    return Invalid(field, absl::StrCat("must be at most ", kMaxEmailLength,
                                       " characters long, got ", code_points));
  }
  if (ats != 1) {
    return Invalid(field, "must contain exactly one '@'");
  }
  const size_t at = email.find('@');
  if (at == 0) return Invalid(field, "needs a local part before the '@'");
  if (at == email.size() - 1) {
    return Invalid(field, "needs a domain after the '@'");
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view field,
                               absl::string_view request_id) {
  if (request_id.size() > kMaxRequestIdLength) {
    return Invalid(field,
                   absl::StrCat("must be at most ", kMaxRequestIdLength,
                                " characters long, got ", request_id.size()));
  }
  for (char c : request_id) {
    if (c <= 0x20 || c >= 0x7F) {
      return Invalid(field,
                     "may contain only printable ASCII characters without "
                     "spaces (a UUID is a good choice)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateUserId(absl::string_view field, uint64_t id) {
  if (id == 0) return Invalid(field, "must be a non-zero user id");
  return absl::OkStatus();
}

absl::Status ValidateExpectedVersion(absl::string_view field,
                                     int64_t expected_version) {
  if (expected_version < 0) {
    return Invalid(field, "must be 0 (unconditional) or a version");
  }
  return absl::OkStatus();
}

}  // namespace userservice
