#include "worker/worker.h"

#include <cstdio>

#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>

#include "client/retry.h"
#include "common/strings.h"
#include "worker/health.h"

namespace imgbatch::worker {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kMaxReceiveErrorBackoff{30};
constexpr std::chrono::milliseconds kMinKeeperTick{200};
constexpr std::chrono::milliseconds kMaxKeeperTick{5000};
constexpr size_t kMaxErrorMessageBytes = 1024;
// Lost conditional-write races on one output before giving up for now (the
// message is retried later): each loss means another writer just wrote it.
constexpr int kMaxConditionalWriteAttempts = 4;

// What Run returns after StopIfStuck stopped the worker.
Status StuckStatus(std::chrono::seconds limit) {
  return Status(Code::kInternal, "a message was handled for over " + std::to_string(limit.count()) +
                                     " s (max_message_time): the worker stopped itself");
}

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Free text (error messages) made safe for both log formats: the JSON
// format embeds the message in a JSON string, so no quotes, backslashes or
// control characters.
std::string LogSafe(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '"')
      c = '\'';
    else if (c == '\\')
      c = '/';
    else if (static_cast<unsigned char>(c) < 0x20)
      c = ' ';
  }
  return out;
}

// Keys are logged form-encoded: unambiguous in text logs and safe inside the
// JSON log format's message string. The error, if any, comes last.
void LogImage(const EventRecord& record, uint64_t bytes_in, uint64_t bytes_out,
              Clock::time_point start, std::string_view outcome, const Status& error = {}) {
  if (error.ok()) {
    spdlog::info("image bucket={} key={} bytes_in={} bytes_out={} ms={} outcome={}", record.bucket,
                 FormEncode(record.key), bytes_in, bytes_out, MillisSince(start), outcome);
  } else {
    spdlog::warn("image bucket={} key={} bytes_in={} bytes_out={} ms={} outcome={} error={}",
                 record.bucket, FormEncode(record.key), bytes_in, bytes_out, MillisSince(start),
                 outcome, LogSafe(error.ToString()));
  }
}

// Worded as the image job words its own limit, so both read alike in the DLQ.
Status InputTooLarge(const std::string& key, uint64_t size, uint64_t max) {
  return Status(Code::kTooLarge, key + ": input of " + std::to_string(size) +
                                     " bytes exceeds the limit of " + std::to_string(max))
      .WithDetail("TooLarge");
}

std::string ErrorCodeOf(const Status& status) {
  return status.detail().empty() ? CodeName(status.code()) : status.detail();
}

// The dead-letter target's queue name from a RedrivePolicy attribute.
std::string DeadLetterQueueName(const std::string& redrive_policy) {
  auto policy = nlohmann::json::parse(redrive_policy, nullptr, /*allow_exceptions=*/false);
  if (!policy.is_object()) return {};
  auto arn = policy.find("deadLetterTargetArn");
  if (arn == policy.end() || !arn->is_string()) return {};
  return client::QueueNameFromUrl(arn->get<std::string>());
}

}  // namespace

int CoresInAffinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

