#ifndef USERSERVICE_TESTS_FUZZ_FUZZ_INVARIANTS_H_
#define USERSERVICE_TESTS_FUZZ_FUZZ_INVARIANTS_H_

// Invariants shared by the fuzz targets. A violated one aborts, which
// libFuzzer reports as a finding and saves the input that caused it.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace userservice::fuzz {

// A token target's input: its first byte picks whether the rest is the
// whole token, or the payload of a well-formed one (`prefix` and web-safe
// base64), so that both the framing and the payload get fuzzed.
struct TokenInput {
  std::string prefix;
  bool wrap = false;
  std::string rest;

  std::string TokenOf(absl::string_view payload) const {
    return wrap ? absl::StrCat(prefix, absl::WebSafeBase64Escape(payload))
                : std::string(payload);
  }
};

// `size` must be at least 1.
inline TokenInput ReadTokenInput(const uint8_t* data, size_t size,
                                 absl::string_view prefix) {
  return {std::string(prefix), (data[0] & 1) != 0,
          std::string(reinterpret_cast<const char*>(data) + 1, size - 1)};
}

// Client strings shorter than this are not searched for in messages: every
// message contains some short client text by chance ("a", "id").
inline constexpr size_t kMinEchoLength = 8;

[[noreturn]] inline void Fail(absl::string_view invariant,
                              absl::string_view detail = "") {
  std::fprintf(stderr, "fuzz invariant violated: %.*s\n  %.*s\n",
               static_cast<int>(invariant.size()), invariant.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline void Check(bool condition, absl::string_view invariant,
                  absl::string_view detail = "") {
  if (!condition) Fail(invariant, detail);
}

// Only the validation messages' own "'@'" may hold an '@': any other one
// is a client's email (or part of it) on its way to a log or a proxy.
inline bool HasForeignAt(absl::string_view message) {
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] != '@') continue;
    if (i == 0 || i + 1 >= message.size() || message[i - 1] != '\'' ||
        message[i + 1] != '\'') {
      return true;
    }
  }
  return false;
}

// A search the fuzzer does not watch. libFuzzer records the operands of
// memcmp and friends as material for new inputs; through a library search
// it would learn the messages' wording and send it back as client text.
__attribute__((no_sanitize("coverage"))) inline bool Contains(
    absl::string_view haystack, absl::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && haystack[i + j] == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

// `text` with its letters (rot13) and digits (+5) rotated and the rest
// kept: a different text of the same length and character classes, which
// the validation rules treat alike.
inline std::string Disguise(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>('a' + (c - 'a' + 13) % 26);
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>('A' + (c - 'A' + 13) % 26);
    } else if (c >= '0' && c <= '9') {
      c = static_cast<char>('0' + (c - '0' + 5) % 10);
    }
  }
  return out;
}

// A rejection: INVALID_ARGUMENT, the message starts with `field` and ": ",
// and echoes neither an email nor any of `client_texts`.
//
// A client text found in the message may still be the message's own
// wording: the fuzzer learns field names and allowed values from the
// comparisons the code makes, and sends them. `disguised_message` runs the
// same validation on the client texts disguised: wording stays, an echo
// changes with them. Texts without letters or digits are left out: they
// hold no user data, and disguising cannot tell them from wording.
inline void CheckRejection(const absl::Status& status, absl::string_view field,
                           const std::vector<absl::string_view>& client_texts,
                           absl::FunctionRef<std::string()> disguised_message) {
  const std::string message(status.message());
  Check(status.code() == absl::StatusCode::kInvalidArgument,
        "a rejection is INVALID_ARGUMENT", status.ToString());
  Check(message.size() > field.size() + 2 &&
            absl::string_view(message).substr(0, field.size()) == field &&
            message.compare(field.size(), 2, ": ") == 0,
        "a rejection names its field first", message);
  Check(!HasForeignAt(message), "a rejection never echoes an email", message);
  std::optional<std::string> disguised;
  for (absl::string_view text : client_texts) {
    if (text.size() < kMinEchoLength || Disguise(text) == text ||
        !Contains(message, text)) {
      continue;
    }
    if (!disguised.has_value()) disguised = disguised_message();
    Check(Contains(*disguised, text), "a rejection never echoes client text",
          message);
  }
}

