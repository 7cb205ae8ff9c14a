#include "imaging/batch.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "common/strings.h"
#include "imaging/batch_scheduler.h"
#include "imaging/errors.h"
#include "imaging/memory_budget.h"

namespace imgbatch::imaging {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kImageExtensions[] = {
    ".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif"};
constexpr auto kBarRedrawInterval = std::chrono::milliseconds(100);
constexpr int kBarWidth = 30;
constexpr double kMegabyte = 1e6;
// What the scheduler reads of a file to estimate its memory: a JPEG's header
// (markers up to the first scan) fits in the first read but for big EXIF or
// ICC segments; then reads grow by kHeadGrowth up to kMaxHeadBytes, past
// which the estimate is left unknown (Process() reserves by itself).
constexpr size_t kFirstHeadBytes = size_t{64} << 10;
constexpr size_t kHeadGrowth = 8;
constexpr size_t kMaxHeadBytes = size_t{4} << 20;
// How often the oldest pending image may be passed over by later ones that
// fit the memory budget before a thread waits for it instead.
constexpr int kMaxPasses = 16;

bool HasImageExtension(const fs::path& path) {
  std::string extension = ToLower(path.extension().string());
  return std::find(std::begin(kImageExtensions), std::end(kImageExtensions), extension) !=
         std::end(kImageExtensions);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Result<std::string> ReadInput(const fs::path& path, const Limits& limits) {
  std::error_code ec;
  uintmax_t size = fs::file_size(path, ec);
  if (ec) return ImageFailure(ImageError::kIo, "cannot stat: " + ec.message());
  if (size > limits.max_input_bytes) {
    return ImageFailure(ImageError::kTooLarge, "file of " + std::to_string(size) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(limits.max_input_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return ImageFailure(ImageError::kIo, "cannot open for reading");
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(in.gcount()) != size) {
    return ImageFailure(ImageError::kIo, "short read (file changed while reading?)");
  }
  return bytes;
}

// The first `size` bytes of a file (fewer if it is shorter).
Result<std::string> ReadHead(const fs::path& path, size_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ImageFailure(ImageError::kIo, "cannot open for reading");
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

// The working memory ProcessTakingInput() will reserve for a file, from as
// little of its start as holds the header; nullopt when that cannot be told
// cheaply (Process() then reserves for it, or reports what is wrong).
std::optional<uint64_t> EstimateFile(const fs::path& path, const BatchOptions& options) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return std::nullopt;
  for (size_t head_size = kFirstHeadBytes;; head_size *= kHeadGrowth) {
    Result<std::string> head = ReadHead(path, std::min<uintmax_t>(head_size, size));
    if (!head.ok()) return std::nullopt;
    Result<uint64_t> bytes = EstimateWorkingBytes(*head, size, options.outputs, options.limits);
    if (bytes.ok()) return *bytes;
    if (bytes.status().code() != Code::kOutOfRange || head->size() >= size ||
        head_size >= kMaxHeadBytes) {
      return std::nullopt;
    }
  }
}

Status WriteOutput(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return ImageFailure(ImageError::kIo,
                        "cannot create " + path.parent_path().string() + ": " + ec.message());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return ImageFailure(ImageError::kIo, "cannot write " + path.string());
  return Status::Ok();
}

// Shows progress: a redrawn bar on a terminal, one line per image otherwise.
class Progress {
 public:
  Progress(ProgressStyle style, std::FILE* stream, size_t total)
      : style_(Resolve(style, stream)), stream_(stream), total_(total), start_(Clock::now()) {}

  void ImageDone(const InputFile& input, const Status& status) {
    std::lock_guard lock(mutex_);
    ++done_;
    if (style_ == ProgressStyle::kLines) {
      std::fprintf(stream_, "[%zu/%zu] %s %s\n", done_, total_, status.ok() ? "ok  " : "FAIL",
                   input.path.c_str());
    } else if (style_ == ProgressStyle::kBar) {
      auto now = Clock::now();
      if (now - last_draw_ >= kBarRedrawInterval || done_ == total_) {
        last_draw_ = now;
        DrawBar();
      }
    }
  }

  void Finish() {
    std::lock_guard lock(mutex_);
    if (style_ == ProgressStyle::kBar) std::fputc('\n', stream_);
    std::fflush(stream_);
  }

 private:
  static ProgressStyle Resolve(ProgressStyle style, std::FILE* stream) {
    if (style != ProgressStyle::kAuto) return style;
    return isatty(fileno(stream)) ? ProgressStyle::kBar : ProgressStyle::kLines;
  }

  void DrawBar() {
    double elapsed = SecondsSince(start_);
    double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
    double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0;
    int filled = total_ ? static_cast<int>(kBarWidth * done_ / total_) : kBarWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kBarWidth, '.');
    std::fprintf(stream_, "\r[%s] %zu/%zu  %.1f img/s  ETA %.0fs   ", bar.c_str(), done_, total_,
                 rate, std::ceil(eta));
    std::fflush(stream_);
  }

  const ProgressStyle style_;
  std::FILE* const stream_;
  const size_t total_;
  const Clock::time_point start_;
  std::mutex mutex_;
  size_t done_ = 0;
  Clock::time_point last_draw_{};
};

// Shared state of one run; workers take their next input from `scheduler`.
struct Run {
  Run(const BatchOptions& o, const std::vector<InputFile>& i, Progress& p)
      : options(o),
        inputs(i),
        progress(p),
        scheduler(
            i.size(), [this](size_t index) { return EstimateFile(inputs[index].path, options); },
            ProcessMemoryBudget(),
            BatchScheduler::Options{std::max<size_t>(o.lookahead, 1), kMaxPasses}) {}
  const BatchOptions& options;
  const std::vector<InputFile>& inputs;
  Progress& progress;
  BatchScheduler scheduler;
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<size_t> succeeded{0};
  std::mutex failures_mutex;
  std::vector<BatchFailure> failures;
};

// Output paths stay inside the output directory, whatever the input names.
bool IsContained(const std::string& relative) {
  fs::path path(relative);
  if (relative.empty() || path.is_absolute()) return false;
  for (const auto& part : path) {
    if (part == "..") return false;
  }
  return true;
}

// `reservation`: the input's memory, already reserved by the scheduler.
Status ProcessOne(Run& run, const InputFile& input, MemoryReservation reservation) {
  if (!IsContained(input.relative)) {
    return ImageFailure(ImageError::kInternal, "refusing output path " + input.relative);
  }
  IMGBATCH_ASSIGN_OR_RETURN(std::string bytes, ReadInput(input.path, run.options.limits));
  run.bytes_in += bytes.size();
  IMGBATCH_ASSIGN_OR_RETURN(std::vector<EncodedImage> images,
                            ProcessTakingInput(std::move(bytes), run.options.outputs,
                                               run.options.limits, std::move(reservation)));
  for (const EncodedImage& image : images) {
    fs::path target = run.options.out_dir / image.prefix / OutputName(input.relative, image.format);
    IMGBATCH_RETURN_IF_ERROR(WriteOutput(target, image.bytes));
    run.bytes_out += image.bytes.size();
  }
  return Status::Ok();
}

void Worker(Run& run) {
  while (auto assignment = run.scheduler.Next()) {
    const InputFile& input = run.inputs[assignment->index];
    Status status = ProcessOne(run, input, std::move(assignment->reservation));
    if (status.ok()) {
      ++run.succeeded;
    } else {
      std::lock_guard lock(run.failures_mutex);
      run.failures.push_back({input.path.string(), status});
    }
    run.progress.ImageDone(input, status);
  }
}

Status AddDirectory(const fs::path& root, std::vector<InputFile>& found) {
  std::error_code ec;
  auto it =
      fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return IoError("cannot read directory " + root.string() + ": " + ec.message());
  for (const auto& entry : it) {
    if (!entry.is_regular_file(ec) || !HasImageExtension(entry.path())) continue;
    // Lexically: fs::relative() resolves symlinks, and a linked file would
    // get a "../../elsewhere" path that writes outside the output directory.
    found.push_back({entry.path(), entry.path().lexically_relative(root).generic_string()});
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<InputFile>> FindInputs(const std::vector<std::string>& arguments) {
  std::vector<InputFile> found;
  for (const std::string& argument : arguments) {
    fs::path path(argument);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      IMGBATCH_RETURN_IF_ERROR(AddDirectory(path, found));
    } else if (fs::is_regular_file(path, ec)) {
      found.push_back({path, path.filename().string()});
    } else {
      return NotFound("no such file or directory: " + argument);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
  found.erase(std::unique(found.begin(), found.end(),
                          [](const InputFile& a, const InputFile& b) { return a.path == b.path; }),
              found.end());
  return found;
}

int CoresInAffinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

Result<BatchSummary> RunBatch(const BatchOptions& options) {
  IMGBATCH_RETURN_IF_ERROR(InitImaging());
  if (options.outputs.empty()) return InvalidArgument("no outputs configured");
  IMGBATCH_ASSIGN_OR_RETURN(std::vector<InputFile> inputs, FindInputs(options.inputs));
  if (inputs.empty()) return NotFound("no image files found in the inputs");
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) return IoError("cannot create " + options.out_dir.string() + ": " + ec.message());

  BatchSummary summary;
  summary.threads = options.threads > 0 ? options.threads : CoresInAffinity();
  summary.threads =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(summary.threads), inputs.size()));
  Progress progress(options.progress, options.progress_stream, inputs.size());
  Run run{options, inputs, progress};

  auto start = Clock::now();
  const MemoryBudget::WaitStats waits_before = ProcessMemoryBudget().wait_stats();
  std::vector<std::thread> threads;
  for (int i = 0; i < summary.threads; ++i) threads.emplace_back([&run] { Worker(run); });
  for (auto& thread : threads) thread.join();
  progress.Finish();

  summary.seconds = SecondsSince(start);
  const MemoryBudget::WaitStats waits_after = ProcessMemoryBudget().wait_stats();
  summary.memory_waits = waits_after.waits - waits_before.waits;
  summary.memory_wait_seconds = waits_after.seconds - waits_before.seconds;
  summary.taken_ahead = run.scheduler.stats().taken_ahead;
  summary.images = inputs.size();
  summary.succeeded = run.succeeded;
  summary.bytes_in = run.bytes_in;
  summary.bytes_out = run.bytes_out;
  summary.failures = std::move(run.failures);
  std::sort(summary.failures.begin(), summary.failures.end(),
            [](const BatchFailure& a, const BatchFailure& b) { return a.path < b.path; });
  return summary;
}

std::string FormatSummary(const BatchSummary& s) {
  char line[256];
  double rate = s.seconds > 0 ? static_cast<double>(s.images) / s.seconds : 0;
  std::snprintf(
      line, sizeof(line),
      "%zu images, %zu failed in %.2f s (%.1f img/s, %d threads); %.1f MB in, %.1f MB out\n",
      s.images, s.failures.size(), s.seconds, rate, s.threads,
      static_cast<double>(s.bytes_in) / kMegabyte, static_cast<double>(s.bytes_out) / kMegabyte);
  std::string text = line;
  if (s.memory_waits > 0 || s.taken_ahead > 0) {
    std::snprintf(line, sizeof(line),
                  "memory budget: %zu images taken ahead of one that did not fit; threads waited "
                  "%zu times, %.2f s in all\n",
                  s.taken_ahead, s.memory_waits, s.memory_wait_seconds);
    text += line;
  }
  for (const BatchFailure& failure : s.failures) {
    text += "  FAILED " + failure.path + ": " + failure.status.detail() + ": " +
            failure.status.message() + "\n";
  }
  return text;
}

}  // namespace imgbatch::imaging
