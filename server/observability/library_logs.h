#ifndef USERSERVICE_SERVER_OBSERVABILITY_LIBRARY_LOGS_H_
#define USERSERVICE_SERVER_OBSERVABILITY_LIBRARY_LOGS_H_

#include <string>

#include "server/common/log.h"

namespace userservice::observability {

// gRPC (gpr_log) and protobuf write their own plain-text lines to stderr
// ("E1124 01:02:03.456 ... file.cc:12] ..."), which would break the
// one-JSON-object-per-line stream. This sends them through log::Write, with
// the library and source location as fields. Call once, early in main,
// before any gRPC object exists.
void RouteLibraryLogs();

// Library lines a client can cause (one per malformed request) must not
// flood the log: at most `lines_per_second` lines per source location in
// each second, the next one written counting those left out; 0 or less: no
// limit. Until this is called the limit is 20. Call once, after the flags
// are read.
void LimitLibraryLogs(int lines_per_second);

// The level a protobuf line of `severity` is written at: its parser's
// complaints about the bytes it was given (a request that does not parse)
// are the client's mistake, a warning; the rest keep their severity.
log::Level ProtobufLineLevel(int severity, const std::string& message);

}  // namespace userservice::observability

#endif  // USERSERVICE_SERVER_OBSERVABILITY_LIBRARY_LOGS_H_
