// The Beast/Asio server behind http/server.h. This is the module's only
// translation unit that includes Boost.Beast/Asio (build time).
//
// Shape: one coroutine per connection (Session::Run) on its own strand, plus a
// watchdog coroutine that closes the socket when the current deadline passes
// (header/idle/body/write timeouts). A request head is parsed on the strand,
// then the Handler runs on the handler pool with an ExchangeImpl. The handler
// side and the session talk through ExchangeShared (mutex + condition
// variable, no Asio types): ReadBody() posts a read request and blocks,
// Respond() posts the response; the session serves both from its loop, so
// one coroutine owns every read and write on the socket.
#include "http/server.h"

#include <signal.h>

#include <utility>  // before Asio: 1.74's awaitable.hpp needs std::exchange

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "common/strings.h"

namespace imgbatch::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kAwait = asio::use_awaitable;
// Bytes read while watching an idle-after-request socket for the peer leaving.
constexpr size_t kWatchReadBytes = 4096;
constexpr size_t kFirstReadBytes = 4096;
constexpr size_t kScratchBytes = 64 * 1024;
// Bodies up to this size (Content-Length, no 100-continue) are read on the
// I/O strand before the handler runs, so the handler's ReadBody() returns
// them from memory instead of a round trip through the strand per call (SQS
// requests, small S3 PUTs: two thread hand-offs less per request).
constexpr uint64_t kPrefetchBodyBytes = 64 * 1024;
// Response body pieces (BodySource reads, TLS file reads).
constexpr size_t kBodyChunkBytes = 256 * 1024;
// sendfile(2) runs without yielding for at most this many bytes.
constexpr uint64_t kSendfileSliceBytes = 8ull << 20;
// After "Connection: close", unread request bytes are read and dropped for a
// moment so the kernel does not reset the connection under the response.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr auto kForceCloseWait = std::chrono::seconds(5);

// A plain TCP socket or a TLS stream over one, behind the AsyncStream
// interface Beast and asio::async_write expect. Both branches return the
// same type for any completion token, so one Session serves both.
class Stream {
 public:
  using executor_type = tcp::socket::executor_type;

  Stream(tcp::socket socket, ssl::context* tls) {
    if (tls) {
      tls_.emplace(std::move(socket), *tls);
    } else {
      plain_.emplace(std::move(socket));
    }
  }
  executor_type get_executor() { return socket().get_executor(); }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  bool is_tls() const { return tls_.has_value(); }
  ssl::stream<tcp::socket>& tls() { return *tls_; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return plain_->async_read_some(buffers, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return plain_->async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
};

}  // namespace

class Session;

namespace {

// Wakes a session's coroutine from any thread (a response or a body read is
// ready). One per connection, shared by its exchanges; Close() when the
// connection finishes drops the executor, so nothing Asio outlives the server
// and late callers find nothing to wake. Its own small lock, not the
// exchange's: a responder posts the wake after releasing ExchangeShared::mu,
// so the woken I/O thread does not block on that mutex and need waking again
// when the responder lets go of it (two context switches per response on the
// db writer's serial path).
class SessionWaker {
 public:
  SessionWaker(asio::any_io_executor executor, std::weak_ptr<Session> session)
      : executor_(std::move(executor)), session_(std::move(session)) {}
  void Wake();  // defined after Session
  // Posts fn to the session's strand; false once closed (fn not taken).
  bool Post(std::function<void()>& fn) {
    std::lock_guard lock(mu_);
    if (!executor_) return false;
    asio::post(*executor_, std::move(fn));
    return true;
  }
  void Close() {
    std::lock_guard lock(mu_);
    executor_.reset();
  }

 private:
  std::mutex mu_;
  std::optional<asio::any_io_executor> executor_;
  const std::weak_ptr<Session> session_;
};

// State shared by a session and the handler side of one exchange. Guarded by
// mu (the waker has its own lock and is set before the exchange is handed out).
struct ExchangeShared {
  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<SessionWaker> waker;
  bool detached = false;

  std::span<char> read_buffer;
  bool read_requested = false;
  bool read_done = false;
  bool body_eof = false;  // the whole body was delivered: ReadBody returns 0 at once
  // A small body read before the handler started, handed out first; then
  // prefetch_status (an error met while prefetching) once.
  std::string prefetched;
  size_t prefetched_pos = 0;
  Status prefetch_status;
  Status read_status;
  size_t read_bytes = 0;

  bool responded = false;
  std::optional<Response> response;
  std::function<Response()> make_response;  // RespondWith: run on the strand
  // The handler runs inline on the session's strand: the session looks for
  // the response as soon as it returns, so Respond() need not wake it.
  bool inline_call = false;

  std::atomic<bool> client_gone{false};

  // Under mu.
  void Detach() {
    detached = true;
    cv.notify_all();
  }
};

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(RequestHead head, std::shared_ptr<ExchangeShared> shared)
      : head_(std::move(head)), shared_(std::move(shared)) {}

  ~ExchangeImpl() override {
    bool responded;
    {
      std::lock_guard lock(shared_->mu);
      responded = shared_->responded;
    }
    if (!responded) {
      spdlog::warn("http: request {} dropped without a response; answering 500", head_.request_id);
      Response r;
      r.status = 500;
      r.headers.Set("Content-Type", "text/plain");
      r.body = std::string("internal error: no response\n");
      Respond(std::move(r));
    }
  }

  const RequestHead& head() const override { return head_; }

