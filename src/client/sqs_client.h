// SqsClient: SQS in the AWS JSON 1.0 protocol (X-Amz-Target: AmazonSQS.<Op>,
// application/x-amz-json-1.0), the protocol AWS serves to current SDKs.
// Requests go to the endpoint's root with QueueUrl in the body, as the SDKs
// send them. Batch calls return per-entry failures: a 200 reply can still
// carry Failed[] entries, which callers must look at. ReceiveMessage is
// abortable through the abort flag (SIGTERM during a 20 s long poll).
// Errors: QueueDoesNotExist -> kNotFound, access -> kAccessDenied, bad
// keys -> kUnauthenticated, 5xx/throttling/connection -> kUnavailable, other
// 4xx -> kInvalidArgument; Status::detail() carries the SQS error code.
// Thread-safety: all methods may run concurrently.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/aws_http.h"

namespace imgbatch::client {

struct SqsMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  int receive_count = 0;  // ApproximateReceiveCount (0 if the server did not send it)
  std::map<std::string, std::string> attributes;          // system attributes
  std::map<std::string, std::string> message_attributes;  // String/Number values
};

struct ReceiveOptions {
  int max_messages = 10;
  int wait_seconds = 20;
  std::optional<int> visibility_timeout;
};

// One entry of a batch request/reply.
struct BatchFailure {
  std::string id;
  std::string code;
  std::string message;
  bool sender_fault = false;
};
struct BatchResult {
  std::vector<std::string> successful;  // entry ids
  std::vector<BatchFailure> failed;
};

struct VisibilityChange {
  std::string receipt_handle;
  int visibility_timeout = 0;
};

struct SqsClientOptions {
  Endpoint endpoint;
};

class SqsClient {
 public:
  static constexpr int kMaxBatchEntries = 10;

  SqsClient(AwsHttpClient& http, SqsClientOptions options);

  Result<std::string> GetQueueUrl(const std::string& queue_name);
  // A queue URL as is, or a name resolved with GetQueueUrl.
  Result<std::string> ResolveQueueUrl(const std::string& name_or_url);
  Result<std::map<std::string, std::string>> GetQueueAttributes(
      const std::string& queue_url, const std::vector<std::string>& names = {"All"});
  Result<std::vector<SqsMessage>> ReceiveMessage(const std::string& queue_url,
                                                 const ReceiveOptions& options,
                                                 const std::atomic<bool>* abort = nullptr);
  Status DeleteMessage(const std::string& queue_url, const std::string& receipt_handle);
  // At most kMaxBatchEntries; entry ids are the indexes "0".."9".
  Result<BatchResult> DeleteMessageBatch(const std::string& queue_url,
                                         const std::vector<std::string>& receipt_handles);
  Status ChangeMessageVisibility(const std::string& queue_url, const std::string& receipt_handle,
                                 int visibility_timeout);
  // timeout: per attempt; zero = the transport's default.
  Result<BatchResult> ChangeMessageVisibilityBatch(
      const std::string& queue_url, const std::vector<VisibilityChange>& changes,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // String-typed message attributes. Returns the MessageId.
  Result<std::string> SendMessage(const std::string& queue_url, const std::string& body,
                                  const std::map<std::string, std::string>& attributes = {});

 private:
  // Sends one JSON call; returns the parsed reply body (as text) or the mapped error.
  Result<std::string> Call(std::string_view operation, const std::string& json_body,
                           const std::atomic<bool>* abort = nullptr,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  AwsHttpClient& http_;
  SqsClientOptions options_;
};

// The SQS error code of a JSON error reply ("QueueDoesNotExist"): the part of
// __type after '#', or the x-amzn-query-error header's code.
std::string ParseSqsErrorCode(const HttpResponse& response);

// The queue name at the end of a queue URL or ARN.
std::string QueueNameFromUrl(std::string_view queue_url_or_arn);

}  // namespace imgbatch::client
