// Config: what `imgbatch up` creates and runs — buckets, queues,
// notifications, image outputs, workers, alarms, scaling policy, keys, limits
// — the role the CloudFormation template plays in the seed. No file means the
// seed's defaults (SeedDefaults). A file (imgbatch.toml, toml++) overrides
// section by section; errors name the file, line and reason.
// Plain values; thread-safe once loaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace imgbatch::server {

struct QueueSpec {
  std::string name;
  int visibility_timeout = 30;
  int message_retention = 345600;
  int receive_wait = 0;
  std::string dead_letter_queue;  // "" = none
  int max_receive_count = 5;
  // The queue's Policy attribute (an SQS resource policy); "" leaves the
  // queue's own, as set with SetQueueAttributes, alone.
  std::string policy_json = {};
};

struct NotificationSpec {
  std::string id;
  std::string bucket;
  std::string queue;
  std::vector<std::string> events = {"s3:ObjectCreated:*"};
  std::string prefix;
  std::string suffix;
};

struct OutputSpec {
  std::string name;    // "resized"
  std::string prefix;  // "resized/"
  int width = 0;
  int height = 0;
  std::string fit = "inside";   // inside | cover
  std::string format = "jpeg";  // jpeg | webp | avif | png
  int quality = 80;
  std::string chroma = "420";  // 420 | 444 (JPEG)
};

struct WorkerSpec {
  std::string input_bucket = "input";
  std::string output_bucket = "output";
  std::string queue = "batch-queue";
  std::string dead_letter_queue = "batch-dlq";
  int min = 0;
  int max = 0;          // 0 = the cores available
  int concurrency = 0;  // images in flight per worker; 0 = the cores in its affinity
  int stop_timeout_seconds = 25;
  // How much nicer (setpriority) than the server the workers run: on one
  // machine they share the server's cores, and image work should not delay the
  // requests every client, the workers included, waits on. 0..19.
  int nice = 10;
};

struct AlarmConfig {
  std::string name;
  std::string metric;  // ApproximateNumberOfMessagesVisible, ...
  std::string queue;
  std::string statistic = "Average";
  int period_seconds = 60;
  int evaluation_periods = 1;
  std::string comparison = "GreaterThanOrEqualToThreshold";
  double threshold = 5;
};

struct ScalingConfig {
  std::string policy = "target-tracking";  // target-tracking | step
  double target_backlog_per_worker = 5;
  int scale_out_cooldown_seconds = 0;
  int scale_in_cooldown_seconds = 60;
  std::string step_alarm;  // for policy = "step"
  struct Step {
    std::optional<double> lower, upper;
    int change = 0;
  };
  std::vector<Step> steps;
};

struct KeyConfig {
  std::string name;
  std::string access_key_id;
  std::string secret_access_key;
  std::string policy_json;  // IAM policy document
};

struct LimitsConfig {
  uint64_t max_object_bytes = 5ull << 40;
  uint64_t max_image_bytes = 256ull << 20;
  uint64_t max_image_pixels = 100'000'000;
  int max_image_dimension = 65'500;
  uint64_t free_space_reserve_bytes = 256ull << 20;
  int max_connections = 10'000;
  // Messages in flight per queue before receives get none (AWS's quotas).
  int64_t max_messages_in_flight = 120'000;
  int64_t max_messages_in_flight_fifo = 20'000;
  // API calls per second per FIFO queue and method before RequestThrottled
  // (AWS's FIFO throughput quota; queue/call_rate.h). 0: none.
  int64_t fifo_calls_per_second = 300;
};

// A bucket's policy, as PutBucketPolicy would set it (checked the same way).
struct BucketPolicySpec {
  std::string bucket;
  std::string policy_json;
};

// One S3 lifecycle rule of a bucket: the objects under `prefix` expire
// expiration_days after they were written; multipart uploads not completed
// abort_incomplete_days after they began are aborted.
struct LifecycleRuleSpec {
  std::string bucket;
  std::string id;
  std::string prefix;
  std::optional<int> expiration_days;
  std::optional<int> abort_incomplete_days;
};

// S3 lifecycle: how often the buckets' rules are applied (lifecycle_runner.h),
// and rules declared here (a bucket with any replaces its configuration with
// them at each start; others keep what clients put).
struct LifecycleConfig {
  int interval_seconds = 3600;
  std::vector<LifecycleRuleSpec> rules = {};
};

struct Config {
  std::string source = "built-in seed defaults";
  std::vector<std::string> buckets;
  // Declared bucket policies replace the bucket's at each start; a bucket
  // without one keeps what clients put.
  std::vector<BucketPolicySpec> bucket_policies;
  std::vector<QueueSpec> queues;
  std::vector<NotificationSpec> notifications;
  std::vector<OutputSpec> outputs;
  WorkerSpec workers;
  std::vector<AlarmConfig> alarms;
  ScalingConfig scaling;
  std::vector<KeyConfig> keys;
  LimitsConfig limits;
  LifecycleConfig lifecycle;
  std::optional<std::string> root_access_key_id, root_secret_access_key;
};

// The image suffixes notified by default, each in lower and upper case.
std::vector<std::string> DefaultImageSuffixes();
// The seed's resources: buckets input/output, batch-queue (visibility 120 s)
// with batch-dlq (maxReceiveCount 5), one notification per suffix, outputs
// resized (1024x768 q100) and thumbs (192x192 q75), the seed's alarm, target
// tracking at 5 per worker, workers 0..cores.
Config SeedDefaults();
// Parses a TOML document; a section present replaces that part of the
// defaults. Errors: kInvalidArgument "FILE:LINE:COL: reason".
Result<Config> ParseConfig(const std::string& toml_text, const std::string& file_name);
Result<Config> LoadConfig(const std::string& path);
// Cross-references: queues named by notifications/workers exist, dead-letter
// queues exist, outputs would not re-trigger the input's notifications.
Status ValidateConfig(const Config& config);

}  // namespace imgbatch::server