  Result<size_t> ReadBody(std::span<char> buffer) override {
    std::unique_lock lock(shared_->mu);
    if (shared_->responded || shared_->detached) {
      return Status(Code::kIoError, "request body no longer readable");
    }
    if (buffer.empty()) return size_t{0};
    if (shared_->prefetched_pos < shared_->prefetched.size()) {
      size_t n = std::min(buffer.size(), shared_->prefetched.size() - shared_->prefetched_pos);
      std::memcpy(buffer.data(), shared_->prefetched.data() + shared_->prefetched_pos, n);
      shared_->prefetched_pos += n;
      return n;
    }
    if (!shared_->prefetch_status.ok())
      return std::exchange(shared_->prefetch_status, Status::Ok());
    if (shared_->body_eof) return size_t{0};
    shared_->read_buffer = buffer;
    shared_->read_requested = true;
    shared_->read_done = false;
    shared_->waker->Wake();
    shared_->cv.wait(lock, [&] { return shared_->read_done || shared_->detached; });
    if (!shared_->read_done) return Status(Code::kIoError, "connection closed");
    shared_->read_done = false;
    if (!shared_->read_status.ok()) return shared_->read_status;
    return shared_->read_bytes;
  }

  void Respond(Response response) override {
    bool wake;
    {
      std::lock_guard lock(shared_->mu);
      if (!MarkResponded()) return;
      shared_->response = std::move(response);
      wake = !shared_->inline_call;
    }
    if (wake) shared_->waker->Wake();
  }

  void RespondWith(std::function<Response()> make) override {
    bool wake;
    {
      std::lock_guard lock(shared_->mu);
      if (!MarkResponded()) return;  // make is destroyed by our caller, unlocked
      shared_->make_response = std::move(make);
      wake = !shared_->inline_call;
    }
    if (wake) shared_->waker->Wake();
  }

  void RunOnIoThread(std::function<void()> fn) override {
    if (!shared_->waker->Post(fn)) fn();
  }

  bool ClientGone() const override { return shared_->client_gone.load(); }

 private:
  // Under shared_->mu: whether this first answer is to be delivered (false
  // for a second one, or once the connection is gone).
  bool MarkResponded() {
    if (shared_->responded) {
      spdlog::warn("http: request {} answered twice; second response ignored", head_.request_id);
      return false;
    }
    shared_->responded = true;
    return !shared_->detached;
  }

  RequestHead head_;
  std::shared_ptr<ExchangeShared> shared_;
};

void SplitTarget(RequestHead& head) {
  size_t q = head.target.find('?');
  head.path = head.target.substr(0, q);
  head.query = q == std::string::npos ? "" : head.target.substr(q + 1);
}

std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }

// The Date header of a response. It changes once a second, so each I/O
// thread formats it once a second (snprintf was ~10% of the instructions of a
// /-/healthy request).
const std::string& CurrentHttpDate() {
  thread_local std::string formatted;
  thread_local int64_t formatted_second = -1;
  const auto now = std::chrono::system_clock::now();
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (second != formatted_second) {
    formatted = FormatHttpDate(now);
    formatted_second = second;
  }
  return formatted;
}

bool IsSafeHeaderText(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos;
}

// Framing headers the server derives itself; a handler's copies are dropped
// ("Connection: close" from a handler still closes the connection).
bool IsFramingHeader(std::string_view name) {
  return IEquals(name, "Content-Length") || IEquals(name, "Transfer-Encoding") ||
         IEquals(name, "Connection");
}

}  // namespace

// A suspended coroutine's completion handler, kept to be resumed later on the
// strand it belongs to.
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual void Resume() = 0;
};

template <class Handler>
class ParkedCoroutine final : public Waiter {
 public:
  explicit ParkedCoroutine(Handler handler) : handler_(std::move(handler)) {}
  void Resume() override { std::move(handler_)(); }

 private:
  Handler handler_;
};

class ServerCore {
 public:
  explicit ServerCore(ServerOptions options)
      : options_(std::move(options)),
        work_(asio::make_work_guard(ioc_)),
        acceptor_(asio::make_strand(ioc_)),
        pool_(static_cast<size_t>(std::max(1, options_.handler_threads))) {}

  ~ServerCore() { Stop(std::chrono::seconds(2)); }

  Status Start(Handler handler);
  void Stop(std::chrono::milliseconds grace);
  void Wait() {
    std::unique_lock lock(state_mu_);
    state_cv_.wait(lock, [&] { return stopped_; });
  }

  const ServerOptions& options() const { return options_; }
  uint16_t port() const { return port_.load(); }
  bool stopping() const { return stopping_.load(); }
  asio::thread_pool& pool() { return pool_; }
  ssl::context* tls() { return tls_ ? &*tls_ : nullptr; }
  const Handler& handler() const { return handler_; }
  uint64_t NextRequestId() { return ++request_ids_; }

  size_t connection_count() {
    std::lock_guard lock(sessions_mu_);
    return sessions_.size();
  }
  void Unregister(uint64_t id) {
    std::lock_guard lock(sessions_mu_);
    sessions_.erase(id);
    sessions_cv_.notify_all();
  }

 private:
  Status LoadTls();
  awaitable<void> AcceptLoop();
  void ForEachSession(const std::function<void(const std::shared_ptr<Session>&)>& fn);
  bool WaitForSessions(std::chrono::milliseconds timeout);

  ServerOptions options_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  asio::thread_pool pool_;
  std::optional<ssl::context> tls_;
  Handler handler_;
  std::vector<std::thread> io_threads_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> request_ids_{0};
  uint64_t next_session_id_ = 0;  // accept strand only

  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions_;

  std::mutex state_mu_;
  std::condition_variable state_cv_;
  bool started_ = false;
  bool stopped_ = false;
};

namespace {

// Runs on the handler pool: the handler must not take the server down.
void InvokeHandler(const Handler& handler, std::shared_ptr<Exchange> exchange) {
  uint64_t id = exchange->head().request_id;
  try {
    handler(std::move(exchange));
  } catch (const std::exception& e) {
    spdlog::warn("http: handler threw on request {}: {}", id, e.what());
  } catch (...) {
    spdlog::warn("http: handler threw on request {}", id);
  }
}

}  // namespace