// The field path a rejection message starts with ("user.email",
// "read_options.consistency_tokens[3]", "key"), or empty without one.
inline absl::string_view FieldPathOf(absl::string_view message) {
  const size_t colon = message.find(": ");
  return colon == absl::string_view::npos ? absl::string_view()
                                          : message.substr(0, colon);
}

// True when `path` names a field of `type` (each step a field, a repeated
// one with or without an index, the last step possibly a oneof).
inline bool IsFieldPath(const google::protobuf::Descriptor* type,
                        absl::string_view path) {
  if (path.empty()) return false;
  const std::vector<absl::string_view> steps = absl::StrSplit(path, '.');
  for (size_t i = 0; i < steps.size(); ++i) {
    absl::string_view name = steps[i];
    const size_t bracket = name.find('[');
    if (bracket != absl::string_view::npos) name = name.substr(0, bracket);
    if (type == nullptr) return false;
    const google::protobuf::FieldDescriptor* field =
        type->FindFieldByName(std::string(name));
    if (field == nullptr) {
      return i + 1 == steps.size() && bracket == absl::string_view::npos &&
             type->FindOneofByName(std::string(name)) != nullptr;
    }
    if (bracket != absl::string_view::npos && !field->is_repeated()) {
      return false;
    }
    type = field->message_type();
  }
  return true;
}

// Every string (and bytes) value set anywhere in `message`.
inline void CollectStrings(const google::protobuf::Message& message,
                           std::vector<std::string>* out) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const bool repeated = field->is_repeated();
    const int count = repeated ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        out->push_back(repeated
                           ? reflection->GetRepeatedString(message, field, i)
                           : reflection->GetString(message, field));
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        CollectStrings(repeated
                           ? reflection->GetRepeatedMessage(message, field, i)
                           : reflection->GetMessage(message, field),
                       out);
      }
    }
  }
}

// Disguises every string set anywhere in `message`.
inline void DisguiseStrings(google::protobuf::Message* message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    const bool repeated = field->is_repeated();
    const int count = repeated ? reflection->FieldSize(*message, field) : 1;
    for (int i = 0; i < count; ++i) {
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        if (repeated) {
          reflection->SetRepeatedString(
              message, field, i,
              Disguise(reflection->GetRepeatedString(*message, field, i)));
        } else {
          reflection->SetString(
              message, field, Disguise(reflection->GetString(*message, field)));
        }
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        DisguiseStrings(
            repeated ? reflection->MutableRepeatedMessage(message, field, i)
                     : reflection->MutableMessage(message, field));
      }
    }
  }
}

// A rejection of `request` by `validate`: as CheckRejection, with the field
// a path of the request's own type and every string the client sent as
// client text.
inline void CheckRequestRejection(
    const absl::Status& status, const google::protobuf::Message& request,
    absl::FunctionRef<absl::Status(const google::protobuf::Message&)>
        validate) {
  const google::protobuf::Descriptor* type = request.GetDescriptor();
  const absl::string_view path = FieldPathOf(status.message());
  Check(IsFieldPath(type, path), "a rejection names a field of the request",
        status.ToString());
  std::vector<std::string> strings;
  CollectStrings(request, &strings);
  CheckRejection(status, path, {strings.begin(), strings.end()}, [&] {
    std::unique_ptr<google::protobuf::Message> copy(request.New());
    copy->CopyFrom(request);
    DisguiseStrings(copy.get());
    return std::string(validate(*copy).message());
  });
}

}  // namespace userservice::fuzz

#endif  // USERSERVICE_TESTS_FUZZ_FUZZ_INVARIANTS_H_
