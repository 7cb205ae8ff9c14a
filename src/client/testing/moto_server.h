// Test helpers for the client and worker tests. MotoServer starts the
// machine image's `python3 -m moto.server` (an S3 + SQS implementation we did
// not write) on 127.0.0.1 and a free port, waits until it answers, and kills
// it on destruction. LocalHttpServer is a tiny Boost.Beast server on
// 127.0.0.1 that answers every request with a handler (credentials endpoints).
// Thread-safety: construct and destroy on one thread; the LocalHttpServer
// handler runs on its own thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/aws_http.h"
#include "client/credentials.h"
#include "client/http_transport.h"
#include "client/s3_client.h"
#include "client/sqs_client.h"
#include "common/status.h"

namespace imgbatch::client::testing {

class MotoServer {
 public:
  // Starts moto; returns an error (tests skip on it) when python3 or moto is
  // missing or it does not come up within the deadline.
  static Result<std::unique_ptr<MotoServer>> Start();
  ~MotoServer();

  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT
  // Clears all state (moto's reset API) so each test starts empty.
  Status Reset();

 private:
  MotoServer(pid_t pid, std::string url) : pid_(pid), url_(std::move(url)) {}
  pid_t pid_;
  std::string url_;
};

// S3 + SQS clients wired to one endpoint with fixed test credentials.
struct TestClients {
  explicit TestClients(const std::string& endpoint_url, std::string region = "us-east-1");
  CurlTransport transport;
  StaticCredentialsProvider credentials{{"testing", "testing", ""}};
  std::unique_ptr<AwsHttpClient> s3_http;
  std::unique_ptr<AwsHttpClient> sqs_http;
  std::unique_ptr<S3Client> s3;
  std::unique_ptr<SqsClient> sqs;
  // Raw signed calls for setup that the clients do not offer (CreateBucket,
  // CreateQueue).
  Status CreateBucket(const std::string& bucket);
  Result<std::string> CreateQueue(const std::string& name,
                                  const std::string& attributes_json = "{}");
  Endpoint endpoint;
};

struct LocalRequest {
  std::string method;
  std::string target;
  std::string authorization;
  std::string body;
};
struct LocalResponse {
  int status = 200;
  std::string body;
};

class LocalHttpServer {
 public:
  using Handler = std::function<LocalResponse(const LocalRequest&)>;
  explicit LocalHttpServer(Handler handler);
  ~LocalHttpServer();
  std::string url() const;  // http://127.0.0.1:PORT
  int requests() const { return requests_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> requests_{0};
};

// A free TCP port on 127.0.0.1 (bound and released; tiny race acceptable in tests).
int FreePort();

}  // namespace imgbatch::client::testing
