#ifndef CLIENT_BENCH_USAGE_H_
#define CLIENT_BENCH_USAGE_H_

#include <string>

namespace userbench {

// What user_bench's --help prints before the flags: usage line and what
// the program does.
std::string UsageIntro();

// What --help prints after the flags: exit codes.
std::string UsageEpilogue();

}  // namespace userbench

#endif  // CLIENT_BENCH_USAGE_H_
