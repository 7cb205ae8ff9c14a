#include "queue/queue_config.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace imgbatch::queue {
namespace {

Status BadValue(std::string_view name, std::string reason) {
  return InvalidArgument("Invalid value for the parameter " + std::string(name) +
                         ". Reason: " + std::move(reason))
      .WithDetail("InvalidAttributeValue");
}

Status ParseBounded(std::string_view name, std::string_view text, int min, int max, int* out) {
  auto v = ParseInt(Trim(text));
  if (!v || *v < min || *v > max) {
    return BadValue(name, "must be an integer between " + std::to_string(min) + " and " +
                              std::to_string(max) + ".");
  }
  *out = static_cast<int>(*v);
  return Status::Ok();
}

// maxReceiveCount may arrive as a JSON number or a string of digits.
std::optional<int64_t> JsonInt(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) return ParseInt(v.get<std::string>());
  return std::nullopt;
}

}  // namespace

Result<RedrivePolicy> ParseRedrivePolicy(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return BadValue("RedrivePolicy", "Redrive policy is not a valid JSON map.");
  RedrivePolicy policy;
  auto arn = doc.find("deadLetterTargetArn");
  auto count = doc.find("maxReceiveCount");
  if (arn == doc.end() || !arn->is_string() || count == doc.end()) {
    return BadValue("RedrivePolicy",
                    "Redrive policy does not contain mandatory attribute: " +
                        std::string(arn == doc.end() ? "deadLetterTargetArn" : "maxReceiveCount") +
                        ".");
  }
  auto n = JsonInt(*count);
  if (!n || *n < 1 || *n > kMaxReceiveCountLimit) {
    return BadValue("RedrivePolicy", "Invalid value for maxReceiveCount: " + count->dump() +
                                         ", valid values are from 1 to 1000 both inclusive.");
  }
  policy.dead_letter_target_arn = arn->get<std::string>();
  policy.max_receive_count = static_cast<int>(*n);
  return policy;
}

bool RedriveAllowed(std::string_view redrive_allow_policy, std::string_view source_arn) {
  if (redrive_allow_policy.empty()) return true;
  nlohmann::json doc = nlohmann::json::parse(redrive_allow_policy, nullptr, false);
  if (!doc.is_object()) return true;
  const std::string permission = doc.value("redrivePermission", "allowAll");
  if (permission == "denyAll") return false;
  if (permission != "byQueue") return true;
  auto sources = doc.find("sourceQueueArns");
  if (sources == doc.end() || !sources->is_array()) return false;
  for (const auto& s : *sources) {
    if (s.is_string() && s.get<std::string>() == source_arn) return true;
  }
  return false;
}

static Status ValidateKmsKeyId(std::string_view id) {
  const std::optional<size_t> characters = CountXmlCharacters(id);
  if (!characters || *characters > kMaxKmsKeyIdLength) {
    return BadValue("KmsMasterKeyId", "must be a KMS key id, ARN or alias of at most " +
                                          std::to_string(kMaxKmsKeyIdLength) + " characters.");
  }
  return Status::Ok();
}

// SSE-SQS and SSE-KMS exclude each other: asking for one turns the other off,
// asking for both at once is an error.
static Status ApplyEncryptionChoice(const AttributeMap& attributes, QueueConfig* next) {
  const auto sse = attributes.find("SqsManagedSseEnabled");
  const auto kms = attributes.find("KmsMasterKeyId");
  const bool wants_sse_sqs = sse != attributes.end() && IEquals(sse->second, "true");
  const bool wants_sse_kms = kms != attributes.end() && !kms->second.empty();
  if (wants_sse_sqs && wants_sse_kms) {  // AWS's code and words (recorded)
    return InvalidArgument(
               "You can use one type of server-side encryption (SSE) at one time. You can either "
               "enable KMS SSE or SQS SSE.")
        .WithDetail("InvalidAttributeName");
  }
  if (wants_sse_kms) next->sqs_managed_sse = false;
  if (wants_sse_sqs) next->kms_master_key_id.clear();
  return Status::Ok();
}

