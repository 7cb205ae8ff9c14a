// Registers `imgbatch status`: queues, dead letters, workers, throughput and
// alarms of a running `imgbatch up`, as a table or (--json) the server's own
// status document. Finds the server the way `up` is reached: --endpoint /
// IMGBATCH_ENDPOINT, and the API token from --data-dir/dashboard-token or
// IMGBATCH_API_TOKEN.
#pragma once

#include <CLI/CLI.hpp>

namespace imgbatch::cli {

void AddStatusCommand(CLI::App& app);

}  // namespace imgbatch::cli