namespace {

std::optional<uint64_t> ReadNumberFile(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  return ParseUint(text);  // "max" (no limit) is not a number
}

std::optional<uint64_t> MemTotal() {
  std::ifstream in("/proc/meminfo");
  std::string name;
  uint64_t kib = 0;
  std::string unit;
  while (in >> name >> kib >> unit) {
    if (name == "MemTotal:") return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace

uint64_t MemoryLimitBytes() {
  // cgroup v1 reports "no limit" as a huge number; anything above the
  // machine's memory means the same.
  uint64_t total = MemTotal().value_or(0);
  for (const char* path :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    auto limit = ReadNumberFile(path);
    if (limit && *limit > 0 && (total == 0 || *limit < total)) return *limit;
  }
  return total;
}

int DefaultConcurrency(int cores, uint64_t memory_limit_bytes) {
  int by_cores = std::max(1, cores);
  if (memory_limit_bytes == 0) return by_cores;
  auto by_memory = static_cast<int>(std::min<uint64_t>(memory_limit_bytes / kMemoryPerImage, 1024));
  return std::clamp(by_memory, 1, by_cores);
}

void RecentSamples::Add(double value) {
  if (ring_.size() < kCapacity) {
    ring_.push_back(value);
  } else {
    ring_[total_ % kCapacity] = value;
  }
  ++total_;
}

std::vector<double> RecentSamples::Values() const {
  if (ring_.size() < kCapacity) return ring_;
  size_t oldest = total_ % kCapacity;
  std::vector<double> out(ring_.begin() + static_cast<std::ptrdiff_t>(oldest), ring_.end());
  out.insert(out.end(), ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(oldest));
  return out;
}

int BackoffSeconds(int receive_count, int max_backoff_seconds) {
  int exponent = std::clamp(receive_count, 0, 30);
  int64_t seconds = int64_t{1} << exponent;
  return static_cast<int>(std::min<int64_t>(seconds, std::max(0, max_backoff_seconds)));
}

Worker::Worker(client::S3Client& s3, client::SqsClient& sqs, ImageProcessor& processor,
               WorkerOptions options)
    : s3_(s3), sqs_(sqs), processor_(processor), options_(std::move(options)) {
  if (options_.concurrency <= 0) {
    options_.concurrency = DefaultConcurrency(CoresInAffinity(), MemoryLimitBytes());
  }
  if (options_.prefetch < 0) options_.prefetch = options_.concurrency;
  processing_slots_ = std::make_unique<std::counting_semaphore<>>(options_.concurrency);
  options_.max_messages = std::clamp(options_.max_messages, 1, client::SqsClient::kMaxBatchEntries);
  options_.wait_seconds = std::clamp(options_.wait_seconds, 0, 20);
}

Worker::~Worker() {
  Stop();
  for (auto& thread : processing_threads_) {
    if (thread.joinable()) thread.join();
  }
  {
    std::lock_guard lock(mu_);
    processing_done_ = true;
  }
  keeper_cv_.notify_all();
  if (keeper_thread_.joinable()) keeper_thread_.join();
}

Status Worker::Start() {
  auto attributes = sqs_.GetQueueAttributes(options_.queue_url);
  if (!attributes.ok()) {
    return Status(attributes.status().code(),
                  "queue " + options_.queue_url + ": " + attributes.status().message());
  }
  queue_arn_ = (*attributes)["QueueArn"];
  visibility_timeout_ =
      options_.visibility_timeout > 0
          ? options_.visibility_timeout
          : static_cast<int>(ParseInt((*attributes)["VisibilityTimeout"]).value_or(30));
  visibility_timeout_ = std::max(visibility_timeout_, 1);
  dlq_url_ = options_.dlq_url;
  if (dlq_url_.empty()) {
    std::string name = DeadLetterQueueName((*attributes)["RedrivePolicy"]);
    if (!name.empty()) {
      auto url = sqs_.GetQueueUrl(name);
      if (url.ok()) {
        dlq_url_ = *url;
      } else {
        spdlog::warn("dead-letter queue {} from RedrivePolicy not found: {}", name,
                     url.status().ToString());
      }
    }
  }
  if (dlq_url_.empty()) {
    spdlog::warn(
        "no dead-letter queue known (no RedrivePolicy, no --dlq): permanent failures stay on the "
        "queue with backoff");
  }
  spdlog::info(
      "worker: queue={} dlq={} output_bucket={} concurrency={} prefetch={} visibility_timeout={}s",
      options_.queue_url, dlq_url_.empty() ? "-" : dlq_url_, options_.output_bucket,
      options_.concurrency, options_.prefetch, visibility_timeout_);
  return Status::Ok();
}

void Worker::Stop() {
  stop_ = true;
  work_cv_.notify_all();
  capacity_cv_.notify_all();
  keeper_cv_.notify_all();
}

WorkerStats Worker::stats() const {
  std::lock_guard lock(mu_);
  WorkerStats stats = stats_;
  stats.held = held_.size();
  stats.in_flight = static_cast<uint64_t>(in_flight_);
  return stats;
}

Status Worker::Run() {
  for (int i = 0; i < options_.concurrency + options_.prefetch; ++i) {
    processing_threads_.emplace_back([this] { ProcessingLoop(); });
  }
  keeper_thread_ = std::thread([this] { KeeperLoop(); });

  PollLoop();

  spdlog::info("worker stopping: releasing unstarted messages, finishing in-flight images");
  ReleaseUnstarted();
  bool drained = false;
  {
    std::unique_lock lock(mu_);
    drained =
        capacity_cv_.wait_for(lock, options_.stop_timeout, [this] { return in_flight_ == 0; });
  }
  if (!drained) {
    abort_in_flight_ = true;
    // The supervisor reads this last state: images were in flight at exit.
    WriteStatusFile(/*force=*/true);
    spdlog::error("stop timeout ({} s) passed with images in flight; they will be redelivered",
                  options_.stop_timeout.count());
    return stuck_ ? StuckStatus(options_.max_message_time)
                  : Status(Code::kTimeout, "stop timeout passed with images in flight");
  }
  for (auto& thread : processing_threads_) thread.join();
  processing_threads_.clear();
  {
    std::lock_guard lock(mu_);
    processing_done_ = true;
  }
  keeper_cv_.notify_all();
  keeper_thread_.join();
  WriteStatusFile(/*force=*/true);
  auto final_stats = stats();
  spdlog::info("worker stopped: {} images processed, {} skipped, {} stale, {} dead-lettered",
               final_stats.images_processed, final_stats.images_skipped, final_stats.stale_events,
               final_stats.dead_lettered);
  return stuck_ ? StuckStatus(options_.max_message_time) : Status::Ok();
}

void Worker::WriteStatusFile(bool force) {
  if (options_.status_file.empty()) return;
  nlohmann::json doc;
  {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_status_write_ < std::chrono::seconds(1)) return;
    last_status_write_ = now;
    bool busy = in_flight_ > 0 || !held_.empty();
    doc = {{"state", stop_ ? "stopping" : (busy ? "busy" : "idle")},
           {"in_flight", in_flight_},
           {"held", held_.size()},
           {"processed", stats_.images_processed},
           {"failed", stats_.permanent_failures},
           {"skipped", stats_.images_skipped},
           {"dead_lettered", stats_.dead_lettered},
           {"latency_samples", latency_ms_.total()},
           {"recent_latency_ms", latency_ms_.Values()},
           {"end_to_end_samples", end_to_end_ms_.total()},
           {"recent_end_to_end_ms", end_to_end_ms_.Values()}};
  }
  // Readers must never see half a file: write beside it, then rename.
  std::string tmp = options_.status_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump() << "\n";
    if (!out) return;
  }
  std::rename(tmp.c_str(), options_.status_file.c_str());
}

void Worker::PollLoop() {
  // Every thread busy plus one waiting its turn per processing slot.
  const size_t max_held = static_cast<size_t>(options_.concurrency * 2 + options_.prefetch);
  int consecutive_errors = 0;
  bool health_warned = false;
  while (!stop_) {
    if (!options_.health_file.empty()) {
      Status touched = TouchHealthFile(options_.health_file);
      if (!touched.ok() && !health_warned) {
        spdlog::warn("{}", touched.ToString());
        health_warned = true;
      }
    }
    WriteStatusFile(/*force=*/false);
    size_t capacity = 0;
    {
      std::unique_lock lock(mu_);
      // Wake at least every second to keep the health file fresh while busy.
      capacity_cv_.wait_for(lock, std::chrono::seconds(1),
                            [&] { return stop_ || held_.size() < max_held; });
      if (stop_) break;
      if (held_.size() >= max_held) continue;
      capacity = max_held - held_.size();
    }
    client::ReceiveOptions receive;
    receive.max_messages = static_cast<int>(std::min<size_t>(capacity, options_.max_messages));
    receive.wait_seconds = options_.wait_seconds;
    auto received = sqs_.ReceiveMessage(options_.queue_url, receive, &stop_);
    if (!received.ok()) {
      if (received.status().detail() == client::kAbortedDetail || stop_) break;
      ++consecutive_errors;
      // Exponential with full jitter, so a fleet does not retry in lockstep.
      client::RetryOptions backoff;
      backoff.base_delay = std::chrono::milliseconds(1000);
      backoff.max_backoff = kMaxReceiveErrorBackoff;
      auto delay =
          std::max(std::chrono::milliseconds(100),
                   client::BackoffDelay(consecutive_errors, backoff, client::UnitRandom()));
      spdlog::warn("ReceiveMessage failed ({}), retrying in {} ms", received.status().ToString(),
                   delay.count());
      client::RealSleeper()(delay, &stop_);
      continue;
    }
    consecutive_errors = 0;
    if (received->empty()) continue;
    {
      std::lock_guard lock(mu_);
      auto visible_until = Clock::now() + std::chrono::seconds(visibility_timeout_);
      for (auto& message : *received) {
        std::string handle = message.receipt_handle;
        held_[handle] = Held{std::move(message), visible_until, false};
        pending_.push_back(handle);
        ++stats_.messages_received;
      }
    }
    work_cv_.notify_all();
  }
}

void Worker::ProcessingLoop() {
  for (;;) {
    std::string handle;
    client::SqsMessage message;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      // On stop nothing new starts: unstarted messages are released instead.
      if (stop_ || pending_.empty()) return;
      handle = pending_.front();
      pending_.pop_front();
      auto it = held_.find(handle);
      if (it == held_.end()) continue;
      it->second.started = true;
      it->second.started_at = Clock::now();
      message = it->second.message;
      ++in_flight_;
    }
    Outcome outcome = HandleMessage(message);
    // No more heartbeats for it: whatever happens next sets its visibility.
    {
      std::lock_guard visibility(visibility_mu_);
      Forget(handle);
    }
    Complete(handle, message, outcome);
    {
      std::lock_guard lock(mu_);
      --in_flight_;
    }
    capacity_cv_.notify_all();
  }
}

