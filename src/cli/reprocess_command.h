// Registers `imgbatch reprocess s3://BUCKET/PREFIX`: on a running
// `imgbatch up`, enqueue ObjectCreated events for the objects already under
// the prefix (e.g. after the outputs changed), through the operator API
// (server/reprocess_api.h); the bucket's notification configuration decides
// which queues get them, exactly as for an upload.
#pragma once

#include <CLI/CLI.hpp>

namespace imgbatch::cli {

void AddReprocessCommand(CLI::App& app);

}  // namespace imgbatch::cli