// In any case, as AWS takes them ("True" is common in recorded requests).
static Status ParseBool(std::string_view name, std::string_view value, bool* out) {
  if (!IEquals(value, "true") && !IEquals(value, "false")) {
    return BadValue(name, "must be true or false.");
  }
  *out = IEquals(value, "true");
  return Status::Ok();
}

// One of two values; *out says whether it is `yes`.
static Status ParseChoice(std::string_view name, std::string_view value, std::string_view yes,
                          std::string_view no, bool* out) {
  if (value != yes && value != no) {
    return BadValue(name, "must be " + std::string(yes) + " or " + std::string(no) + ".");
  }
  *out = value == yes;
  return Status::Ok();
}

// The FIFO-only attributes are unknown to a standard queue, as on AWS; high
// throughput (per message group) needs deduplication per message group.
// A standard queue has no FIFO attributes; AWS's codes and words (recorded):
// FifoQueue (false: true asks for a FIFO queue) and ContentBasedDeduplication
// are unknown to it, the two throughput settings need FifoQueue.
// (A FIFO queue asked to become standard is the engine's "Modifying queue
// type is not supported".)
static Status CheckFifoAttributes(const AttributeMap& attributes, bool was_fifo,
                                  const QueueConfig& next) {
  if (!next.fifo && !was_fifo) {
    for (const char* name : {"FifoQueue", "ContentBasedDeduplication"}) {
      if (attributes.contains(name)) {
        return InvalidArgument("Unknown Attribute " + std::string(name) + ".")
            .WithDetail("InvalidAttributeName");
      }
    }
    for (const char* name : {"DeduplicationScope", "FifoThroughputLimit"}) {
      if (attributes.contains(name)) {
        return InvalidArgument("You can specify the " + std::string(name) +
                               " only when FifoQueue is set to true.")
            .WithDetail("InvalidAttributeName");
      }
    }
  }
  if (next.throughput_per_group && !next.dedup_per_group) {
    return BadValue("FifoThroughputLimit",
                    "perMessageGroupId is only available with DeduplicationScope messageGroup.");
  }
  return Status::Ok();
}

static Status ValidateRedriveAllowPolicy(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (!doc.is_object()) return BadValue("RedriveAllowPolicy", "not a valid JSON map.");
  const auto permission = doc.find("redrivePermission");
  if (permission == doc.end() || !permission->is_string()) {
    return BadValue("RedriveAllowPolicy", "redrivePermission is required.");
  }
  const std::string p = permission->get<std::string>();
  if (p != "allowAll" && p != "denyAll" && p != "byQueue") {
    return BadValue("RedriveAllowPolicy", "Invalid value for redrivePermission: " + p + ".");
  }
  const auto sources = doc.find("sourceQueueArns");
  if (p == "byQueue") {
    if (sources == doc.end() || !sources->is_array() || sources->empty() || sources->size() > 10) {
      return BadValue("RedriveAllowPolicy",
                      "byQueue needs sourceQueueArns with 1 to 10 queue ARNs.");
    }
  } else if (sources != doc.end()) {
    return BadValue("RedriveAllowPolicy", "sourceQueueArns is only allowed with byQueue.");
  }
  return Status::Ok();
}