void Worker::Forget(const std::string& receipt_handle) {
  std::lock_guard lock(mu_);
  held_.erase(receipt_handle);
}

int Worker::Rank(const Outcome& outcome) {
  switch (outcome.disposition) {
    case Disposition::kDelete:
      return 0;
    case Disposition::kDeadLetter:
      return 1;
    case Disposition::kRetryLater:
      return 2;
  }
  return 2;
}

Worker::Outcome Worker::HandleMessage(const client::SqsMessage& message) {
  auto parsed = ParseEventMessage(message.body);
  if (!parsed.ok()) {
    spdlog::warn("message {} is not an S3 event: {}", message.message_id,
                 parsed.status().ToString());
    return {Disposition::kDeadLetter, Status(parsed.status()).WithDetail("InvalidEvent"), ""};
  }
  if (parsed->test_event) {
    spdlog::info("message {} is an s3:TestEvent; deleted", message.message_id);
    return {};
  }
  if (parsed->records.empty()) {
    spdlog::info("message {} has no Records; deleted", message.message_id);
    return {};
  }
  // Every record is handled; the message's fate is the worst of them, so a
  // retry redoes only what is not current yet (done records are skipped).
  Outcome worst;
  for (const auto& record : parsed->records) {
    Outcome outcome = HandleRecord(record);
    if (Rank(outcome) > Rank(worst)) worst = std::move(outcome);
  }
  return worst;
}

