#include "client/sqs_client.h"

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace imgbatch::client {
namespace {

using nlohmann::json;

constexpr std::string_view kJsonContentType = "application/x-amz-json-1.0";
// Invalid UTF-8 (e.g. from a percent-decoded key) is replaced rather than
// thrown on: a log-worthy oddity must not turn into an exception.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A long poll returns after WaitTimeSeconds; allow for the network on top.
constexpr std::chrono::seconds kLongPollSlack{15};

Code CodeForSqsError(long http_status, std::string_view code) {
  if (code == "QueueDoesNotExist" || code == "NonExistentQueue" ||
      code == "AWS.SimpleQueueService.NonExistentQueue") {
    return Code::kNotFound;
  }
  if (code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" ||
      code == "UnrecognizedClientException" || code == "ExpiredToken" ||
      code == "IncompleteSignature" || code == "MissingAuthenticationToken") {
    return Code::kUnauthenticated;
  }
  if (code == "AccessDenied" || code == "AccessDeniedException" || http_status == 403) {
    return Code::kAccessDenied;
  }
  if (http_status >= 500 || http_status == 429 || IsThrottlingCode(code) || IsTransientCode(code)) {
    return Code::kUnavailable;
  }
  return Code::kInvalidArgument;
}

// A member that is an array or object, else an empty (null) value: iterating
// null yields nothing, so replies missing a list need no special case.
const json& Member(const json& object, const char* name) {
  static const json kEmpty;
  if (!object.is_object()) return kEmpty;
  auto it = object.find(name);
  if (it == object.end() || !(it->is_array() || it->is_object())) return kEmpty;
  return *it;
}

std::string StringMember(const json& object, const char* name) {
  if (!object.is_object()) return {};
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Batch entries get their index as id: unique, and valid per SQS's id rules.
BatchResult ParseBatchResult(const json& reply) {
  BatchResult result;
  for (const auto& entry : Member(reply, "Successful")) {
    result.successful.push_back(StringMember(entry, "Id"));
  }
  for (const auto& entry : Member(reply, "Failed")) {
    auto fault = entry.is_object() ? entry.find("SenderFault") : entry.end();
    result.failed.push_back({StringMember(entry, "Id"), StringMember(entry, "Code"),
                             StringMember(entry, "Message"),
                             fault != entry.end() && fault->is_boolean() && fault->get<bool>()});
  }
  return result;
}

Result<json> ParseReply(const std::string& text, std::string_view operation) {
  try {
    return text.empty() ? json::object() : json::parse(text);
  } catch (const json::exception& e) {
    return Status(Code::kUnavailable,
                  std::string(operation) + ": malformed JSON reply: " + e.what());
  }
}

}  // namespace

std::string ParseSqsErrorCode(const HttpResponse& response) {
  // x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender
  if (auto query_error = response.Header("x-amzn-query-error")) {
    std::string code = query_error->substr(0, query_error->find(';'));
    if (!code.empty()) return code;
  }
  try {
    auto doc = json::parse(response.body);
    std::string type = StringMember(doc, "__type");
    auto hash = type.rfind('#');
    return hash == std::string::npos ? type : type.substr(hash + 1);
  } catch (const json::exception&) {
    return {};
  }
}

std::string QueueNameFromUrl(std::string_view queue_url_or_arn) {
  auto cut = queue_url_or_arn.find_last_of("/:");
  return std::string(cut == std::string_view::npos ? queue_url_or_arn
                                                   : queue_url_or_arn.substr(cut + 1));
}

SqsClient::SqsClient(AwsHttpClient& http, SqsClientOptions options)
    : http_(http), options_(std::move(options)) {}

Result<std::string> SqsClient::Call(std::string_view operation, const std::string& json_body,
                                    const std::atomic<bool>* abort,
                                    std::chrono::milliseconds timeout) {
  AwsRequest request;
  request.method = "POST";
  request.path = options_.endpoint.base_path.empty() ? "/" : options_.endpoint.base_path + "/";
  request.headers.emplace_back("Content-Type", std::string(kJsonContentType));
  request.headers.emplace_back("X-Amz-Target", "AmazonSQS." + std::string(operation));
  request.body = json_body;
  request.timeout = timeout;
  IMGBATCH_ASSIGN_OR_RETURN(auto response, http_.Call(options_.endpoint.scheme,
                                                      options_.endpoint.authority, request, abort));
  if (response.status != 200) {
    std::string code = ParseSqsErrorCode(response);
    std::string message;
    try {
      message = StringMember(json::parse(response.body), "message");
    } catch (const json::exception&) {
    }
    return Status(CodeForSqsError(response.status, code),
                  std::string(operation) + ": HTTP " + std::to_string(response.status) + " " +
                      code + (message.empty() ? "" : ": " + message))
        .WithDetail(code);
  }
  return std::move(response.body);
}

Result<std::string> SqsClient::GetQueueUrl(const std::string& queue_name) {
  IMGBATCH_ASSIGN_OR_RETURN(auto text, Call("GetQueueUrl", Dump(json{{"QueueName", queue_name}})));
  IMGBATCH_ASSIGN_OR_RETURN(auto reply, ParseReply(text, "GetQueueUrl"));
  std::string url = StringMember(reply, "QueueUrl");
  if (url.empty()) return Status(Code::kUnavailable, "GetQueueUrl: no QueueUrl in reply");
  return url;
}

Result<std::string> SqsClient::ResolveQueueUrl(const std::string& name_or_url) {
  if (IStartsWith(name_or_url, "http://") || IStartsWith(name_or_url, "https://")) {
    return name_or_url;
  }
  return GetQueueUrl(name_or_url);
}

Result<std::map<std::string, std::string>> SqsClient::GetQueueAttributes(
    const std::string& queue_url, const std::vector<std::string>& names) {
  json request = {{"QueueUrl", queue_url}, {"AttributeNames", names}};
  IMGBATCH_ASSIGN_OR_RETURN(auto text, Call("GetQueueAttributes", Dump(request)));
  IMGBATCH_ASSIGN_OR_RETURN(auto reply, ParseReply(text, "GetQueueAttributes"));
  std::map<std::string, std::string> attributes;
  for (const auto& [name, value] : Member(reply, "Attributes").items()) {
    attributes[name] = value.is_string() ? value.get<std::string>() : Dump(value);
  }
  return attributes;
}

Result<std::vector<SqsMessage>> SqsClient::ReceiveMessage(const std::string& queue_url,
                                                          const ReceiveOptions& options,
                                                          const std::atomic<bool>* abort) {
  json request = {{"QueueUrl", queue_url},
                  {"MaxNumberOfMessages", options.max_messages},
                  {"WaitTimeSeconds", options.wait_seconds},
                  // Both spellings: AttributeNames is deprecated on AWS, and
                  // some servers only know one of them.
                  {"AttributeNames", {"ApproximateReceiveCount"}},
                  {"MessageSystemAttributeNames", {"ApproximateReceiveCount"}},
                  {"MessageAttributeNames", {"All"}}};
  if (options.visibility_timeout) request["VisibilityTimeout"] = *options.visibility_timeout;
  auto timeout = std::chrono::seconds(options.wait_seconds) + kLongPollSlack;
  IMGBATCH_ASSIGN_OR_RETURN(auto text,
                            Call("ReceiveMessage", Dump(request), abort,
                                 std::chrono::duration_cast<std::chrono::milliseconds>(timeout)));
  IMGBATCH_ASSIGN_OR_RETURN(auto reply, ParseReply(text, "ReceiveMessage"));
  std::vector<SqsMessage> messages;
  try {
    for (const auto& entry : Member(reply, "Messages")) {
      SqsMessage message;
      message.message_id = StringMember(entry, "MessageId");
      message.receipt_handle = StringMember(entry, "ReceiptHandle");
      message.body = StringMember(entry, "Body");
      for (const auto& [name, value] : Member(entry, "Attributes").items()) {
        message.attributes[name] = value.is_string() ? value.get<std::string>() : Dump(value);
      }
      for (const auto& [name, value] : Member(entry, "MessageAttributes").items()) {
        message.message_attributes[name] = StringMember(value, "StringValue");
      }
      auto count = message.attributes.find("ApproximateReceiveCount");
      if (count != message.attributes.end()) {
        message.receive_count = static_cast<int>(ParseInt(count->second).value_or(0));
      }
      messages.push_back(std::move(message));
    }
  } catch (const json::exception& e) {
    return Status(Code::kUnavailable, std::string("ReceiveMessage: bad reply: ") + e.what());
  }
  return messages;
}

Status SqsClient::DeleteMessage(const std::string& queue_url, const std::string& receipt_handle) {
  json request = {{"QueueUrl", queue_url}, {"ReceiptHandle", receipt_handle}};
  IMGBATCH_ASSIGN_OR_RETURN(auto text, Call("DeleteMessage", Dump(request)));
  (void)text;
  return Status::Ok();
}

Result<BatchResult> SqsClient::DeleteMessageBatch(const std::string& queue_url,
                                                  const std::vector<std::string>& receipt_handles) {
  if (receipt_handles.empty() || receipt_handles.size() > kMaxBatchEntries) {
    return InvalidArgument("DeleteMessageBatch takes 1 to 10 entries");
  }
  json entries = json::array();
  for (size_t i = 0; i < receipt_handles.size(); ++i) {
    entries.push_back({{"Id", std::to_string(i)}, {"ReceiptHandle", receipt_handles[i]}});
  }
  json request = {{"QueueUrl", queue_url}, {"Entries", entries}};
  IMGBATCH_ASSIGN_OR_RETURN(auto text, Call("DeleteMessageBatch", Dump(request)));
  IMGBATCH_ASSIGN_OR_RETURN(auto reply, ParseReply(text, "DeleteMessageBatch"));
  return ParseBatchResult(reply);
}

Status SqsClient::ChangeMessageVisibility(const std::string& queue_url,
                                          const std::string& receipt_handle,
                                          int visibility_timeout) {
  json request = {{"QueueUrl", queue_url},
                  {"ReceiptHandle", receipt_handle},
                  {"VisibilityTimeout", visibility_timeout}};
  IMGBATCH_ASSIGN_OR_RETURN(auto text, Call("ChangeMessageVisibility", Dump(request)));
  (void)text;
  return Status::Ok();
}

Result<BatchResult> SqsClient::ChangeMessageVisibilityBatch(
    const std::string& queue_url, const std::vector<VisibilityChange>& changes,
    std::chrono::milliseconds timeout) {
  if (changes.empty() || changes.size() > kMaxBatchEntries) {
    return InvalidArgument("ChangeMessageVisibilityBatch takes 1 to 10 entries");
  }
  json entries = json::array();
  for (size_t i = 0; i < changes.size(); ++i) {
    entries.push_back({{"Id", std::to_string(i)},
                       {"ReceiptHandle", changes[i].receipt_handle},
                       {"VisibilityTimeout", changes[i].visibility_timeout}});
  }
  json request = {{"QueueUrl", queue_url}, {"Entries", entries}};
  IMGBATCH_ASSIGN_OR_RETURN(auto text,
                            Call("ChangeMessageVisibilityBatch", Dump(request), nullptr, timeout));
  IMGBATCH_ASSIGN_OR_RETURN(auto reply, ParseReply(text, "ChangeMessageVisibilityBatch"));
  return ParseBatchResult(reply);
}

Result<std::string> SqsClient::SendMessage(const std::string& queue_url, const std::string& body,
                                           const std::map<std::string, std::string>& attributes) {
  json request = {{"QueueUrl", queue_url}, {"MessageBody", body}};
  if (!attributes.empty()) {
    json message_attributes = json::object();
    for (const auto& [name, value] : attributes) {
      message_attributes[name] = {{"DataType", "String"}, {"StringValue", value}};
    }
    request["MessageAttributes"] = message_attributes;
  }
  IMGBATCH_ASSIGN_OR_RETURN(auto text, Call("SendMessage", Dump(request)));
  IMGBATCH_ASSIGN_OR_RETURN(auto reply, ParseReply(text, "SendMessage"));
  return StringMember(reply, "MessageId");
}

}  // namespace imgbatch::client
