// Registers `imgbatch process [options] INPUT... --out DIR`: the image job on
// local files (imaging::RunBatch). Wiring only. Exits non-zero through
// CLI::RuntimeError when any image failed (1) or nothing could start (2).
#pragma once

#include <CLI/CLI.hpp>

namespace imgbatch::cli {

void AddProcessCommand(CLI::App& app);

}  // namespace imgbatch::cli
