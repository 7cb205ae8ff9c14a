// Requests recorded from real SDKs (botocore 1.29 and 1.43, AWS SDK for
// JavaScript v3) by src/auth/testdata/record_*.{py,mjs}: each must verify with
// its own signing time as "now", and its body must read back through the
// PayloadReader the signature demands (aws-chunked trailers included).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "auth/aws_chunked.h"
#include "auth/sigv4.h"
#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::auth {
namespace {

constexpr std::string_view kKeyId = "AKIAIMGBATCHSDKTEST1";
constexpr std::string_view kSecret = "sdk/test+secret0123456789abcdefghijklmn";
constexpr size_t kMinimumVectors = 40;

struct Recorded {
  std::string name;
  std::string method, path, query, body;
  HeaderList headers;
};

std::string_view NextLine(std::string_view& in) {
  size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return line;
}

Recorded Parse(std::string name, std::string_view in) {
  Recorded r;
  r.name = std::move(name);
  r.method = NextLine(in);
  r.path = NextLine(in);
  r.query = NextLine(in);
  bool has_host = false;
  while (!in.empty()) {
    std::string_view line = NextLine(in);
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string header_name(line.substr(0, colon));
    has_host = has_host || IEquals(header_name, "host");
    r.headers.emplace_back(header_name, std::string(Trim(line.substr(colon + 1))));
  }
  // botocore leaves Host to http.client, which sends the endpoint's authority.
  if (!has_host) r.headers.emplace_back("Host", "127.0.0.1:4566");
  r.body = in;
  return r;
}

std::vector<Recorded> LoadVectors() {
  const char* root = std::getenv("IMGBATCH_SOURCE_DIR");
  std::filesystem::path dir =
      std::filesystem::path(root ? root : ".") / "src" / "auth" / "testdata" / "sdk";
  std::vector<Recorded> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".req") continue;
    std::ifstream file(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    out.push_back(Parse(entry.path().filename().string(), bytes));
  }
  std::sort(out.begin(), out.end(),
            [](const Recorded& a, const Recorded& b) { return a.name < b.name; });
  return out;
}

// When the SDK signed: x-amz-date, X-Amz-Date, the Date header (SigV2), or an
// hour before a SigV2 URL's Expires (the recorders presign for 3600 s).
std::chrono::system_clock::time_point SigningTime(const Recorded& r) {
  for (const auto& [name, value] : r.headers) {
    if (IEquals(name, "x-amz-date")) return *ParseAmzDate(value);
  }
  for (const auto& [name, value] : r.headers) {
    if (IEquals(name, "date")) return *ParseHttpDate(value);
  }
  QueryParams query = ParseQuery(r.query);
  if (auto date = QueryGet(query, "X-Amz-Date")) return *ParseAmzDate(*date);
  auto expires = ParseInt(QueryGet(query, "Expires").value_or("0")).value_or(0);
  return std::chrono::system_clock::time_point(std::chrono::seconds(expires - 3600));
}

Result<VerifiedRequest> VerifyRecorded(const Recorded& r, std::string_view path) {
  std::string body_hash = Sha256Hex(r.body);
  HttpRequestView view{r.method, path, r.query, &r.headers, body_hash};
  VerifyOptions options;
  options.virtual_host_domain = "localhost";  // the *vhost* vectors use <bucket>.localhost
  return Verify(
      view,
      [](std::string_view id) -> std::optional<std::string> {
        if (id == kKeyId) return std::string(kSecret);
        return std::nullopt;
      },
      SigningTime(r) + std::chrono::seconds(1), options);
}

Result<std::string> ReadBody(const Recorded& r, const VerifiedRequest& caller,
                             HeaderList* trailers) {
  auto offset = std::make_shared<size_t>(0);
  PayloadReader reader(
      [&r, offset](std::span<char> out) -> Result<size_t> {
        size_t n = std::min(out.size(), r.body.size() - *offset);
        std::memcpy(out.data(), r.body.data() + *offset, n);
        *offset += n;
        return n;
      },
      caller);
  std::string data;
  char buffer[8192];
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(size_t n, reader.Read(std::span<char>(buffer, sizeof buffer)));
    if (n == 0) break;
    data.append(buffer, n);
  }
  *trailers = reader.trailers();
  return data;
}

TEST(SdkVectors, EveryRecordedRequestVerifiesAndItsBodyReadsBack) {
  std::vector<Recorded> vectors = LoadVectors();
  ASSERT_GE(vectors.size(), kMinimumVectors) << "testdata/sdk missing or incomplete";
  int streamed = 0;
  for (const Recorded& r : vectors) {
    SCOPED_TRACE(r.name);
    auto caller = VerifyRecorded(r, r.path);
    ASSERT_TRUE(caller.ok()) << caller.status().ToString();
    EXPECT_EQ(caller->access_key_id, kKeyId);
    EXPECT_EQ(caller->service, r.name.find("_sqs_") != std::string::npos ? "sqs" : "s3");

    HeaderList trailers;
    auto data = ReadBody(r, *caller, &trailers);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    if (caller->payload == PayloadMode::kStreamingUnsignedTrailer) {
      ++streamed;
      EXPECT_EQ(*data, std::string(70000, 'y'));
      ASSERT_EQ(trailers.size(), 1u);
      EXPECT_EQ(trailers[0].first, "x-amz-checksum-crc32");
      EXPECT_EQ(trailers[0].second, Base64Encode(Crc32Bytes(Crc32Update(0, *data))));
    } else {
      EXPECT_EQ(*data, r.body);
    }
  }
  EXPECT_GE(streamed, 1) << "no aws-chunked vector (JS SDK streaming PutObject) was checked";
}

TEST(SdkVectors, TamperedPathsFail) {
  for (const Recorded& r : LoadVectors()) {
    SCOPED_TRACE(r.name);
    std::string other = r.path + "x";
    auto caller = VerifyRecorded(r, other);
    ASSERT_FALSE(caller.ok());
    EXPECT_EQ(caller.status().detail(), "SignatureDoesNotMatch");
  }
}

const Recorded* Find(const std::vector<Recorded>& vectors, std::string_view name) {
  for (const auto& r : vectors) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

TEST(SdkVectors, SigV2PresignedUrlExpiresAndCoversSubResources) {
  std::vector<Recorded> vectors = LoadVectors();
  const Recorded* url = Find(vectors, "botocore-43_s3_presigned_get_override.req");
  ASSERT_NE(url, nullptr);
  auto caller = VerifyRecorded(*url, url->path);
  ASSERT_TRUE(caller.ok()) << caller.status().ToString();
  EXPECT_TRUE(caller->presigned);
  EXPECT_EQ(caller->payload, PayloadMode::kUnsignedPayload);

  Recorded other = *url;
  other.query.replace(other.query.find("text%2Fplain"), 12, "text%2Fhtml_");
  EXPECT_EQ(VerifyRecorded(other, other.path).status().detail(), "SignatureDoesNotMatch");

  HttpRequestView view{url->method, url->path, url->query, &url->headers};
  auto late = Verify(
      view, [](std::string_view) { return std::optional<std::string>(std::string(kSecret)); },
      SigningTime(*url) + std::chrono::seconds(3601));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Code::kAccessDenied);
  EXPECT_EQ(late.status().message(), "Request has expired");

  VerifyOptions no_v2;
  no_v2.allow_sigv2 = false;
  auto refused = Verify(
      view, [](std::string_view) { return std::optional<std::string>(std::string(kSecret)); },
      SigningTime(*url), no_v2);
  EXPECT_EQ(refused.status().detail(), "InvalidRequest");
}

}  // namespace
}  // namespace imgbatch::auth
