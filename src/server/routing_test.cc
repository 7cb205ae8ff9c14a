#include "server/routing.h"

#include <gtest/gtest.h>

#include "http/testing.h"

namespace imgbatch::server {
namespace {

http::RequestHead Head(std::string method, std::string target, http::Headers headers = {}) {
  http::FakeExchange ex(std::move(method), std::move(target), std::move(headers));
  return ex.head();
}

TEST(Routing, ReservedPaths) {
  EXPECT_EQ(RouteFor(Head("GET", "/-/healthy")), Route::kHealthy);
  EXPECT_EQ(RouteFor(Head("GET", "/-/ready")), Route::kReady);
  EXPECT_EQ(RouteFor(Head("GET", "/-/metrics")), Route::kMetrics);
  EXPECT_EQ(RouteFor(Head("GET", "/-/api/status")), Route::kApi);
  EXPECT_EQ(RouteFor(Head("GET", "/ui/")), Route::kDashboard);
  // A bucket named "uix" is still S3.
  EXPECT_EQ(RouteFor(Head("GET", "/uix/key")), Route::kS3);
}

TEST(Routing, SqsByCredentialScope) {
  http::Headers sqs;
  sqs.Add("Authorization",
          "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sqs/aws4_request, "
          "SignedHeaders=host, Signature=abc");
  EXPECT_EQ(RouteFor(Head("POST", "/", sqs)), Route::kSqs);
  http::Headers s3;
  s3.Add("Authorization",
         "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, "
         "SignedHeaders=host, Signature=abc");
  EXPECT_EQ(RouteFor(Head("POST", "/bucket?delete", s3)), Route::kS3);
  EXPECT_EQ(RouteFor(Head("GET",
                          "/b/k?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2F"
                          "aws4_request&X-Amz-Signature=1")),
            Route::kS3);
  EXPECT_EQ(RouteFor(Head("GET",
                          "/000000000000/q?Action=ReceiveMessage&X-Amz-Credential=AKID%2F"
                          "20260101%2Fus-east-1%2Fsqs%2Faws4_request")),
            Route::kSqs);
}

TEST(Routing, SqsByTargetOrForm) {
  http::Headers json;
  json.Add("X-Amz-Target", "AmazonSQS.ReceiveMessage");
  EXPECT_EQ(RouteFor(Head("POST", "/", json)), Route::kSqs);
  http::Headers form;
  form.Add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(RouteFor(Head("POST", "/", form)), Route::kSqs);
  EXPECT_EQ(RouteFor(Head("GET", "/?Action=ListQueues")), Route::kSqs);
  EXPECT_EQ(RouteFor(Head("GET", "/bucket?list-type=2")), Route::kS3);
  EXPECT_EQ(RouteFor(Head("PUT", "/bucket/key")), Route::kS3);
}

// A target that is not SQS's goes by the credential scope: an SQS-signed one
// gets SQS's InvalidAction rather than an S3 signature error.
TEST(Routing, ForeignTargetGoesByCredentialScope) {
  auto signed_for = [](const std::string& service) {
    http::Headers h;
    h.Add("X-Amz-Target", "Bogus.ListQueues");
    h.Add("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/" + service +
                               "/aws4_request, SignedHeaders=host, Signature=abc");
    return h;
  };
  EXPECT_EQ(RouteFor(Head("POST", "/", signed_for("sqs"))), Route::kSqs);
  EXPECT_EQ(RouteFor(Head("POST", "/", signed_for("s3"))), Route::kS3);
}

}  // namespace
}  // namespace imgbatch::server