// One connection. Lives on its socket's strand; owned by its coroutines and
// pending completion handlers (shared_from_this).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerCore& server, tcp::socket socket, uint64_t id)
      : server_(server),
        opt_(server.options()),
        id_(id),
        stream_(std::move(socket), server.tls()),
        strand_(stream_.get_executor()),
        deadline_timer_(strand_) {
    error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_address_ = endpoint.address().to_string();
  }

  void Start() {
    auto self = shared_from_this();
    asio::co_spawn(strand_, Watchdog(self), asio::detached);
    asio::co_spawn(strand_, Run(self), [self](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::warn("http: connection {} failed: {}", self->id_, ex.what());
        }
        self->Finish();
      }
    });
  }

  asio::any_io_executor get_executor() const { return strand_; }

  // Wakes WaitForWake(). Callers re-check their condition after every wake,
  // and nothing suspends between that check and the wait, so a wake posted in
  // between cannot be lost (it runs on this strand after the wait started).
  // Called on the strand from a handler of its own (never from the session's
  // coroutines), so the parked coroutine resumes right here: one trip through
  // the scheduler per wake instead of two (a cancelled timer posts its
  // completion, which then has to be picked up again).
  void Wake() {
    if (auto waiter = std::move(waiter_)) waiter->Resume();
  }

  // Posted by Stop: idle connections close now, busy ones after this response.
  // A parked exchange (long poll) sees ClientGone() so it can answer early.
  void OnServerStopping() {
    if (idle_) CloseSocket();
    if (shared_) shared_->client_gone = true;
  }
  // Posted by Stop after the grace period.
  void ForceClose() {
    abandon_ = true;
    CloseSocket();
    Wake();
  }

 private:
  // --- timeouts -----------------------------------------------------------
  void SetDeadline(std::chrono::milliseconds d) {
    deadline_ = Clock::now() + d;
    if (deadline_ < deadline_timer_.expiry()) deadline_timer_.cancel();
  }
  void ClearDeadline() { deadline_ = Clock::time_point::max(); }

  awaitable<void> Watchdog([[maybe_unused]] std::shared_ptr<Session> self) {
    while (!closed_) {
      if (deadline_ <= Clock::now()) {
        timed_out_ = true;
        CloseSocket();
        co_return;
      }
      deadline_timer_.expires_at(deadline_);
      error_code ec;
      co_await deadline_timer_.async_wait(asio::redirect_error(kAwait, ec));
    }
  }

  void CloseSocket() {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    deadline_timer_.cancel();
  }

  awaitable<void> WaitForWake() {
    co_await asio::async_initiate<decltype(kAwait), void()>(
        [this](auto handler) {
          waiter_ = std::make_unique<ParkedCoroutine<decltype(handler)>>(std::move(handler));
        },
        kAwait);
  }

  // Runs fn() on the handler pool (it may block) and resumes on the strand.
  template <class Fn>
  awaitable<void> OnPool(Fn fn) {
    auto& pool = server_.pool();
    co_await asio::async_initiate<decltype(kAwait), void()>(
        [&pool, &fn](auto handler) {
          asio::post(pool, [&fn, handler = std::move(handler)]() mutable {
            fn();
            auto ex = asio::get_associated_executor(handler);
            asio::post(ex, std::move(handler));
          });
        },
        kAwait);
  }

  // --- connection loop ------------------------------------------------------
  awaitable<void> Run([[maybe_unused]] std::shared_ptr<Session> self) {
    if (stream_.is_tls() && !co_await Handshake()) {
      Finish();
      co_return;
    }
    bool first = true;
    while (!closed_) {
      if (!co_await AwaitFirstByte(first)) break;
      bool keep_alive = co_await ServeOneRequest(first);
      first = false;
      if (!keep_alive || abandon_) break;
    }
    if (!abandon_ && !closed_) co_await LingerAndClose();
    Finish();
  }

  void Finish() {
    CloseSocket();
    // A response maker never run may hold its exchange (which holds
    // shared_): destroyed here, unlocked, so that cycle ends.
    std::function<Response()> unsent;
    if (shared_) {
      std::lock_guard lock(shared_->mu);
      unsent = std::move(shared_->make_response);
      shared_->make_response = nullptr;
      shared_->Detach();
    }
    shared_.reset();
    // After this no responder posts to the strand: the server may go away.
    if (waker_) waker_->Close();
    server_.Unregister(id_);
  }

  awaitable<bool> Handshake() {
    SetDeadline(opt_.header_timeout);
    error_code ec;
    co_await stream_.tls().async_handshake(ssl::stream_base::server,
                                           asio::redirect_error(kAwait, ec));
    ClearDeadline();
    if (ec) spdlog::debug("http: connection {} TLS handshake failed: {}", id_, ec.message());
    co_return !ec;
  }

  // Waits (idle) until the next request starts: bytes already buffered, or
  // the watch read left over from the previous exchange, or a fresh read.
  awaitable<bool> AwaitFirstByte(bool first) {
    if (buffer_.size() > 0) co_return true;
    // Checked with no suspension before idle_ is set, so Stop's
    // OnServerStopping either sees idle_ or we see stopping().
    if (server_.stopping()) co_return false;
    idle_ = true;
    SetDeadline(first ? opt_.header_timeout : opt_.idle_timeout);
    if (watch_pending_) {
      while (watch_pending_) co_await WaitForWake();
    } else if (!closed_ && !watch_failed_ && !stream_.is_tls()) {
      // Plain TCP: wait for readability without holding a buffer, so idle
      // connections cost little memory.
      buffer_.shrink_to_fit();
      error_code ec;
      co_await stream_.socket().async_wait(tcp::socket::wait_read,
                                           asio::redirect_error(kAwait, ec));
      idle_ = false;
      co_return !ec && !closed_;
    } else if (!closed_ && !watch_failed_) {
      error_code ec;
      size_t n = co_await stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                                                  asio::redirect_error(kAwait, ec));
      if (!ec) buffer_.commit(n);
    }
    idle_ = false;
    co_return buffer_.size() > 0 && !closed_;
  }

  // One request: head, handler, response, leftover body. Returns whether the
  // connection stays open for another request.
  awaitable<bool> ServeOneRequest(bool first) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opt_.max_header_bytes));
    // Beast 1.74 treats body_limit(none) as "0" for Content-Length bodies, so
    // the limit is ours (ReadBody) and Beast's is the maximum.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    // The first head must be complete within header_timeout of the accept
    // (or handshake); later ones within header_timeout of their first byte.
    if (!first) SetDeadline(opt_.header_timeout);
    error_code ec;
    co_await bhttp::async_read_header(stream_, buffer_, *parser_, asio::redirect_error(kAwait, ec));
    if (ec) {
      co_await RefuseBadHead(ec);
      co_return false;
    }
    ClearDeadline();
    started_ = Clock::now();
    auto exchange = StartExchange();
    if (ShouldPrefetchBody()) co_await PrefetchBody();
    if (CanRunInline(exchange->head())) {
      RunHandlerInline(std::move(exchange));
    } else {
      asio::post(server_.pool(), [&server = server_, exchange = std::move(exchange)]() mutable {
        InvokeHandler(server.handler(), std::move(exchange));
      });
    }
    Response response = co_await AwaitResponse();
    if (abandon_) co_return false;
    bool keep_alive = DecideKeepAlive();
    if (auto c = response.headers.Get("Connection"); c && IEquals(*c, "close")) keep_alive = false;
    bool written = co_await WriteResponse(response, keep_alive);
    LogRequest(response.status, written);
    if (written && keep_alive && !body_done_) keep_alive = co_await DrainBody();
    co_return (written && keep_alive);
  }

  awaitable<void> RefuseBadHead(error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || closed_) {
      co_return;  // the client left (or timed out) between requests
    }
    if (timed_out_ || ec == asio::error::operation_aborted) {
      spdlog::debug("http: connection {} header timeout", id_);
      co_return;
    }
    int status = ec == bhttp::error::header_limit ? 431 : 400;
    spdlog::debug("http: connection {} bad request head ({}): {}", id_, status, ec.message());
    Response r;
    r.status = status;
    r.headers.Set("Content-Type", "text/plain");
    r.body = std::string(status == 431 ? "request header too large\n" : "bad request\n");
    body_done_ = true;
    head_version_ = 11;
    head_method_ = "";
    bool keep_alive = false;
    co_await WriteResponse(r, keep_alive);
  }

  // The exchange for the request just parsed (dispatched by the caller).
  std::shared_ptr<ExchangeImpl> StartExchange() {
    auto& req = parser_->get();
    RequestHead head;
    head.method = std::string(SV(req.method_string()));
    head.target = std::string(SV(req.target()));
    SplitTarget(head);
    head.headers.Reserve(static_cast<size_t>(std::distance(req.begin(), req.end())));
    for (const auto& field : req) {
      head.headers.Add(std::string(SV(field.name_string())), std::string(SV(field.value())));
    }
    if (auto len = parser_->content_length()) head.content_length = *len;
    head.chunked = parser_->chunked();
    head.remote_address = remote_address_;
    head.tls = stream_.is_tls();
    head.request_id = server_.NextRequestId();

    head_method_ = head.method;
    head_target_ = head.target;
    head_version_ = req.version();
    request_id_ = head.request_id;
    client_keep_alive_ = req.keep_alive();
    body_done_ = parser_->is_done();
    body_failed_ = false;
    body_bytes_ = 0;
    content_length_ = head.content_length;
    continue_sent_ = false;
    expect_continue_ =
        req.version() >= 11 && IEquals(SV(req[bhttp::field::expect]), "100-continue");

    shared_ = std::make_shared<ExchangeShared>();
    shared_->body_eof = body_done_;
    if (!waker_) waker_ = std::make_shared<SessionWaker>(strand_, weak_from_this());
    shared_->waker = waker_;
    auto exchange = std::make_shared<ExchangeImpl>(std::move(head), shared_);
    if (body_done_) StartWatch();
    return exchange;
  }

  // Inline only when the handler cannot block on the body: it is all in
  // memory (or there is none), so ReadBody() returns without the strand.
  bool CanRunInline(const RequestHead& head) {
    if (!opt_.run_inline) return false;
    {
      std::lock_guard lock(shared_->mu);
      if (!shared_->body_eof || !shared_->prefetch_status.ok()) return false;
    }
    return opt_.run_inline(head);
  }

  void RunHandlerInline(std::shared_ptr<ExchangeImpl> exchange) {
    auto shared = shared_;
    {
      std::lock_guard lock(shared->mu);
      shared->inline_call = true;
    }
    InvokeHandler(server_.handler(), std::move(exchange));
    std::lock_guard lock(shared->mu);
    shared->inline_call = false;
  }

  bool ShouldPrefetchBody() const {
    return !body_done_ && !expect_continue_ && content_length_ &&
           *content_length_ <= kPrefetchBodyBytes;
  }

  // Reads the whole (small) body into the exchange before its handler runs.
  // Errors (too large, too slow, disconnect) are kept for the handler's
  // first ReadBody past the bytes that did arrive, as if it had read them.
  awaitable<void> PrefetchBody() {
    std::string body(static_cast<size_t>(*content_length_), '\0');
    size_t filled = 0;
    Status status;
    while (!body_done_ && filled < body.size()) {
      Result<size_t> got = co_await ReadBodyChunk(std::span<char>(body).subspan(filled));
      if (!got.ok()) {
        status = got.status();
        break;
      }
      if (*got == 0) break;
      filled += *got;
    }
    body.resize(filled);
    std::lock_guard lock(shared_->mu);
    shared_->prefetched = std::move(body);
    shared_->prefetch_status = std::move(status);
    shared_->body_eof = body_done_;
  }

  // Serves body reads until the handler responds.
  awaitable<Response> AwaitResponse() {
    while (!abandon_) {
      std::optional<Response> response;
      std::function<Response()> make_response;
      std::span<char> read_buffer;
      bool read_requested = false;
      {
        std::lock_guard lock(shared_->mu);
        if (shared_->response) {
          response = std::move(shared_->response);
          shared_->response.reset();
          shared_->Detach();
        } else if (shared_->make_response) {
          make_response = std::move(shared_->make_response);
          shared_->make_response = nullptr;
          shared_->Detach();
        } else if (shared_->read_requested) {
          read_requested = true;
          read_buffer = shared_->read_buffer;
          shared_->read_requested = false;
        }
      }
      if (make_response) {
        shared_.reset();
        response = make_response();
        make_response = nullptr;  // what it held is freed here, on the strand
      }
      if (response) {
        shared_.reset();
        co_return std::move(*response);
      }
      if (read_requested) {
        Result<size_t> got = co_await ReadBodyChunk(read_buffer);
        std::lock_guard lock(shared_->mu);
        shared_->read_status = got.status();
        shared_->read_bytes = got.ok() ? *got : 0;
        shared_->read_done = true;
        // Saves the handler a round trip through the strand for the final 0.
        shared_->body_eof = got.ok() && body_done_;
        shared_->cv.notify_all();
        continue;
      }
      co_await WaitForWake();
    }
    co_return Response{};
  }

  awaitable<Result<size_t>> ReadBodyChunk(std::span<char> out) {
    if (content_length_ && *content_length_ > opt_.max_body_bytes) {
      body_failed_ = true;
      co_return Status(Code::kTooLarge, "request body over the server limit");
    }
    if (body_failed_) co_return Status(Code::kIoError, "request body unreadable");
    if (body_done_) co_return size_t{0};
    if (expect_continue_ && !continue_sent_) {
      continue_sent_ = true;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      SetDeadline(opt_.body_stall_timeout);
      error_code ec;
      co_await asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                                 asio::redirect_error(kAwait, ec));
      ClearDeadline();
      if (ec) {
        body_failed_ = true;
        co_return Status(Code::kIoError, "client gone before 100 Continue");
      }
    }
    size_t got = 0;
    error_code ec = co_await ReadSomeBody(out, got);
    if (ec) {
      body_failed_ = true;
      if (ec == bhttp::error::body_limit) co_return Status(Code::kTooLarge, "body too large");
      if (timed_out_) co_return Status(Code::kTimeout, "client too slow sending the body");
      co_return Status(Code::kIoError, "request body: " + ec.message());
    }
    body_bytes_ += got;
    if (body_bytes_ > opt_.max_body_bytes) {
      body_failed_ = true;
      co_return Status(Code::kTooLarge, "request body over the server limit");
    }
    if (parser_->is_done()) {
      body_done_ = true;
      StartWatch();
    }
    co_return got;
  }

  // Reads at least one body byte into out (or to the end of the body), then
  // keeps filling out while more bytes can be had without waiting: fewer
  // hand-offs to the handler thread for large buffers.
  awaitable<error_code> ReadSomeBody(std::span<char> out, size_t& got) {
    got = 0;
    error_code ec;
    while (!parser_->is_done() && got < out.size()) {
      error_code ignored;
      if (got > 0 && buffer_.size() == 0 && stream_.socket().available(ignored) == 0) break;
      auto& body = parser_->get().body();
      body.data = out.data() + got;
      body.size = out.size() - got;
      SetDeadline(opt_.body_stall_timeout);
      co_await bhttp::async_read_some(stream_, buffer_, *parser_, asio::redirect_error(kAwait, ec));
      ClearDeadline();
      got = out.size() - parser_->get().body().size;
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) break;
    }
    co_return ec;
  }

  // Once the request is fully read, a small read on the idle socket tells us
  // when the peer leaves (ClientGone for long polls); bytes it gets are the
  // next pipelined request and stay in buffer_. Not needed (and not done)
  // while pipelined bytes are already buffered. End of stream may be a mere
  // half-close: buffered requests are still answered, then the connection
  // closes; any other error ends the connection after this response.
  void StartWatch() {
    if (watch_pending_ || watch_failed_ || closed_ || buffer_.size() > 0) return;
    watch_pending_ = true;
    auto self = shared_from_this();
    stream_.async_read_some(buffer_.prepare(kWatchReadBytes), [self](error_code ec, size_t n) {
      self->watch_pending_ = false;
      if (ec) {
        self->watch_failed_ = true;
        self->watch_error_ = ec != asio::error::eof;
        if (self->shared_) self->shared_->client_gone = true;
      } else {
        self->buffer_.commit(n);
      }
      self->Wake();
    });
  }

  bool DecideKeepAlive() {
    if (!client_keep_alive_ || server_.stopping() || closed_ || watch_error_) return false;
    if (body_done_) return true;
    if (body_failed_) return false;
    // The client waits for 100 Continue that never came: its body may or may
    // not follow, so the connection cannot be reused safely.
    if (expect_continue_ && !continue_sent_) return false;
    if (content_length_ && *content_length_ - body_bytes_ > opt_.max_drain_bytes) return false;
    return true;  // drain after the response
  }

  awaitable<bool> DrainBody() {
    scratch_.resize(kScratchBytes);
    uint64_t drained = 0;
    while (!parser_->is_done()) {
      size_t got = 0;
      error_code ec = co_await ReadSomeBody(scratch_, got);
      drained += got;
      if (ec || drained > opt_.max_drain_bytes) co_return false;
    }
    body_done_ = true;
    co_return true;
  }

  awaitable<void> LingerAndClose() {
    // The watch read already saw the client's stream end (a long poll's
    // client leaving, most often): nothing can follow to drain. Closing at
    // once also spares the drain buffer, which thousands of polls ending
    // together would each have taken.
    if (watch_failed_) {
      CloseSocket();
      co_return;
    }
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    scratch_.resize(kScratchBytes);
    auto deadline = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime), opt_.header_timeout);
    SetDeadline(deadline);
    uint64_t dropped = 0;
    while (!closed_ && !ec && dropped <= opt_.max_drain_bytes) {
      if (watch_pending_) {  // one read at a time: let the watch finish first
        co_await WaitForWake();
        dropped += buffer_.size();
        buffer_.consume(buffer_.size());
        if (watch_failed_) break;
        continue;
      }
      dropped += co_await stream_.socket().async_read_some(asio::buffer(scratch_),
                                                           asio::redirect_error(kAwait, ec));
    }
    CloseSocket();
  }

  // --- responses ------------------------------------------------------------
  using HeaderMessage = bhttp::response<bhttp::empty_body>;

  HeaderMessage BuildHeader(const Response& r, bool keep_alive) {
    HeaderMessage h;
    h.version(11);
    h.result(r.status >= 100 && r.status <= 999 ? static_cast<unsigned>(r.status) : 500u);
    for (const auto& f : r.headers.fields()) {
      if (IsFramingHeader(f.name)) continue;
      if (!IsSafeHeaderText(f.name) || !IsSafeHeaderText(f.value) || f.name.empty()) {
        spdlog::warn("http: request {} dropped an unsafe response header", request_id_);
        continue;
      }
      h.insert(f.name, f.value);
    }
    if (!r.headers.Has("Date")) h.set(bhttp::field::date, CurrentHttpDate());
    if (!r.headers.Has("Server")) h.set(bhttp::field::server, opt_.server_header);
    h.set(bhttp::field::connection, keep_alive ? "keep-alive" : "close");
    return h;
  }

  // The header as one block, laid out by Beast's serializer. A response
  // held in memory goes out as this block and its body, one sendmsg of two
  // buffers: Beast's own write handed the kernel one buffer per field (ten
  // or more per response) through several layers of composed operations.
  static bool SerializeHeader(HeaderMessage& msg, std::string& out) {
    bhttp::response_serializer<bhttp::empty_body> sr(msg);
    error_code ec;
    while (!ec && !sr.is_done()) {
      sr.next(ec, [&](error_code&, const auto& buffers) {
        const size_t n = asio::buffer_size(buffers);
        const size_t at = out.size();
        out.resize(at + n);
        asio::buffer_copy(asio::buffer(out.data() + at, n), buffers);
        sr.consume(n);
      });
    }
    return !ec;
  }

  awaitable<bool> WriteHeader(HeaderMessage msg) {
    bhttp::response_serializer<bhttp::empty_body> sr(msg);
    error_code ec;
    SetDeadline(opt_.body_stall_timeout);
    co_await bhttp::async_write_header(stream_, sr, asio::redirect_error(kAwait, ec));
    ClearDeadline();
    co_return !ec;
  }

  awaitable<bool> WriteBytes(asio::const_buffer bytes) {
    error_code ec;
    SetDeadline(opt_.body_stall_timeout);
    co_await asio::async_write(stream_, bytes, asio::redirect_error(kAwait, ec));
    ClearDeadline();
    co_return !ec;
  }

  // May turn keep_alive off (a close-delimited body).
  awaitable<bool> WriteResponse(Response& r, bool& keep_alive) {
    bool head_only = head_method_ == "HEAD";
    bool no_body = r.status < 200 || r.status == 204 || r.status == 304;
    // Without a length, a BodySource is chunked; HTTP/1.0 cannot do that, so
    // the body ends with the connection instead.
    if (auto* src = std::get_if<std::unique_ptr<BodySource>>(&r.body);
        src && !r.content_length && head_version_ < 11) {
      keep_alive = false;
    }
    auto header = BuildHeader(r, keep_alive);
    bytes_sent_ = 0;
    if (closed_) co_return false;
    if (no_body) {
      if (r.status == 304 && r.content_length) header.content_length(*r.content_length);
      co_return co_await WriteHeader(std::move(header));
    }
    if (auto* text = std::get_if<std::string>(&r.body)) {
      if (head_only) {
        header.content_length(r.content_length.value_or(text->size()));
        co_return co_await WriteHeader(std::move(header));
      }
      header.content_length(text->size());
      std::string head;
      if (!SerializeHeader(header, head)) co_return false;
      const std::array<asio::const_buffer, 2> message{asio::buffer(head), asio::buffer(*text)};
      error_code ec;
      SetDeadline(opt_.body_stall_timeout);
      co_await asio::async_write(stream_, message, asio::redirect_error(kAwait, ec));
      ClearDeadline();
      bytes_sent_ = text->size();
      co_return !ec;
    }
    if (auto* file = std::get_if<FileRange>(&r.body)) {
      header.content_length(file->length);
      if (!co_await WriteHeader(std::move(header))) co_return false;
      if (head_only || file->length == 0) co_return true;
      bool ok = stream_.is_tls() ? co_await CopyFile(*file) : co_await SendFile(*file);
      co_return ok;
    }
    auto& source = std::get<std::unique_ptr<BodySource>>(r.body);
    bool chunked = !r.content_length && head_version_ >= 11;
    if (r.content_length) {
      header.content_length(*r.content_length);
    } else if (chunked) {
      header.chunked(true);
    }
    if (!co_await WriteHeader(std::move(header))) co_return false;
    if (head_only || !source) co_return true;
    co_return co_await StreamSource(*source, r.content_length, chunked);
  }

  awaitable<bool> SendFile(const FileRange& file) {
    auto& socket = stream_.socket();
    error_code ec;
    socket.native_non_blocking(true, ec);
    if (ec || !file.fd) co_return false;
    off_t offset = static_cast<off_t>(file.offset);
    uint64_t left = file.length;
    uint64_t since_yield = 0;
    while (left > 0) {
      if (closed_) co_return false;
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, kSendfileSliceBytes));
      ssize_t n = ::sendfile(socket.native_handle(), *file.fd, &offset, want);
      if (n > 0) {
        left -= static_cast<uint64_t>(n);
        bytes_sent_ += static_cast<uint64_t>(n);
        since_yield += static_cast<uint64_t>(n);
        if (since_yield >= kSendfileSliceBytes) {  // let other connections run
          since_yield = 0;
          co_await asio::post(strand_, kAwait);
        }
        continue;
      }
      if (n == 0) {
        spdlog::warn("http: request {} file shorter than its range", request_id_);
        co_return false;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) co_return false;
      SetDeadline(opt_.body_stall_timeout);
      co_await socket.async_wait(tcp::socket::wait_write, asio::redirect_error(kAwait, ec));
      ClearDeadline();
      if (ec) co_return false;
    }
    co_return true;
  }

  // TLS cannot use sendfile: read pieces on the handler pool, write them.
  awaitable<bool> CopyFile(const FileRange& file) {
    std::vector<char> buf(kBodyChunkBytes);
    uint64_t offset = file.offset;
    uint64_t left = file.length;
    while (left > 0) {
      ssize_t n = -1;
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      co_await OnPool([&] {
        do {
          n = ::pread(*file.fd, buf.data(), want, static_cast<off_t>(offset));
        } while (n < 0 && errno == EINTR);
      });
      if (n <= 0) co_return false;
      if (!co_await WriteBytes(asio::buffer(buf.data(), static_cast<size_t>(n)))) co_return false;
      offset += static_cast<uint64_t>(n);
      left -= static_cast<uint64_t>(n);
      bytes_sent_ += static_cast<uint64_t>(n);
    }
    co_return true;
  }

  awaitable<bool> StreamSource(BodySource& source, std::optional<uint64_t> length, bool chunked) {
    std::vector<char> buf(kBodyChunkBytes);
    while (true) {
      size_t want = buf.size();
      if (length) want = static_cast<size_t>(std::min<uint64_t>(want, *length - bytes_sent_));
      Result<size_t> got = size_t{0};
      if (want > 0) {
        co_await OnPool([&] { got = source.Read(std::span<char>(buf.data(), want)); });
      }
      if (!got.ok()) {
        spdlog::warn("http: request {} body source failed: {}", request_id_,
                     got.status().ToString());
        co_return false;  // the connection closes: the client sees a cut body
      }
      size_t n = *got;
      if (n == 0) break;
      bool ok = chunked ? co_await WriteChunk(asio::buffer(buf.data(), n))
                        : co_await WriteBytes(asio::buffer(buf.data(), n));
      if (!ok) co_return false;
      bytes_sent_ += n;
    }
    if (length && bytes_sent_ != *length) {
      spdlog::warn("http: request {} body source gave {} of {} bytes", request_id_, bytes_sent_,
                   *length);
      co_return false;
    }
    if (chunked) {
      error_code ec;
      SetDeadline(opt_.body_stall_timeout);
      co_await asio::async_write(stream_, bhttp::make_chunk_last(),
                                 asio::redirect_error(kAwait, ec));
      ClearDeadline();
      co_return !ec;
    }
    co_return true;
  }

  awaitable<bool> WriteChunk(asio::const_buffer bytes) {
    error_code ec;
    SetDeadline(opt_.body_stall_timeout);
    co_await asio::async_write(stream_, bhttp::make_chunk(bytes), asio::redirect_error(kAwait, ec));
    ClearDeadline();
    co_return !ec;
  }

  void LogRequest(int status, bool written) {
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
    spdlog::debug("http: {} {} {} {} -> {} {}B {}ms{}", request_id_, remote_address_, head_method_,
                  head_target_, status, bytes_sent_, ms, written ? "" : " (write failed)");
  }

  ServerCore& server_;
  const ServerOptions& opt_;
  const uint64_t id_;
  Stream stream_;
  asio::any_io_executor strand_;
  asio::steady_timer deadline_timer_;
  // The coroutine parked in WaitForWake(), if any (at most one: only Run's
  // coroutine waits for wakes).
  std::unique_ptr<Waiter> waiter_;
  std::shared_ptr<SessionWaker> waker_;  // created with the first exchange
  Clock::time_point deadline_ = Clock::time_point::max();
  std::string remote_address_;
  beast::flat_buffer buffer_;
  std::vector<char> scratch_;

  bool closed_ = false;
  bool timed_out_ = false;
  bool idle_ = false;
  bool abandon_ = false;
  bool watch_pending_ = false;
  bool watch_failed_ = false;  // the watch read ended the stream (EOF or error)
  bool watch_error_ = false;   // ... with an error other than EOF

  // The current request.
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::shared_ptr<ExchangeShared> shared_;
  std::string head_method_;
  std::string head_target_;
  unsigned head_version_ = 11;
  uint64_t request_id_ = 0;
  bool client_keep_alive_ = true;
  bool body_done_ = false;
  bool body_failed_ = false;
  uint64_t body_bytes_ = 0;
  std::optional<uint64_t> content_length_;
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  uint64_t bytes_sent_ = 0;
  Clock::time_point started_;
};

