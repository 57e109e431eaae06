// UpdateUser's field mask (FromProto(UpdateUserRequest) in
// server/service/user_mapper.h). The first byte says which of the user's
// username and email are valid; the rest, split at newlines, are the
// mask's paths.
//
// Invariants: no crash or undefined behaviour; a request is accepted
// exactly when every path is "username" or "email" and the fields the mask
// selects (both when it is empty) are valid, and the update carries exactly
// those fields; a rejection is INVALID_ARGUMENT, names update_mask (or the
// invalid user field) first and echoes no path and no email.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "server/service/user_mapper.h"
#include "tests/fuzz/fuzz_invariants.h"
#include "userservice/v1/user_service.pb.h"

namespace {

using userservice::fuzz::Check;

struct Expected {
  bool username = false;  // the update sets the username
  bool email = false;     // the update sets the email
  bool unknown_path = false;
};

Expected ExpectedOf(const std::vector<std::string>& paths) {
  Expected expected;
  expected.username = expected.email = paths.empty();
  for (const std::string& path : paths) {
    if (path == "username") {
      expected.username = true;
    } else if (path == "email") {
      expected.email = true;
    } else {
      expected.unknown_path = true;
    }
  }
  return expected;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool valid_username = data[0] & 1;
  const bool valid_email = data[0] & 2;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  std::vector<std::string> paths;
  if (!rest.empty()) paths = absl::StrSplit(rest, '\n');

  userservice::v1::UpdateUserRequest request;
  request.mutable_user()->set_id(7);
  request.mutable_user()->set_username(valid_username ? "ada_1815" : "a d");
  request.mutable_user()->set_email(valid_email ? "ada@example.com"
                                                : "ada at example.com");
  for (const std::string& path : paths) {
    request.mutable_update_mask()->add_paths(path);
  }

  const Expected expected = ExpectedOf(paths);
  absl::StatusOr<userservice::UserUpdate> update =
      userservice::FromProto(request);
  const bool should_pass = !expected.unknown_path &&
                           (!expected.username || valid_username) &&
                           (!expected.email || valid_email);
  Check(update.ok() == should_pass,
        "a mask is accepted exactly when its paths are known and the fields "
        "it selects are valid",
        update.status().ToString());
  if (!update.ok()) {
    userservice::fuzz::CheckRequestRejection(
        update.status(), request, [](const google::protobuf::Message& other) {
          return userservice::FromProto(
                     static_cast<const userservice::v1::UpdateUserRequest&>(
                         other))
              .status();
        });
    if (expected.unknown_path) {
      Check(userservice::fuzz::FieldPathOf(update.status().message()) ==
                "update_mask",
            "an unknown path is update_mask's fault",
            update.status().ToString());
    }
    return 0;
  }
  Check(update->username.has_value() == expected.username &&
            update->email.has_value() == expected.email,
        "the update carries exactly the fields the mask selects");
  return 0;
}
