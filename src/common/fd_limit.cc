#include "common/fd_limit.h"

#include <sys/resource.h>

#include <algorithm>

namespace imgbatch {

uint64_t RaiseOpenFileLimit(uint64_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) return limit.rlim_cur;
  const rlim_t raised = limit.rlim_max == RLIM_INFINITY
                            ? static_cast<rlim_t>(wanted)
                            : std::min<rlim_t>(limit.rlim_max, static_cast<rlim_t>(wanted));
  if (raised > limit.rlim_cur) {
    rlimit next = limit;
    next.rlim_cur = raised;
    if (setrlimit(RLIMIT_NOFILE, &next) == 0) return raised;
  }
  return limit.rlim_cur;
}

}  // namespace imgbatch
