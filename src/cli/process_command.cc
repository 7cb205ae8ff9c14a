#include "cli/process_command.h"

#include <cstdio>
#include <memory>
#include <string>

#include "imaging/batch.h"
#include "imaging/imaging.h"

namespace imgbatch::cli {
namespace {

constexpr int kExitSomeFailed = 1;
constexpr int kExitCannotStart = 2;

struct ProcessFlags {
  imaging::BatchOptions batch;
  std::string out_dir;
  std::string outputs = imaging::FormatOutputSpecs(imaging::DefaultOutputs());
  std::string progress = "auto";
  uint64_t memory_budget_mib = imaging::kDefaultMemoryBudget >> 20;
};

int RunProcess(ProcessFlags& flags) {
  auto outputs = imaging::ParseOutputSpecs(flags.outputs);
  if (!outputs.ok()) {
    std::fprintf(stderr, "imgbatch process: --outputs: %s\n", outputs.status().message().c_str());
    return kExitCannotStart;
  }
  flags.batch.outputs = *outputs;
  flags.batch.out_dir = flags.out_dir;
  if (flags.progress == "bar") flags.batch.progress = imaging::ProgressStyle::kBar;
  if (flags.progress == "lines") flags.batch.progress = imaging::ProgressStyle::kLines;
  if (flags.progress == "none") flags.batch.progress = imaging::ProgressStyle::kNone;
  Status init = imaging::InitImaging();
  if (!init.ok()) {
    std::fprintf(stderr, "imgbatch process: %s\n", init.message().c_str());
    return kExitCannotStart;
  }
  imaging::SetMemoryBudget(flags.memory_budget_mib << 20);
  auto summary = imaging::RunBatch(flags.batch);
  if (!summary.ok()) {
    std::fprintf(stderr, "imgbatch process: %s\n", summary.status().message().c_str());
    return kExitCannotStart;
  }
  std::fputs(imaging::FormatSummary(*summary).c_str(), stdout);
  return summary->failures.empty() ? 0 : kExitSomeFailed;
}

}  // namespace

void AddProcessCommand(CLI::App& app) {
  auto flags = std::make_shared<ProcessFlags>();
  CLI::App* cmd = app.add_subcommand(
      "process", "Run the image job on local files: OUT/resized/<path>, OUT/thumbs/<path>");
  cmd->add_option("inputs", flags->batch.inputs, "Image files or directories (recursive)")
      ->required();
  cmd->add_option("--out,-o", flags->out_dir, "Output directory")->required();
  cmd->add_option("--outputs", flags->outputs,
                  "Outputs: PREFIX:WxH[:jpeg|webp|avif|png][:qN][:inside|cover][:420|444]"
                  "[:strip|keep], separated by ';'")
      ->capture_default_str();
  cmd->add_option("--threads,-j", flags->batch.threads, "Threads (default: cores in CPU affinity)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--max-pixels", flags->batch.limits.max_pixels, "Refuse larger images")
      ->capture_default_str();
  cmd->add_option("--max-input-bytes", flags->batch.limits.max_input_bytes, "Refuse larger files")
      ->capture_default_str();
  cmd->add_option("--memory-budget", flags->memory_budget_mib,
                  "MiB of decode working memory for the images in flight; an image that does not "
                  "fit waits for others (one bigger than the budget runs alone); 0: unlimited")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--lookahead", flags->batch.lookahead,
                  "Inputs ahead whose memory estimates are weighed: one that fits the budget now "
                  "runs before an older one that does not; 1: strictly in order")
      ->check(CLI::Range(size_t{1}, size_t{4096}))
      ->capture_default_str();
  cmd->add_option("--progress", flags->progress, "auto (a bar on a terminal), bar, lines, none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}))
      ->capture_default_str();
  cmd->callback([flags] {
    int code = RunProcess(*flags);
    // CLI11's way out of a callback with an exit code: main's app.exit()
    // returns it silently.
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace imgbatch::cli
