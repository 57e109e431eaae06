#include "server/service/admin_service_impl.h"

#include <utility>

namespace userservice {
namespace {

admin::v1::EndpointState StateOf(const EndpointSnapshot& endpoint) {
  if (endpoint.role == EndpointRole::kWriter) {
    return endpoint.writable ? admin::v1::ENDPOINT_STATE_WRITABLE
                             : admin::v1::ENDPOINT_STATE_UNAVAILABLE;
  }
  switch (endpoint.replica.state) {
    case ReplicaState::kStarting:
      return admin::v1::ENDPOINT_STATE_STARTING;
    case ReplicaState::kHealthy:
      return admin::v1::ENDPOINT_STATE_HEALTHY;
    case ReplicaState::kEjected:
      return admin::v1::ENDPOINT_STATE_EJECTED;
  }
  return admin::v1::ENDPOINT_STATE_UNSPECIFIED;
}

admin::v1::Role RoleOf(EndpointRole role) {
  switch (role) {
    case EndpointRole::kUnknown:
      return admin::v1::ROLE_UNSPECIFIED;
    case EndpointRole::kWriter:
      return admin::v1::ROLE_PRIMARY;
    case EndpointRole::kReplica:
      return admin::v1::ROLE_REPLICA;
    case EndpointRole::kUnreachable:
      return admin::v1::ROLE_UNREACHABLE;
    case EndpointRole::kRival:
      return admin::v1::ROLE_RIVAL;
    case EndpointRole::kAlias:
      return admin::v1::ROLE_ALIAS;
    case EndpointRole::kDetached:
      return admin::v1::ROLE_DETACHED;
  }
  return admin::v1::ROLE_UNSPECIFIED;
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(std::function<ServerSnapshot()> snapshot)
    : snapshot_(std::move(snapshot)) {}

grpc::Status AdminServiceImpl::GetStatus(
    grpc::ServerContext* context, const admin::v1::GetStatusRequest* request,
    admin::v1::GetStatusResponse* response) {
  const ServerSnapshot snapshot = snapshot_();
  response->set_serving(snapshot.serving);
  response->set_fallback_reads_in_flight(snapshot.fallback.in_flight);
  response->set_fallback_reads_limit(snapshot.fallback.limit);
  response->set_fallback_reads_refused(snapshot.fallback.refused);
  for (const EndpointSnapshot& endpoint : snapshot.endpoints) {
    admin::v1::EndpointStatus* out = response->add_endpoints();
    out->set_name(endpoint.name);
    out->set_role(RoleOf(endpoint.role));
    out->set_server_id(endpoint.server_id);
    out->set_gtid_position(endpoint.gtid_position);
    out->set_state(StateOf(endpoint));
    out->set_reason(endpoint.reason);
    if (endpoint.role != EndpointRole::kWriter) {
      if (endpoint.replica.lag.has_value()) {
        const absl::Duration lag = *endpoint.replica.lag;
        const int64_t seconds = absl::ToInt64Seconds(lag);
        out->mutable_lag()->set_seconds(seconds);
        out->mutable_lag()->set_nanos(static_cast<int32_t>(
            absl::ToInt64Nanoseconds(lag - absl::Seconds(seconds))));
      }
      out->set_replication_status_known(
          endpoint.replica.replication_status_known);
      out->set_io_running(endpoint.replica.io_running);
      out->set_sql_running(endpoint.replica.sql_running);
    }
    admin::v1::PoolStatus* pool = out->mutable_pool();
    pool->set_size(endpoint.pool.size());
    pool->set_in_use(endpoint.pool.in_use);
    pool->set_idle(endpoint.pool.idle);
    pool->set_waiters(endpoint.pool.waiters);
    pool->set_opening(endpoint.pool.opening);
    pool->set_max_size(endpoint.pool.max_size);
  }
  return grpc::Status::OK;
}

}  // namespace userservice
