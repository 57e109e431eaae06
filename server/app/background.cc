#include "server/app/background.h"

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "server/common/log.h"

namespace userservice {

Background::Background(EndpointSet* endpoints, const Topology* topology,
                       absl::Duration request_id_retention)
    : endpoints_(endpoints),
      topology_(topology),
      request_id_retention_(request_id_retention),
      thread_([this] { Loop(); }) {}

Background::~Background() {
  stop_.Notify();
  thread_.join();
}

void Background::Loop() {
  absl::Time next_purge = absl::Now() + absl::Minutes(1);
  while (!stop_.WaitForNotificationWithTimeout(absl::Seconds(1))) {
    endpoints_->MaintainPools();
    if (request_id_retention_ > absl::ZeroDuration() &&
        absl::Now() >= next_purge) {
      PurgeExpiredRequestIds();
      next_purge = absl::Now() + absl::Minutes(1);
    }
  }
}

// Deletes in statements of a bounded size, so that no purge holds locks or
// this thread for long; what is left goes in the next round.
void Background::PurgeExpiredRequestIds() {
  constexpr int kRowsPerStatement = 1000;
  constexpr int kStatementsPerRound = 10;
  int64_t purged = 0;
  for (int i = 0; i < kStatementsPerRound; ++i) {
    // Only the writer takes writes; with none elected, the next round.
    const int writer = topology_->writer();
    if (writer < 0) break;
    RequestContext ctx;
    ctx.deadline = absl::Now() + absl::Seconds(5);
    absl::StatusOr<int64_t> deleted =
        endpoints_->at(writer).store->PurgeCreateRequests(
            request_id_retention_, kRowsPerStatement, ctx);
    if (!deleted.ok()) {
      log::Warning("cannot purge expired request ids",
                   {{"error", std::string(deleted.status().message())}});
      break;
    }
    purged += *deleted;
    if (*deleted < kRowsPerStatement) break;
  }
  if (purged > 0) {
    log::Info("purged expired request ids",
              {{"rows", log::Number(static_cast<double>(purged))},
               {"retention", absl::FormatDuration(request_id_retention_)}});
  }
}

}  // namespace userservice
