// The real authenticator end to end: requests signed with auth::SignRequest
// (header, presigned, aws-chunked signed chunks, unsigned CRC32 trailers)
// through the S3 handler onto the real store.
#include "s3/sigv4_authenticator.h"

#include "auth/policy.h"
#include "common/hashing.h"
#include "common/strings.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

constexpr char kRootId[] = "AKIAIMGBATCHROOT0001";
constexpr char kRootSecret[] = "root-secret-key";
constexpr char kWorkerId[] = "AKIAIMGBATCHWORKER01";
constexpr char kWorkerSecret[] = "worker-secret-key";
constexpr char kHost[] = "127.0.0.1:4566";

class SigV4AuthenticatorTest : public S3Fixture {
 protected:
  void SetUp() override {
    clock_.SetMillis(1'795'000'000'000);  // 2026-11-18
    keys_.Put(auth::AccessKey{kRootId, kRootSecret, "root", auth::Policy::AllowAll(), true});
    auto policy = auth::Policy::FromJson(R"({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::signed/*"]}]})");
    ASSERT_TRUE(policy.ok()) << policy.status().ToString();
    keys_.Put(auth::AccessKey{kWorkerId, kWorkerSecret, "worker", *policy, false});
    context_.authenticator =
        std::make_shared<SigV4Authenticator>(keys_, auth::VerifyOptions{}, clock_);
    handler_ = MakeS3Handler(context_);
    ASSERT_EQ(Signed("PUT", "/signed", "", "")->response().status, 200);
  }

  // Signs with SignRequest and sends; extra headers are signed too.
  std::shared_ptr<http::FakeExchange> Signed(const std::string& method, const std::string& path,
                                             const std::string& query, const std::string& body,
                                             auth::HeaderList extra = {},
                                             std::string payload_hash = "",
                                             const char* id = kRootId,
                                             const char* secret = kRootSecret) {
    auth::HeaderList headers = {{"Host", kHost}};
    for (auto& h : extra) headers.push_back(h);
    if (payload_hash.empty()) payload_hash = Sha256Hex(body);
    auth::SignRequest(method, path, query, headers, payload_hash, {id, secret, ""}, "us-east-1",
                      "s3", clock_.Now());
    return Send(method, path, query, headers, body);
  }

  std::shared_ptr<http::FakeExchange> Send(const std::string& method, const std::string& path,
                                           const std::string& query,
                                           const auth::HeaderList& headers,
                                           const std::string& body) {
    http::Headers http_headers;
    for (const auto& [name, value] : headers) http_headers.Add(name, value);
    std::string target = query.empty() ? path : path + "?" + query;
    return http::Call(handler_, method, target, std::move(http_headers), body);
  }

  static std::string HeaderValue(const auth::HeaderList& headers, std::string_view name) {
    for (const auto& [n, v] : headers) {
      if (IEquals(n, name)) return v;
    }
    return "";
  }

  auth::KeyRegistry keys_;
};

TEST_F(SigV4AuthenticatorTest, SignedPutAndGet) {
  auto put =
      Signed("PUT", "/signed/a%20b.txt", "", "signed body", {{"Content-Type", "text/plain"}});
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  auto get = Signed("GET", "/signed/a%20b.txt", "", "");
  ASSERT_EQ(get->response().status, 200) << get->BodyText();
  EXPECT_EQ(get->BodyText(), "signed body");
  auto list = Signed("GET", "/signed", "list-type=2&prefix=a%20", "");
  ASSERT_EQ(list->response().status, 200) << list->BodyText();
  auto doc = Xml(list->BodyText());
  EXPECT_EQ(std::string(doc.child("ListBucketResult").child("Contents").child_value("Key")),
            "a b.txt");
}