Status QueueConfig::Apply(const AttributeMap& attributes) {
  QueueConfig next = *this;
  for (const auto& [name, value] : attributes) {
    if (name == "VisibilityTimeout") {
      IMGBATCH_RETURN_IF_ERROR(
          ParseBounded(name, value, 0, kMaxVisibilityTimeout, &next.visibility_timeout));
    } else if (name == "MessageRetentionPeriod") {
      IMGBATCH_RETURN_IF_ERROR(ParseBounded(name, value, kMinRetentionPeriod, kMaxRetentionPeriod,
                                            &next.retention_period));
    } else if (name == "DelaySeconds") {
      IMGBATCH_RETURN_IF_ERROR(ParseBounded(name, value, 0, kMaxDelaySeconds, &next.delay_seconds));
    } else if (name == "ReceiveMessageWaitTimeSeconds") {
      IMGBATCH_RETURN_IF_ERROR(
          ParseBounded(name, value, 0, kMaxWaitSeconds, &next.receive_wait_seconds));
    } else if (name == "MaximumMessageSize") {
      IMGBATCH_RETURN_IF_ERROR(ParseBounded(name, value, kMinMaximumMessageSize,
                                            kMaxMaximumMessageSize, &next.maximum_message_size));
    } else if (name == "RedrivePolicy") {
      if (value.empty()) {
        next.redrive_policy.clear();
        next.redrive.reset();
      } else {
        IMGBATCH_ASSIGN_OR_RETURN(RedrivePolicy parsed, ParseRedrivePolicy(value));
        next.redrive = parsed;
        next.redrive_policy = value;
      }
    } else if (name == "RedriveAllowPolicy") {
      if (!value.empty()) IMGBATCH_RETURN_IF_ERROR(ValidateRedriveAllowPolicy(value));
      next.redrive_allow_policy = value;
    } else if (name == "Policy") {
      if (!value.empty() && !nlohmann::json::accept(value)) {
        return BadValue(name, "Policy is not a valid JSON document.");
      }
      next.policy = value;
    } else if (name == "SqsManagedSseEnabled") {
      IMGBATCH_RETURN_IF_ERROR(ParseBool(name, value, &next.sqs_managed_sse));
    } else if (name == "KmsMasterKeyId") {
      IMGBATCH_RETURN_IF_ERROR(ValidateKmsKeyId(value));
      next.kms_master_key_id = value;
    } else if (name == "KmsDataKeyReusePeriodSeconds") {
      IMGBATCH_RETURN_IF_ERROR(ParseBounded(name, value, kMinKmsDataKeyReusePeriod,
                                            kMaxKmsDataKeyReusePeriod,
                                            &next.kms_data_key_reuse_period));
    } else if (name == "FifoQueue") {
      IMGBATCH_RETURN_IF_ERROR(ParseBool(name, value, &next.fifo));
    } else if (name == "ContentBasedDeduplication") {
      IMGBATCH_RETURN_IF_ERROR(ParseBool(name, value, &next.content_based_deduplication));
    } else if (name == "DeduplicationScope") {
      IMGBATCH_RETURN_IF_ERROR(
          ParseChoice(name, value, "messageGroup", "queue", &next.dedup_per_group));
    } else if (name == "FifoThroughputLimit") {
      IMGBATCH_RETURN_IF_ERROR(
          ParseChoice(name, value, "perMessageGroupId", "perQueue", &next.throughput_per_group));
    } else {
      return InvalidArgument("Unknown Attribute " + name + ".").WithDetail("InvalidAttributeName");
    }
  }
  IMGBATCH_RETURN_IF_ERROR(ApplyEncryptionChoice(attributes, &next));
  IMGBATCH_RETURN_IF_ERROR(CheckFifoAttributes(attributes, fifo, next));
  *this = std::move(next);
  return Status::Ok();
}

