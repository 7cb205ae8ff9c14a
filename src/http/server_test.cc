// Server tests: a real server on 127.0.0.1:0, driven by libcurl (framing,
// streaming, TLS) and by raw sockets where the exact bytes on the wire matter
// (pipelining, 100-continue, malformed heads, timeouts).
#include "http/server.h"
#include "http/certificate.h"

#include <signal.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::http {
namespace {

using namespace std::chrono_literals;

// --- helpers -------------------------------------------------------------------

// Deterministic test bytes: position i always holds the same byte.
void FillPattern(uint64_t offset, std::span<char> out) {
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t x = (offset + i) * 2654435761u;
    out[i] = static_cast<char>((x >> 13) ^ (x >> 29));
  }
}

std::string PatternMd5(uint64_t size) {
  Hasher h(HashKind::kMd5);
  std::vector<char> buf(1 << 20);
  for (uint64_t off = 0; off < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    FillPattern(off, std::span<char>(buf.data(), n));
    h.Update(std::string_view(buf.data(), n));
    off += n;
  }
  return HexEncode(h.Finish());
}

std::string PatternString(size_t size) {
  std::string s(size, '\0');
  FillPattern(0, s);
  return s;
}

class PatternSource final : public BodySource {
 public:
  PatternSource(uint64_t size, size_t max_piece) : size_(size), max_piece_(max_piece) {}
  Result<size_t> Read(std::span<char> buffer) override {
    size_t n =
        static_cast<size_t>(std::min<uint64_t>({buffer.size(), size_ - offset_, max_piece_}));
    FillPattern(offset_, buffer.first(n));
    offset_ += n;
    return n;
  }

 private:
  uint64_t size_;
  size_t max_piece_;
  uint64_t offset_ = 0;
};

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "text/plain");
  r.body = std::move(body);
  return r;
}

// Polls cond until it holds or the deadline passes.
bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until `until` appears in what was read (or EOF / timeout when empty).
std::string ReadFor(int fd, std::string_view until = {}, std::chrono::milliseconds timeout = 10s,
                    bool* eof = nullptr) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (eof) *eof = false;
  while (until.empty() || out.find(until) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (eof) *eof = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t count = 0;
  for (size_t pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++count;
  }
  return count;
}

struct CurlResult {
  long status = 0;
  std::string body;
  std::string headers;
  CURLcode code = CURLE_OK;
  long connects = 0;
  curl_off_t content_length = -1;
  curl_off_t uploaded = 0;
};

struct Upload {
  uint64_t size = 0;
  bool chunked = false;
  uint64_t offset = 0;
};

size_t CurlWrite(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t CurlRead(char* data, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  size_t len = static_cast<size_t>(std::min<uint64_t>(size * n, up->size - up->offset));
  FillPattern(up->offset, std::span<char>(data, len));
  up->offset += len;
  return len;
}

class Curl {
 public:
  Curl() : curl_(curl_easy_init()) {}
  ~Curl() { curl_easy_cleanup(curl_); }

  CurlResult Run(const std::string& method, const std::string& url, Upload* upload = nullptr,
                 std::vector<std::string> headers = {},
                 std::function<void(CURL*)> tweak = nullptr) {
    CurlResult r;
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, CurlWrite);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, CurlWrite);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 0L);
    if (method == "HEAD") {
      curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (upload) {
      curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl_, CURLOPT_READFUNCTION, CurlRead);
      curl_easy_setopt(curl_, CURLOPT_READDATA, upload);
      if (upload->chunked) {
        headers.push_back("Transfer-Encoding: chunked");
      } else {
        curl_easy_setopt(curl_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload->size));
      }
    }
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    if (tweak) tweak(curl_);
    r.code = curl_easy_perform(curl_);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &r.connects);
    curl_easy_getinfo(curl_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r.content_length);
    curl_easy_getinfo(curl_, CURLINFO_SIZE_UPLOAD_T, &r.uploaded);
    curl_slist_free_all(list);
    return r;
  }

 private:
  CURL* curl_;
};