TEST_F(SigV4AuthenticatorTest, SignatureFailuresMapToS3Errors) {
  auto wrong_secret = Signed("GET", "/signed", "", "", {}, "", kRootId, "not-the-secret");
  EXPECT_EQ(wrong_secret->response().status, 403);
  EXPECT_EQ(ErrorCode(*wrong_secret), "SignatureDoesNotMatch");
  auto unknown = Signed("GET", "/signed", "", "", {}, "", "AKIAUNKNOWN000000000", "x");
  EXPECT_EQ(unknown->response().status, 403);
  EXPECT_EQ(ErrorCode(*unknown), "InvalidAccessKeyId");
  auto anonymous = Send("GET", "/signed", "", {{"Host", kHost}}, "");
  EXPECT_EQ(anonymous->response().status, 403);
  EXPECT_EQ(ErrorCode(*anonymous), "AccessDenied");
  clock_.Advance(std::chrono::minutes(20));
  auth::HeaderList headers = {{"Host", kHost}};
  auth::SignRequest("GET", "/signed", "", headers, auth::kEmptySha256Hex,
                    {kRootId, kRootSecret, ""}, "us-east-1", "s3",
                    clock_.Now() - std::chrono::minutes(20));
  EXPECT_EQ(ErrorCode(*Send("GET", "/signed", "", headers, "")), "RequestTimeTooSkewed");
}

TEST_F(SigV4AuthenticatorTest, TamperedBodyIsRefusedAndNotStored) {
  auth::HeaderList headers = {{"Host", kHost}};
  auth::SignRequest("PUT", "/signed/t", "", headers, Sha256Hex("original"),
                    {kRootId, kRootSecret, ""}, "us-east-1", "s3", clock_.Now());
  auto ex = Send("PUT", "/signed/t", "", headers, "tampered");
  EXPECT_EQ(ex->response().status, 400);
  EXPECT_EQ(ErrorCode(*ex), "XAmzContentSHA256Mismatch");
  EXPECT_EQ(ObjectCount("signed"), 0u);
}

TEST_F(SigV4AuthenticatorTest, AwsChunkedSignedBody) {
  std::string data = std::string(70000, 'a') + "tail";
  auth::HeaderList headers = {{"Host", kHost},
                              {"Content-Encoding", "aws-chunked"},
                              {"x-amz-decoded-content-length", std::to_string(data.size())}};
  auth::SignRequest("PUT", "/signed/chunked", "", headers, auth::kStreamingSignedPayload,
                    {kRootId, kRootSecret, ""}, "us-east-1", "s3", clock_.Now());
  std::string authorization = HeaderValue(headers, "Authorization");
  std::string previous = authorization.substr(authorization.find("Signature=") + 10);
  std::string amz_date = HeaderValue(headers, "x-amz-date");
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/us-east-1/s3/aws4_request";
  std::string key = auth::DeriveSigningKey(kRootSecret, date, "us-east-1", "s3");
  auto sign = [&](std::string_view chunk) {
    std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n" + amz_date + "\n" + scope + "\n" + previous +
                      "\n" + std::string(auth::kEmptySha256Hex) + "\n" + Sha256Hex(chunk);
    previous = HexEncode(HmacSha256(key, sts));
    return previous;
  };
  std::string body;
  for (size_t pos = 0; pos < data.size(); pos += 65536) {
    std::string chunk = data.substr(pos, 65536);
    char size[32];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    body += std::string(size) + ";chunk-signature=" + sign(chunk) + "\r\n" + chunk + "\r\n";
  }
  body += "0;chunk-signature=" + sign("") + "\r\n\r\n";
  auto put = Send("PUT", "/signed/chunked", "", headers, body);
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(Header(*put, "ETag"), "\"" + Md5Hex(data) + "\"");
  auto get = Signed("GET", "/signed/chunked", "", "");
  EXPECT_EQ(get->BodyText(), data);
  EXPECT_EQ(Header(*get, "Content-Encoding"), "");

  // One flipped payload byte breaks that chunk's signature.
  std::string bad = body;
  bad[bad.find("tail")] = 'T';
  auto tampered = Send("PUT", "/signed/chunked2", "", headers, bad);
  EXPECT_EQ(tampered->response().status, 403);
  EXPECT_EQ(ErrorCode(*tampered), "SignatureDoesNotMatch");
  EXPECT_EQ(ObjectCount("signed"), 1u);
}

