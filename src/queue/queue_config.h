// Queue configuration: the settable SQS queue attributes with their AWS
// defaults and limits, the redrive policies, permission statements, queue
// name and id rules, and ARNs.
// Plain values and pure functions; thread-safe.
// Reference: AWS SQS API Reference, SetQueueAttributes and CreateQueue.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace imgbatch::queue {

inline constexpr int kDefaultVisibilityTimeout = 30;
inline constexpr int kMaxVisibilityTimeout = 43200;     // 12 hours
inline constexpr int kDefaultRetentionPeriod = 345600;  // 4 days
inline constexpr int kMinRetentionPeriod = 60;
inline constexpr int kMaxRetentionPeriod = 1209600;  // 14 days
inline constexpr int kMaxDelaySeconds = 900;
inline constexpr int kMaxWaitSeconds = 20;
inline constexpr int kMinMaximumMessageSize = 1024;
inline constexpr int kMaxMaximumMessageSize = 1048576;  // 1 MiB, AWS's limit since 2025
// AWS's default since it raised the limit (the API reference: "Default: 1,048,576 bytes").
// A queue stores its attributes whole at creation, so queues created under the
// old default of 256 KiB keep it.
inline constexpr int kDefaultMaximumMessageSize = kMaxMaximumMessageSize;
inline constexpr int kMaxReceiveCountLimit = 1000;
inline constexpr int kDefaultKmsDataKeyReusePeriod = 300;  // 5 minutes
inline constexpr int kMinKmsDataKeyReusePeriod = 60;
inline constexpr int kMaxKmsDataKeyReusePeriod = 86400;  // 24 hours
inline constexpr size_t kMaxKmsKeyIdLength = 2048;       // KMS's limit on a key id, ARN or alias
inline constexpr size_t kMaxQueueNameLength = 80;
inline constexpr std::string_view kFifoSuffix = ".fifo";
// How long a FIFO queue remembers a deduplication id (AWS: 5 minutes).
inline constexpr int64_t kDeduplicationIntervalMs = 5 * 60 * 1000;

using AttributeMap = std::map<std::string, std::string>;

struct RedrivePolicy {
  std::string dead_letter_target_arn;
  int max_receive_count = 0;
};

struct QueueConfig {
  int visibility_timeout = kDefaultVisibilityTimeout;
  int retention_period = kDefaultRetentionPeriod;
  int delay_seconds = 0;
  int receive_wait_seconds = 0;
  int maximum_message_size = kDefaultMaximumMessageSize;
  std::string redrive_policy;        // JSON as given ("" = none)
  std::string redrive_allow_policy;  // JSON as given ("" = none)
  std::string policy;                // JSON as given; enforced by the sqs adapter
  // Server-side encryption as AWS reports it: SSE-SQS (the default) or SSE-KMS
  // with a key id, one at a time. Stored and returned so that clients and
  // templates that set them see them back; encryption at rest is the data
  // directory's business here (there is no KMS to ask).
  bool sqs_managed_sse = true;
  std::string kms_master_key_id;  // "" = not SSE-KMS
  int kms_data_key_reuse_period = kDefaultKmsDataKeyReusePeriod;
  std::optional<RedrivePolicy> redrive;  // parsed redrive_policy
  // FIFO queues (FifoQueue=true, a name ending in ".fifo"; fixed at creation).
  bool fifo = false;
  bool content_based_deduplication = false;  // MessageDeduplicationId = SHA-256 of the body
  bool dedup_per_group = false;              // DeduplicationScope messageGroup (else queue)
  bool throughput_per_group = false;  // FifoThroughputLimit perMessageGroupId (else perQueue)

  // Applies attributes by AWS name; unknown names -> kInvalidArgument (detail
  // "InvalidAttributeName"), bad values -> detail "InvalidAttributeValue".
  Status Apply(const AttributeMap& attributes);
  // The settable attributes as AWS returns them.
  AttributeMap ToMap() const;
};

// Parses {"deadLetterTargetArn": ..., "maxReceiveCount": N|"N"}.
Result<RedrivePolicy> ParseRedrivePolicy(std::string_view json);
// True when the RedriveAllowPolicy (JSON, "" = allow all) lets source_arn use
// the queue as its dead-letter queue.
bool RedriveAllowed(std::string_view redrive_allow_policy, std::string_view source_arn);

// SQS's quotas on a queue's access policy ("Amazon SQS policy quotas"): a
// document over them is OverLimit (403), for the Policy attribute and for the
// policy AddPermission would make.
inline constexpr size_t kMaxPolicyBytes = 8192;
inline constexpr size_t kMaxPolicyStatements = 20;
inline constexpr size_t kMaxPolicyActionsPerStatement = 7;
inline constexpr size_t kMaxPolicyPrincipals = 50;
inline constexpr size_t kMaxPolicyConditions = 10;
// OverLimit with AWS's message for the first quota the policy (JSON text)
// exceeds; Ok for one within them or one that is not JSON (judged elsewhere).
Status CheckPolicyQuotas(std::string_view policy);

// AddPermission / RemovePermission edit statements of the queue's access
// policy (the Policy attribute; the sqs adapter decides each request with it
// and the caller's key policy: sqs/queue_policy.h).
inline constexpr size_t kMaxPermissionActions = 7;
struct Permission {
  std::string label;                     // the statement's Sid
  std::vector<std::string> account_ids;  // 12-digit AWS account ids
  std::vector<std::string> actions;      // "SendMessage", ..., or "*"
};
// The policy with permission's statement added (a new document when policy
// is ""). Errors as AWS gives them: InvalidParameterValue for a label in use
// or malformed, an unknown action or account id, OverLimit for more than 7
// actions, MissingParameter for none.
Result<std::string> AddPermissionStatement(std::string_view policy, std::string_view queue_arn,
                                           const Permission& permission);
// The policy without the statement labelled label ("" once none is left);
// InvalidParameterValue when no statement has that label.
Result<std::string> RemovePermissionStatement(std::string_view policy, std::string_view label);

// 1-80 characters of [A-Za-z0-9_-], the last five ".fifo" for a FIFO queue.
Status ValidateQueueName(std::string_view name);
// MessageGroupId, MessageDeduplicationId and ReceiveRequestAttemptId: up to
// 128 letters, digits and ASCII punctuation, the set SQS documents ("" is
// "not given"); InvalidParameterValue naming `parameter` otherwise.
Status ValidateIdText(std::string_view parameter, std::string_view id);
// That InvalidParameterValue, for an id given as "" (the protocol adapter
// tells an empty id from an absent one).
Status InvalidIdText(std::string_view parameter, std::string_view id);
// A ".fifo" name goes with FifoQueue=true and only with it.
Status ValidateQueueType(std::string_view name, const QueueConfig& config);

std::string QueueArn(std::string_view region, std::string_view account, std::string_view name);
// The queue name of an arn:aws:sqs:<region>:<account>:<name>; nullopt when
// the ARN is not an SQS ARN of this region and account.
std::optional<std::string> QueueNameFromArn(std::string_view arn, std::string_view region,
                                            std::string_view account);

}  // namespace imgbatch::queue
