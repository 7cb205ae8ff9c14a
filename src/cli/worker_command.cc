#include "cli/worker_command.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/aws_http.h"
#include "client/credentials.h"
#include "client/http_transport.h"
#include "client/s3_client.h"
#include "client/sqs_client.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/strings.h"
#include "imaging/imaging.h"
#include "worker/health.h"
#include "worker/image_processor.h"
#include "worker/worker.h"

namespace imgbatch::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;
constexpr int kExitUnhealthy = 3;
// glibc's per-thread arenas fragment a long-running image worker's heap
// (DESIGN.md: peaks halved with few arenas, at no speed cost).
constexpr int kMallocArenas = 2;

struct WorkerFlags {
  std::string queue;  // name or URL
  std::string input_bucket;
  std::string output_bucket;
  std::string region;
  std::string profile;
  std::string endpoint_url;
  std::string s3_endpoint_url;
  std::string sqs_endpoint_url;
  bool force_path_style = false;
  std::string ca_bundle;             // PEM file trusted instead of the system's CAs
  std::vector<std::string> resolve;  // "HOST:PORT:ADDRESS", as curl --resolve
  std::string dlq;                   // name or URL
  int concurrency = 0;
  int prefetch = -1;
  int max_messages = 10;
  int wait_seconds = worker::kDefaultWaitSeconds;
  int stop_timeout_seconds = static_cast<int>(worker::kDefaultStopTimeout.count());
  int max_backoff_seconds = worker::kDefaultMaxBackoffSeconds;
  int max_message_seconds = static_cast<int>(worker::kDefaultMaxMessageTime.count());
  int visibility_timeout = 0;
  std::string outputs;
  uint64_t max_pixels = 0;
  uint64_t max_input_bytes = 0;
  uint64_t memory_budget_mib = imaging::kDefaultMemoryBudget >> 20;
  std::string health_file;
  std::string status_file;
  bool check_health = false;
  int health_max_age_seconds = 90;
  std::string log_format = "text";
  std::string log_level = "info";
};

// SIGTERM/SIGINT are blocked in every thread and taken by this one with
// sigtimedwait, so Stop() runs in ordinary thread context. A second signal
// during the drain exits at once.
class SignalWatcher {
 public:
  explicit SignalWatcher(worker::Worker& worker) {
    thread_ = std::thread([this, &worker] { Watch(worker); });
  }
  ~SignalWatcher() {
    done_ = true;
    thread_.join();
  }
  static void BlockSignals() {
    sigset_t set = Signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }

 private:
  static sigset_t Signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
  }
  void Watch(worker::Worker& worker) {
    sigset_t set = Signals();
    int received = 0;
    while (!done_) {
      timespec tick{0, 200'000'000};
      int signal_number = sigtimedwait(&set, nullptr, &tick);
      if (signal_number < 0) continue;
      if (++received == 1) {
        spdlog::info("signal {}: stopping (send again to exit at once)", signal_number);
        worker.Stop();
      } else {
        spdlog::warn("second signal: exiting without finishing in-flight images");
        spdlog::default_logger()->flush();
        std::_Exit(128 + signal_number);
      }
    }
  }

  std::atomic<bool> done_{false};
  std::thread thread_;
};

void Fail(int code, const std::string& message) {
  spdlog::error("{}", message);
  throw CLI::RuntimeError(code);
}

