#include "client/testing/moto_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>  // before Asio: 1.74 uses std::exchange without it

#include "common/clock.h"

namespace imgbatch::client::testing {
namespace {

constexpr std::chrono::seconds kStartDeadline{60};

Result<HttpResponse> Get(CurlTransport& transport, const std::string& url,
                         const std::string& method = "GET") {
  HttpRequest request;
  request.method = method;
  request.url = url;
  request.timeout = std::chrono::milliseconds(2000);
  return transport.Send(request);
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return 0;
  }
  int port = ntohs(address.sin_port);
  close(fd);
  return port;
}

Result<std::unique_ptr<MotoServer>> MotoServer::Start() {
  int port = FreePort();
  if (port == 0) return IoError("no free port");
  std::string port_text = std::to_string(port);
  pid_t pid = fork();
  if (pid < 0) return IoError("fork failed");
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    execlp("python3", "python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", port_text.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  std::unique_ptr<MotoServer> server(new MotoServer(pid, "http://127.0.0.1:" + port_text));
  CurlTransport transport;
  auto deadline = std::chrono::steady_clock::now() + kStartDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid, &wstatus, WNOHANG) == pid) {
      server->pid_ = -1;
      return Status(Code::kUnavailable, "moto server exited (python3 -m moto.server missing?)");
    }
    auto reply = Get(transport, server->url() + "/moto-api/");
    if (reply.ok() && reply->status < 500) return server;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status(Code::kTimeout, "moto server did not start within 60 s");
}

MotoServer::~MotoServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

Status MotoServer::Reset() {
  CurlTransport transport;
  IMGBATCH_ASSIGN_OR_RETURN(auto reply, Get(transport, url_ + "/moto-api/reset", "POST"));
  if (reply.status != 200)
    return Internal("moto reset failed: HTTP " + std::to_string(reply.status));
  return Status::Ok();
}

TestClients::TestClients(const std::string& endpoint_url, std::string region) {
  endpoint = Endpoint::Parse(endpoint_url).value();
  // Short backoff: tests exercise retries without waiting seconds.
  RetryOptions retry;
  retry.base_delay = std::chrono::milliseconds(20);
  s3_http = std::make_unique<AwsHttpClient>(transport, credentials, SystemClock::Instance(),
                                            AwsHttpOptions{region, "s3", retry}, ParseS3ErrorCode);
  sqs_http =
      std::make_unique<AwsHttpClient>(transport, credentials, SystemClock::Instance(),
                                      AwsHttpOptions{region, "sqs", retry}, ParseSqsErrorCode);
  s3 = std::make_unique<S3Client>(*s3_http, S3ClientOptions{endpoint, false});
  sqs = std::make_unique<SqsClient>(*sqs_http, SqsClientOptions{endpoint});
}

Status TestClients::CreateBucket(const std::string& bucket) {
  AwsRequest request;
  request.method = "PUT";
  request.path = "/" + bucket;
  IMGBATCH_ASSIGN_OR_RETURN(auto reply,
                            s3_http->Call(endpoint.scheme, endpoint.authority, request));
  if (reply.status != 200) return Internal("CreateBucket: HTTP " + std::to_string(reply.status));
  return Status::Ok();
}

Result<std::string> TestClients::CreateQueue(const std::string& name,
                                             const std::string& attributes_json) {
  AwsRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers.emplace_back("Content-Type", "application/x-amz-json-1.0");
  request.headers.emplace_back("X-Amz-Target", "AmazonSQS.CreateQueue");
  nlohmann::json body = {{"QueueName", name},
                         {"Attributes", nlohmann::json::parse(attributes_json)}};
  request.body = body.dump();
  IMGBATCH_ASSIGN_OR_RETURN(auto reply,
                            sqs_http->Call(endpoint.scheme, endpoint.authority, request));
  if (reply.status != 200) {
    return Internal("CreateQueue: HTTP " + std::to_string(reply.status) + " " + reply.body);
  }
  return nlohmann::json::parse(reply.body).value("QueueUrl", "");
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct LocalHttpServer::Impl {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io};
  Handler handler;
  std::atomic<int>* requests = nullptr;
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      Serve(std::move(socket));
      Accept();
    });
  }

  // One request per connection, synchronously: plenty for a test endpoint.
  void Serve(asio::ip::tcp::socket socket) {
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    beast::error_code ec;
    http::read(socket, buffer, request, ec);
    if (ec) return;
    ++*requests;
    LocalRequest seen{std::string(request.method_string()), std::string(request.target()),
                      std::string(request[http::field::authorization]), request.body()};
    LocalResponse reply = handler(seen);
    http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
    response.set(http::field::content_type, "application/json");
    response.keep_alive(false);
    response.body() = reply.body;
    response.prepare_payload();
    http::write(socket, response, ec);
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
};

LocalHttpServer::LocalHttpServer(Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  impl_->requests = &requests_;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

LocalHttpServer::~LocalHttpServer() {
  impl_->io.stop();
  impl_->thread.join();
}

std::string LocalHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}

}  // namespace imgbatch::client::testing
