// The part every AWS call shares: where the service lives (endpoint
// resolution), signing with the current credentials, and the SDK-standard
// retry loop. S3Client and SqsClient build requests and interpret replies on
// top of it. Thread-safety: AwsHttpClient is immutable after construction;
// Call() may run on many threads (the transport and the credentials
// provider are thread-safe).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "client/credentials.h"
#include "client/http_transport.h"
#include "client/retry.h"
#include "common/clock.h"
#include "common/status.h"

namespace imgbatch::client {

// A parsed endpoint URL: "http://127.0.0.1:4566" -> {http, 127.0.0.1:4566, ""}.
struct Endpoint {
  std::string scheme;     // "http" or "https"
  std::string authority;  // host[:port], exactly what goes into Host
  std::string base_path;  // "" or "/prefix" (no trailing slash)
  bool custom = false;    // not an AWS default endpoint (S3: path-style)

  std::string Origin() const { return scheme + "://" + authority; }
  static Result<Endpoint> Parse(std::string_view url, bool custom = true);
};

// Endpoint for "s3" or "sqs": the service flag, the general flag, then
// AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL (unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else https://<service>.<region>.amazonaws.com.
Result<Endpoint> ResolveEndpoint(std::string_view service, std::string_view region,
                                 std::string_view service_flag, std::string_view general_flag,
                                 const EnvLookup& env);
// STS for the web-identity credentials: AWS_ENDPOINT_URL_STS,
// AWS_ENDPOINT_URL, else the regional https://sts.<region>.amazonaws.com (the
// SDKs' default since 2022), or https://sts.amazonaws.com with no region.
Result<Endpoint> ResolveStsEndpoint(const EnvLookup& env);

struct AwsRequest {
  std::string method = "GET";
  std::string path = "/";  // already URI-encoded, excluding the endpoint's base path
  std::string query;       // already encoded "a=1&b=2" (no '?')
  auth::HeaderList headers;
  std::string body;
  bool unsigned_payload = false;  // sign with UNSIGNED-PAYLOAD instead of the body hash
  std::chrono::milliseconds timeout{0};
  uint64_t max_response_bytes = 0;  // HttpRequest's: kTooLarge past it, never retried
};

// Extracts the AWS error code ("SlowDown", "QueueDoesNotExist") from an error
// response, or "" when there is none.
using ErrorCodeParser = std::function<std::string(const HttpResponse&)>;

struct AwsHttpOptions {
  std::string region;
  std::string service;  // signing name: "s3", "sqs"
  RetryOptions retry;
};

class AwsHttpClient {
 public:
  AwsHttpClient(HttpTransport& transport, CredentialsProvider& credentials, const Clock& clock,
                AwsHttpOptions options, ErrorCodeParser error_parser,
                Sleeper sleeper = RealSleeper());

  // Signs and sends, retrying per RetryOptions. Returns the final HTTP
  // response whatever its status (callers map error statuses), or the
  // transport/credentials Status when no response could be had.
  // `authority` is the Host; `path` the full encoded path.
  Result<HttpResponse> Call(const std::string& scheme, const std::string& authority,
                            const AwsRequest& request, const std::atomic<bool>* abort = nullptr);

  const AwsHttpOptions& options() const { return options_; }

 private:
  Result<HttpResponse> Attempt(const std::string& scheme, const std::string& authority,
                               const AwsRequest& request, const std::atomic<bool>* abort);

  HttpTransport& transport_;
  CredentialsProvider& credentials_;
  const Clock& clock_;
  AwsHttpOptions options_;
  ErrorCodeParser error_parser_;
  Sleeper sleeper_;
};

}  // namespace imgbatch::client
