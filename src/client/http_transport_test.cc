#include "client/http_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

namespace imgbatch::client {
namespace {

using std::chrono::milliseconds;

// One connection on 127.0.0.1 answered in two steps with a pause between
// them, so a test can raise the abort flag at a chosen point of the reply.
// Raw sockets on purpose: a real HTTP server writes a reply whole.
class SlowReplyServer {
 public:
  SlowReplyServer(std::string first, milliseconds pause, std::string rest) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, first = std::move(first), pause, rest = std::move(rest)] {
      int conn = ::accept(listener_, nullptr, nullptr);
      if (conn < 0) return;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(conn, buffer, sizeof buffer);
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        received_ = request;
      }
      (void)!::write(conn, first.data(), first.size());
      std::this_thread::sleep_for(pause);
      (void)!::write(conn, rest.data(), rest.size());
      std::this_thread::sleep_for(milliseconds(100));
      ::close(conn);
    });
  }
  ~SlowReplyServer() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  // The request's head, as it arrived.
  std::string received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  mutable std::mutex mu_;
  std::string received_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

Result<HttpResponse> SendAbortingAfter(const std::string& url, milliseconds delay) {
  CurlTransport transport;
  std::atomic<bool> abort{false};
  std::thread aborter([&] {
    std::this_thread::sleep_for(delay);
    abort = true;
  });
  HttpRequest request;
  request.url = url;
  auto response = transport.Send(request, &abort);
  aborter.join();
  return response;
}

TEST(CurlTransportAbortTest, AbortBeforeTheReplyStopsTheRequest) {
  SlowReplyServer server("", milliseconds(1500), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  auto response = SendAbortingAfter(server.url(), milliseconds(100));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().detail(), kAbortedDetail);
}

TEST(CurlTransportAbortTest, AReplyUnderWayIsReadToTheEnd) {
  // The server has acted once it answers (a ReceiveMessage has hidden its
  // messages): dropping the reply then would lose them until their
  // visibility timeout.
  SlowReplyServer server("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nmess", milliseconds(1500),
                         "ages");
  auto response = SendAbortingAfter(server.url(), milliseconds(300));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "messages");
}

Result<HttpResponse> SendLimited(const std::string& url, uint64_t max_response_bytes) {
  CurlTransport transport;
  HttpRequest request;
  request.url = url;
  request.max_response_bytes = max_response_bytes;
  return transport.Send(request);
}

TEST(CurlTransportLimitTest, ABodyOverTheLimitIsTooLarge) {
  const std::string body(100, 'b');
  SlowReplyServer announced("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", milliseconds(0),
                            body);
  auto refused = SendLimited(announced.url(), 99);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kTooLarge) << refused.status().ToString();

  // No Content-Length: counted as it arrives.
  SlowReplyServer unannounced("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", milliseconds(0),
                              body);
  auto counted = SendLimited(unannounced.url(), 99);
  ASSERT_FALSE(counted.ok());
  EXPECT_EQ(counted.status().code(), Code::kTooLarge) << counted.status().ToString();
}

TEST(CurlTransportLimitTest, ABodyAtTheLimitIsRead) {
  SlowReplyServer server("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", milliseconds(0),
                         std::string(100, 'b'));
  auto response = SendLimited(server.url(), 100);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body.size(), 100u);
}

// The path is sent as signed: libcurl's default would drop "." and ".."
// segments, and the signature (or the object named) would no longer match.
TEST(CurlTransportPathTest, DotSegmentsAreSentAsTheyAre) {
  SlowReplyServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", milliseconds(0), "");
  CurlTransport transport;
  HttpRequest request;
  request.url = server.url() + "bkt/a/../b.jpg";
  ASSERT_TRUE(transport.Send(request).ok());
  EXPECT_TRUE(server.received().starts_with("GET /bkt/a/../b.jpg HTTP/1.1\r\n"))
      << server.received();
}

}  // namespace
}  // namespace imgbatch::client
