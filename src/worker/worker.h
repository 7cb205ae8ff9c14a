// Worker: the seed's ECS task. Long-polls the queue, processes every record
// of each S3 event (get with If-Match -> image job -> put outputs), deletes
// the message, and handles everything around it: heartbeats that extend a
// message's visibility while it waits or is processed, transient failures
// retried later through ChangeMessageVisibility with backoff, permanent ones
// sent to the dead-letter queue with a reason, stale events and already-done
// work skipped, graceful drain on Stop() (SIGTERM).
//
// Threads (all owned by Run()): the calling thread polls; `concurrency` +
// `prefetch` message threads run one message each, of which at most
// `concurrency` process an image at a time (a semaphore around the image
// job; the others download or upload meanwhile); one keeper thread batches
// deletes (DeleteMessageBatch, each failed entry logged) and heartbeats
// (ChangeMessageVisibilityBatch). At most threads + concurrency messages are
// held: those not yet started are released (visibility 0) on Stop().
//
// Lifecycle: construct, Start() (resolves the queue's ARN, visibility timeout
// and DLQ), Run() until Stop(). Stop() is thread-safe and may be called from
// any thread (not from a signal handler: use a signal-waiting thread).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "client/s3_client.h"
#include "client/sqs_client.h"
#include "common/status.h"
#include "worker/image_processor.h"
#include "worker/s3_event.h"

namespace imgbatch::worker {

inline constexpr int kDefaultWaitSeconds = 20;
inline constexpr std::chrono::seconds kDefaultStopTimeout{25};  // under ECS's 30 s
inline constexpr int kDefaultMaxBackoffSeconds = 300;
inline constexpr std::chrono::seconds kDefaultMaxMessageTime{900};
inline constexpr std::string_view kSourceEtagMetadata = "source-etag";
// The spec that made the output (ImageProcessor::OutputSpecs): an output is
// current only when both its source ETag and its spec match, so changed
// outputs take effect on `imgbatch reprocess`.
inline constexpr std::string_view kOutputSpecMetadata = "output-spec";
// Also on every output, for the dashboard's gallery: the source key
// (percent-encoded: metadata travels as ASCII headers) and the milliseconds
// from receiving the event to having the encoded outputs (get + process).
inline constexpr std::string_view kSourceKeyMetadata = "source-key";
inline constexpr std::string_view kProcessingMsMetadata = "processing-ms";

struct WorkerOptions {
  std::string queue_url;
  std::string output_bucket;
  // Informational: events name their own bucket; a record for another bucket
  // is processed but logged.
  std::string input_bucket;
  std::string dlq_url;  // empty: the queue's RedrivePolicy target, if any
  // Images processed (decoded, resized, encoded) at once. 0: the cores in
  // this process's CPU affinity, bounded by memory (DefaultConcurrency).
  int concurrency = 0;
  // Messages in flight beyond `concurrency`: they download their input and
  // upload their outputs while the others hold the CPU, so network latency
  // does not idle a core; they wait for a processing slot before decoding
  // (memory stays bounded by `concurrency`). -1: as many as `concurrency`.
  int prefetch = -1;
  int max_messages = 10;  // per ReceiveMessage (1..10)
  int wait_seconds = kDefaultWaitSeconds;
  std::chrono::seconds stop_timeout = kDefaultStopTimeout;
  int max_backoff_seconds = kDefaultMaxBackoffSeconds;  // cap of 2^receiveCount
  // 0: the queue's VisibilityTimeout attribute. Heartbeats extend by this
  // much whenever half of it has passed.
  int visibility_timeout = 0;
  // A message still being handled after this long is taken as stuck (an
  // image job that never returns: a thread cannot be cancelled from outside,
  // nor can a libvips decode). It is no longer extended, so it reappears
  // after its visibility timeout and the queue's maxReceiveCount dead-letters
  // it if it sticks every time; and the worker stops (Run returns
  // kInternal), so that its supervisor (ECS, `imgbatch up`) starts a fresh
  // process with all its threads. 0: no limit.
  std::chrono::seconds max_message_time = kDefaultMaxMessageTime;
  std::string health_file;  // touched by the poll loop; empty = none
  // JSON state for a supervising `imgbatch up` (idle/busy, counters, recent
  // latencies), rewritten atomically about once a second; empty = none.
  std::string status_file;
};

// The last kCapacity values of a series and how many were ever added. The
// status file carries both, so a reader that samples it now and then takes
// exactly the values it has not seen yet (total - its last total, newest
// last) however many writes happened in between — a write no longer drops
// the samples of the one before.
class RecentSamples {
 public:
  static constexpr size_t kCapacity = 256;
  void Add(double value);
  uint64_t total() const { return total_; }
  std::vector<double> Values() const;  // oldest first

