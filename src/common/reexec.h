// Starting this program again with a different environment. Some process
// settings are read only when a program is exec'd — glibc's malloc tunables,
// the libraries ld.so preloads — so a command that wants them re-executes
// itself once, first thing in main(), before any thread exists.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace imgbatch {

// Variables to set (name, value) before the exec.
using EnvironmentChanges = std::vector<std::pair<std::string, std::string>>;

// Re-executes this program's file (same pid, arguments and the rest of the
// environment) with `changes` applied. Returns only when there is nothing to
// change or the exec failed; the variables stay set either way, so a caller
// that checks them first does not try twice.
void ReexecWithEnvironment(char** argv, const EnvironmentChanges& changes);

// True when the environment variable `name` is "0": the user turned off a
// setting a command would otherwise apply at start (IMGBATCH_HUGE_PAGES=0,
// IMGBATCH_JEMALLOC=0).
bool OptedOut(const char* name);

// True under valgrind, whose tools do not follow an exec by default (so a
// re-exec would leave the program unobserved).
bool UnderValgrind();

}  // namespace imgbatch
