// Transparent huge pages for the image job's big allocations. glibc backs its
// heap and mmapped chunks with THP only when the tunable glibc.malloc.hugetlb
// is set when the program is exec'd (THP is "madvise" on this machine's
// kernel, as on many), and tunables cannot be changed later. Without it a
// progressive JPEG's tens of MB of coefficient buffers fault in 4 KiB at a
// time: on the corpus 104,500 page faults on one core (13,400 with it), and
// 3-14% more task-clock depending on machine load; peak RSS is +1.5 MiB with
// it (docs/benchmarks.md, "Imaging two-core scheduling").
#pragma once

#include <optional>
#include <string>

namespace imgbatch::imaging {

// The GLIBC_TUNABLES value that adds glibc.malloc.hugetlb=1 to `current`
// (null: unset), or nullopt when `current` already sets hugetlb (whatever
// the value: the user's choice stands).
std::optional<std::string> TunablesWithHugePages(const char* current);

// Re-executes this program (same pid, arguments and environment) with
// TunablesWithHugePages() in GLIBC_TUNABLES; returns without doing anything
// when there is nothing to add, when IMGBATCH_HUGE_PAGES=0, under valgrind
// (its tools do not follow an exec by default), or when the exec fails.
// Call first thing in main(), before any thread exists.
void ReexecWithHugePages(char** argv);

}  // namespace imgbatch::imaging
