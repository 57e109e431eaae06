#ifndef USERSERVICE_SERVER_HEALTH_LAG_LEDGER_H_
#define USERSERVICE_SERVER_HEALTH_LAG_LEDGER_H_

#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace userservice {

// Replication lag from heartbeats, measured with one clock.
//
// This server writes its own heartbeat row on the primary every few hundred
// milliseconds, stamped with its own clock, and remembers each stamp it
// wrote successfully. A replica's copy of the row says which heartbeat it
// has applied. Its lag is the age of the oldest heartbeat it has NOT
// applied: every transaction committed before that one's predecessor is
// visible on the replica. If it has applied the newest heartbeat it is
// current (lag zero) - also while the primary is down and nothing new can
// commit, which `Seconds_Behind_Master` or "now - last heartbeat" would both
// get wrong. No clock of another host is involved, so clock skew between the
// service and the databases cannot distort the figure.
class LagLedger {
 public:
  // How far back written stamps are remembered; a replica further behind
  // is reported as at least this far behind.
  explicit LagLedger(absl::Duration memory = absl::Minutes(10));

  // A heartbeat stamped `stamp` was committed on the primary.
  void RecordWrite(absl::Time stamp);

  // The lag of a replica whose heartbeat row carries `applied_stamp`
  // (nullopt: it has no row of ours yet), observed at `observed_at` by this
  // server's clock. nullopt when unknown: no heartbeat has been written yet.
  std::optional<absl::Duration> LagAt(std::optional<absl::Time> applied_stamp,
                                      absl::Time observed_at) const;

  // Newest stamp written, if any.
  std::optional<absl::Time> Newest() const;

 private:
  const absl::Duration memory_;
  mutable absl::Mutex mu_;
  std::deque<absl::Time> written_ ABSL_GUARDED_BY(mu_);  // ascending
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_HEALTH_LAG_LEDGER_H_
