#include "server/observability/call_log_interceptor.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "server/observability/request_id.h"

namespace userservice::observability {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr char kHealthPrefix[] = "/grpc.health.v1.Health/";

class CallLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallLogInterceptor(grpc::experimental::ServerRpcInfo* info,
                     const CallLogOptions* options,
                     std::atomic<uint64_t>* ok_calls, LineLimiter* failures)
      : info_(info),
        options_(options),
        ok_calls_(ok_calls),
        failures_(failures),
        start_ns_(absl::GetCurrentTimeNanos()) {}

  // A call that ended without a status passing through here (the server
  // shut down under it) still gets its line.
  ~CallLogInterceptor() override {
    // The ServerContext is being destroyed: no peer().
    if (!logged_ && request_id_settled_) {
      LogCall("NONE", /*ok=*/false, /*with_peer=*/false);
    }
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      SettleRequestId(methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      std::multimap<std::string, std::string>* metadata =
          methods->GetSendInitialMetadata();
      if (request_id_.empty()) request_id_ = NewRequestId();
      metadata->emplace(kRequestIdMetadataKey, request_id_);
      const auto it = metadata->find(options_->endpoint_metadata_key);
      if (it != metadata->end()) endpoint_ = it->second;
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      // gRPC's codes are Abseil's, number for number.
      LogCall(absl::StatusCodeToString(
                  static_cast<absl::StatusCode>(status.error_code())),
              status.ok(), /*with_peer=*/true);
    }
    methods->Proceed();
  }

 private:
  // Keeps a valid id from the caller or makes one, and leaves it in the
  // call's client metadata (which is what the handler's
  // ServerContext::client_metadata() reads), so RequestIdOf() finds it.
  void SettleRequestId(
      std::multimap<grpc::string_ref, grpc::string_ref>* metadata) {
    request_id_settled_ = true;
    auto range = metadata->equal_range(kRequestIdMetadataKey);
    for (auto it = range.first; it != range.second; ++it) {
      const absl::string_view sent(it->second.data(), it->second.size());
      if (IsValidRequestId(sent)) {
        request_id_ = std::string(sent);
        break;
      }
    }
    if (request_id_.empty()) request_id_ = NewRequestId();
    metadata->erase(range.first, range.second);
    // The map holds references: request_id_ lives as long as this
    // interceptor, which the call's ServerContext owns.
    metadata->emplace(kRequestIdMetadataKey, request_id_);
  }

  void LogCall(const std::string& code, bool ok, bool with_peer) {
    logged_ = true;
    if (!options_->enabled) return;
    const absl::string_view method = info_->method();
    const log::Level level = absl::StartsWith(method, kHealthPrefix)
                                 ? log::Level::kDebug
                                 : options_->level;
    // Everything below costs something; a disabled level costs nothing.
    if (!log::Enabled(level)) return;
    if (ok && options_->sample_ok_every > 1 &&
        ok_calls_->fetch_add(1, std::memory_order_relaxed) %
                options_->sample_ok_every !=
            0) {
      return;
    }
    // Failures are always logged, but not thousands of identical ones per
    // second during an outage.
    std::optional<int64_t> left_out = 0;
    if (!ok) {
      left_out = failures_->Admit(absl::StrCat(method, " ", code));
      if (!left_out.has_value()) return;
    }
    const double duration_ms =
        static_cast<double>(absl::GetCurrentTimeNanos() - start_ns_) / 1e6;
    const std::string peer =
        with_peer ? info_->server_context()->peer() : std::string();
    std::vector<log::Field> fields = {
        {"request_id", request_id_},
        {"method", method},
        {"peer", peer},
        {"grpc_code", code},
        {"duration_ms", log::Number(duration_ms)}};
    if (!endpoint_.empty()) fields.emplace_back("endpoint", endpoint_);
    AddLeftOut(*left_out, fields);
    log::Write(level, "rpc", fields);
  }

  grpc::experimental::ServerRpcInfo* const info_;
  const CallLogOptions* const options_;
  std::atomic<uint64_t>* const ok_calls_;
  LineLimiter* const failures_;
  const int64_t start_ns_;
  std::string request_id_;
  std::string endpoint_;
  bool request_id_settled_ = false;
  bool logged_ = false;
};

}  // namespace

absl::StatusOr<CallLogOptions> ParseAccessLogLevel(absl::string_view text) {
  CallLogOptions options;
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "off") {
    options.enabled = false;
  } else if (lower == "debug") {
    options.level = log::Level::kDebug;
  } else if (lower == "info") {
    options.level = log::Level::kInfo;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--access-log-level: \"", text, "\" is not one of off, debug, info"));
  }
  return options;
}

CallLogInterceptorFactory::CallLogInterceptorFactory(CallLogOptions options)
    : options_(std::move(options)),
      failures_(options_.failure_lines_per_second) {}

grpc::experimental::Interceptor*
CallLogInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallLogInterceptor(info, &options_, &ok_calls_, &failures_);
}

}  // namespace userservice::observability