void SessionWaker::Wake() {
  std::lock_guard lock(mu_);
  if (!executor_) return;
  asio::post(*executor_, [session = session_] {
    if (auto s = session.lock()) s->Wake();
  });
}

// --- Server::Impl -------------------------------------------------------------

Status ServerCore::LoadTls() {
  if (options_.tls_cert_file.empty() && options_.tls_key_file.empty()) return Status::Ok();
  if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
    return InvalidArgument("TLS needs both a certificate and a key file");
  }
  tls_.emplace(ssl::context::tls_server);
  error_code ec;
  tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::single_dh_use,
                    ec);
  tls_->use_certificate_chain_file(options_.tls_cert_file, ec);
  if (ec) return IoError("TLS certificate " + options_.tls_cert_file + ": " + ec.message());
  tls_->use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
  if (ec) return IoError("TLS key " + options_.tls_key_file + ": " + ec.message());
  return Status::Ok();
}

Status ServerCore::Start(Handler handler) {
  {
    std::lock_guard lock(state_mu_);
    if (started_) return Status(Code::kConflict, "server already started");
    started_ = true;
  }
  handler_ = std::move(handler);
  IMGBATCH_RETURN_IF_ERROR(LoadTls());
  error_code ec;
  auto address =
      asio::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
  if (ec) return InvalidArgument("bad listen address '" + options_.host + "'");
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return IoError("listen on " + options_.host + ":" + std::to_string(options_.port) + ": " +
                   ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), [](std::exception_ptr e) {
    if (e) spdlog::error("http: accept loop ended by an exception");
  });
  int threads = std::max(1, options_.io_threads);
  for (int i = 0; i < threads; ++i) io_threads_.emplace_back([this] { ioc_.run(); });
  spdlog::info("http: listening on {}:{}{}", options_.host, port_.load(), tls_ ? " (TLS)" : "");
  return Status::Ok();
}

