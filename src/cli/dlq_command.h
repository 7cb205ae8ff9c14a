// Registers `imgbatch dlq list|redrive|delete`: the dead-letter queue of a
// running `imgbatch up`, through its operator API (server/queue_api.h).
// `list` peeks without receiving (the messages stay as they are) and shows
// why each one failed; `redrive` starts a message move task (SQS's
// StartMessageMoveTask) and waits for it; `delete` drops one message by id.
#pragma once

#include <CLI/CLI.hpp>

namespace imgbatch::cli {

void AddDlqCommand(CLI::App& app);

}  // namespace imgbatch::cli