Worker::Outcome Worker::HandleRecord(const EventRecord& record) {
  if (!options_.input_bucket.empty() && record.bucket != options_.input_bucket) {
    spdlog::warn("event for bucket {} (expected {}); processing it anyway", record.bucket,
                 options_.input_bucket);
  }
  switch (record.kind) {
    case EventKind::kObjectCreated:
      return HandleCreated(record);
    case EventKind::kObjectRemoved:
      return HandleRemoved(record);
    case EventKind::kOther:
      spdlog::info("event {} for key={} ignored", LogSafe(record.event_name),
                   FormEncode(record.key));
      return {};
  }
  return {};
}

namespace {

// fn(0) .. fn(n - 1) at the same time (fn(0) on this thread), results in
// order. For an image's few independent output requests.
template <typename Fn>
auto InParallel(size_t n, Fn fn) -> std::vector<decltype(fn(size_t{0}))> {
  using R = decltype(fn(size_t{0}));
  std::vector<std::future<R>> others;
  for (size_t i = 1; i < n; ++i) others.push_back(std::async(std::launch::async, fn, i));
  std::vector<R> results;
  if (n > 0) results.push_back(fn(0));
  for (auto& f : others) results.push_back(f.get());
  return results;
}

}  // namespace

Result<Worker::OutputState> Worker::ObserveOutput(const std::string& key) {
  auto head = s3_.HeadObject(options_.output_bucket, key, &abort_in_flight_);
  OutputState state;
  if (!head.ok()) {
    // Without s3:ListBucket on the output bucket (the least-privilege worker
    // key), S3 answers a missing key with 403 rather than 404; s3:GetObject
    // is granted, so an existing key would have answered 200.
    Code code = head.status().code();
    if (code == Code::kNotFound || code == Code::kAccessDenied) return state;
    return head.status();
  }
  state.exists = true;
  state.etag = head->etag;
  auto metadata = [&](std::string_view name) {
    auto it = head->metadata.find(std::string(name));
    return it == head->metadata.end() ? std::string() : it->second;
  };
  state.source_etag = metadata(kSourceEtagMetadata);
  state.output_spec = metadata(kOutputSpecMetadata);
  state.source_key = metadata(kSourceKeyMetadata);
  return state;
}

Result<std::vector<Worker::OutputState>> Worker::ObserveOutputs(
    const std::vector<std::string>& output_keys) {
  auto observed =
      InParallel(output_keys.size(), [&](size_t i) { return ObserveOutput(output_keys[i]); });
  std::vector<OutputState> states;
  for (auto& state : observed) {
    if (!state.ok()) return state.status();
    states.push_back(std::move(*state));
  }
  return states;
}

