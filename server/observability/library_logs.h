#ifndef USERSERVICE_SERVER_OBSERVABILITY_LIBRARY_LOGS_H_
#define USERSERVICE_SERVER_OBSERVABILITY_LIBRARY_LOGS_H_

namespace userservice::observability {

// gRPC (gpr_log) and protobuf write their own plain-text lines to stderr
// ("E1124 01:02:03.456 ... file.cc:12] ..."), which would break the
// one-JSON-object-per-line stream. This sends them through log::Write, with
// the library and source location as fields. Call once, early in main,
// before any gRPC object exists.
void RouteLibraryLogs();

}  // namespace userservice::observability

#endif  // USERSERVICE_SERVER_OBSERVABILITY_LIBRARY_LOGS_H_
