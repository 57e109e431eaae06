#ifndef CLIENT_BENCH_USAGE_H_
#define CLIENT_BENCH_USAGE_H_

#include <string>

namespace userbench {

// user_bench's --help text: what it does, every flag, output, exit codes.
std::string UsageText();

}  // namespace userbench

#endif  // CLIENT_BENCH_USAGE_H_