AttributeMap QueueConfig::ToMap() const {
  AttributeMap m;
  m["VisibilityTimeout"] = std::to_string(visibility_timeout);
  m["MessageRetentionPeriod"] = std::to_string(retention_period);
  m["DelaySeconds"] = std::to_string(delay_seconds);
  m["ReceiveMessageWaitTimeSeconds"] = std::to_string(receive_wait_seconds);
  m["MaximumMessageSize"] = std::to_string(maximum_message_size);
  m["SqsManagedSseEnabled"] = sqs_managed_sse ? "true" : "false";
  if (!kms_master_key_id.empty()) m["KmsMasterKeyId"] = kms_master_key_id;
  // AWS shows the reuse period with a KMS key; a period set without one is
  // kept too (this map is also what the database stores).
  if (!kms_master_key_id.empty() || kms_data_key_reuse_period != kDefaultKmsDataKeyReusePeriod) {
    m["KmsDataKeyReusePeriodSeconds"] = std::to_string(kms_data_key_reuse_period);
  }
  if (!redrive_policy.empty() && redrive) {
    // AWS returns the policy normalized, with maxReceiveCount as a number.
    nlohmann::json doc = {{"deadLetterTargetArn", redrive->dead_letter_target_arn},
                          {"maxReceiveCount", redrive->max_receive_count}};
    m["RedrivePolicy"] = doc.dump();
  }
  if (!redrive_allow_policy.empty()) m["RedriveAllowPolicy"] = redrive_allow_policy;
  if (!policy.empty()) m["Policy"] = policy;
  if (fifo) {
    m["FifoQueue"] = "true";
    m["ContentBasedDeduplication"] = content_based_deduplication ? "true" : "false";
    m["DeduplicationScope"] = dedup_per_group ? "messageGroup" : "queue";
    m["FifoThroughputLimit"] = throughput_per_group ? "perMessageGroupId" : "perQueue";
  }
  return m;
}