int RunWorker(const WorkerFlags& flags) {
  SetupLogging(flags.log_format == "json" ? LogFormat::kJson : LogFormat::kText, flags.log_level,
               "worker");
  if (flags.queue.empty()) Fail(kExitConfig, "no queue: --queue or SQSBatchQueue");
  if (flags.output_bucket.empty()) {
    Fail(kExitConfig, "no output bucket: --output-bucket or s3OutputBucket");
  }
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, kMallocArenas);

  client::EnvLookup env = client::ProcessEnv();
  std::string region = flags.region;
  if (region.empty()) region = client::ResolveRegion(env, flags.profile).value_or("");
  if (region.empty()) Fail(kExitConfig, "no region: --region, AWSRegion or AWS_REGION");

  auto s3_endpoint =
      client::ResolveEndpoint("s3", region, flags.s3_endpoint_url, flags.endpoint_url, env);
  if (!s3_endpoint.ok()) Fail(kExitConfig, s3_endpoint.status().ToString());
  auto sqs_endpoint =
      client::ResolveEndpoint("sqs", region, flags.sqs_endpoint_url, flags.endpoint_url, env);
  if (!sqs_endpoint.ok()) Fail(kExitConfig, sqs_endpoint.status().ToString());

  client::CurlOptions transport_options;
  transport_options.ca_file = flags.ca_bundle;
  transport_options.resolve = flags.resolve;
  client::CurlTransport transport(transport_options);
  auto credentials =
      client::MakeDefaultCredentialsChain(env, transport, SystemClock::Instance(), flags.profile);
  if (auto first = credentials->Get(); !first.ok()) Fail(kExitConfig, first.status().ToString());
  spdlog::info("credentials from {}; s3={} sqs={} region={}", credentials->SourceName(),
               s3_endpoint->Origin(), sqs_endpoint->Origin(), region);

  client::AwsHttpClient s3_http(transport, *credentials, SystemClock::Instance(),
                                {region, "s3", {}}, client::ParseS3ErrorCode);
  client::AwsHttpClient sqs_http(transport, *credentials, SystemClock::Instance(),
                                 {region, "sqs", {}}, client::ParseSqsErrorCode);
  client::S3Client s3(s3_http, {*s3_endpoint, flags.force_path_style});
  client::SqsClient sqs(sqs_http, {*sqs_endpoint});

  worker::ImagingProcessorOptions processor_options{flags.outputs, flags.max_input_bytes,
                                                    flags.max_pixels};
  // Test-only knob (integration tests of heartbeats and SIGTERM): a slow image.
  if (auto delay = env("IMGBATCH_TEST_ONLY_IMAGE_DELAY_MS")) {
    processor_options.test_only_delay = std::chrono::milliseconds(ParseUint(*delay).value_or(0));
    spdlog::warn("IMGBATCH_TEST_ONLY_IMAGE_DELAY_MS={}: every image sleeps (tests only)", *delay);
  }
  imaging::SetMemoryBudget(flags.memory_budget_mib << 20);
  auto processor = worker::MakeImagingProcessor(processor_options);
  if (!processor.ok()) Fail(kExitConfig, processor.status().ToString());

  auto queue_url = sqs.ResolveQueueUrl(flags.queue);
  if (!queue_url.ok())
    Fail(kExitFailure, "queue " + flags.queue + ": " + queue_url.status().ToString());
  worker::WorkerOptions options;
  options.queue_url = *queue_url;
  options.input_bucket = flags.input_bucket;
  options.output_bucket = flags.output_bucket;
  if (!flags.dlq.empty()) {
    auto dlq_url = sqs.ResolveQueueUrl(flags.dlq);
    if (!dlq_url.ok()) Fail(kExitFailure, "dlq " + flags.dlq + ": " + dlq_url.status().ToString());
    options.dlq_url = *dlq_url;
  }
  options.concurrency = flags.concurrency;
  options.prefetch = flags.prefetch;
  options.max_messages = flags.max_messages;
  options.wait_seconds = flags.wait_seconds;
  options.stop_timeout = std::chrono::seconds(flags.stop_timeout_seconds);
  options.max_backoff_seconds = flags.max_backoff_seconds;
  options.max_message_time = std::chrono::seconds(flags.max_message_seconds);
  options.visibility_timeout = flags.visibility_timeout;
  options.health_file = flags.health_file;
  options.status_file = flags.status_file;

  worker::Worker worker(s3, sqs, **processor, options);
  if (Status started = worker.Start(); !started.ok()) Fail(kExitFailure, started.ToString());
  Status finished;
  {
    SignalWatcher watcher(worker);
    finished = worker.Run();
  }
  spdlog::default_logger()->flush();
  if (!finished.ok()) {
    // In-flight images did not finish within the stop timeout, or one got
    // stuck: leave now (a stuck thread cannot be joined) rather than overrun
    // the orchestrator's kill deadline; their messages come back after their
    // visibility timeout. A stuck worker exits 1, for a fresh one to start.
    std::_Exit(finished.code() == Code::kTimeout ? kExitOk : kExitFailure);
  }
  return kExitOk;
}

int CheckHealth(const WorkerFlags& flags) {
  if (flags.health_file.empty()) {
    std::cerr << "--check-health needs --health-file (or IMGBATCH_HEALTH_FILE)\n";
    return kExitConfig;
  }
  Status health = worker::CheckHealthFile(flags.health_file,
                                          std::chrono::seconds(flags.health_max_age_seconds));
  if (!health.ok()) {
    std::cerr << "unhealthy: " << health.message() << "\n";
    return kExitUnhealthy;
  }
  return kExitOk;
}

}  // namespace