TEST_F(SigV4AuthenticatorTest, UnsignedPayloadWithCrc32Trailer) {
  std::string data = "hello, trailer world";
  std::string crc = Base64Encode(Crc32Bytes(Crc32Update(0, data)));
  auto send = [&](const std::string& key, const std::string& trailer_value) {
    auth::HeaderList headers = {{"Host", kHost},
                                {"Content-Encoding", "aws-chunked"},
                                {"x-amz-trailer", "x-amz-checksum-crc32"},
                                {"x-amz-sdk-checksum-algorithm", "CRC32"},
                                {"x-amz-decoded-content-length", std::to_string(data.size())}};
    auth::SignRequest("PUT", "/signed/" + key, "", headers, auth::kStreamingUnsignedPayloadTrailer,
                      {kRootId, kRootSecret, ""}, "us-east-1", "s3", clock_.Now());
    return Send("PUT", "/signed/" + key, "", headers,
                AwsChunked(data, 8, {{"x-amz-checksum-crc32", trailer_value}}));
  };
  auto put = send("trailer", crc);
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(Header(*put, "x-amz-checksum-crc32"), crc);
  auto get = Signed("GET", "/signed/trailer", "", "", {{"x-amz-checksum-mode", "ENABLED"}});
  EXPECT_EQ(get->BodyText(), data);
  EXPECT_EQ(Header(*get, "x-amz-checksum-crc32"), crc);

  auto bad = send("trailer2", Base64Encode(Crc32Bytes(Crc32Update(0, "other"))));
  EXPECT_EQ(bad->response().status, 400);
  EXPECT_EQ(ErrorCode(*bad), "BadDigest");
  EXPECT_EQ(ObjectCount("signed"), 1u);
}

TEST_F(SigV4AuthenticatorTest, PresignedGet) {
  ASSERT_EQ(Signed("PUT", "/signed/p", "", "presigned")->response().status, 200);
  std::string query = auth::PresignQuery("GET", "/signed/p", "", kHost, {kRootId, kRootSecret, ""},
                                         "us-east-1", "s3", clock_.Now(), std::chrono::hours(1));
  auto get = Send("GET", "/signed/p", query, {{"Host", kHost}}, "");
  ASSERT_EQ(get->response().status, 200) << get->BodyText();
  EXPECT_EQ(get->BodyText(), "presigned");
}

TEST_F(SigV4AuthenticatorTest, WorkerPolicyMissingKeyIsAccessDeniedWithoutListBucket) {
  ASSERT_EQ(Signed("PUT", "/signed/in.jpg", "", "jpeg")->response().status, 200);
  auto get = Signed("GET", "/signed/in.jpg", "", "", {}, "", kWorkerId, kWorkerSecret);
  EXPECT_EQ(get->response().status, 200);
  auto missing = Signed("GET", "/signed/none.jpg", "", "", {}, "", kWorkerId, kWorkerSecret);
  EXPECT_EQ(missing->response().status, 403);
  EXPECT_EQ(ErrorCode(*missing), "AccessDenied");
  auto put = Signed("PUT", "/signed/out.jpg", "", "x", {}, "", kWorkerId, kWorkerSecret);
  EXPECT_EQ(ErrorCode(*put), "AccessDenied");
  auto policy = auth::Policy::FromJson(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::signed/*"]},
      {"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::signed"]}]})");
  ASSERT_TRUE(policy.ok());
  keys_.Put(auth::AccessKey{kWorkerId, kWorkerSecret, "worker", *policy, false});
  auto now_missing = Signed("GET", "/signed/none.jpg", "", "", {}, "", kWorkerId, kWorkerSecret);
  EXPECT_EQ(now_missing->response().status, 404);
  EXPECT_EQ(ErrorCode(*now_missing), "NoSuchKey");
}

}  // namespace
}  // namespace imgbatch::s3::testing