namespace {

Status BadParameter(std::string_view parameter, std::string_view value, std::string_view reason) {
  return InvalidArgument("Value " + std::string(value) + " for parameter " +
                         std::string(parameter) + " is invalid. Reason: " + std::string(reason))
      .WithDetail("InvalidParameterValue");
}

bool IsPermissionLabel(std::string_view label) {
  if (label.empty() || label.size() > 80) return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// The actions a queue policy may grant another account (AddPermission's
// ActionName values).
bool IsGrantableAction(std::string_view action) {
  static constexpr std::array<std::string_view, 9> kActions = {
      "*",           "ChangeMessageVisibility",    "DeleteMessage", "GetQueueAttributes",
      "GetQueueUrl", "ListDeadLetterSourceQueues", "PurgeQueue",    "ReceiveMessage",
      "SendMessage"};
  return std::find(kActions.begin(), kActions.end(), action) != kActions.end();
}

// One value, or a list of them when there are several (as AWS writes
// Principal.AWS and Action).
nlohmann::json OneOrList(const std::vector<std::string>& values) {
  if (values.size() == 1) return values.front();
  return values;
}

// The policy's statements as a list (IAM's grammar allows a single object).
Result<nlohmann::json> PolicyDocument(std::string_view policy, std::string_view queue_arn) {
  if (policy.empty()) {
    // The policy AddPermission starts is AWS's (recorded): its older Version.
    return nlohmann::json{{"Version", "2008-10-17"},
                          {"Id", std::string(queue_arn) + "/SQSDefaultPolicy"},
                          {"Statement", nlohmann::json::array()}};
  }
  nlohmann::json doc = nlohmann::json::parse(policy, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return BadValue("Policy", "Policy is not a valid JSON document.");
  nlohmann::json& statements = doc["Statement"];
  if (statements.is_object()) statements = nlohmann::json::array({statements});
  if (!statements.is_array()) statements = nlohmann::json::array();
  return doc;
}

bool HasStatement(const nlohmann::json& statements, std::string_view sid) {
  return std::any_of(statements.begin(), statements.end(), [&](const nlohmann::json& s) {
    auto it = s.find("Sid");
    return it != s.end() && it->is_string() && it->get<std::string>() == sid;
  });
}

Status OverLimit(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message)).WithDetail("OverLimit");
}

Status ValidatePermission(const Permission& p) {
  if (!IsPermissionLabel(p.label)) {
    return BadParameter("Label", ReplaceNonXmlCharacters(p.label),
                        "Can only include alphanumeric characters, hyphens, or underscores. 1 to "
                        "80 in length.");
  }
  if (p.actions.empty()) {
    return InvalidArgument("The request must contain the parameter Actions.")
        .WithDetail("MissingParameter");
  }
  if (p.actions.size() > kMaxPermissionActions) {
    return OverLimit(std::to_string(p.actions.size()) + " Actions were found, maximum allowed is " +
                     std::to_string(kMaxPermissionActions) + ".");
  }
  for (const auto& action : p.actions) {
    if (!IsGrantableAction(action)) {
      return BadParameter("ActionName", "SQS:" + ReplaceNonXmlCharacters(action),
                          "Only the queue owner is allowed to invoke this action.");
    }
  }
  if (p.account_ids.empty()) return BadParameter("PrincipalId", "[]", "Unable to verify.");
  for (const auto& id : p.account_ids) {
    if (!IsAccountId(id)) {
      return BadParameter("PrincipalId", ReplaceNonXmlCharacters(id), "Unable to verify.");
    }
  }
  return Status::Ok();
}

// How many values a policy element holds: a string is one, a list its size.
size_t ValueCount(const nlohmann::json& element) {
  if (element.is_array()) return element.size();
  return element.is_null() ? 0 : 1;
}

size_t PrincipalCount(const nlohmann::json& statement) {
  for (const char* name : {"Principal", "NotPrincipal"}) {
    auto it = statement.find(name);
    if (it == statement.end()) continue;
    if (!it->is_object()) return ValueCount(*it);  // "*"
    size_t count = 0;
    for (const auto& [type, names] : it->items()) count += ValueCount(names);
    return count;
  }
  return 0;
}

// Each key under each operator of the Condition block is one condition.
size_t ConditionCount(const nlohmann::json& statement) {
  auto it = statement.find("Condition");
  if (it == statement.end() || !it->is_object()) return 0;
  size_t count = 0;
  for (const auto& [op, keys] : it->items()) count += keys.is_object() ? keys.size() : 1;
  return count;
}

size_t ActionCount(const nlohmann::json& statement) {
  auto it = statement.find("Action");
  if (it == statement.end()) it = statement.find("NotAction");
  return it == statement.end() ? 0 : ValueCount(*it);
}

// The quotas of a policy of `bytes` bytes whose statements (PolicyDocument's
// list) are given. AWS's own messages for size, statements and actions;
// principals and conditions are worded alike.
Status CheckQuotas(size_t bytes, const nlohmann::json& statements) {
  if (bytes > kMaxPolicyBytes) return OverLimit("Submitted policy is over max allowed size.");
  auto over = [](size_t n, std::string_view what, size_t max) {
    return OverLimit(std::to_string(n) + " " + std::string(what) +
                     " were found in the submitted policy, max allowed is " + std::to_string(max));
  };
  if (statements.size() > kMaxPolicyStatements) {
    return over(statements.size(), "statements", kMaxPolicyStatements);
  }
  size_t principals = 0, conditions = 0;
  for (const auto& statement : statements) {
    if (!statement.is_object()) continue;
    if (size_t actions = ActionCount(statement); actions > kMaxPolicyActionsPerStatement) {
      return OverLimit(std::to_string(actions) +
                       " actions were found in a statement from the submitted policy, max "
                       "allowed is " +
                       std::to_string(kMaxPolicyActionsPerStatement));
    }
    principals += PrincipalCount(statement);
    conditions += ConditionCount(statement);
  }
  if (principals > kMaxPolicyPrincipals) {
    return over(principals, "principals", kMaxPolicyPrincipals);
  }
  if (conditions > kMaxPolicyConditions) {
    return over(conditions, "conditions", kMaxPolicyConditions);
  }
  return Status::Ok();
}

}  // namespace

Status CheckPolicyQuotas(std::string_view policy) {
  Result<nlohmann::json> doc = PolicyDocument(policy, "");
  // Not a JSON object: only its size is judged here (the rest elsewhere).
  return CheckQuotas(policy.size(), doc.ok() ? (*doc)["Statement"] : nlohmann::json::array());
}