// A server plus the URL prefix to reach it; handlers are plain lambdas.
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_ALL); }

  void StartServer(Handler handler, std::function<void(ServerOptions&)> tweak = nullptr) {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.handler_threads = 4;
    if (tweak) tweak(options);
    server_ = std::make_unique<Server>(options);
    Status st = server_->Start(std::move(handler));
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_NE(server_->port(), 0);
    scheme_ = options.tls_cert_file.empty() ? "http" : "https";
  }
  std::string Url(std::string_view path) const {
    return scheme_ + "://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  void TearDown() override {
    if (server_) server_->Stop(5s);
  }
  // A server whose handler parks every exchange for the test to complete.
  void StartParkingServer() {
    StartServer([this](std::shared_ptr<Exchange> ex) {
      std::lock_guard lock(parked_mu_);
      parked_.push_back(std::move(ex));
    });
  }
  // The latest parked exchange, taken from the park (null when none is).
  std::shared_ptr<Exchange> TakeParked() {
    std::lock_guard lock(parked_mu_);
    if (parked_.empty()) return nullptr;
    auto ex = std::move(parked_.back());
    parked_.pop_back();
    return ex;
  }

  std::unique_ptr<Server> server_;
  std::string scheme_ = "http";
  std::mutex parked_mu_;
  std::vector<std::shared_ptr<Exchange>> parked_;
};

// Echo-ish handler used by many tests: PUT hashes the body; GET /pattern/N
// streams N pattern bytes with a length; /echo returns the body.
void BasicHandler(std::shared_ptr<Exchange> ex) {
  const RequestHead& head = ex->head();
  if (head.path == "/echo") {
    auto body = ReadWholeBody(*ex, 1 << 20);
    if (!body.ok()) {
      ex->Respond(Text(413, CodeName(body.status().code())));
      return;
    }
    Response r = Text(200, *body);
    r.headers.Set("X-Chunked", head.chunked ? "yes" : "no");
    ex->Respond(std::move(r));
    return;
  }
  if (head.method == "PUT") {
    Hasher h(HashKind::kMd5);
    std::vector<char> buf(1 << 20);
    uint64_t total = 0;
    while (true) {
      auto n = ex->ReadBody(buf);
      if (!n.ok()) {
        ex->Respond(Text(400, n.status().ToString()));
        return;
      }
      if (*n == 0) break;
      h.Update(std::string_view(buf.data(), *n));
      total += *n;
    }
    ex->Respond(Text(200, std::to_string(total) + " " + HexEncode(h.Finish())));
    return;
  }
  if (IStartsWith(head.path, "/pattern/")) {
    uint64_t size = *ParseUint(head.path.substr(9));
    Response r;
    r.body = std::make_unique<PatternSource>(size, 100'000);
    if (head.query != "chunked") r.content_length = size;
    ex->Respond(std::move(r));
    return;
  }
  ex->Respond(Text(200, head.method + " " + head.target));
}

// --- tests ---------------------------------------------------------------------

TEST_F(ServerTest, PutAndGetLargeStreamedBodies) {
  StartServer(BasicHandler);
  constexpr uint64_t kSize = 64ull << 20;
  std::string expected = PatternMd5(kSize);
  Curl curl;
  Upload up{kSize};
  CurlResult put = curl.Run("PUT", Url("/big"), &up);
  ASSERT_EQ(put.code, CURLE_OK) << curl_easy_strerror(put.code);
  EXPECT_EQ(put.status, 200);
  EXPECT_EQ(put.body, std::to_string(kSize) + " " + expected);

  CurlResult get = curl.Run("GET", Url("/pattern/" + std::to_string(kSize)));
  ASSERT_EQ(get.code, CURLE_OK);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body.size(), kSize);
  EXPECT_EQ(Md5Hex(get.body), expected);
  EXPECT_EQ(get.connects, 0) << "the keep-alive connection was not reused";
}

TEST_F(ServerTest, KeepAliveReusesTheConnectionAndAddsDefaultHeaders) {
  StartServer(BasicHandler);
  Curl curl;
  CurlResult first = curl.Run("GET", Url("/a"));
  ASSERT_EQ(first.code, CURLE_OK);
  EXPECT_EQ(first.connects, 1);
  EXPECT_EQ(first.body, "GET /a");
  EXPECT_NE(first.headers.find("Server: imgbatch"), std::string::npos) << first.headers;
  EXPECT_NE(first.headers.find("Date: "), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    CurlResult again = curl.Run("GET", Url("/b?x=1"));
    EXPECT_EQ(again.body, "GET /b?x=1");
    EXPECT_EQ(again.connects, 0);
  }
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  // /slow answers late from another thread, so order cannot be luck.
  std::vector<std::thread> responders;
  std::mutex mu;
  StartServer([&](std::shared_ptr<Exchange> ex) {
    if (ex->head().path == "/slow") {
      std::lock_guard lock(mu);
      responders.emplace_back([ex] {
        std::this_thread::sleep_for(50ms);
        ex->Respond(Text(200, "body-of-slow"));
      });
      return;
    }
    ex->Respond(Text(200, "body-of-" + ex->head().path.substr(1)));
  });
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                      "PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                      "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  bool eof = false;
  std::string out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  EXPECT_TRUE(eof);
  EXPECT_EQ(Count(out, "HTTP/1.1 200 OK"), 3u) << out;
  size_t a = out.find("body-of-slow"), b = out.find("body-of-b"), c = out.find("body-of-c");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  std::lock_guard lock(mu);
  for (auto& t : responders) t.join();
}

