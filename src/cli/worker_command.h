// Registers `imgbatch worker`: one worker process against any S3 + SQS
// endpoint (the embedded server or AWS), configured by flags or the seed
// container's environment (s3InputBucket, s3OutputBucket, SQSBatchQueue,
// AWSRegion), plus `imgbatch worker --check-health` for container health
// checks. Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration,
// 3 stale or missing health file.
#pragma once

#include <CLI/CLI.hpp>

namespace imgbatch::cli {

void AddWorkerCommand(CLI::App& app);

}  // namespace imgbatch::cli
