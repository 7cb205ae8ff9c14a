// Feeds raw bytes to the real HTTP server over loopback: one connection per
// input, the bytes as the request stream, then half-close and read until the
// server closes. Exercises the head parser, body framing (chunked, lengths,
// 100-continue), pipelining, drains and error responses. A hang or crash is a
// finding (the server must always close within its short timeouts).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "http/server.h"

namespace {

using namespace std::chrono_literals;
using imgbatch::http::Exchange;
using imgbatch::http::Response;

class CountingSource final : public imgbatch::http::BodySource {
 public:
  explicit CountingSource(size_t size) : left_(size) {}
  imgbatch::Result<size_t> Read(std::span<char> buffer) override {
    size_t n = std::min(buffer.size(), left_);
    std::fill_n(buffer.data(), n, 'x');
    left_ -= n;
    return n;
  }

 private:
  size_t left_;
};

// Answers in every body shape the server supports, picked by the path.
void Handle(std::shared_ptr<Exchange> ex) {
  const auto& head = ex->head();
  Response r;
  if (head.path == "/reject") {  // answers without reading the body
    r.status = 403;
    ex->Respond(std::move(r));
    return;
  }
  auto body = imgbatch::http::ReadWholeBody(*ex, 64 * 1024);
  if (!body.ok()) {
    r.status = 400;
    r.body = body.status().ToString();
  } else if (head.path == "/stream") {
    r.body = std::make_unique<CountingSource>(body->size() + 10);
  } else if (head.path == "/length") {
    r.body = std::make_unique<CountingSource>(100);
    r.content_length = 100;
  } else {
    r.body = head.method + " " + head.target + " " + std::to_string(body->size());
  }
  ex->Respond(std::move(r));
}

uint16_t ServerPort() {
  static imgbatch::http::Server* server = [] {
    imgbatch::http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.handler_threads = 2;
    options.io_threads = 1;
    options.max_header_bytes = 8 * 1024;
    options.max_body_bytes = 1 << 20;
    options.header_timeout = 500ms;
    options.idle_timeout = 500ms;
    options.body_stall_timeout = 500ms;
    auto* s = new imgbatch::http::Server(options);  // lives for the process
    if (!s->Start(Handle).ok()) std::abort();
    return s;
  }();
  return server->port();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(ServerPort());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));  // EINPROGRESS
  size_t sent = 0;
  bool write_open = true;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  char buf[65536];
  static const bool verbose = std::getenv("HTTP_FUZZER_VERBOSE") != nullptr;
  while (true) {
    if (write_open && sent == size) {
      ::shutdown(fd, SHUT_WR);
      write_open = false;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (write_open ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 100) < 0) break;
    if (p.revents & POLLOUT) {
      ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINPROGRESS) write_open = false;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0 && verbose) std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
      if (n == 0 || (n < 0 && errno != EAGAIN)) break;  // the server closed
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "http_fuzzer: the server did not close the connection\n");
      std::abort();
    }
  }
  ::close(fd);
  return 0;
}