TEST_F(ServerTest, ExpectContinueIsSentWhenTheHandlerReadsTheBody) {
  StartServer(BasicHandler);
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Expect: 100-continue\r\n\r\n"));
  std::string interim = ReadFor(fd, "\r\n\r\n");
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(SendAll(fd, "hello"));
  std::string out = ReadFor(fd, "hello");
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  // The connection is still usable.
  ASSERT_TRUE(SendAll(fd, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(ReadFor(fd, "GET /next").find("GET /next"), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, ExpectContinueRejectedEarlyGetsFinalStatusWithoutTheBody) {
  std::atomic<bool> read_body{false};
  StartServer([&](std::shared_ptr<Exchange> ex) {
    if (ex->head().path == "/denied") {
      ex->Respond(Text(403, "AccessDenied"));
      return;
    }
    read_body = true;
    BasicHandler(ex);
  });
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "PUT /denied HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
                      "Expect: 100-continue\r\n\r\n"));
  bool eof = false;
  std::string out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  EXPECT_TRUE(eof) << "connection must close: the client may or may not send its body";
  EXPECT_EQ(out.find("100 Continue"), std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/1.1 403 Forbidden"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  EXPECT_FALSE(read_body);

  // libcurl's view: it waits for 100 and gets 403 without uploading.
  Curl curl;
  Upload up{1 << 20};
  CurlResult r = curl.Run("PUT", Url("/denied"), &up, {"Expect: 100-continue"}, [](CURL* c) {
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 10000L);
  });
  EXPECT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.uploaded, 0);
}

TEST_F(ServerTest, ChunkedRequestBodyIsDecoded) {
  StartServer(BasicHandler);
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      "Connection: close\r\n\r\n"
                      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"));
  std::string out = ReadFor(fd);
  ::close(fd);
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Chunked: yes"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\n\r\nhello world"), std::string::npos) << out;

  // A large chunked upload through libcurl, hashed on both sides.
  Curl curl;
  Upload up{5'000'000, /*chunked=*/true};
  CurlResult r = curl.Run("PUT", Url("/obj"), &up);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "5000000 " + PatternMd5(5'000'000));
}

TEST_F(ServerTest, OversizeHeaderGets431) {
  StartServer(BasicHandler, [](ServerOptions& o) { o.max_header_bytes = 4096; });
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n");
  bool eof = false;
  std::string out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out;
  EXPECT_TRUE(eof);
}

TEST_F(ServerTest, MalformedRequestsGet400AndTheServerKeepsServing) {
  StartServer(BasicHandler);
  for (std::string bad :
       std::vector<std::string>{"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                                "PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                                "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                std::string("GET /\0 HTTP/1.1\r\n\r\n", 19)}) {
    int fd = Connect(server_->port());
    ASSERT_GE(fd, 0);
    SendAll(fd, bad);
    std::string out = ReadFor(fd);
    ::close(fd);
    // The bad chunk is found only while a handler reads the body: 400 from it.
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << bad << " -> " << out;
  }
  Curl curl;
  EXPECT_EQ(curl.Run("GET", Url("/ok")).status, 200);
}

TEST_F(ServerTest, BodyOverTheLimitIsTooLargeForTheReader) {
  StartServer(BasicHandler, [](ServerOptions& o) { o.max_body_bytes = 1000; });
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  SendAll(fd, "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n");
  std::string out = ReadFor(fd, "TooLarge");
  ::close(fd);
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;

  Curl curl;
  Upload up{5000, /*chunked=*/true};
  CurlResult r = curl.Run("PUT", Url("/obj"), &up);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("TooLarge"), std::string::npos) << r.body;
}

