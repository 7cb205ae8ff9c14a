#include "client/aws_http.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::client {
namespace {

constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// curl's URL parser gives us the pieces; a CURLU part we do not own is freed here.
std::optional<std::string> UrlPart(CURLU* url, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, 0) != CURLUE_OK || value == nullptr) return std::nullopt;
  std::string result(value);
  curl_free(value);
  return result;
}

}  // namespace

Result<Endpoint> Endpoint::Parse(std::string_view text, bool custom) {
  CURLU* url = curl_url();
  if (url == nullptr) return Internal("curl_url failed");
  std::string owned(text);
  if (curl_url_set(url, CURLUPART_URL, owned.c_str(), 0) != CURLUE_OK) {
    curl_url_cleanup(url);
    return InvalidArgument("invalid endpoint URL: " + owned);
  }
  Endpoint endpoint;
  endpoint.custom = custom;
  endpoint.scheme = ToLower(UrlPart(url, CURLUPART_SCHEME).value_or(""));
  auto host = UrlPart(url, CURLUPART_HOST);
  auto port = UrlPart(url, CURLUPART_PORT);
  std::string path = UrlPart(url, CURLUPART_PATH).value_or("/");
  curl_url_cleanup(url);
  if ((endpoint.scheme != "http" && endpoint.scheme != "https") || !host || host->empty()) {
    return InvalidArgument("endpoint URL must be http(s)://host[:port]: " + owned);
  }
  endpoint.authority = *host + (port ? ":" + *port : "");
  while (!path.empty() && path.back() == '/') path.pop_back();
  endpoint.base_path = path;
  return endpoint;
}

Result<Endpoint> ResolveEndpoint(std::string_view service, std::string_view region,
                                 std::string_view service_flag, std::string_view general_flag,
                                 const EnvLookup& env) {
  if (!service_flag.empty()) return Endpoint::Parse(service_flag);
  if (!general_flag.empty()) return Endpoint::Parse(general_flag);
  if (!IEquals(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").value_or(""), "true")) {
    std::string specific = "AWS_ENDPOINT_URL_" + ToLower(service);
    for (char& c : specific) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (auto url = env(specific)) return Endpoint::Parse(*url);
    if (auto url = env("AWS_ENDPOINT_URL")) return Endpoint::Parse(*url);
  }
  if (region.empty()) return InvalidArgument("no region configured (AWS_REGION or --region)");
  std::string host = std::string(service) + "." + std::string(region) + ".amazonaws.com";
  if (region.starts_with("cn-")) host += ".cn";
  return Endpoint{"https", host, "", false};
}

Result<Endpoint> ResolveStsEndpoint(const EnvLookup& env) {
  std::string region = ResolveRegion(env).value_or("");
  auto resolved = ResolveEndpoint("sts", region, "", "", env);
  if (resolved.ok() || !region.empty()) return resolved;
  // No region at all: the SDKs' global endpoint.
  return Endpoint::Parse("https://sts.amazonaws.com", /*custom=*/false);
}

AwsHttpClient::AwsHttpClient(HttpTransport& transport, CredentialsProvider& credentials,
                             const Clock& clock, AwsHttpOptions options,
                             ErrorCodeParser error_parser, Sleeper sleeper)
    : transport_(transport),
      credentials_(credentials),
      clock_(clock),
      options_(std::move(options)),
      error_parser_(std::move(error_parser)),
      sleeper_(std::move(sleeper)) {}

Result<HttpResponse> AwsHttpClient::Attempt(const std::string& scheme, const std::string& authority,
                                            const AwsRequest& request,
                                            const std::atomic<bool>* abort) {
  // Credentials are fetched per attempt so a refresh between retries is used.
  IMGBATCH_ASSIGN_OR_RETURN(auto credentials, credentials_.Get());
  HttpRequest http;
  http.method = request.method;
  http.url = scheme + "://" + authority + request.path;
  if (!request.query.empty()) http.url += "?" + request.query;
  http.headers = request.headers;
  http.headers.emplace_back("host", authority);
  http.body = request.body;
  http.timeout = request.timeout;
  http.max_response_bytes = request.max_response_bytes;
  std::string payload_hash =
      request.unsigned_payload ? std::string(kUnsignedPayload) : Sha256Hex(request.body);
  auth::SignRequest(request.method, request.path, request.query, http.headers, payload_hash,
                    credentials, options_.region, options_.service, clock_.Now());
  return transport_.Send(http, abort);
}

Result<HttpResponse> AwsHttpClient::Call(const std::string& scheme, const std::string& authority,
                                         const AwsRequest& request,
                                         const std::atomic<bool>* abort) {
  for (int attempt = 1;; ++attempt) {
    auto result = Attempt(scheme, authority, request, abort);
    AttemptOutcome outcome;
    std::string error_code;
    if (result.ok()) {
      outcome.http_status = result->status;
      if (result->status >= 300) error_code = error_parser_(*result);
      outcome.error_code = error_code;
    } else {
      // A credentials failure has no HTTP outcome; only transport errors retry.
      if (result.status().code() != Code::kUnavailable &&
          result.status().code() != Code::kTimeout) {
        return result;
      }
      outcome.transport = result.status();
    }
    if (attempt >= options_.retry.max_attempts || !ShouldRetry(outcome)) return result;
    auto delay = BackoffDelay(attempt, options_.retry, UnitRandom());
    spdlog::debug("{} {} attempt {} failed ({}), retrying in {} ms", request.method, request.path,
                  attempt,
                  result.ok() ? "HTTP " + std::to_string(result->status) + " " + error_code
                              : result.status().ToString(),
                  delay.count());
    if (!sleeper_(delay, abort)) {
      return Status(Code::kUnavailable, "request aborted").WithDetail(std::string(kAbortedDetail));
    }
  }
}

}  // namespace imgbatch::client
