#ifndef USERSERVICE_SERVER_MYSQL_PRIMARY_DEMOTION_H_
#define USERSERVICE_SERVER_MYSQL_PRIMARY_DEMOTION_H_

#include <atomic>
#include <cstdint>

#include "server/mysql/mysql_connection.h"

namespace userservice::mysql {

// The server's one response to a primary that refused a write because it is
// read-only, i.e. was demoted: every idle session in the primary's pool
// points at the demoted server, so they are discarded, and the sessions
// opened next resolve the primary's host name again (following a DNS or
// Service switch to the new primary).
//
// Whoever sees a refusal tells it: the primary's store (error 1290 on a
// pooled session) and the heartbeat sink (on its own session). Each drops
// the session it used itself. Thread-safe.
class PrimaryDemotion {
 public:
  // `pool` is the primary's and must outlive this object.
  explicit PrimaryDemotion(MysqlPool* pool) : pool_(pool) {}

  PrimaryDemotion(const PrimaryDemotion&) = delete;
  PrimaryDemotion& operator=(const PrimaryDemotion&) = delete;

  // The primary refused one write as read-only.
  void WriteRefused();

  // How many refusals were reported.
  int64_t refusals() const { return refusals_.load(); }

 private:
  MysqlPool* const pool_;
  std::atomic<int64_t> refusals_{0};
};

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_PRIMARY_DEMOTION_H_
