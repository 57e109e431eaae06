#include "server/service/admin_service_impl.h"

#include "gtest/gtest.h"

namespace userservice {
namespace {

TEST(AdminServiceImplTest, ReportsEveryEndpointWithStateLagAndPool) {
  AdminServiceImpl admin([] {
    ServerSnapshot snap;
    EndpointSnapshot primary;
    primary.name = "primary";
    primary.role = EndpointRole::kWriter;
    primary.server_id = 7;
    primary.gtid_position = "0-7-42";
    primary.writable = false;
    primary.reason = "primary is read-only";
    primary.pool.in_use = 2;
    primary.pool.idle = 1;
    primary.pool.max_size = 16;
    snap.endpoints.push_back(primary);
    EndpointSnapshot lagging;
    lagging.name = "replica-0";
    lagging.role = EndpointRole::kReplica;
    lagging.replica.state = ReplicaState::kHealthy;
    lagging.replica.lag = absl::Milliseconds(1500);
    lagging.replica.replication_status_known = true;
    lagging.replica.io_running = true;
    lagging.replica.sql_running = false;
    snap.endpoints.push_back(lagging);
    EndpointSnapshot ejected;
    ejected.name = "replica-1";
    ejected.role = EndpointRole::kDetached;
    ejected.replica.state = ReplicaState::kEjected;
    ejected.reason = "3 consecutive failures";
    snap.endpoints.push_back(ejected);
    snap.serving = true;
    snap.fallback = FallbackStats{1, 8, 5};
    return snap;
  });
  admin::v1::GetStatusRequest request;
  admin::v1::GetStatusResponse response;
  ASSERT_TRUE(admin.GetStatus(nullptr, &request, &response).ok());
  ASSERT_EQ(response.endpoints_size(), 3);
  const auto& p = response.endpoints(0);
  EXPECT_EQ(p.role(), admin::v1::ROLE_PRIMARY);
  EXPECT_EQ(p.state(), admin::v1::ENDPOINT_STATE_UNAVAILABLE);
  EXPECT_EQ(p.reason(), "primary is read-only");
  EXPECT_EQ(p.pool().in_use(), 2);
  EXPECT_EQ(p.pool().size(), 3);
  EXPECT_EQ(p.pool().max_size(), 16);
  EXPECT_FALSE(p.has_lag());
  EXPECT_EQ(p.server_id(), 7);
  EXPECT_EQ(p.gtid_position(), "0-7-42");
  const auto& r0 = response.endpoints(1);
  EXPECT_EQ(r0.role(), admin::v1::ROLE_REPLICA);
  EXPECT_EQ(r0.state(), admin::v1::ENDPOINT_STATE_HEALTHY);
  EXPECT_EQ(r0.lag().seconds(), 1);
  EXPECT_EQ(r0.lag().nanos(), 500000000);
  EXPECT_TRUE(r0.io_running());
  EXPECT_FALSE(r0.sql_running());
  const auto& r1 = response.endpoints(2);
  EXPECT_EQ(r1.role(), admin::v1::ROLE_DETACHED);
  EXPECT_EQ(r1.state(), admin::v1::ENDPOINT_STATE_EJECTED);
  EXPECT_FALSE(r1.has_lag());  // unknown is unset, never zero
  EXPECT_TRUE(response.serving());
  EXPECT_EQ(response.fallback_reads_in_flight(), 1);
  EXPECT_EQ(response.fallback_reads_limit(), 8);
  EXPECT_EQ(response.fallback_reads_refused(), 5);
}

}  // namespace
}  // namespace userservice
