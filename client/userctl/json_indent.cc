#include "client/userctl/json_indent.h"

#include <string>

#include "absl/strings/string_view.h"

namespace userctl {

std::string IndentJson(absl::string_view json) {
  constexpr absl::string_view kWhitespace = " \t\r\n";
  std::string out;
  out.reserve(json.size() * 2);
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  auto new_line = [&] {
    out += '\n';
    out.append(2 * depth, ' ');
  };

  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[': {
        const char close = c == '{' ? '}' : ']';
        const size_t next = json.find_first_not_of(kWhitespace, i + 1);
        out += c;
        if (next != absl::string_view::npos && json[next] == close) {
          out += close;
          i = next;
        } else {
          ++depth;
          new_line();
        }
        break;
      }
      case '}':
      case ']':
        --depth;
        new_line();
        out += c;
        break;
      case ',':
        out += c;
        new_line();
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\t':
      case '\r':
      case '\n':
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace userctl