// Why the write is conditional: two workers can process two versions of one
// key at once (the older event redelivered late, or simply slower). The
// output was observed before the input was fetched, so if a newer version's
// outputs had been written before that observation, the newer input already
// existed and our fetch would have returned it (or failed If-Match). Any
// write after the observation makes our conditional PUT fail; then the input
// is looked at again: still our version -> retry over what is there now;
// changed or gone -> superseded, the newer event writes the outputs.
Result<Worker::WriteResult> Worker::WriteOutput(const EventRecord& record, ProcessedOutput& output,
                                                OutputState seen, const std::string& source_etag,
                                                const std::string& output_spec,
                                                int64_t processing_ms) {
  for (int attempt = 0; attempt < kMaxConditionalWriteAttempts; ++attempt) {
    client::PutObjectOptions put;
    put.content_type = output.content_type;
    put.metadata[std::string(kSourceEtagMetadata)] = source_etag;
    if (!output_spec.empty()) put.metadata[std::string(kOutputSpecMetadata)] = output_spec;
    put.metadata[std::string(kSourceKeyMetadata)] = UriEncode(record.key);
    put.metadata[std::string(kProcessingMsMetadata)] = std::to_string(processing_ms);
    if (seen.exists) {
      put.if_match = seen.etag;
    } else {
      put.if_none_match = true;
    }
    // Copied: a lost race may need the bytes again.
    auto written =
        s3_.PutObject(options_.output_bucket, output.key, output.bytes, put, &abort_in_flight_);
    if (written.ok()) return WriteResult::kWritten;
    bool lost_race = written.status().code() == Code::kPreconditionFailed ||
                     written.status().detail() == "ConditionalRequestConflict";
    if (!lost_race) return written.status();

    IMGBATCH_ASSIGN_OR_RETURN(seen, ObserveOutput(output.key));
    if (seen.exists && seen.source_etag == source_etag && seen.output_spec == output_spec) {
      return WriteResult::kAlreadyCurrent;
    }
    auto input = s3_.HeadObject(record.bucket, record.key, &abort_in_flight_);
    if (!input.ok() && input.status().code() != Code::kNotFound) return input.status();
    if (!input.ok() || input->etag != source_etag) return WriteResult::kSuperseded;
  }
  return Status(Code::kUnavailable,
                "output " + output.key + " keeps changing under conditional writes")
      .WithDetail("ConditionalRequestConflict");
}

// Logs the failure and says what becomes of its message.
Worker::Outcome Worker::Fail(const EventRecord& record, uint64_t bytes_in, uint64_t bytes_out,
                             Clock::time_point start, const Status& status, bool permanent) {
  // A request a policy denies fails the same way until someone changes the
  // policy: retrying only delays the dead-letter queue and its reason. Only
  // when the reply said AccessDenied: a bodiless 403 (a HEAD) may be a
  // signature or clock problem.
  permanent =
      permanent || (status.code() == Code::kAccessDenied && status.detail() == "AccessDenied");
  LogImage(record, bytes_in, bytes_out, start, permanent ? "failed-permanent" : "failed-transient",
           status);
  std::lock_guard lock(mu_);
  ++(permanent ? stats_.permanent_failures : stats_.transient_failures);
  return {permanent ? Disposition::kDeadLetter : Disposition::kRetryLater, status, record.key};
}