awaitable<void> ServerCore::AcceptLoop() {
  asio::steady_timer backoff(acceptor_.get_executor());
  while (!stopping_) {
    tcp::socket socket(asio::make_strand(ioc_));
    error_code ec;
    co_await acceptor_.async_accept(socket, asio::redirect_error(kAwait, ec));
    if (ec) {
      if (stopping_ || !acceptor_.is_open()) break;
      // Out of file descriptors and friends: wait a little instead of spinning.
      spdlog::warn("http: accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::redirect_error(kAwait, ec));
      continue;
    }
    if (stopping_) break;
    uint64_t id = ++next_session_id_;
    std::shared_ptr<Session> session;
    {
      std::lock_guard lock(sessions_mu_);
      if (sessions_.size() >= options_.max_connections) {
        spdlog::warn("http: connection limit {} reached; closing a new one",
                     options_.max_connections);
        socket.close(ec);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      session = std::make_shared<Session>(*this, std::move(socket), id);
      sessions_.emplace(id, session);
    }
    session->Start();
  }
}

void ServerCore::ForEachSession(const std::function<void(const std::shared_ptr<Session>&)>& fn) {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) fn(s);
}

bool ServerCore::WaitForSessions(std::chrono::milliseconds timeout) {
  std::unique_lock lock(sessions_mu_);
  return sessions_cv_.wait_for(lock, timeout, [&] { return sessions_.empty(); });
}

void ServerCore::Stop(std::chrono::milliseconds grace) {
  {
    std::unique_lock lock(state_mu_);
    if (!started_) {
      stopped_ = true;
      state_cv_.notify_all();
      return;
    }
    if (stopping_) {  // another thread is stopping: wait for it
      state_cv_.wait(lock, [&] { return stopped_; });
      return;
    }
    stopping_ = true;
  }
  asio::post(acceptor_.get_executor(), [this] {
    error_code ec;
    acceptor_.close(ec);
  });
  ForEachSession([](const std::shared_ptr<Session>& s) {
    asio::post(s->get_executor(), [s] { s->OnServerStopping(); });
  });
  if (!WaitForSessions(grace)) {
    spdlog::warn("http: {} connections still busy after the grace period; closing them",
                 connection_count());
    ForEachSession([](const std::shared_ptr<Session>& s) {
      asio::post(s->get_executor(), [s] { s->ForceClose(); });
    });
    if (!WaitForSessions(std::chrono::duration_cast<std::chrono::milliseconds>(kForceCloseWait))) {
      spdlog::error("http: connections did not close; stopping anyway");
    }
  }
  pool_.join();  // handlers finish (their reads fail once connections close)
  work_.reset();
  ioc_.stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  spdlog::info("http: stopped");
  std::lock_guard lock(state_mu_);
  stopped_ = true;
  state_cv_.notify_all();
}

// --- Server -------------------------------------------------------------------

class Server::Impl : public ServerCore {
 public:
  using ServerCore::ServerCore;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;
Status Server::Start(Handler handler) {
  // Writes to a peer that has gone away must fail with EPIPE, not raise a
  // SIGPIPE that ends the whole process (sendfile and plain writes alike).
  ::signal(SIGPIPE, SIG_IGN);
  return impl_->Start(std::move(handler));
}
uint16_t Server::port() const { return impl_->port(); }
const ServerOptions& Server::options() const { return impl_->options(); }
void Server::Stop(std::chrono::milliseconds grace) { impl_->Stop(grace); }
void Server::Wait() { impl_->Wait(); }
size_t Server::connection_count() const { return impl_->connection_count(); }

}  // namespace imgbatch::http
