#include "server/observability/library_logs.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "server/common/log.h"

namespace userservice::observability {
namespace {

void GrpcLog(gpr_log_func_args* args) {
  log::Level level = log::Level::kError;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = log::Level::kDebug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = log::Level::kInfo;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      level = log::Level::kError;
      break;
  }
  log::Write(level, args->message == nullptr ? "" : args->message,
             {{"library", "grpc"},
              {"source", absl::StrCat(args->file == nullptr ? "" : args->file,
                                      ":", args->line)}});
}

void ProtobufLog(google::protobuf::LogLevel severity, const char* file,
                 int line, const std::string& message) {
  log::Level level = log::Level::kError;
  switch (severity) {
    case google::protobuf::LOGLEVEL_INFO:
      level = log::Level::kInfo;
      break;
    case google::protobuf::LOGLEVEL_WARNING:
      level = log::Level::kWarning;
      break;
    default:
      level = log::Level::kError;
      break;
  }
  log::Write(
      level, message,
      {{"library", "protobuf"},
       {"source", absl::StrCat(file == nullptr ? "" : file, ":", line)}});
}

}  // namespace

void RouteLibraryLogs() {
  gpr_set_log_function(GrpcLog);
  google::protobuf::SetLogHandler(ProtobufLog);
}

}  // namespace userservice::observability