Worker::Outcome Worker::HandleCreated(const EventRecord& record) {
  auto start = Clock::now();
  std::vector<std::string> output_keys = processor_.OutputKeys(record.key);
  std::vector<std::string> output_specs = processor_.OutputSpecs();
  output_specs.resize(output_keys.size());  // an implementation without specs: ""
  // A long input key plus an output prefix can pass S3's key limit: no
  // retry can write that output.
  for (const std::string& key : output_keys) {
    if (key.size() > client::kMaxS3KeyBytes) {
      Status too_long =
          Status(Code::kInvalidArgument,
                 "output key of " + std::to_string(key.size()) + " bytes is over S3's limit of " +
                     std::to_string(client::kMaxS3KeyBytes) + ": " + key.substr(0, 64) + "...")
              .WithDetail("KeyTooLongError");
      return Fail(record, 0, 0, start, too_long, /*permanent=*/true);
    }
  }
  // Observed before the input is fetched: see WriteOutput.
  auto observed = ObserveOutputs(output_keys);
  if (!observed.ok()) {
    return Fail(record, 0, 0, start, observed.status(), /*permanent=*/false);
  }
  // Current: made from this version of the input by the same output specs.
  bool current = !record.etag.empty() && !observed->empty();
  for (size_t i = 0; current && i < observed->size(); ++i) {
    const OutputState& state = (*observed)[i];
    current =
        state.exists && state.source_etag == record.etag && state.output_spec == output_specs[i];
  }
  if (current) {
    LogImage(record, 0, 0, start, "already-done");
    std::lock_guard lock(mu_);
    ++stats_.images_skipped;
    return {};
  }

  // An input over the image job's limit is refused before it is read into
  // memory: by the event's size, or (a wrong or missing size) mid-download.
  const uint64_t max_input = processor_.MaxInputBytes();
  if (max_input > 0 && record.size.value_or(0) > max_input) {
    Status too_large = InputTooLarge(record.key, *record.size, max_input);
    return Fail(record, 0, 0, start, too_large, /*permanent=*/true);
  }
  auto object =
      s3_.GetObject(record.bucket, record.key, {record.etag, max_input}, &abort_in_flight_);
  if (!object.ok()) {
    const Status& status = object.status();
    if (status.code() == Code::kPreconditionFailed) {
      // The object changed after this event; the newer event does the work.
      LogImage(record, 0, 0, start, "stale-event");
      std::lock_guard lock(mu_);
      ++stats_.stale_events;
      return {};
    }
    // Gone, or over the limit: retrying the same object cannot help.
    bool permanent = status.code() == Code::kNotFound || status.code() == Code::kTooLarge;
    return Fail(record, 0, 0, start, status, permanent);
  }

  uint64_t bytes_in = object->body.size();
  processing_slots_->acquire();  // image_ms excludes the wait for a slot
  auto job_start = Clock::now();
  auto processed = processor_.Process(record.key, std::move(object->body));
  int64_t image_ms = MillisSince(job_start);
  processing_slots_->release();
  if (!processed.ok()) {
    bool permanent = processor_.IsPermanent(processed.status());
    return Fail(record, bytes_in, 0, start, processed.status(), permanent);
  }

  std::string source_etag = object->info.etag.empty() ? record.etag : object->info.etag;
  auto processing_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  uint64_t bytes_out = 0;
  std::vector<OutputState> seen(processed->size());
  std::vector<std::string> specs(processed->size());
  for (size_t i = 0; i < processed->size(); ++i) {
    const ProcessedOutput& output = (*processed)[i];
    bytes_out += output.bytes.size();
    auto it = std::find(output_keys.begin(), output_keys.end(), output.key);
    if (it != output_keys.end()) {
      seen[i] = (*observed)[it - output_keys.begin()];
      specs[i] = output_specs[it - output_keys.begin()];
    } else if (auto fresh = ObserveOutput(output.key); fresh.ok()) {
      seen[i] = *fresh;  // a key OutputKeys did not announce: observe it now
    }
  }
  // Inputs that differ only in their extension (a.png, a.jpg) name the same
  // outputs; the last one processed wins. Said once per overwrite, so the
  // operator can rename or give outputs per-format prefixes.
  for (const OutputState& state : seen) {
    if (state.exists && !state.source_key.empty() && state.source_key != UriEncode(record.key)) {
      spdlog::warn("output of {} overwrites the one made from {} (their keys name the same output)",
                   FormEncode(record.key), LogSafe(state.source_key));
      break;
    }
  }
  // The outputs are written at once: the upload-to-output latency pays for
  // the largest PUT, not their sum (and the server commits them together).
  auto writes = InParallel(processed->size(), [&](size_t i) {
    return WriteOutput(record, (*processed)[i], seen[i], source_etag, specs[i], processing_ms);
  });
  for (auto& written : writes) {
    if (!written.ok()) {
      return Fail(record, bytes_in, bytes_out, start, written.status(), /*permanent=*/false);
    }
    if (*written == WriteResult::kSuperseded) {
      // A newer version of the input exists and its event writes the outputs.
      LogImage(record, bytes_in, bytes_out, start, "superseded");
      std::lock_guard lock(mu_);
      ++stats_.stale_events;
      return {};
    }
  }
  // The image job alone (image_ms) beside the whole handling (ms) and the
  // upload-to-output time: what the pipeline adds is their difference.
  int64_t end_to_end_ms = -1;
  if (record.event_time_ms > 0) {
    end_to_end_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() -
                    record.event_time_ms;
  }
  spdlog::info(
      "image bucket={} key={} bytes_in={} bytes_out={} ms={} outcome=processed image_ms={} "
      "upload_to_output_ms={}",
      record.bucket, FormEncode(record.key), bytes_in, bytes_out, MillisSince(start), image_ms,
      end_to_end_ms);
  std::lock_guard lock(mu_);
  ++stats_.images_processed;
  latency_ms_.Add(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  if (end_to_end_ms >= 0) end_to_end_ms_.Add(static_cast<double>(end_to_end_ms));
  return {};
}

Worker::Outcome Worker::HandleRemoved(const EventRecord& record) {
  auto start = Clock::now();
  // Events can arrive out of order: if the key exists again, its outputs
  // belong to the newer object and stay.
  auto head = s3_.HeadObject(record.bucket, record.key, &abort_in_flight_);
  if (head.ok()) {
    LogImage(record, 0, 0, start, "removed-but-recreated");
    return {};
  }
  if (head.status().code() != Code::kNotFound) {
    return Fail(record, 0, 0, start, head.status(), /*permanent=*/false);
  }
  for (const auto& key : processor_.OutputKeys(record.key)) {
    if (key.size() > client::kMaxS3KeyBytes) continue;  // never written: S3 refuses such a key
    Status deleted = s3_.DeleteObject(options_.output_bucket, key, &abort_in_flight_);
    if (!deleted.ok() && deleted.code() != Code::kNotFound) {
      return Fail(record, 0, 0, start, deleted, /*permanent=*/false);
    }
  }
  LogImage(record, 0, 0, start, "outputs-removed");
  std::lock_guard lock(mu_);
  ++stats_.outputs_removed;
  return {};
}

void Worker::Complete(const std::string& receipt_handle, const client::SqsMessage& message,
                      const Outcome& outcome) {
  switch (outcome.disposition) {
    case Disposition::kDelete:
      break;
    case Disposition::kRetryLater:
      RetryLater(message, outcome.failure);
      return;
    case Disposition::kDeadLetter:
      if (dlq_url_.empty()) {
        spdlog::warn(
            "message {}: permanent failure ({}) but no dead-letter queue known; "
            "leaving it to the queue's redrive",
            message.message_id, outcome.failure.ToString());
        RetryLater(message, outcome.failure);
        return;
      }
      if (!SendToDeadLetterQueue(message, outcome)) {
        RetryLater(message, outcome.failure);
        return;
      }
      break;
  }
  {
    std::lock_guard lock(mu_);
    deletes_.push_back(receipt_handle);
  }
  keeper_cv_.notify_all();
}

void Worker::RetryLater(const client::SqsMessage& message, const Status& why) {
  int seconds = BackoffSeconds(message.receive_count, options_.max_backoff_seconds);
  Status changed =
      sqs_.ChangeMessageVisibility(options_.queue_url, message.receipt_handle, seconds);
  if (changed.ok()) {
    spdlog::info("message {} retried in {} s (receive {}): {}", message.message_id, seconds,
                 message.receive_count, why.ToString());
  } else {
    // The visibility timeout still runs out, so the message comes back anyway.
    spdlog::warn("message {}: could not set retry backoff: {}", message.message_id,
                 changed.ToString());
  }
}

bool Worker::SendToDeadLetterQueue(const client::SqsMessage& message, const Outcome& outcome) {
  std::map<std::string, std::string> attributes;
  attributes["ErrorCode"] = ErrorCodeOf(outcome.failure);
  std::string error_message = outcome.failure.message();
  if (error_message.size() > kMaxErrorMessageBytes) error_message.resize(kMaxErrorMessageBytes);
  if (error_message.empty()) error_message = attributes["ErrorCode"];
  attributes["ErrorMessage"] = error_message;
  // SQS refuses empty attribute values.
  if (!queue_arn_.empty()) attributes["SourceQueueArn"] = queue_arn_;
  if (!outcome.source_key.empty()) attributes["SourceKey"] = outcome.source_key;
  auto sent = sqs_.SendMessage(dlq_url_, message.body, attributes);
  if (!sent.ok()) {
    spdlog::warn("message {}: sending to the dead-letter queue failed: {}", message.message_id,
                 sent.status().ToString());
    return false;
  }
  spdlog::warn("message {} moved to the dead-letter queue: {}", message.message_id,
               outcome.failure.ToString());
  std::lock_guard lock(mu_);
  ++stats_.dead_lettered;
  return true;
}

void Worker::KeeperLoop() {
  auto tick = std::clamp<std::chrono::milliseconds>(
      std::chrono::milliseconds(visibility_timeout_ * 1000 / 4), kMinKeeperTick, kMaxKeeperTick);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      keeper_cv_.wait_for(lock, tick, [this] { return !deletes_.empty() || processing_done_; });
    }
    bool deleted = FlushDeletes();
    // The poll loop sits in a 20 s long poll; the keeper reports state
    // changes (an image done, messages deleted) as they happen.
    WriteStatusFile(/*force=*/deleted);
    {
      std::lock_guard lock(mu_);
      if (processing_done_ && deletes_.empty()) return;
    }
    StopIfStuck();
    SendHeartbeats();
  }
}