TEST_F(ServerTest, UnreadBodyIsDrainedWhenSmallAndClosesTheConnectionWhenLarge) {
  StartServer(
      [](std::shared_ptr<Exchange> ex) {
        ex->Respond(Text(ex->head().path == "/deny" ? 403 : 200, "answer-" + ex->head().path));
      },
      [](ServerOptions& o) { o.max_drain_bytes = 1000; });
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  // A small unread body is skipped; the next request on the connection works.
  SendAll(fd, "PUT /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" +
                  std::string(500, 'b') + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string out = ReadFor(fd, "answer-/next");
  EXPECT_NE(out.find("HTTP/1.1 403"), std::string::npos) << out;
  EXPECT_NE(out.find("answer-/next"), std::string::npos) << out;
  EXPECT_EQ(out.find("Connection: close"), std::string::npos) << out;
  // A large one closes the connection after the response.
  SendAll(fd, "PUT /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                  std::string(3000, 'b'));
  bool eof = false;
  out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  EXPECT_TRUE(eof);
  EXPECT_NE(out.find("HTTP/1.1 403"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
}

TEST_F(ServerTest, StalledBodyTimesOutForTheReader) {
  StartServer(BasicHandler, [](ServerOptions& o) { o.body_stall_timeout = 200ms; });
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  SendAll(fd, "PUT /obj HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-some");
  bool eof = false;
  std::string out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  // The socket is closed by the timeout, so the 400 may or may not get out;
  // the connection must end either way.
  EXPECT_TRUE(eof);
  if (!out.empty()) {
    EXPECT_NE(out.find("Timeout"), std::string::npos) << out;
  }
}

TEST_F(ServerTest, Http10ClosesAfterTheResponse) {
  StartServer(BasicHandler);
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /old HTTP/1.0\r\n\r\n");
  bool eof = false;
  std::string out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  EXPECT_TRUE(eof);
  EXPECT_NE(out.find("GET /old"), std::string::npos) << out;

  // A streamed body without a length cannot be chunked for HTTP/1.0: it ends
  // with the connection, even when the client asked for keep-alive.
  fd = Connect(server_->port());
  SendAll(fd, "GET /pattern/5000?chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  EXPECT_TRUE(eof);
  EXPECT_EQ(out.find("chunked"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  EXPECT_TRUE(out.size() > 5000 && out.substr(out.size() - 5000) == PatternString(5000));
}

TEST_F(ServerTest, SilentConnectionIsClosedByTheHeaderTimeout) {
  StartServer(BasicHandler, [](ServerOptions& o) { o.header_timeout = 200ms; });
  int silent = Connect(server_->port());
  int slow = Connect(server_->port());
  ASSERT_GE(silent, 0);
  ASSERT_GE(slow, 0);
  SendAll(slow, "GET / HTTP/1.1\r\nHost:");  // a slowloris never finishes
  bool eof = false;
  EXPECT_EQ(ReadFor(silent, {}, 10s, &eof), "");
  EXPECT_TRUE(eof);
  EXPECT_EQ(ReadFor(slow, {}, 10s, &eof), "");
  EXPECT_TRUE(eof);
  ::close(silent);
  ::close(slow);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  StartServer(BasicHandler, [](ServerOptions& o) { o.idle_timeout = 200ms; });
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  bool eof = false;
  std::string out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  EXPECT_NE(out.find("GET /x"), std::string::npos);
  EXPECT_TRUE(eof);
}

TEST_F(ServerTest, ThousandIdleConnectionsThenAllServed) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 2600 && lim.rlim_max >= 2600) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 4096);
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  ASSERT_GE(lim.rlim_cur, 2600u) << "needs ~2100 file descriptors";
  StartServer(BasicHandler, [](ServerOptions& o) { o.handler_threads = 2; });
  constexpr int kConnections = 1000;
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    int fd = Connect(server_->port());
    ASSERT_GE(fd, 0) << i;
    fds.push_back(fd);
  }
  EXPECT_TRUE(Eventually([&] { return server_->connection_count() == kConnections; }))
      << server_->connection_count();
  int ok = 0;
  for (int fd : fds) {
    SendAll(fd, "GET /hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  }
  for (int fd : fds) {
    if (ReadFor(fd).find("GET /hi") != std::string::npos) ++ok;
    ::close(fd);
  }
  EXPECT_EQ(ok, kConnections);
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreClosed) {
  StartServer(BasicHandler, [](ServerOptions& o) { o.max_connections = 2; });
  int a = Connect(server_->port()), b = Connect(server_->port());
  ASSERT_TRUE(Eventually([&] { return server_->connection_count() == 2; }));
  int c = Connect(server_->port());
  bool eof = false;
  EXPECT_EQ(ReadFor(c, {}, 10s, &eof), "");
  EXPECT_TRUE(eof);
  SendAll(a, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(ReadFor(a, "GET /a").find("GET /a"), std::string::npos);
  ::close(a);
  ::close(b);
  ::close(c);
}

TEST_F(ServerTest, HeadGetsContentLengthWithoutBody) {
  StartServer([](std::shared_ptr<Exchange> ex) {
    Response r;
    r.content_length = 12345;
    r.headers.Set("ETag", "\"abc\"");
    ex->Respond(std::move(r));
  });
  Curl curl;
  CurlResult r = curl.Run("HEAD", Url("/obj"));
  ASSERT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_length, 12345);
  EXPECT_NE(r.headers.find("ETag: \"abc\""), std::string::npos);
  // Keep-alive survives a HEAD (no body bytes expected on the wire).
  EXPECT_EQ(curl.Run("HEAD", Url("/obj")).connects, 0);
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/imgbatch_http_test_XXXXXX";
    int fd = mkstemp(name);
    path_ = name;
    EXPECT_EQ(::write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    ::close(fd);
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }
  FileRange Range(uint64_t offset, uint64_t length) const {
    FileRange r;
    r.fd = std::shared_ptr<int>(new int(::open(path_.c_str(), O_RDONLY)), [](int* fd) {
      ::close(*fd);
      delete fd;
    });
    r.offset = offset;
    r.length = length;
    return r;
  }

 private:
  std::string path_;
};

TEST_F(ServerTest, FileRangeBodyIsSent) {
  std::string contents = PatternString(3 << 20);
  TempFile file(contents);
  StartServer([&](std::shared_ptr<Exchange> ex) {
    Response r;
    r.body = file.Range(1000, 2 << 20);
    ex->Respond(std::move(r));
  });
  Curl curl;
  CurlResult r = curl.Run("GET", Url("/file"));
  ASSERT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.content_length, 2 << 20);
  EXPECT_TRUE(r.body == contents.substr(1000, 2 << 20));
  CurlResult head = curl.Run("HEAD", Url("/file"));
  EXPECT_EQ(head.content_length, 2 << 20);
}

// A client that resets the connection in the middle of a sendfile response
// must cost only its connection: the write's EPIPE must not be a SIGPIPE that
// kills the process (found by wrk closing its connections under load).
TEST_F(ServerTest, ClientResettingMidResponseDoesNotKillTheServer) {
  ::signal(SIGPIPE, SIG_DFL);  // the server itself must make SIGPIPE harmless
  std::string contents = PatternString(8 << 20);
  TempFile file(contents);
  StartServer([&](std::shared_ptr<Exchange> ex) {
    Response r;
    r.body = file.Range(0, contents.size());
    ex->Respond(std::move(r));
  });
  for (int i = 0; i < 5; ++i) {
    int fd = Connect(server_->port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n"));
    char buf[4096];
    ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);
    struct linger reset = {1, 0};  // close with RST while the server is still sending
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd);
  }
  Curl curl;
  CurlResult r = curl.Run("GET", Url("/file"));
  ASSERT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.content_length, static_cast<curl_off_t>(contents.size()));
}

TEST_F(ServerTest, BodySourceWithoutLengthIsChunked) {
  StartServer(BasicHandler);
  Curl curl;
  CurlResult r = curl.Run("GET", Url("/pattern/3000000?chunked"));
  ASSERT_EQ(r.code, CURLE_OK);
  EXPECT_NE(r.headers.find("Transfer-Encoding: chunked"), std::string::npos) << r.headers;
  EXPECT_TRUE(r.body == PatternString(3'000'000));
  // And the connection is reusable after the last chunk.
  EXPECT_EQ(curl.Run("GET", Url("/pattern/10?chunked")).connects, 0);
}

TEST_F(ServerTest, DroppedExchangeGets500) {
  StartServer([](std::shared_ptr<Exchange>) {});
  Curl curl;
  EXPECT_EQ(curl.Run("GET", Url("/x")).status, 500);
}

// A handler keeps the exchange (long poll) and answers later from another
// thread; with a single handler thread, other connections are still served.
TEST_F(ServerTest, LongPollDoesNotHoldAHandlerThread) {
  std::mutex mu;
  std::vector<std::shared_ptr<Exchange>> parked;
  StartServer(
      [&](std::shared_ptr<Exchange> ex) {
        if (ex->head().path == "/poll") {
          std::lock_guard lock(mu);
          parked.push_back(ex);
          return;
        }
        ex->Respond(Text(200, "quick"));
      },
      [](ServerOptions& o) { o.handler_threads = 1; });
  auto parked_count = [&] {
    std::lock_guard lock(mu);
    return parked.size();
  };
  CurlResult poll_result;
  std::thread poller([&] { poll_result = Curl().Run("GET", Url("/poll")); });
  ASSERT_TRUE(Eventually([&] { return parked_count() == 1; }));
  Curl curl;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(curl.Run("GET", Url("/q")).body, "quick");
  EXPECT_FALSE(parked[0]->ClientGone());
  std::thread responder([&] { parked[0]->Respond(Text(200, "late")); });
  poller.join();
  responder.join();
  EXPECT_EQ(poll_result.body, "late");

  // A client that leaves while parked is noticed.
  int fd = Connect(server_->port());
  SendAll(fd, "GET /poll HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(Eventually([&] { return parked_count() == 2; }));
  EXPECT_FALSE(parked[1]->ClientGone());
  ::close(fd);
  EXPECT_TRUE(Eventually([&] { return parked[1]->ClientGone(); }));
  parked[1]->Respond(Text(200, "nobody listens"));
}

// RespondWith: the response is built on the connection's I/O thread, not on
// the thread that completes the exchange, and the maker (which may hold the
// exchange) is released.
TEST_F(ServerTest, RespondWithBuildsTheResponseOnTheIoThread) {
  StartParkingServer();
  CurlResult result;
  std::thread client([&] { result = Curl().Run("GET", Url("/later")); });
  std::shared_ptr<Exchange> ex;
  ASSERT_TRUE(Eventually([&] { return (ex = TakeParked()) != nullptr; }));
  std::weak_ptr<Exchange> weak = ex;
  std::atomic<bool> made_on_responder{true};
  std::thread responder([&] {
    const auto responder_id = std::this_thread::get_id();
    Exchange& target = *ex;
    target.RespondWith([keep = std::move(ex), &made_on_responder, responder_id] {
      made_on_responder = std::this_thread::get_id() == responder_id;
      return Text(200, "made for " + keep->head().path);
    });
  });
  responder.join();
  client.join();
  EXPECT_EQ(result.body, "made for /later");
  EXPECT_FALSE(made_on_responder);
  EXPECT_TRUE(Eventually([&] { return weak.expired(); }));

  // The client left: whether or not the maker still runs, the exchange it
  // holds is freed (no cycle through the connection's state).
  int fd = Connect(server_->port());
  SendAll(fd, "GET /gone HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(Eventually([&] { return (ex = TakeParked()) != nullptr; }));
  ::close(fd);
  ASSERT_TRUE(Eventually([&] { return ex->ClientGone(); }));
  weak = ex;
  Exchange& target = *ex;
  target.RespondWith([keep = std::move(ex)] { return Text(200, "nobody listens"); });
  EXPECT_TRUE(Eventually([&] { return weak.expired(); }));
}

// RunOnIoThread: fn runs on the connection's I/O thread (where it may answer),
// and always runs.
TEST_F(ServerTest, RunOnIoThreadRunsOnTheConnectionsThreadOrAtOnce) {
  StartParkingServer();
  CurlResult result;
  std::thread client([&] { result = Curl().Run("GET", Url("/hop")); });
  std::shared_ptr<Exchange> ex;
  ASSERT_TRUE(Eventually([&] { return (ex = TakeParked()) != nullptr; }));
  std::atomic<bool> ran_on_caller{true};
  std::thread caller([&] {
    const auto caller_id = std::this_thread::get_id();
    ex->RunOnIoThread([ex, &ran_on_caller, caller_id] {
      ran_on_caller = std::this_thread::get_id() == caller_id;
      ex->Respond(Text(200, "hopped"));
    });
  });
  caller.join();
  client.join();
  EXPECT_EQ(result.body, "hopped");
  EXPECT_FALSE(ran_on_caller);

  // Answered, and the client gone: fn still runs (on the I/O thread while
  // the connection lingers, at once after).
  std::atomic<int> runs{0};
  ex->RunOnIoThread([&] { ++runs; });
  EXPECT_TRUE(Eventually([&] { return runs == 1; }));
}

// ServerOptions::run_inline: picked requests with a small body run on the I/O
// thread (not the only handler thread, which is busy), and may answer later
// from another thread; a body too large to read ahead still goes to the pool.
TEST_F(ServerTest, InlineRequestsRunOnTheIoThreadUnlessTheBodyIsLarge) {
  std::mutex mu;
  std::condition_variable cv;
  bool blocking = false, release = false;
  std::thread::id pool_thread;
  std::vector<std::thread> responders;
  StartServer(
      [&](std::shared_ptr<Exchange> ex) {
        const std::string path = ex->head().path;
        if (path == "/block") {  // holds the only pool thread
          std::unique_lock lock(mu);
          pool_thread = std::this_thread::get_id();
          blocking = true;
          cv.notify_all();
          cv.wait(lock, [&] { return release; });
          ex->Respond(Text(200, "unblocked"));
          return;
        }
        auto body = ReadWholeBody(*ex, 1 << 20);
        ASSERT_TRUE(body.ok());
        const bool on_pool = [&] {
          std::lock_guard lock(mu);
          return std::this_thread::get_id() == pool_thread;
        }();
        std::string text =
            std::string(on_pool ? "pool " : "inline ") + std::to_string(body->size());
        if (path == "/inline/later") {  // answered from another thread
          std::lock_guard lock(mu);
          responders.emplace_back([ex, text] { ex->Respond(Text(200, text)); });
          return;
        }
        ex->Respond(Text(200, text));
      },
      [](ServerOptions& o) {
        o.handler_threads = 1;
        o.io_threads = 1;
        o.run_inline = [](const RequestHead& head) { return head.path.starts_with("/inline"); };
      });
  CurlResult blocked;
  std::thread blocker([&] { blocked = Curl().Run("GET", Url("/block")); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return blocking; }));
  }
  Curl curl;
  Upload small{.size = 1000};
  // No "Expect: 100-continue" (curl's default for uploads): a body the
  // client holds back until told cannot be read ahead.
  EXPECT_EQ(curl.Run("POST", Url("/inline/now"), &small, {"Expect:"}).body, "inline 1000");
  Upload later{.size = 10};
  EXPECT_EQ(curl.Run("POST", Url("/inline/later"), &later, {"Expect:"}).body, "inline 10");
  EXPECT_EQ(curl.Run("GET", Url("/inline/get")).body, "inline 0");
  // Over the read-ahead size: only the pool may block on the rest of the
  // body, so this waits for the pool thread.
  Upload large{.size = 200'000};
  CurlResult large_result;
  std::thread large_client(
      [&] { large_result = Curl().Run("POST", Url("/inline/big"), &large, {"Expect:"}); });
  {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  }
  blocker.join();
  large_client.join();
  EXPECT_EQ(blocked.body, "unblocked");
  EXPECT_EQ(large_result.body, "pool 200000");
  std::lock_guard lock(mu);
  for (auto& t : responders) t.join();
}

TEST_F(ServerTest, GracefulStopFinishesTheInFlightRequest) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  StartServer([&](std::shared_ptr<Exchange> ex) {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    ex->Respond(Text(200, "finished"));
  });
  int idle = Connect(server_->port());
  ASSERT_GE(idle, 0);
  CurlResult result;
  std::thread client([&] { result = Curl().Run("GET", Url("/slow")); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return entered; }));
  }
  uint16_t port = server_->port();
  std::thread stopper([&] { server_->Stop(10s); });
  // The idle connection is closed and new ones are refused while the
  // in-flight request is still running.
  bool eof = false;
  ReadFor(idle, {}, 10s, &eof);
  EXPECT_TRUE(eof);
  ::close(idle);
  EXPECT_TRUE(Eventually([&] {
    int fd = Connect(port);
    if (fd >= 0) ::close(fd);
    return fd < 0;
  }));
  {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  }
  client.join();
  stopper.join();
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "finished");
  EXPECT_NE(result.headers.find("Connection: close"), std::string::npos);
  server_->Wait();  // returns at once: already stopped
}

