// The signature of a browser-based POST upload's policy: SigV4 and SigV2,
// with vectors computed outside this code base (the s3-post-policy npm
// package's documented example; the SigV2 example of AWS's POST guide as
// recomputed in robbat2's gist, both re-checked with Python's hmac).
#include <gtest/gtest.h>

#include "auth/sigv4.h"

namespace imgbatch::auth {
namespace {

constexpr char kV4Policy[] =
    "eyJleHBpcmF0aW9uIjoiMjAxMy0wOC0wNlQxMjowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3siYWNsIjoicHVibGlj"
    "LXJlYWQifSxbInN0YXJ0cy13aXRoIiwiJENvbnRlbnQtVHlwZSIsImltYWdlLyJdLFsic3RhcnRzLXdpdGgiLCIka2V5"
    "IiwidXNlci91c2VyMS8iXSxbInN0YXJ0cy13aXRoIiwiJHgtYW16LW1ldGEtdGFnIiwiIl0seyJ4LWFtei1tZXRhLXV1"
    "aWQiOiIxNDM2NTEyMzY1MTI3NCJ9LHsiYnVja2V0IjoiZXhhbXBsZWJ1Y2tldCJ9LHsieC1hbXotYWxnb3JpdGhtIjoi"
    "QVdTNC1ITUFDLVNIQTI1NiJ9LHsieC1hbXotY3JlZGVudGlhbCI6IkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMTMwODA2"
    "L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSx7IngtYW16LWRhdGUiOiIyMDEzMDgwNlQxMjAwMDBaIn1dfQ==";
constexpr char kV4Signature[] = "5bc8a7be4a6fc6445b94d0f4096f8cf3dfa00303529f8a68ea7dc0c23bb83cd9";

constexpr char kV2Policy[] =
    "eyAiZXhwaXJhdGlvbiI6ICIyMDA3LTEyLTAxVDEyOjAwOjAwLjAwMFoiLAogICJjb25kaXRpb25zIjogWwogICAgeyJi"
    "dWNrZXQiOiAiam9obnNtaXRoIiB9LAogICAgWyJzdGFydHMtd2l0aCIsICIka2V5IiwgInVzZXIvZXJpYy8iXSwKICAg"
    "IHsiYWNsIjogInB1YmxpYy1yZWFkIiB9LAogICAgeyJyZWRpcmVjdCI6ICJodHRwOi8vam9obnNtaXRoLnMzLmFtYXpv"
    "bmF3cy5jb20vc3VjY2Vzc2Z1bF91cGxvYWQuaHRtbCIgfSwKICAgIFsic3RhcnRzLXdpdGgiLCAiJENvbnRlbnQtVHlw"
    "ZSIsICJpbWFnZS8iXSwKICAgIHsieC1hbXotbWV0YS11dWlkIjogIjE0MzY1MTIzNjUxMjc0In0sCiAgICBbInN0YXJ0"
    "cy13aXRoIiwgIiR4LWFtei1tZXRhLXRhZyIsICIiXSwKICBdCn0K";
constexpr char kV2Signature[] = "2qCp0odXe7A9IYyUVqn0w2adtCA=";

SecretLookup Secrets() {
  return [](std::string_view id) -> std::optional<std::string> {
    if (id == "AKIAIOSFODNN7EXAMPLE") return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    if (id == "AKIAV2EXAMPLE") return "uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o";
    return std::nullopt;
  };
}

PostFormSignature V4Form() {
  PostFormSignature form;
  form.policy = kV4Policy;
  form.algorithm = "AWS4-HMAC-SHA256";
  form.credential = "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/s3/aws4_request";
  form.amz_date = "20130806T120000Z";
  form.signature = kV4Signature;
  return form;
}

PostFormSignature V2Form() {
  PostFormSignature form;
  form.policy = kV2Policy;
  form.access_key_id = "AKIAV2EXAMPLE";
  form.signature_v2 = kV2Signature;
  return form;
}

std::string Detail(const Result<VerifiedRequest>& result) {
  return result.ok() ? "ok" : std::string(result.status().detail());
}

TEST(PostForm, SigV4Vector) {
  auto verified = VerifyPostForm(V4Form(), Secrets());
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->access_key_id, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(verified->service, "s3");
  EXPECT_EQ(verified->region, "us-east-1");
  EXPECT_EQ(verified->payload, PayloadMode::kUnsignedPayload);
}

TEST(PostForm, SigV2Vector) {
  auto verified = VerifyPostForm(V2Form(), Secrets());
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->access_key_id, "AKIAV2EXAMPLE");
  VerifyOptions v4_only;
  v4_only.allow_sigv2 = false;
  EXPECT_EQ(Detail(VerifyPostForm(V2Form(), Secrets(), v4_only)), "InvalidRequest");
}

TEST(PostForm, AnyChangeToThePolicyOrSignatureIsAMismatch) {
  PostFormSignature v4 = V4Form();
  v4.policy.back() = 'A';
  EXPECT_EQ(Detail(VerifyPostForm(v4, Secrets())), "SignatureDoesNotMatch");
  v4 = V4Form();
  v4.signature[0] = '6';
  EXPECT_EQ(Detail(VerifyPostForm(v4, Secrets())), "SignatureDoesNotMatch");
  PostFormSignature v2 = V2Form();
  v2.policy[3] = 'x';
  EXPECT_EQ(Detail(VerifyPostForm(v2, Secrets())), "SignatureDoesNotMatch");
  // The hex signature is read case-insensitively, as AWS does.
  v4 = V4Form();
  for (char& c : v4.signature) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(Detail(VerifyPostForm(v4, Secrets())), "ok");
}

TEST(PostForm, ScopeAndFieldsAreChecked) {
  EXPECT_EQ(Detail(VerifyPostForm(PostFormSignature{}, Secrets())), "AccessDenied");
  auto with = [](auto change) {
    PostFormSignature form = V4Form();
    change(form);
    return Detail(VerifyPostForm(form, Secrets()));
  };
  EXPECT_EQ(with([](auto& f) { f.credential = "AKIAOTHER/20130806/us-east-1/s3/aws4_request"; }),
            "InvalidAccessKeyId");
  EXPECT_EQ(with([](auto& f) {
              f.credential =
                  "AKIAIOSFODNN7EXAMPLE/20130806/eu-west-1/s3/"
                  "aws4_request";
            }),
            "InvalidArgument");
  EXPECT_EQ(with([](auto& f) {
              f.credential =
                  "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/sqs/"
                  "aws4_request";
            }),
            "InvalidArgument");
  EXPECT_EQ(with([](auto& f) { f.credential = "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/s3"; }),
            "InvalidArgument");
  EXPECT_EQ(with([](auto& f) { f.amz_date = "20130807T120000Z"; }), "InvalidArgument");
  EXPECT_EQ(with([](auto& f) { f.amz_date = "yesterday"; }), "InvalidArgument");
  EXPECT_EQ(with([](auto& f) { f.algorithm = "AWS4-HMAC-SHA1"; }), "InvalidArgument");
  EXPECT_EQ(with([](auto& f) { f.policy.clear(); }), "InvalidArgument");
  EXPECT_EQ(with([](auto& f) { f.signature.clear(); }), "InvalidArgument");
  EXPECT_EQ(with([](auto& f) { f.access_key_id = "AKIAV2EXAMPLE"; }), "InvalidArgument");
  PostFormSignature v2 = V2Form();
  v2.access_key_id = "AKIANOBODY";
  EXPECT_EQ(Detail(VerifyPostForm(v2, Secrets())), "InvalidAccessKeyId");
}

}  // namespace
}  // namespace imgbatch::auth
