#include "common/clock.h"

namespace imgbatch {

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

}  // namespace imgbatch
