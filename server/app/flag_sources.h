#ifndef USERSERVICE_SERVER_APP_FLAG_SOURCES_H_
#define USERSERVICE_SERVER_APP_FLAG_SOURCES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/common/flag_names.h"  // NormalizeFlagNames

// Command-line conventions on top of Abseil flags, for the server's flags
// (those defined in the file `defining_file`):
//  * Flags are spelled with dashes (--db-name); Abseil's underscore names
//    (--db_name) are accepted too.
//  * Every flag can come from an environment variable: USER_SERVICE_ plus
//    the name in upper case (USER_SERVICE_DB_NAME). The command line wins.
//  * --help lists exactly these flags with their variables and defaults.
namespace userservice {

// The environment variable for a flag, e.g. "USER_SERVICE_DB_NAME".
std::string EnvVarForFlag(absl::string_view env_prefix,
                          absl::string_view flag_name);

// Sets every flag defined in `defining_file` whose variable is set. An
// unparsable value fails with a message naming the variable.
absl::Status ApplyEnvironment(absl::string_view defining_file,
                              absl::string_view env_prefix);

// The --help text: usage line, then every flag of `defining_file` sorted by
// name, spelled with dashes, with its variable, default and help.
std::string HelpText(absl::string_view program, absl::string_view summary,
                     absl::string_view defining_file,
                     absl::string_view env_prefix);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_FLAG_SOURCES_H_