Result<std::string> AddPermissionStatement(std::string_view policy, std::string_view queue_arn,
                                           const Permission& permission) {
  IMGBATCH_RETURN_IF_ERROR(ValidatePermission(permission));
  IMGBATCH_ASSIGN_OR_RETURN(nlohmann::json doc, PolicyDocument(policy, queue_arn));
  nlohmann::json& statements = doc["Statement"];
  if (HasStatement(statements, permission.label)) {
    return BadParameter("Label", permission.label, "Already exists.");
  }
  std::vector<std::string> principals, actions;
  for (const auto& id : permission.account_ids)
    principals.push_back("arn:aws:iam::" + id + ":root");
  for (const auto& a : permission.actions) actions.push_back("SQS:" + a);
  statements.push_back({{"Sid", permission.label},
                        {"Effect", "Allow"},
                        {"Principal", {{"AWS", OneOrList(principals)}}},
                        {"Action", OneOrList(actions)},
                        {"Resource", std::string(queue_arn)}});
  std::string added = doc.dump();
  IMGBATCH_RETURN_IF_ERROR(CheckQuotas(added.size(), statements));
  return added;
}

Result<std::string> RemovePermissionStatement(std::string_view policy, std::string_view label) {
  const auto missing = [&] {
    return BadParameter("Label", ReplaceNonXmlCharacters(std::string(label)), "can't find label.");
  };
  if (policy.empty()) return missing();
  IMGBATCH_ASSIGN_OR_RETURN(nlohmann::json doc, PolicyDocument(policy, ""));
  nlohmann::json& statements = doc["Statement"];
  if (!HasStatement(statements, label)) return missing();
  nlohmann::json kept = nlohmann::json::array();
  for (auto& s : statements) {
    if (!HasStatement(nlohmann::json::array({s}), label)) kept.push_back(std::move(s));
  }
  if (kept.empty()) return std::string();
  statements = std::move(kept);
  return doc.dump();
}

Status ValidateQueueName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxQueueNameLength;
  if (name.ends_with(kFifoSuffix)) name.remove_suffix(kFifoSuffix.size());
  ok = ok && !name.empty();
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '-' && c != '_') ok = false;
  }
  if (!ok) {
    return InvalidArgument(
               "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in "
               "length")
        .WithDetail("InvalidParameterValue");
  }
  return Status::Ok();
}

Status ValidateIdText(std::string_view parameter, std::string_view id) {
  const bool ok = id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
                    const auto u = static_cast<unsigned char>(c);
                    return std::isalnum(u) || std::ispunct(u);
                  });
  return ok ? Status::Ok() : InvalidIdText(parameter, id);
}

Status InvalidIdText(std::string_view parameter, std::string_view id) {
  return BadParameter(parameter, ReplaceNonXmlCharacters(std::string(id)),
                      std::string(parameter) +
                          " can only include alphanumeric and punctuation characters. 1 to 128 "
                          "in length.");
}

// AWS's words for a FIFO queue's name, for either mismatch: FifoQueue=true
// without the suffix, or the suffix on a standard queue.
Status ValidateQueueType(std::string_view name, const QueueConfig& config) {
  if (name.ends_with(kFifoSuffix) == config.fifo) return Status::Ok();
  return InvalidArgument(
             "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
             "underscores, must end with .fifo suffix and be 1 to 80 in length.")
      .WithDetail("InvalidParameterValue");
}

std::string QueueArn(std::string_view region, std::string_view account, std::string_view name) {
  return "arn:aws:sqs:" + std::string(region) + ":" + std::string(account) + ":" +
         std::string(name);
}

std::optional<std::string> QueueNameFromArn(std::string_view arn, std::string_view region,
                                            std::string_view account) {
  const std::string prefix = QueueArn(region, account, "");
  if (!arn.starts_with(prefix)) return std::nullopt;
  std::string name(arn.substr(prefix.size()));
  if (name.empty() || name.find(':') != std::string::npos) return std::nullopt;
  return name;
}

}  // namespace imgbatch::queue
