#ifndef USERSERVICE_SERVER_POOL_CONNECTION_POOL_TEST_UTIL_H_
#define USERSERVICE_SERVER_POOL_CONNECTION_POOL_TEST_UTIL_H_

// The fixture and option helpers shared by the connection_pool_*_test.cc
// files.

#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/pool/connection_pool.h"
#include "server/testing/fake_clock.h"
#include "server/testing/fake_connection.h"

namespace userservice {

using Pool = ConnectionPool<FakeConn>;
using Lease = Pool::Lease;

inline PoolOptions Options(int max_size,
                           absl::Duration acquire_timeout = absl::Seconds(30),
                           std::string name = "test-db") {
  PoolOptions options;
  options.name = std::move(name);
  options.max_size = max_size;
  options.acquire_timeout = acquire_timeout;
  return options;
}

inline absl::Time Later() { return absl::Now() + absl::Seconds(30); }

// Options with lifetime, idle timeout and validation all off, for tests to
// turn on what they exercise (on the fake clock).
inline PoolOptions BareOptions(int max_size) {
  PoolOptions options = Options(max_size);
  options.max_lifetime = absl::InfiniteDuration();
  options.idle_timeout = absl::InfiniteDuration();
  options.validate_after_idle = absl::InfiniteDuration();
  return options;
}

// BareOptions, but connections idle for longer than a second are validated.
inline PoolOptions ValidatingOptions(int max_size) {
  PoolOptions options = BareOptions(max_size);
  options.validate_after_idle = absl::Seconds(1);
  return options;
}

// Polls until `done` holds: used only to wait for another thread to reach a
// state (e.g. to be queued as a waiter), never as an assertion on time.
template <typename Predicate>
void WaitUntil(Predicate done) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!done()) {
    ASSERT_LT(absl::Now(), give_up) << "condition never became true";
    absl::SleepFor(absl::Milliseconds(1));
  }
}

// Connections from a FakeConnFactory; time for lifetimes and idleness from
// clock_, for the tests that pass it to the pool.
class ConnectionPoolTest : public ::testing::Test {
 protected:
  ConnStats stats_;
  FakeConnFactory factory_{&stats_};
  FakeClock clock_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_POOL_CONNECTION_POOL_TEST_UTIL_H_
