// The HTTP contract between the server (Beast, in this module's .cc files) and
// the protocol adapters (s3, sqs, dashboard). No Beast or Asio types appear
// here, so adapters compile without those headers.
//
// Threading: the server parses the request head on its I/O threads, then calls
// the Handler on a blocking handler pool. The handler may read the body with
// ReadBody() (blocking, streamed, any size) and must eventually call Respond()
// exactly once — from that thread or later from any other thread (long polls
// keep the shared_ptr<Exchange> and complete it from a waiter). Responding
// before the whole body was read makes the server discard the rest of the body
// (or close the connection if it is too large to drain cheaply).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace imgbatch::http {

// Case-insensitive header list that keeps order and duplicates.
class Headers {
 public:
  struct Field {
    std::string name;
    std::string value;
  };
  void Add(std::string name, std::string value);
  void Reserve(size_t n) { fields_.reserve(n); }
  // Replaces every field of that name with one.
  void Set(std::string name, std::string value);
  void Remove(std::string_view name);
  std::optional<std::string_view> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  const std::vector<Field>& fields() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

struct RequestHead {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // as received: "/bucket/a%20b?uploads"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // target after '?', still encoded ("" if none)
  Headers headers;
  std::optional<uint64_t> content_length;  // absent when chunked or no body
  bool chunked = false;                    // Transfer-Encoding: chunked
  std::string remote_address;              // peer IP as text
  bool tls = false;
  uint64_t request_id = 0;  // unique per server run, for logs and x-amz-request-id
};

// A response body produced piecewise (e.g. large computed listings). Read
// returns 0 at the end. Called on a handler-pool thread.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual Result<size_t> Read(std::span<char> buffer) = 0;
};

// A byte range of an open file, sent with sendfile(2) when the connection is
// plain TCP. The fd is owned by the shared_ptr (closed by its deleter), so the
// file stays readable even if it is unlinked meanwhile.
struct FileRange {
  std::shared_ptr<int> fd;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  // The body: bytes, a file range, or a stream. For HEAD, or when only the
  // headers matter, set content_length and leave body as an empty string.
  std::variant<std::string, FileRange, std::unique_ptr<BodySource>> body;
  // Overrides the Content-Length derived from body (HEAD responses). A
  // BodySource with no content_length is sent chunked.
  std::optional<uint64_t> content_length;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const RequestHead& head() const = 0;
  // Reads the next body bytes (Transfer-Encoding already decoded). Blocking;
  // call from a handler-pool thread only. Sends "100 Continue" first if the
  // client asked for it. Returns 0 at the end of the body. Errors: kTooLarge
  // (over the body limit), kTimeout (client too slow), kIoError (disconnect).
  virtual Result<size_t> ReadBody(std::span<char> buffer) = 0;
  // Completes the exchange; exactly once, from any thread.
  virtual void Respond(Response response) = 0;
  // Completes the exchange with the response make() returns, like Respond
  // (exactly once, counting both): for a caller on a thread that must stay
  // quick (a database writer completing a commit), the server calls make on
  // the connection's I/O thread and destroys it there, so building the reply
  // and freeing the request's state happen off the caller's thread. make may
  // hold this exchange; it must not call Respond/RespondWith. Dropped unrun
  // when the connection is gone. This default calls make at once.
  virtual void RespondWith(std::function<Response()> make) { Respond(make()); }
  // Runs fn on the connection's I/O thread — or at once on the calling
  // thread when the connection is gone, so fn always runs exactly once. For
  // work a thread that must stay quick hands over before it answers (the
  // database writer finishing a receive's messages). This default runs fn at
  // once.
  virtual void RunOnIoThread(std::function<void()> fn) { fn(); }
  // True once the client has gone away (long polls give up early).
  virtual bool ClientGone() const = 0;
};

using Handler = std::function<void(std::shared_ptr<Exchange>)>;

// Reads the rest of the body into a string, refusing more than max_bytes
// (kTooLarge). For small bodies only (XML/JSON/form requests).
Result<std::string> ReadWholeBody(Exchange& exchange, size_t max_bytes);

}  // namespace imgbatch::http
