#ifndef CLIENT_USERCTL_FLAGS_H_
#define CLIENT_USERCTL_FLAGS_H_

#include "client/userctl/flag_values.h"

namespace userctl {

// Snapshot of userctl's absl flags; call after absl::ParseCommandLine.
FlagValues ReadFlagValues();

}  // namespace userctl

#endif  // CLIENT_USERCTL_FLAGS_H_
