#ifndef USERSERVICE_SERVER_REPOSITORY_REPLICATION_POSITION_H_
#define USERSERVICE_SERVER_REPOSITORY_REPLICATION_POSITION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace userservice {

// A point in a MariaDB cluster's replication stream: for each replication
// domain, the last transaction (domain-server-sequence), as in
// @@gtid_binlog_pos or @@gtid_slave_pos. Positions compare the way
// MASTER_GTID_WAIT does: per domain, by sequence number alone, so a
// position taken before a failover is reached on the new primary's
// replicas once they are that far in the domain. Empty: no transaction.
class ReplicationPosition {
 public:
  struct Gtid {
    uint32_t domain = 0;
    uint32_t server_id = 0;
    uint64_t sequence = 0;

    friend bool operator==(const Gtid& a, const Gtid& b) {
      return a.domain == b.domain && a.server_id == b.server_id &&
             a.sequence == b.sequence;
    }
  };

  ReplicationPosition() = default;

  // A GTID list, "0-1-42,1-2-7" (spaces and newlines between entries are
  // ignored; empty is the empty position). INVALID_ARGUMENT for anything
  // else, and for a domain named twice.
  static absl::StatusOr<ReplicationPosition> Parse(absl::string_view gtids);

  // The canonical GTID list, ascending by domain; Parse(ToString()) == *this.
  std::string ToString() const;

  bool empty() const { return gtids_.empty(); }
  absl::Span<const Gtid> gtids() const { return gtids_; }

  // Takes, in every domain, the later of the two positions: the result
  // covers both.
  void Merge(const ReplicationPosition& other);

  // True when this position is at or past `other` in every domain `other`
  // names: a server whose applied position covers `other` has every
  // transaction up to it.
  bool Covers(const ReplicationPosition& other) const;

  friend bool operator==(const ReplicationPosition& a,
                         const ReplicationPosition& b) {
    return a.gtids_ == b.gtids_;
  }
  friend bool operator!=(const ReplicationPosition& a,
                         const ReplicationPosition& b) {
    return !(a == b);
  }

 private:
  std::vector<Gtid> gtids_;  // ascending by domain, one per domain
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_REPOSITORY_REPLICATION_POSITION_H_