bool Worker::FlushDeletes() {
  std::vector<std::string> handles;
  {
    std::lock_guard lock(mu_);
    handles.swap(deletes_);
  }
  if (handles.empty()) return false;
  for (size_t begin = 0; begin < handles.size(); begin += client::SqsClient::kMaxBatchEntries) {
    size_t end = std::min(handles.size(), begin + client::SqsClient::kMaxBatchEntries);
    std::vector<std::string> batch(handles.begin() + begin, handles.begin() + end);
    auto result = sqs_.DeleteMessageBatch(options_.queue_url, batch);
    if (!result.ok()) {
      // Redelivery will find the outputs current and delete it then.
      spdlog::warn("DeleteMessageBatch failed for {} messages: {}", batch.size(),
                   result.status().ToString());
      continue;
    }
    for (const auto& failure : result->failed) {
      spdlog::warn("DeleteMessageBatch entry {} failed: {} {}", failure.id, failure.code,
                   failure.message);
    }
    std::lock_guard lock(mu_);
    stats_.messages_deleted += result->successful.size();
  }
  return true;
}

bool Worker::IsStuck(const Held& held, Clock::time_point now) const {
  return held.started && options_.max_message_time.count() > 0 &&
         now - held.started_at > options_.max_message_time;
}

void Worker::StopIfStuck() {
  if (stuck_) return;
  std::string message_id;
  double seconds = 0;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    for (const auto& [handle, held] : held_) {
      if (!IsStuck(held, now)) continue;
      message_id = held.message.message_id;
      seconds = std::chrono::duration<double>(now - held.started_at).count();
      break;
    }
  }
  if (message_id.empty()) return;
  stuck_ = true;
  spdlog::error(
      "message {} has been handled for {:.1f} s, over the limit of {} s: taken as stuck; it is no "
      "longer extended, and this worker stops so that a fresh one takes over",
      message_id, seconds, options_.max_message_time.count());
  Stop();
}

