// Registers `imgbatch keys create|list|revoke`: access keys with IAM-style
// policies on a running `imgbatch up`, through its operator API
// (server/keys_api.h). A created key works at once and persists; its secret
// is printed once, at creation. Revoking takes effect from the next request.
#pragma once

#include <CLI/CLI.hpp>

namespace imgbatch::cli {

void AddKeysCommand(CLI::App& app);

}  // namespace imgbatch::cli
