#include "client/http_transport.h"

#include <curl/curl.h>

#include <charconv>
#include <cstdint>
#include <system_error>

#include "common/strings.h"

namespace imgbatch::client {
namespace {

// curl_global_init is not thread-safe; run it once before any handle exists.
void GlobalInitOnce() {
  static const bool initialized = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)initialized;
}

struct Transfer {
  HttpResponse* response;
  const std::string* body;
  size_t body_offset = 0;
  const std::atomic<bool>* abort;
  uint64_t max_body = 0;  // 0 = no limit
  // Set by the first status line: from then on the server has acted on the
  // request (a ReceiveMessage has made its messages invisible), so aborting
  // would only throw its answer away.
  bool response_started = false;
  bool expect_body = true;  // false for HEAD: its Content-Length has no body
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string& body = transfer->response->body;
  // Refusing here also covers a body without (or beyond) its Content-Length:
  // returning short makes libcurl stop with CURLE_WRITE_ERROR.
  if (transfer->max_body > 0 && body.size() + size * count > transfer->max_body) return 0;
  body.append(data, size * count);
  return size * count;
}

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = std::min(size * count, transfer->body->size() - transfer->body_offset);
  std::copy_n(transfer->body->data() + transfer->body_offset, n, buffer);
  transfer->body_offset += n;
  return n;
}

// Sizes the body buffer once from Content-Length, so a GetObject's body is
// written in place instead of growing by doubling (each step copies what was
// received so far and faults in fresh pages: ~2x the body in copies for a
// multi-MB image). Bounded, so a lying header cannot reserve gigabytes.
constexpr uint64_t kMaxBodyReserve = 256ull << 20;
void ReserveForContentLength(Transfer& transfer) {
  if (!transfer.expect_body) return;
  HttpResponse& response = *transfer.response;
  const auto& [name, value] = response.headers.back();
  if (name != "content-length") return;
  uint64_t length = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (error != std::errc() || end != value.data() + value.size()) return;
  if (length <= kMaxBodyReserve) response.body.reserve(static_cast<size_t>(length));
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (IStartsWith(line, "HTTP/")) {
    // A new status line (e.g. after 100 Continue or a redirect): start over.
    transfer->response->headers.clear();
    transfer->response_started = true;
    return size * count;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->response->headers.emplace_back(ToLower(Trim(line.substr(0, colon))),
                                             std::string(Trim(line.substr(colon + 1))));
    ReserveForContentLength(*transfer);
  }
  return size * count;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  bool abort = transfer->abort != nullptr && transfer->abort->load();
  return (abort && !transfer->response_started) ? 1 : 0;
}

Status TransportError(CURLcode code, const char* error_buffer, const HttpRequest& request) {
  const std::string& url = request.url;
  if (request.max_response_bytes > 0 &&
      (code == CURLE_FILESIZE_EXCEEDED || code == CURLE_WRITE_ERROR)) {
    return Status(Code::kTooLarge, "response body over " +
                                       std::to_string(request.max_response_bytes) + " bytes (" +
                                       url + ")");
  }
  std::string message = std::string(curl_easy_strerror(code));
  if (error_buffer[0] != '\0') message += std::string(": ") + error_buffer;
  message += " (" + url + ")";
  switch (code) {
    case CURLE_ABORTED_BY_CALLBACK:
      return Status(Code::kUnavailable, "request aborted").WithDetail(std::string(kAbortedDetail));
    case CURLE_OPERATION_TIMEDOUT:
      return Status(Code::kTimeout, message);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status(Code::kInvalidArgument, message);
    default:
      return Status(Code::kUnavailable, message);
  }
}

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (IEquals(key, name)) return value;
  }
  return std::nullopt;
}

CurlTransport::CurlTransport(CurlOptions options) : options_(std::move(options)) {
  GlobalInitOnce();
  curl_slist* list = nullptr;
  for (const std::string& entry : options_.resolve) list = curl_slist_append(list, entry.c_str());
  resolve_list_ = list;
}

CurlTransport::~CurlTransport() {
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
  curl_slist_free_all(static_cast<curl_slist*>(resolve_list_));
}

void* CurlTransport::AcquireHandle() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void CurlTransport::ReleaseHandle(void* handle) {
  std::lock_guard lock(mu_);
  if (idle_.size() < options_.max_idle_handles) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

Result<HttpResponse> CurlTransport::Send(const HttpRequest& request,
                                         const std::atomic<bool>* abort) {
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (curl == nullptr) return Internal("curl_easy_init failed");
  // Options from a previous request must not leak into this one; reset keeps
  // the connection cache, which is the point of pooling handles.
  curl_easy_reset(curl);

  HttpResponse response;
  Transfer transfer{&response, &request.body, 0, abort, request.max_response_bytes};
  transfer.expect_body = request.method != "HEAD";
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_slist* header_list = nullptr;
  for (const auto& [name, value] : request.headers) {
    header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
  }
  // libcurl adds these by default; AWS does not need them and Expect adds a
  // round trip on every PUT.
  header_list = curl_slist_append(header_list, "Expect:");
  if (request.body.empty() && request.method != "PUT" && request.method != "POST") {
    header_list = curl_slist_append(header_list, "Content-Type:");
  }

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  // The path goes out as it was signed: libcurl would otherwise drop "." and
  // ".." segments, so a key like "a/../b.jpg" failed its signature check (or,
  // against a server that does not check, named another object).
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (resolve_list_ != nullptr) curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve_list_);
  // Refused before any body byte when Content-Length is over the limit.
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(request.max_response_bytes));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options_.low_speed_time.count()));
  auto timeout = request.timeout.count() > 0 ? request.timeout : options_.default_timeout;
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(header_list);
  if (code != CURLE_OK) {
    Status status = TransportError(code, error_buffer, request);
    // A handle whose transfer failed may hold a broken connection; drop it.
    curl_easy_cleanup(curl);
    return status;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  ReleaseHandle(curl);
  return response;
}

}  // namespace imgbatch::client