// A heartbeat round holds visibility_mu_, which every finishing image waits
// for (Forget), and must end while the messages it extends are still
// hidden: each attempt gets an eighth of the visibility timeout, 1-10 s,
// instead of the transport's 120 s.
std::chrono::milliseconds Worker::HeartbeatTimeout() const {
  return std::clamp<std::chrono::milliseconds>(std::chrono::seconds(visibility_timeout_) / 8,
                                               std::chrono::seconds(1), std::chrono::seconds(10));
}

void Worker::SendHeartbeats() {
  // Extend whatever has used half of its visibility, started or not: a
  // message waiting its turn must not reappear for another worker either.
  std::lock_guard visibility(visibility_mu_);
  std::vector<std::string> due;
  {
    std::lock_guard lock(mu_);
    auto threshold = Clock::now() + std::chrono::seconds(visibility_timeout_) / 2;
    const auto now = Clock::now();
    for (const auto& [handle, held] : held_) {
      // A stuck message is left to reappear (StopIfStuck).
      if (held.visible_until <= threshold && !IsStuck(held, now)) due.push_back(handle);
    }
  }
  for (size_t begin = 0; begin < due.size(); begin += client::SqsClient::kMaxBatchEntries) {
    size_t end = std::min(due.size(), begin + client::SqsClient::kMaxBatchEntries);
    std::vector<client::VisibilityChange> changes;
    for (size_t i = begin; i < end; ++i) changes.push_back({due[i], visibility_timeout_});
    auto sent_at = Clock::now();
    auto result =
        sqs_.ChangeMessageVisibilityBatch(options_.queue_url, changes, HeartbeatTimeout());
    if (!result.ok()) {
      // The rest of the round would wait as long, holding visibility_mu_:
      // it is tried again at the next round.
      spdlog::warn("heartbeat failed for {} messages: {}", changes.size(),
                   result.status().ToString());
      break;
    }
    for (const auto& failure : result->failed) {
      spdlog::warn("heartbeat entry {} failed: {} {}", failure.id, failure.code, failure.message);
    }
    std::lock_guard lock(mu_);
    for (const auto& id : result->successful) {
      auto index = ParseUint(id);
      if (!index || *index >= changes.size()) continue;
      auto it = held_.find(changes[*index].receipt_handle);
      if (it == held_.end()) continue;
      it->second.visible_until = sent_at + std::chrono::seconds(visibility_timeout_);
      ++stats_.heartbeats;
    }
  }
}

void Worker::ReleaseUnstarted() {
  std::vector<std::string> handles;
  {
    std::lock_guard visibility(visibility_mu_);
    std::lock_guard lock(mu_);
    for (const auto& handle : pending_) {
      held_.erase(handle);
      handles.push_back(handle);
    }
    pending_.clear();
    stats_.released += handles.size();
  }
  ReleaseHeld(handles);
}

void Worker::ReleaseHeld(const std::vector<std::string>& receipt_handles) {
  for (size_t begin = 0; begin < receipt_handles.size();
       begin += client::SqsClient::kMaxBatchEntries) {
    size_t end = std::min(receipt_handles.size(), begin + client::SqsClient::kMaxBatchEntries);
    std::vector<client::VisibilityChange> changes;
    for (size_t i = begin; i < end; ++i) changes.push_back({receipt_handles[i], 0});
    auto result = sqs_.ChangeMessageVisibilityBatch(options_.queue_url, changes);
    if (!result.ok()) {
      spdlog::warn(
          "releasing {} unstarted messages failed ({}); they return after their "
          "visibility timeout",
          changes.size(), result.status().ToString());
    }
  }
  if (!receipt_handles.empty()) {
    spdlog::info("released {} unstarted messages", receipt_handles.size());
  }
}

}  // namespace imgbatch::worker
