#ifndef CLIENT_USERCTL_JSON_INDENT_H_
#define CLIENT_USERCTL_JSON_INDENT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace userctl {

// Re-indents a valid JSON document with 2 spaces per level, one member or
// element per line and "key": value spacing, like `jq .`; empty objects and
// arrays stay "{}" and "[]". No trailing newline. userctl composes some
// documents from protobuf's compact JSON, so it indents them itself to look
// the same whichever way they were built.
std::string IndentJson(absl::string_view json);

}  // namespace userctl

#endif  // CLIENT_USERCTL_JSON_INDENT_H_