 private:
  std::vector<double> ring_;
  uint64_t total_ = 0;
};

// Counters for logs and tests; all monotonic.
struct WorkerStats {
  uint64_t messages_received = 0;
  uint64_t messages_deleted = 0;
  uint64_t images_processed = 0;
  uint64_t images_skipped = 0;  // outputs already current
  uint64_t stale_events = 0;    // If-Match failed
  uint64_t outputs_removed = 0;
  uint64_t permanent_failures = 0;
  uint64_t transient_failures = 0;
  uint64_t dead_lettered = 0;
  uint64_t heartbeats = 0;  // visibility extensions that succeeded
  uint64_t released = 0;    // unstarted messages released on stop
  uint64_t held = 0;        // messages currently held (gauge)
  uint64_t in_flight = 0;   // messages being processed (gauge)
};

class Worker {
 public:
  Worker(client::S3Client& s3, client::SqsClient& sqs, ImageProcessor& processor,
         WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Reads the queue's attributes (QueueArn, VisibilityTimeout, RedrivePolicy)
  // and resolves the DLQ URL. Errors: the queue is unreachable or missing.
  Status Start();
  // Polls until Stop(), then drains. Returns Ok when every in-flight image
  // finished within the stop timeout, kTimeout otherwise (threads were told
  // to abort their transfers; the caller may exit without waiting), and
  // kInternal when a message got stuck (max_message_time): the worker
  // stopped itself, and a stuck thread may still be running.
  Status Run();
  void Stop();

  WorkerStats stats() const;
  const std::string& dlq_url() const { return dlq_url_; }
  const std::string& queue_arn() const { return queue_arn_; }

 private:
  struct Held {
    client::SqsMessage message;
    std::chrono::steady_clock::time_point visible_until;
    bool started = false;
    std::chrono::steady_clock::time_point started_at{};
  };
  // What to do with a message once its records were handled.
  enum class Disposition { kDelete, kDeadLetter, kRetryLater };
  struct Outcome {
    Disposition disposition = Disposition::kDelete;
    Status failure;          // why, for kDeadLetter / kRetryLater
    std::string source_key;  // the record that failed
  };

  // Severity order when records disagree: retry > dead-letter > delete.
  static int Rank(const Outcome& outcome);

  void PollLoop();
  void WriteStatusFile(bool force);
  void ProcessingLoop();
  void KeeperLoop();

  Outcome HandleMessage(const client::SqsMessage& message);
  Outcome HandleRecord(const EventRecord& record);
  Outcome HandleCreated(const EventRecord& record);
  Outcome HandleRemoved(const EventRecord& record);
  // What an output key holds when this worker looks at it: the basis of the
  // conditional write that replaces it (If-Match its ETag, or If-None-Match
  // when absent), so a newer version's outputs are never overwritten.
  struct OutputState {
    bool exists = false;
    std::string etag;
    std::string source_etag;  // the metadata naming the input version
    std::string output_spec;  // the metadata naming what produced it
    std::string source_key;   // the input it was made from, as written (percent-encoded)
  };
  enum class WriteResult { kWritten, kAlreadyCurrent, kSuperseded };
  Result<OutputState> ObserveOutput(const std::string& key);
  Result<std::vector<OutputState>> ObserveOutputs(const std::vector<std::string>& output_keys);
  Result<WriteResult> WriteOutput(const EventRecord& record, ProcessedOutput& output,
                                  OutputState seen, const std::string& source_etag,
                                  const std::string& output_spec, int64_t processing_ms);
  std::chrono::milliseconds HeartbeatTimeout() const;
  Outcome Fail(const EventRecord& record, uint64_t bytes_in, uint64_t bytes_out,
               std::chrono::steady_clock::time_point start, const Status& status, bool permanent);
  void Complete(const std::string& receipt_handle, const client::SqsMessage& message,
                const Outcome& outcome);
  void RetryLater(const client::SqsMessage& message, const Status& why);
  bool SendToDeadLetterQueue(const client::SqsMessage& message, const Outcome& outcome);

  bool FlushDeletes();  // true when it sent any
  bool IsStuck(const Held& held, std::chrono::steady_clock::time_point now) const;
  void StopIfStuck();
  void SendHeartbeats();
  void ReleaseUnstarted();
  void ReleaseHeld(const std::vector<std::string>& receipt_handles);
  void Forget(const std::string& receipt_handle);

  client::S3Client& s3_;
  client::SqsClient& sqs_;
  ImageProcessor& processor_;
  WorkerOptions options_;
  std::string queue_arn_;
  std::string dlq_url_;
  int visibility_timeout_ = 30;

  std::atomic<bool> stop_{false};
  // Raised when the stop timeout passes: in-flight transfers abort.
  std::atomic<bool> abort_in_flight_{false};
  std::atomic<bool> stuck_{false};  // a message passed max_message_time

  // Serialises visibility changes: held by the keeper for a whole heartbeat
  // round, and taken when a message leaves held_, so a heartbeat can never
  // land after (and undo) a retry backoff or a release.
  std::mutex visibility_mu_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;      // pending work or stop (processing threads)
  std::condition_variable capacity_cv_;  // a slot freed or stop (poll loop)
  std::condition_variable keeper_cv_;    // deletes queued or stop (keeper)
  std::map<std::string, Held> held_;     // by receipt handle
  std::deque<std::string> pending_;      // receipt handles not yet started
  std::vector<std::string> deletes_;     // receipt handles to delete
  int in_flight_ = 0;
  bool processing_done_ = false;  // processing threads have exited
  WorkerStats stats_;
  RecentSamples latency_ms_;     // per-image processing time
  RecentSamples end_to_end_ms_;  // upload (eventTime) to outputs written
  std::chrono::steady_clock::time_point last_status_write_{};

  std::vector<std::thread> processing_threads_;
  // Processing slots: `concurrency` images in the image job at once.
  std::unique_ptr<std::counting_semaphore<>> processing_slots_;
  std::thread keeper_thread_;
};

// Visibility timeout for a retry: 2^receive_count seconds, capped.
int BackoffSeconds(int receive_count, int max_backoff_seconds);

// The number of CPUs this process may run on (sched_getaffinity), >= 1.
int CoresInAffinity();

// Memory this process may use: the cgroup limit (v2 memory.max or v1
// limit_in_bytes) when set, else MemTotal; 0 when unknown.
uint64_t MemoryLimitBytes();

// Images in flight by default: the cores, but no more than the memory allows
// at kMemoryPerImage each (an ECS task with 512 MiB runs one at a time).
inline constexpr uint64_t kMemoryPerImage = 256ull << 20;
int DefaultConcurrency(int cores, uint64_t memory_limit_bytes);

}  // namespace imgbatch::worker