void AddWorkerCommand(CLI::App& app) {
  auto flags = std::make_shared<WorkerFlags>();
  CLI::App* cmd = app.add_subcommand(
      "worker", "Process S3 events from an SQS queue into resized images (the ECS task)");
  cmd->add_option("--queue", flags->queue, "Queue name or URL")->envname("SQSBatchQueue");
  cmd->add_option("--input-bucket", flags->input_bucket, "Input bucket (events name their own)")
      ->envname("s3InputBucket");
  cmd->add_option("--output-bucket", flags->output_bucket, "Bucket for resized/ and thumbs/")
      ->envname("s3OutputBucket");
  cmd->add_option("--region", flags->region,
                  "Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region)")
      ->envname("AWSRegion");
  cmd->add_option("--profile", flags->profile, "Shared config/credentials profile (AWS_PROFILE)");
  cmd->add_option("--endpoint-url", flags->endpoint_url,
                  "Endpoint for both services (default: AWS_ENDPOINT_URL, else AWS)");
  cmd->add_option("--s3-endpoint-url", flags->s3_endpoint_url,
                  "S3 endpoint (default: AWS_ENDPOINT_URL_S3)");
  cmd->add_option("--sqs-endpoint-url", flags->sqs_endpoint_url,
                  "SQS endpoint (default: AWS_ENDPOINT_URL_SQS)");
  cmd->add_flag("--force-path-style", flags->force_path_style,
                "Path-style S3 addressing even on AWS endpoints");
  cmd->add_option("--ca-bundle", flags->ca_bundle,
                  "PEM certificates to trust instead of the system's")
      ->envname("AWS_CA_BUNDLE")
      ->check(CLI::ExistingFile);
  cmd->add_option("--resolve", flags->resolve,
                  "HOST:PORT:ADDRESS: connect to HOST:PORT at ADDRESS (as curl --resolve), e.g. "
                  "to reach a local TLS endpoint by its certificate's name");
  cmd->add_option("--dlq", flags->dlq,
                  "Dead-letter queue name or URL (default: the queue's RedrivePolicy target)");
  cmd->add_option("--concurrency", flags->concurrency,
                  "Images processed at once (default: cores in the CPU affinity, at most one per "
                  "256 MiB of memory limit)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--prefetch", flags->prefetch,
                  "Messages downloading or uploading beyond --concurrency, so network waits "
                  "overlap image processing (default: = --concurrency)")
      ->check(CLI::Range(-1, 256));
  cmd->add_option("--max-messages", flags->max_messages, "Messages per ReceiveMessage")
      ->check(CLI::Range(1, 10))
      ->capture_default_str();
  cmd->add_option("--wait-seconds", flags->wait_seconds, "Long-poll WaitTimeSeconds")
      ->check(CLI::Range(0, 20))
      ->capture_default_str();
  cmd->add_option("--stop-timeout", flags->stop_timeout_seconds,
                  "Seconds to finish in-flight images after SIGTERM")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  cmd->add_option("--max-backoff", flags->max_backoff_seconds,
                  "Cap of the 2^receiveCount s retry delay for transient failures")
      ->check(CLI::Range(0, 43200))
      ->capture_default_str();
  cmd->add_option("--max-message-time", flags->max_message_seconds,
                  "Seconds a message may be handled before it is taken as stuck: it is no longer "
                  "extended and the worker exits 1 for its supervisor to start a fresh one (0: no "
                  "limit)")
      ->check(CLI::Range(0, 43200))
      ->capture_default_str();
  cmd->add_option("--visibility-timeout", flags->visibility_timeout,
                  "Heartbeat extension in s (default: the queue's VisibilityTimeout)")
      ->check(CLI::Range(0, 43200));
  cmd->add_option("--outputs", flags->outputs,
                  "Outputs, e.g. 'resized:1024x768:jpeg:q100;thumbs:192x192:q75' (default: the "
                  "seed's)")
      ->envname("IMGBATCH_OUTPUTS");
  cmd->add_option("--max-pixels", flags->max_pixels, "Refuse larger images (default 100 MP)");
  cmd->add_option("--max-input-bytes", flags->max_input_bytes, "Refuse larger inputs");
  cmd->add_option("--memory-budget", flags->memory_budget_mib,
                  "MiB of decode working memory for the images in flight (see imgbatch process); "
                  "0: unlimited")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 20))
      ->envname("IMGBATCH_MEMORY_BUDGET_MIB")
      ->capture_default_str();
  cmd->add_option("--status-file", flags->status_file,
                  "JSON state file for a supervisor (imgbatch up writes one per worker)");
  cmd->add_option("--health-file", flags->health_file, "File the poll loop touches")
      ->envname("IMGBATCH_HEALTH_FILE");
  cmd->add_flag("--check-health", flags->check_health,
                "Exit 0 if --health-file is fresh, 3 if stale or missing (container health check)");
  cmd->add_option("--health-max-age", flags->health_max_age_seconds,
                  "Seconds after which the health file is stale")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--log-format", flags->log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->envname("IMGBATCH_LOG_FORMAT")
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->envname("IMGBATCH_LOG_LEVEL")
      ->capture_default_str();
  cmd->callback([flags] {
    int code = kExitOk;
    if (flags->check_health) {
      code = CheckHealth(*flags);
    } else {
      // Before any thread exists, so every thread inherits the mask.
      SignalWatcher::BlockSignals();
      code = RunWorker(*flags);
    }
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });
}

}  // namespace imgbatch::cli
