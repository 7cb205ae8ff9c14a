// Server: the HTTP/1.1 server (Boost.Beast/Asio coroutines, plain TCP or TLS)
// that turns connections into Exchanges for a Handler (see http/exchange.h).
// No Beast or Asio types appear here (pimpl); they live in server.cc only.
//
// Threading: a few I/O threads run every connection as a coroutine, so an
// idle or long-polling connection costs no thread. Handlers run on a separate
// pool of blocking threads, except requests ServerOptions::run_inline picks:
// those run on the I/O thread, saving two thread hand-offs per request. Start/Stop/Wait may be
// called from any thread that is not an I/O or handler thread; port() and options() are safe
// anywhere after Start. Lifecycle: construct, Start once, Stop (or destroy) once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/exchange.h"

namespace imgbatch::http {

// The S3 single-PUT maximum (5 GiB) plus room for aws-chunked framing.
inline constexpr uint64_t kDefaultMaxBodyBytes = (5ull << 30) + (256ull << 20);
inline constexpr size_t kDefaultMaxHeaderBytes = 16 * 1024;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 4566;  // 0 = ephemeral; read the bound one with Server::port()
  // TLS when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;

  int io_threads = 2;        // coroutine threads (sockets, parsing, timers)
  int handler_threads = 32;  // blocking threads that run the Handler

  // Requests for which the Handler never blocks (it completes the exchange
  // now or later from another thread, e.g. after an asynchronous commit):
  // those whose body is small enough to be read before the handler starts
  // (or that have none) are handled right on the I/O thread. Called on an I/O
  // thread with the request head; empty = every request goes to the pool.
  std::function<bool(const RequestHead&)> run_inline;

  // Request line + headers; over it the client gets 431 and the connection closes.
  size_t max_header_bytes = kDefaultMaxHeaderBytes;
  // Per request; ReadBody() returns kTooLarge past it (a Content-Length over
  // it fails on the first ReadBody without reading anything).
  uint64_t max_body_bytes = kDefaultMaxBodyBytes;
  // A body the handler did not read is discarded up to this many bytes to keep
  // the connection; a larger rest closes the connection instead.
  uint64_t max_drain_bytes = 1 << 20;

  // Between requests on a keep-alive connection.
  std::chrono::milliseconds idle_timeout{60'000};
  // From accept (or the first byte of a request) to the end of its header:
  // the slowloris guard. Also bounds the TLS handshake.
  std::chrono::milliseconds header_timeout{15'000};
  // Longest wait for the next body bytes, and for the client to take the next
  // response bytes.
  std::chrono::milliseconds body_stall_timeout{60'000};
  // Connections beyond this are closed right after accept.
  size_t max_connections = 10'000;

  std::string server_header = "imgbatch";
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // Stop() with a short grace if still running.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads. Errors: bad address, port in use,
  // unreadable TLS files (kInvalidArgument / kIoError).
  Status Start(Handler handler);

  // The bound port (the ephemeral one when options.port was 0); 0 before Start.
  uint16_t port() const;
  const ServerOptions& options() const;

  // Graceful shutdown: stop accepting, close idle connections, let in-flight
  // exchanges finish (each connection closes after its current response) for
  // up to `grace`, then close everything and join the threads. Idempotent;
  // blocks until done.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(25));
  // Blocks until Stop() has completed (e.g. main waits while a signal thread
  // calls Stop).
  void Wait();

  // Open connections right now (for tests and metrics).
  size_t connection_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgbatch::http
