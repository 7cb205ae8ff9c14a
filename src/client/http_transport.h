// HttpTransport: sends one HTTP request and returns the response, nothing
// more (no signing, no retries). CurlTransport is the libcurl implementation:
// a small pool of easy handles so connections are reused across requests and
// threads, connect and low-speed timeouts, and an abort flag polled from
// curl's progress callback so a 20 s long poll can be cut short on SIGTERM.
// Thread-safety: Send() may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sigv4.h"
#include "common/status.h"

namespace imgbatch::client {

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // scheme://host[:port]/path?query, already percent-encoded
  auth::HeaderList headers;
  std::string body;
  // Whole-request deadline; zero = the transport's default.
  std::chrono::milliseconds timeout{0};
  // A response body past this many bytes stops the transfer with kTooLarge
  // (before any of it when Content-Length says so); zero = no limit.
  uint64_t max_response_bytes = 0;
};

struct HttpResponse {
  long status = 0;
  auth::HeaderList headers;  // names lower-cased
  std::string body;

  // The first header with this (case-insensitive) name.
  std::optional<std::string> Header(std::string_view name) const;
};

// Transport failures (no HTTP response at all) come back as a Status:
// kUnavailable (connection refused/reset, DNS, TLS), kTimeout,
// kUnavailable with detail kAbortedDetail when the abort flag was raised, or
// kTooLarge past HttpRequest::max_response_bytes.
inline constexpr std::string_view kAbortedDetail = "Aborted";

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // abort may be null; when it becomes true the transfer stops promptly --
  // unless the response has begun: the server has then acted on the request
  // (e.g. a ReceiveMessage hid its messages), so it is read to the end.
  virtual Result<HttpResponse> Send(const HttpRequest& request,
                                    const std::atomic<bool>* abort = nullptr) = 0;
};

struct CurlOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // A transfer slower than 1 byte/s for this long is dropped. Must exceed
  // the longest SQS long poll (20 s), during which the server sends nothing.
  std::chrono::seconds low_speed_time{35};
  std::chrono::milliseconds default_timeout{120'000};
  size_t max_idle_handles = 16;
  // PEM certificates to trust instead of the system's (AWS_CA_BUNDLE, as the
  // AWS CLI and SDKs read it); empty = the system's.
  std::string ca_file;
  // curl's --resolve: "HOST:PORT:ADDRESS" connects to HOST:PORT at ADDRESS
  // while TLS and the Host header still say HOST.
  std::vector<std::string> resolve;
};

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request,
                            const std::atomic<bool>* abort = nullptr) override;

 private:
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  CurlOptions options_;
  void* resolve_list_ = nullptr;  // curl_slist* of options_.resolve
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* kept for connection reuse
};

}  // namespace imgbatch::client
