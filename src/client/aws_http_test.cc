#include "client/aws_http.h"

#include <gtest/gtest.h>

#include <deque>

#include "client/s3_client.h"
#include "client/sqs_client.h"

namespace imgbatch::client {
namespace {

using std::chrono::milliseconds;

// Plays back scripted outcomes and records what was sent.
class FakeTransport final : public HttpTransport {
 public:
  Result<HttpResponse> Send(const HttpRequest& request, const std::atomic<bool>*) override {
    sent.push_back(request);
    if (script.empty()) return HttpResponse{200, {}, ""};
    auto next = std::move(script.front());
    script.pop_front();
    return next;
  }
  std::deque<Result<HttpResponse>> script;
  std::vector<HttpRequest> sent;
};

HttpResponse Reply(long status, std::string body = {}) {
  return HttpResponse{status, {}, std::move(body)};
}

std::string S3Error(std::string_view code) {
  return "<?xml version=\"1.0\"?><Error><Code>" + std::string(code) + "</Code></Error>";
}

class AwsHttpTest : public ::testing::Test {
 protected:
  AwsHttpClient MakeClient(std::string service = "s3") {
    RetryOptions retry;
    retry.base_delay = milliseconds(100);
    retry.max_backoff = milliseconds(20'000);
    return AwsHttpClient(
        transport_, credentials_, clock_, {"us-east-1", service, retry},
        service == "s3" ? ErrorCodeParser(ParseS3ErrorCode) : ErrorCodeParser(ParseSqsErrorCode),
        [this](milliseconds delay, const std::atomic<bool>*) {
          delays_.push_back(delay);
          return !abort_sleep_;
        });
  }
  AwsRequest Get() {
    AwsRequest request;
    request.path = "/bucket/key";
    return request;
  }

  FakeTransport transport_;
  StaticCredentialsProvider credentials_{{"AKID", "SECRET", "TOKEN"}};
  ManualClock clock_;
  std::vector<milliseconds> delays_;
  bool abort_sleep_ = false;
};

TEST_F(AwsHttpTest, SignsWithHostAndSessionToken) {
  auto client = MakeClient();
  auto reply = client.Call("http", "127.0.0.1:9000", Get());
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(transport_.sent.size(), 1u);
  const auto& sent = transport_.sent[0];
  EXPECT_EQ(sent.url, "http://127.0.0.1:9000/bucket/key");
  bool host = false, authorization = false, token = false;
  for (const auto& [key, value] : sent.headers) {
    std::string lower = key;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "host") host = value == "127.0.0.1:9000";
    if (lower == "authorization")
      authorization = value.find("Credential=AKID/") != std::string::npos;
    if (lower == "x-amz-security-token") token = value == "TOKEN";
  }
  EXPECT_TRUE(host);
  EXPECT_TRUE(authorization);
  EXPECT_TRUE(token);
}

TEST_F(AwsHttpTest, RetriesServerErrorsUpToMaxAttempts) {
  transport_.script = {Reply(503, S3Error("SlowDown")), Reply(500), Reply(500)};
  auto client = MakeClient();
  auto reply = client.Call("http", "h", Get());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 500);
  EXPECT_EQ(transport_.sent.size(), 3u);
  ASSERT_EQ(delays_.size(), 2u);
  EXPECT_LE(delays_[0], milliseconds(100));
  EXPECT_LE(delays_[1], milliseconds(200));
}

TEST_F(AwsHttpTest, SucceedsAfterTransientFailure) {
  transport_.script = {Status(Code::kUnavailable, "connection refused"), Reply(200, "ok")};
  auto client = MakeClient();
  auto reply = client.Call("http", "h", Get());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->body, "ok");
  EXPECT_EQ(transport_.sent.size(), 2u);
}

TEST_F(AwsHttpTest, DoesNotRetryClientErrors) {
  transport_.script = {Reply(404, S3Error("NoSuchKey"))};
  auto client = MakeClient();
  auto reply = client.Call("http", "h", Get());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 404);
  EXPECT_EQ(transport_.sent.size(), 1u);
  EXPECT_TRUE(delays_.empty());
}

TEST_F(AwsHttpTest, RetriesThrottlingCodeOn400) {
  transport_.script = {Reply(400, R"({"__type":"com.amazonaws.sqs#RequestThrottled"})"),
                       Reply(200, "{}")};
  auto client = MakeClient("sqs");
  auto reply = client.Call("http", "h", Get());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(transport_.sent.size(), 2u);
}

TEST_F(AwsHttpTest, AbortDuringBackoffStopsRetrying) {
  transport_.script = {Reply(503), Reply(200)};
  abort_sleep_ = true;
  auto client = MakeClient();
  auto reply = client.Call("http", "h", Get());
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().detail(), kAbortedDetail);
  EXPECT_EQ(transport_.sent.size(), 1u);
}

