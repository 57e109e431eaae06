#ifndef USERSERVICE_SERVER_SERVICE_ADMIN_SERVICE_IMPL_H_
#define USERSERVICE_SERVER_SERVICE_ADMIN_SERVICE_IMPL_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/health/replica_health.h"
#include "server/health/topology.h"
#include "server/pool/connection_pool.h"
#include "server/routing/read_router.h"
#include "userservice/admin/v1/admin_service.grpc.pb.h"

namespace userservice {

// What the server knows about one database endpoint right now.
struct EndpointSnapshot {
  std::string name;
  EndpointRole role = EndpointRole::kUnknown;
  // The writer: whether the latest heartbeat write succeeded.
  bool writable = false;
  // The health checker's view.
  ReplicaStatus replica;
  int64_t server_id = 0;
  std::string gtid_position;
  std::string reason;
  PoolStats pool;
};

struct ServerSnapshot {
  std::vector<EndpointSnapshot> endpoints;  // in configuration order
  bool serving = false;
  FallbackStats fallback;
};

// userservice.admin.v1.AdminService: the snapshot as a proto. The snapshot
// is assembled by main, which knows the concrete pools and checkers.
class AdminServiceImpl final : public admin::v1::AdminService::Service {
 public:
  explicit AdminServiceImpl(std::function<ServerSnapshot()> snapshot);

  grpc::Status GetStatus(grpc::ServerContext* context,
                         const admin::v1::GetStatusRequest* request,
                         admin::v1::GetStatusResponse* response) override;

 private:
  const std::function<ServerSnapshot()> snapshot_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_ADMIN_SERVICE_IMPL_H_
