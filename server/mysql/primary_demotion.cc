#include "server/mysql/primary_demotion.h"

namespace userservice::mysql {

void PrimaryDemotion::WriteRefused() {
  refusals_.fetch_add(1);
  pool_->DiscardIdle();
}

}  // namespace userservice::mysql
