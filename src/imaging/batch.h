// The batch runner behind `imgbatch process`: finds input files, runs the
// image job on a thread per core (one image per thread) and writes
// OUT/<prefix>/<relative path> for every output. Keeps going past bad files
// and reports them. Thread-safety: RunBatch() may be called from one thread
// at a time; it starts and joins its own threads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "imaging/imaging.h"

namespace imgbatch::imaging {

struct InputFile {
  std::filesystem::path path;
  std::string relative;  // the output path under each prefix (before renaming)
};

// Expands files and directories (recursively; inside directories only files
// with an image extension, so READMEs are skipped; a file named explicitly is
// always taken and decided by content). Sorted, duplicates removed.
Result<std::vector<InputFile>> FindInputs(const std::vector<std::string>& arguments);

// The number of CPUs this process may run on (sched_getaffinity), >= 1.
int CoresInAffinity();

enum class ProgressStyle { kAuto, kBar, kLines, kNone };

struct BatchOptions {
  std::vector<std::string> inputs;  // files or directories
  std::filesystem::path out_dir;
  std::vector<OutputSpec> outputs = DefaultOutputs();
  Limits limits;
  int threads = 0;  // 0: CoresInAffinity()
  // Inputs whose memory estimates the scheduler weighs (batch_scheduler.h):
  // an image that does not fit the memory budget now is passed over for one
  // of these that does. 1: strictly in order (each waits its turn).
  size_t lookahead = 32;
  ProgressStyle progress = ProgressStyle::kAuto;  // kAuto: a bar on a TTY, else lines
  std::FILE* progress_stream = stderr;
};

struct BatchFailure {
  std::string path;
  Status status;
};

struct BatchSummary {
  size_t images = 0;  // inputs attempted
  size_t succeeded = 0;
  std::vector<BatchFailure> failures;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  double seconds = 0;
  int threads = 0;
  // The memory budget's cost: images started ahead of an older one that did
  // not fit, and how often / how long threads sat idle waiting for memory.
  size_t taken_ahead = 0;
  size_t memory_waits = 0;
  double memory_wait_seconds = 0;
};

// Fails only when nothing can start (no inputs found, output directory not
// creatable); per-image failures are in the summary.
Result<BatchSummary> RunBatch(const BatchOptions& options);

// "69 images, 0 failed in 3.52 s (19.6 img/s, 2 threads); 111.2 MB in, 31.0 MB out"
// then, if the memory budget reordered or held back images, a line saying so,
// then one line per failure with its reason.
std::string FormatSummary(const BatchSummary& summary);

}  // namespace imgbatch::imaging
