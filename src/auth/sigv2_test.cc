// SigV2 rules not covered by the recorded SDK vectors (sdk_vectors_test.cc):
// x-amz-date instead of Date, x-amz-* headers and sub-resources in the string
// to sign, skew and unknown keys. Signatures computed here from S3's SigV2
// page, independently of sigv2.cc.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/sigv4.h"
#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::auth {
namespace {

constexpr std::string_view kKeyId = "AKIAV2TEST";
constexpr std::string_view kSecret = "v2-secret";

std::string SignV2(std::string_view string_to_sign) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(string_to_sign.data()), string_to_sign.size(), out,
       &len);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

Result<VerifiedRequest> VerifyV2(std::string_view method, std::string_view path,
                                 std::string_view query, const HeaderList& headers,
                                 std::chrono::system_clock::time_point now,
                                 std::string domain = "") {
  VerifyOptions options;
  options.virtual_host_domain = std::move(domain);
  return Verify(
      {method, path, query, &headers},
      [](std::string_view id) -> std::optional<std::string> {
        if (id == kKeyId) return std::string(kSecret);
        return std::nullopt;
      },
      now, options);
}

const auto kNow = *ParseAmzDate("20261128T020000Z");

TEST(SigV2, XAmzDateHeadersAndSubResources) {
  std::string date = FormatHttpDate(kNow);
  // x-amz-date replaces Date (empty date line); x-amz-* sorted, lower-cased.
  std::string sts = "PUT\n\nimage/jpeg\n\nx-amz-date:" + date +
                    "\nx-amz-meta-a:1,2\n/bucket/key?acl&versionId=v 1";
  HeaderList headers{
      {"Host", "h"},         {"Content-Type", "image/jpeg"},
      {"X-Amz-Meta-A", "1"}, {"x-amz-date", date},
      {"x-amz-meta-a", "2"}, {"Authorization", "AWS " + std::string(kKeyId) + ":" + SignV2(sts)}};
  auto verified = VerifyV2("PUT", "/bucket/key", "versionId=v%201&acl&list-type=2", headers, kNow);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->service, "s3");
  EXPECT_EQ(verified->payload, PayloadMode::kUnsignedPayload);
  EXPECT_FALSE(verified->presigned);

  // A different sub-resource, method or header value breaks it.
  EXPECT_EQ(VerifyV2("PUT", "/bucket/key", "versionId=v2&acl", headers, kNow).status().detail(),
            "SignatureDoesNotMatch");
  EXPECT_EQ(VerifyV2("GET", "/bucket/key", "versionId=v%201&acl", headers, kNow).status().detail(),
            "SignatureDoesNotMatch");
  HeaderList changed = headers;
  changed[2].second = "3";
  EXPECT_EQ(VerifyV2("PUT", "/bucket/key", "versionId=v%201&acl", changed, kNow).status().detail(),
            "SignatureDoesNotMatch");
  // Skew and unknown keys as in SigV4.
  EXPECT_EQ(VerifyV2("PUT", "/bucket/key", "versionId=v%201&acl", headers,
                     kNow + std::chrono::minutes(16))
                .status()
                .detail(),
            "RequestTimeTooSkewed");
  HeaderList unknown = headers;
  unknown.back().second = "AWS AKIANOPE:" + SignV2(sts);
  EXPECT_EQ(VerifyV2("PUT", "/bucket/key", "versionId=v%201&acl", unknown, kNow).status().detail(),
            "InvalidAccessKeyId");
}

// ceph s3-tests' test_object_create_bad_date_after_end_aws2: a year past the
// clock's range is too far ahead (RequestTimeTooSkewed), as AWS answers;
// before 1970 it is no valid date.
TEST(SigV2, FarDatesAreSkewedOrInvalid) {
  const auto with_date = [](const std::string& date) {
    HeaderList headers{
        {"Host", "h"}, {"Date", date}, {"Authorization", "AWS " + std::string(kKeyId) + ":x"}};
    return VerifyV2("GET", "/b/k", "", headers, kNow).status().detail();
  };
  EXPECT_EQ(with_date("Tue, 07 Jul 9999 21:53:04 GMT"), "RequestTimeTooSkewed");
  EXPECT_EQ(with_date("Tue, 07 Jul 2010 21:53:04 GMT"), "RequestTimeTooSkewed");
  EXPECT_EQ(with_date("Wed, 31 Dec 1969 23:59:59 GMT"), "AccessDenied");
  EXPECT_EQ(with_date("Tue, 07 Jul 99999 21:53:04 GMT"), "AccessDenied");
}

TEST(SigV2, VirtualHostBucketIsPartOfTheResource) {
  std::string date = FormatHttpDate(kNow);
  std::string sts = "GET\n\n\n" + date + "\n/photos/cat.jpg";
  HeaderList headers{{"Host", "photos.localhost:4566"},
                     {"Date", date},
                     {"Authorization", "AWS " + std::string(kKeyId) + ":" + SignV2(sts)}};
  EXPECT_TRUE(VerifyV2("GET", "/cat.jpg", "", headers, kNow, "localhost").ok());
  // Without the domain the bucket is unknown and the resource differs.
  EXPECT_EQ(VerifyV2("GET", "/cat.jpg", "", headers, kNow).status().detail(),
            "SignatureDoesNotMatch");
}

TEST(SigV2, MalformedHeaderAndQuery) {
  HeaderList no_colon{{"Host", "h"}, {"Date", FormatHttpDate(kNow)}, {"Authorization", "AWS x"}};
  EXPECT_EQ(VerifyV2("GET", "/", "", no_colon, kNow).status().detail(), "InvalidArgument");
  HeaderList no_date{{"Host", "h"}, {"Authorization", "AWS AKIAV2TEST:abc"}};
  EXPECT_EQ(VerifyV2("GET", "/", "", no_date, kNow).status().detail(), "AccessDenied");
  HeaderList host{{"Host", "h"}};
  EXPECT_EQ(
      VerifyV2("GET", "/b/k", "AWSAccessKeyId=AKIAV2TEST&Signature=x&Expires=soon", host, kNow)
          .status()
          .detail(),
      "AuthorizationQueryParametersError");
  EXPECT_EQ(VerifyV2("GET", "/b/k", "AWSAccessKeyId=AKIAV2TEST&Signature=x&Expires=99999999999",
                     host, kNow)
                .status()
                .detail(),
            "AuthorizationQueryParametersError");
}

}  // namespace
}  // namespace imgbatch::auth
