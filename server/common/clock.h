#ifndef USERSERVICE_SERVER_COMMON_CLOCK_H_
#define USERSERVICE_SERVER_COMMON_CLOCK_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace userservice {

// The source of the current time for a class whose behaviour depends on
// it. Every such class takes one as its last constructor argument,
// defaulting to absl::Now, and never accepts an empty one; tests pass a
// FakeClock (server/testing/fake_clock.h) so that time moves only when they
// say so.
using Clock = std::function<absl::Time()>;

}  // namespace userservice

#endif  // USERSERVICE_SERVER_COMMON_CLOCK_H_