TEST_F(ServerTest, StopMarksParkedExchangesClientGone) {
  std::shared_ptr<Exchange> parked;
  std::mutex mu;
  StartServer([&](std::shared_ptr<Exchange> ex) {
    std::lock_guard lock(mu);
    parked = ex;
  });
  int fd = Connect(server_->port());
  SendAll(fd, "GET /poll HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return parked != nullptr;
  }));
  EXPECT_FALSE(parked->ClientGone());
  std::thread stopper([&] { server_->Stop(10s); });
  EXPECT_TRUE(Eventually([&] { return parked->ClientGone(); }));
  parked->Respond(Text(200, "stopping"));  // the long poll answers early
  std::string out = ReadFor(fd, {}, 10s);
  stopper.join();
  ::close(fd);
  EXPECT_NE(out.find("stopping"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
}

TEST_F(ServerTest, HandlerConnectionCloseIsHonoured) {
  StartServer([](std::shared_ptr<Exchange> ex) {
    Response r = Text(200, "bye");
    r.headers.Set("Connection", "close");
    ex->Respond(std::move(r));
  });
  int fd = Connect(server_->port());
  SendAll(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  bool eof = false;
  std::string out = ReadFor(fd, {}, 10s, &eof);
  ::close(fd);
  EXPECT_TRUE(eof);
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
}

TEST_F(ServerTest, StopForceClosesAnExchangeThatNeverAnswers) {
  std::shared_ptr<Exchange> parked;
  std::mutex mu;
  StartServer([&](std::shared_ptr<Exchange> ex) {
    std::lock_guard lock(mu);
    parked = ex;
  });
  int fd = Connect(server_->port());
  SendAll(fd, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return parked != nullptr;
  }));
  server_->Stop(100ms);
  bool eof = false;
  ReadFor(fd, {}, 10s, &eof);
  EXPECT_TRUE(eof);
  ::close(fd);
  // Answering after the server is gone is harmless.
  parked->Respond(Text(200, "too late"));
  char buf[16];
  EXPECT_FALSE(parked->ReadBody(buf).ok());
  server_.reset();
  parked.reset();
}

