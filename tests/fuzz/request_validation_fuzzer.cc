// The service's validation of every UserService request, on requests as
// gRPC hands them over: the first byte picks the method, the rest is the
// serialized request. Bytes that do not parse never reach the service
// (gRPC refuses them), so nothing more is done with them; a last mode gives
// the string rules (email, username, request id) raw bytes, invalid UTF-8
// included.
//
// Invariants: no crash or undefined behaviour; a rejection is
// INVALID_ARGUMENT, names a field of the request first and echoes no email
// and no string the client sent; what is accepted is what the request
// said, and obeys the documented rules.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/stubs/logging.h"
#include "server/service/consistency_token.h"
#include "server/service/page_token.h"
#include "server/service/user_mapper.h"
#include "server/service/validation.h"
#include "tests/fuzz/fuzz_invariants.h"
#include "userservice/v1/user_service.pb.h"

namespace userservice::fuzz {
namespace {

void CheckUsername(absl::string_view username) {
  Check(username.size() >= kMinUsernameLength &&
            username.size() <= kMaxUsernameLength,
        "an accepted username is 3 to 32 characters long", username);
  for (const char c : username) {
    Check(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
              c == '.' || c == '-',
          "an accepted username is [A-Za-z0-9_.-]", username);
  }
}

// Not a second implementation of the rules: the parts a client could abuse.
void CheckEmail(absl::string_view email) {
  Check(google::protobuf::internal::IsStructurallyValidUTF8(
            email.data(), static_cast<int>(email.size())),
        "an accepted email is valid UTF-8", email);
  const size_t at = email.find('@');
  Check(at != absl::string_view::npos && at > 0 && at + 1 < email.size() &&
            email.find('@', at + 1) == absl::string_view::npos,
        "an accepted email has one '@' between non-empty parts", email);
  for (const char c : email) {
    const unsigned char u = static_cast<unsigned char>(c);
    Check(u > 0x20 && u != 0x7F,
          "an accepted email has no ASCII control character or space", email);
  }
}

void CheckRequestId(absl::string_view id) {
  Check(id.size() <= kMaxRequestIdLength,
        "an accepted request_id is at most 128 characters", id);
  for (const char c : id) {
    Check(c > 0x20 && c < 0x7F, "an accepted request_id is printable ASCII",
          id);
  }
}

// What the router and the response's token rely on.
void CheckReadPolicy(const v1::ReadOptions& options, const ReadPolicy& policy) {
  const bool has_tokens = !options.consistency_token().empty() ||
                          options.consistency_tokens_size() > 0;
  Check(has_tokens || policy.min_position.empty(),
        "no token, no minimum position");
  if (has_tokens && options.consistency() == v1::CONSISTENCY_UNSPECIFIED) {
    Check(policy.consistency == ReadConsistency::kSession,
          "a token without a level asks for a session read");
  }
  if (policy.consistency == ReadConsistency::kBoundedStaleness) {
    Check(policy.max_staleness > absl::ZeroDuration(),
          "a bounded-staleness read has a positive bound");
  }
  // The merged position travels on in the response's token.
  const std::string token = EncodeConsistencyToken(policy.min_position);
  Check(token.size() <= kMaxConsistencyTokenSize,
        "the response token of a valid request is itself valid", token);
  absl::StatusOr<ReplicationPosition> again =
      DecodeConsistencyToken("consistency_token", token);
  Check(again.ok() && *again == policy.min_position,
        "the merged position round trips through a token", token);
  // Each token's position is covered by the merged one.
  std::vector<std::string> tokens(options.consistency_tokens().begin(),
                                  options.consistency_tokens().end());
  if (!options.consistency_token().empty()) {
    tokens.push_back(options.consistency_token());
  }
  for (const std::string& one : tokens) {
    absl::StatusOr<ReplicationPosition> position =
        DecodeConsistencyToken("read_options.consistency_token", one);
    Check(position.ok() && policy.min_position.Covers(*position),
          "the merged position covers every token", one);
  }
}

// What the service takes from each request once it passes validation.
struct GetUserInput {
  UserKey key;
  ReadPolicy policy;
};
struct BatchGetUsersInput {
  std::vector<uint64_t> ids;
  ReadPolicy policy;
};
struct ListUsersInput {
  int page_size = 0;
  uint64_t after_id = 0;
  ReadPolicy policy;
};

// Each request's validation, step by step as UserServiceImpl runs it.
// ListUsers and DeleteUser have no one function for it: their steps are
// copied from the handlers, and must follow them.
absl::Status Validate(const v1::CreateUserRequest& request, NewUser* out) {
  absl::StatusOr<NewUser> user = FromProto(request);
  if (!user.ok()) return user.status();
  *out = *std::move(user);
  return absl::OkStatus();
}

absl::Status Validate(const v1::GetUserRequest& request, GetUserInput* out) {
  absl::StatusOr<UserKey> key = FromProto(request);
  if (!key.ok()) return key.status();
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(request.read_options(), ReadConsistency::kEventual);
  if (!policy.ok()) return policy.status();
  *out = {*std::move(key), *std::move(policy)};
  return absl::OkStatus();
}

absl::Status Validate(const v1::BatchGetUsersRequest& request,
                      BatchGetUsersInput* out) {
  absl::StatusOr<std::vector<uint64_t>> ids = FromProto(request);
  if (!ids.ok()) return ids.status();
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(request.read_options(), ReadConsistency::kEventual);
  if (!policy.ok()) return policy.status();
  *out = {*std::move(ids), *std::move(policy)};
  return absl::OkStatus();
}

absl::Status Validate(const v1::ListUsersRequest& request,
                      ListUsersInput* out) {
  absl::StatusOr<int> page_size = EffectivePageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  out->page_size = *page_size;
  if (!request.page_token().empty()) {
    absl::StatusOr<uint64_t> after =
        DecodePageToken("page_token", request.page_token());
    if (!after.ok()) return after.status();
    out->after_id = *after;
  }
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(request.read_options(), ReadConsistency::kEventual);
  if (!policy.ok()) return policy.status();
  out->policy = *std::move(policy);
  return absl::OkStatus();
}

absl::Status Validate(const v1::UpdateUserRequest& request, UserUpdate* out) {
  absl::StatusOr<UserUpdate> update = FromProto(request);
  if (!update.ok()) return update.status();
  *out = *std::move(update);
  return absl::OkStatus();
}

absl::Status Validate(const v1::DeleteUserRequest& request, bool* out) {
  if (absl::Status s = ValidateUserId("id", request.id()); !s.ok()) return s;
  if (absl::Status s = ValidateExpectedVersion("expected_version",
                                               request.expected_version());
      !s.ok()) {
    return s;
  }
  *out = true;
  return absl::OkStatus();
}

// Parses `bytes` as a Request and validates it; true when it passed, with
// `request` and `out` filled. A rejection is checked here.
template <typename Request, typename Input>
bool Passes(absl::string_view bytes, Request* request, Input* out) {
  if (!request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return false;
  }
  const absl::Status status = Validate(*request, out);
  if (status.ok()) return true;
  CheckRequestRejection(
      status, *request, [](const google::protobuf::Message& other) {
        Input ignored;
        return Validate(static_cast<const Request&>(other), &ignored);
      });
  return false;
}

void CreateUser(absl::string_view bytes) {
  v1::CreateUserRequest request;
  NewUser user;
  if (!Passes(bytes, &request, &user)) return;
  Check(user.username == request.username() && user.email == request.email() &&
            user.request_id == request.request_id(),
        "CreateUser maps the fields unchanged");
  CheckUsername(user.username);
  CheckEmail(user.email);
  CheckRequestId(user.request_id);
}

void CheckKey(const v1::GetUserRequest& request, const UserKey& key) {
  switch (request.key_case()) {
    case v1::GetUserRequest::kId:
      Check(key.kind == UserKey::Kind::kId && key.id == request.id() &&
                key.id != 0,
            "GetUser by id reads that non-zero id");
      return;
    case v1::GetUserRequest::kUsername:
      Check(key.kind == UserKey::Kind::kUsername &&
                key.text == request.username(),
            "GetUser by username reads that username");
      CheckUsername(key.text);
      return;
    case v1::GetUserRequest::kEmail:
      Check(key.kind == UserKey::Kind::kEmail && key.text == request.email(),
            "GetUser by email reads that email");
      CheckEmail(key.text);
      return;
    case v1::GetUserRequest::KEY_NOT_SET:
      Fail("GetUser without a key is rejected");
  }
}

void GetUser(absl::string_view bytes) {
  v1::GetUserRequest request;
  GetUserInput input;
  if (!Passes(bytes, &request, &input)) return;
  CheckKey(request, input.key);
  CheckReadPolicy(request.read_options(), input.policy);
}

void BatchGetUsers(absl::string_view bytes) {
  v1::BatchGetUsersRequest request;
  BatchGetUsersInput input;
  if (!Passes(bytes, &request, &input)) return;
  Check(static_cast<int>(input.ids.size()) == request.ids_size() &&
            input.ids.size() <= kMaxBatchGetIds,
        "BatchGetUsers reads every id asked for, at most 1000");
  for (int i = 0; i < request.ids_size(); ++i) {
    Check(input.ids[i] == request.ids(i) && input.ids[i] != 0,
          "BatchGetUsers keeps the request's order, no id is 0");
  }
  CheckReadPolicy(request.read_options(), input.policy);
}

void ListUsers(absl::string_view bytes) {
  v1::ListUsersRequest request;
  ListUsersInput input;
  if (!Passes(bytes, &request, &input)) return;
  Check(input.page_size >= 1 && input.page_size <= kMaxPageSize,
        "a page holds 1 to 1000 users");
  Check(request.page_token().empty() ||
            (input.after_id != 0 &&
             EncodePageToken(input.after_id) == request.page_token()),
        "an accepted page token is Encode's own", request.page_token());
  CheckReadPolicy(request.read_options(), input.policy);
}

void UpdateUser(absl::string_view bytes) {
  v1::UpdateUserRequest request;
  UserUpdate update;
  if (!Passes(bytes, &request, &update)) return;
  Check(update.id == request.user().id() && update.id != 0 &&
            update.expected_version == request.expected_version() &&
            update.expected_version >= 0,
        "UpdateUser updates the user named, at the version named");
  Check(update.username.has_value() || update.email.has_value(),
        "an accepted update changes something");
  if (update.username.has_value()) {
    Check(*update.username == request.user().username(),
          "UpdateUser takes the username sent");
    CheckUsername(*update.username);
  }
  if (update.email.has_value()) {
    Check(*update.email == request.user().email(),
          "UpdateUser takes the email sent");
    CheckEmail(*update.email);
  }
}

void DeleteUser(absl::string_view bytes) {
  v1::DeleteUserRequest request;
  bool valid = false;
  if (!Passes(bytes, &request, &valid)) return;
  Check(request.id() != 0 && request.expected_version() >= 0,
        "DeleteUser deletes a real id at 0 or a version");
}

// The string rules on any bytes, as a transport that skips protobuf's
// UTF-8 check would pass them on.
absl::Status StringRule(uint8_t rule, absl::string_view text) {
  switch (rule % 3) {
    case 0:
      return ValidateEmail("email", text);
    case 1:
      return ValidateUsername("username", text);
    default:
      return ValidateRequestId("request_id", text);
  }
}

void StringRules(absl::string_view bytes) {
  if (bytes.empty()) return;
  const uint8_t rule = static_cast<uint8_t>(bytes[0]);
  const absl::string_view text = bytes.substr(1);
  const absl::Status status = StringRule(rule, text);
  if (status.ok()) {
    switch (rule % 3) {
      case 0:
        return CheckEmail(text);
      case 1:
        return CheckUsername(text);
      default:
        return CheckRequestId(text);
    }
  }
  CheckRejection(status, FieldPathOf(status.message()), {text}, [&] {
    return std::string(StringRule(rule, Disguise(text)).message());
  });
  Check(FieldPathOf(status.message()) == (rule % 3 == 0   ? "email"
                                          : rule % 3 == 1 ? "username"
                                                          : "request_id"),
        "a string rule names the field it was given", status.ToString());
}

}  // namespace
}  // namespace userservice::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // A request that does not parse is gRPC's to answer; protobuf's own
  // complaints about it would only flood the run's output.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace userservice::fuzz;  // NOLINT: the targets above
  if (size == 0) return 0;
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  switch (data[0] % 7) {
    case 0:
      CreateUser(bytes);
      break;
    case 1:
      GetUser(bytes);
      break;
    case 2:
      BatchGetUsers(bytes);
      break;
    case 3:
      ListUsers(bytes);
      break;
    case 4:
      UpdateUser(bytes);
      break;
    case 5:
      DeleteUser(bytes);
      break;
    default:
      StringRules(bytes);
      break;
  }
  return 0;
}