TEST_F(AwsHttpTest, S3ErrorMapping) {
  EXPECT_EQ(S3ErrorStatus(Reply(404, S3Error("NoSuchKey")), "x").code(), Code::kNotFound);
  EXPECT_EQ(S3ErrorStatus(Reply(404, S3Error("NoSuchKey")), "x").detail(), "NoSuchKey");
  EXPECT_EQ(S3ErrorStatus(Reply(404), "x").code(), Code::kNotFound);
  EXPECT_EQ(S3ErrorStatus(Reply(412), "x").code(), Code::kPreconditionFailed);
  EXPECT_EQ(S3ErrorStatus(Reply(403, S3Error("AccessDenied")), "x").code(), Code::kAccessDenied);
  EXPECT_EQ(S3ErrorStatus(Reply(403, S3Error("SignatureDoesNotMatch")), "x").code(),
            Code::kUnauthenticated);
  EXPECT_EQ(S3ErrorStatus(Reply(503, S3Error("SlowDown")), "x").code(), Code::kUnavailable);
  EXPECT_EQ(S3ErrorStatus(Reply(400, S3Error("InvalidArgument")), "x").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(S3ErrorStatus(Reply(400, "not xml <"), "x").code(), Code::kInvalidArgument);
}

TEST_F(AwsHttpTest, SqsErrorCodeFromTypeOrHeader) {
  EXPECT_EQ(ParseSqsErrorCode(Reply(400, R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist"})")),
            "QueueDoesNotExist");
  HttpResponse with_header = Reply(400, "garbage");
  with_header.headers.emplace_back("x-amzn-query-error",
                                   "AWS.SimpleQueueService.NonExistentQueue;Sender");
  EXPECT_EQ(ParseSqsErrorCode(with_header), "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(ParseSqsErrorCode(Reply(500, "")), "");
}

TEST(EndpointTest, ParsesCustomEndpoints) {
  auto endpoint = Endpoint::Parse("http://127.0.0.1:4566");
  ASSERT_TRUE(endpoint.ok());
  EXPECT_EQ(endpoint->scheme, "http");
  EXPECT_EQ(endpoint->authority, "127.0.0.1:4566");
  EXPECT_EQ(endpoint->base_path, "");
  EXPECT_TRUE(endpoint->custom);
  auto with_path = Endpoint::Parse("https://example.com/prefix/");
  ASSERT_TRUE(with_path.ok());
  EXPECT_EQ(with_path->authority, "example.com");
  EXPECT_EQ(with_path->base_path, "/prefix");
  EXPECT_FALSE(Endpoint::Parse("ftp://example.com").ok());
  EXPECT_FALSE(Endpoint::Parse("not a url").ok());
}

TEST(EndpointTest, ResolutionOrder) {
  std::map<std::string, std::string> vars;
  EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional(it->second);
  };
  auto aws = ResolveEndpoint("sqs", "eu-west-1", "", "", env);
  ASSERT_TRUE(aws.ok());
  EXPECT_EQ(aws->Origin(), "https://sqs.eu-west-1.amazonaws.com");
  EXPECT_FALSE(aws->custom);
  EXPECT_FALSE(ResolveEndpoint("s3", "", "", "", env).ok());

  vars["AWS_ENDPOINT_URL"] = "http://general:1";
  EXPECT_EQ(ResolveEndpoint("s3", "eu-west-1", "", "", env)->Origin(), "http://general:1");
  vars["AWS_ENDPOINT_URL_S3"] = "http://s3only:2";
  EXPECT_EQ(ResolveEndpoint("s3", "eu-west-1", "", "", env)->Origin(), "http://s3only:2");
  EXPECT_EQ(ResolveEndpoint("sqs", "eu-west-1", "", "", env)->Origin(), "http://general:1");
  EXPECT_EQ(ResolveEndpoint("s3", "eu-west-1", "", "http://flag:3", env)->Origin(),
            "http://flag:3");
  EXPECT_EQ(ResolveEndpoint("s3", "eu-west-1", "http://s3flag:4", "http://flag:3", env)->Origin(),
            "http://s3flag:4");
  vars["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
  EXPECT_EQ(ResolveEndpoint("s3", "eu-west-1", "", "", env)->Origin(),
            "https://s3.eu-west-1.amazonaws.com");
}

TEST(QueueNameTest, FromUrlOrArn) {
  EXPECT_EQ(QueueNameFromUrl("http://127.0.0.1:4566/000000000000/jobs"), "jobs");
  EXPECT_EQ(QueueNameFromUrl("arn:aws:sqs:us-east-1:000000000000:jobs-dlq"), "jobs-dlq");
  EXPECT_EQ(QueueNameFromUrl("plain"), "plain");
}

// A caller's per-call timeout reaches the transport (the worker's heartbeats
// use a short one: they hold a lock that finishing images wait for).
TEST_F(AwsHttpTest, SqsCallsCarryTheirTimeoutToTheTransport) {
  AwsHttpClient http = MakeClient("sqs");
  SqsClient sqs(http, {*Endpoint::Parse("http://127.0.0.1:4566")});
  transport_.script.push_back(Reply(200, R"({"Successful":[{"Id":"0"}],"Failed":[]})"));
  auto result = sqs.ChangeMessageVisibilityBatch("http://127.0.0.1:4566/000000000000/q",
                                                 {{"handle", 60}}, milliseconds(7'500));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(transport_.sent.size(), 1u);
  EXPECT_EQ(transport_.sent[0].timeout, milliseconds(7'500));
}

}  // namespace
}  // namespace imgbatch::client