TEST_F(ServerTest, ServesTlsWithASelfSignedCertificate) {
  auto dir = std::filesystem::temp_directory_path() / ("imgbatch_tls_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI unavailable";
  std::string contents = PatternString(1 << 20);
  TempFile file(contents);
  StartServer(
      [&](std::shared_ptr<Exchange> ex) {
        if (ex->head().path == "/file") {
          Response r;
          r.body = file.Range(0, contents.size());
          ex->Respond(std::move(r));
          return;
        }
        EXPECT_TRUE(ex->head().tls);
        BasicHandler(ex);
      },
      [&](ServerOptions& o) {
        o.tls_cert_file = cert;
        o.tls_key_file = key;
      });
  Curl curl;
  Upload up{3'000'000};
  CurlResult put = curl.Run("PUT", Url("/obj"), &up);
  ASSERT_EQ(put.code, CURLE_OK) << curl_easy_strerror(put.code);
  EXPECT_EQ(put.body, "3000000 " + PatternMd5(3'000'000));
  CurlResult get = curl.Run("GET", Url("/file"));
  EXPECT_TRUE(get.body == contents);
  EXPECT_EQ(get.connects, 0);
  std::filesystem::remove_all(dir);
}

// A self-signed certificate made by the openssl CLI with these extra args;
// "" when the CLI is missing.
std::string MakeCertificate(const std::filesystem::path& dir, const std::string& name,
                            const std::string& args) {
  std::string cert = (dir / (name + ".pem")).string();
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-days 1 -keyout " +
      (dir / (name + ".key")).string() + " -out " + cert + " " + args + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 ? cert : "";
}

TEST(LocalNameTest, TheNameALocalClientVerifiesTheCertificateBy) {
  auto dir =
      std::filesystem::temp_directory_path() / ("imgbatch_names_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  struct Case {
    const char* args;
    const char* name;
  } cases[] = {
      {"-subj /CN=localhost", "localhost"},
      {"-subj /CN=ignored -addext subjectAltName=DNS:imgbatch.test", "imgbatch.test"},
      {"-subj /CN=x -addext subjectAltName=DNS:x.test,IP:127.0.0.1", "127.0.0.1"},
      {"-subj /CN=x -addext subjectAltName=DNS:*.example.com", "imgbatch.example.com"},
  };
  int n = 0;
  for (const Case& c : cases) {
    std::string cert = MakeCertificate(dir, "c" + std::to_string(n++), c.args);
    if (cert.empty()) GTEST_SKIP() << "openssl CLI unavailable";
    auto name = LocalNameFor(cert, "127.0.0.1");
    ASSERT_TRUE(name.ok()) << c.args << ": " << name.status().ToString();
    EXPECT_EQ(*name, c.name) << c.args;
  }
  // A certificate for the one address listened on: workers connect to it.
  std::string by_ip = MakeCertificate(dir, "ip", "-subj /CN=x -addext subjectAltName=IP:10.1.2.3");
  EXPECT_EQ(LocalNameFor(by_ip, "10.1.2.3").value(), "10.1.2.3");
  EXPECT_EQ(LocalNameFor(by_ip, "127.0.0.1").value(), "x");  // no DNS name: the CN counts
  TempFile not_pem("not a certificate");
  EXPECT_EQ(LocalNameFor(not_pem.path(), "127.0.0.1").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(LocalNameFor((dir / "missing.pem").string(), "127.0.0.1").status().code(),
            Code::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

TEST(ServerStart, ReportsAPortInUse) {
  ServerOptions ephemeral;
  ephemeral.port = 0;
  Server a(ephemeral);
  ASSERT_TRUE(a.Start([](std::shared_ptr<Exchange> ex) { ex->Respond(Text(200, "")); }).ok());
  ServerOptions o;
  o.port = a.port();
  Server b(o);
  Status st = b.Start([](std::shared_ptr<Exchange> ex) { ex->Respond(Text(200, "")); });
  EXPECT_FALSE(st.ok());
  ServerOptions tls;
  tls.port = 0;
  tls.tls_cert_file = "/nonexistent/cert.pem";
  tls.tls_key_file = "/nonexistent/key.pem";
  Server c(tls);
  EXPECT_FALSE(c.Start([](std::shared_ptr<Exchange>) {}).ok());
}

}  // namespace
}  // namespace imgbatch::http
