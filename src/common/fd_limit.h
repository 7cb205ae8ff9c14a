// The process's open-file limit. Debian's default soft limit (1,024) is far
// below what a server of thousands of long-polling connections needs, while
// the hard limit usually allows much more; a server raises its soft limit
// itself, as nginx (worker_rlimit_nofile) and Go's runtime do.
#pragma once

#include <cstdint>

namespace imgbatch {

// Raises the soft RLIMIT_NOFILE to `wanted`, or as far as the hard limit
// allows; never lowers it. Returns the soft limit in effect afterwards.
uint64_t RaiseOpenFileLimit(uint64_t wanted);

}  // namespace imgbatch
