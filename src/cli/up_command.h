// Registers `imgbatch up` with its flags.
#pragma once

#include <CLI/CLI.hpp>

namespace imgbatch::cli {

void AddUpCommand(CLI::App& app, int& exit_code);

}  // namespace imgbatch::cli
