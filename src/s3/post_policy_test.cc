// A POST upload's policy document: its forms of condition, and the form's
// fields checked against it as S3 checks them.
#include "s3/post_policy.h"

#include <gtest/gtest.h>

#include "common/hashing.h"
#include "s3/errors.h"

namespace imgbatch::s3 {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;  // 2027-01-15
constexpr char kLater[] = "2027-01-16T00:00:00.000Z";

std::string Encoded(const std::string& json) { return Base64Encode(json); }

PostPolicy Parse(const std::string& conditions, const std::string& expiration = kLater) {
  auto policy = ParsePostPolicy(
      Encoded(R"({"expiration": ")" + expiration + R"(", "conditions": [)" + conditions + "]}"));
  EXPECT_TRUE(policy.ok()) << policy.status().ToString();
  return policy.ok() ? *policy : PostPolicy{};
}

std::string Message(const Status& status) { return ToS3Error(status).message; }
std::string Code(const Status& status) { return ToS3Error(status).code; }

TEST(PostPolicy, TheFormsOfACondition) {
  PostPolicy policy = Parse(
      R"({"bucket": "in"}, ["starts-with", "$key", "uploads/"], ["eq", "$Content-Type", "image/jpeg"],)"
      R"( ["content-length-range", 10, 1000], {"x-amz-meta-Owner": "ann"})");
  ASSERT_EQ(policy.conditions.size(), 5u);
  EXPECT_EQ(policy.conditions[0].kind, PostCondition::Kind::kEq);
  EXPECT_EQ(policy.conditions[1].kind, PostCondition::Kind::kStartsWith);
  EXPECT_EQ(policy.conditions[2].field, "content-type");  // names are case-insensitive
  EXPECT_EQ(policy.conditions[4].field, "x-amz-meta-owner");
  EXPECT_EQ(policy.expiration_ms, 1'800'057'600'000);
  auto range = ContentLengthRange(policy);
  ASSERT_TRUE(range);
  EXPECT_EQ(range->first, 10u);
  EXPECT_EQ(range->second, 1000u);
  EXPECT_FALSE(ContentLengthRange(Parse(R"({"bucket": "in"})")));
}

TEST(PostPolicy, MalformedDocumentsAreInvalidPolicyDocument) {
  for (
      const std::string& bad : {
          std::string("not base64!"),
          Encoded("[1, 2]"),
          Encoded(R"({"conditions": []})"),
          Encoded(R"({"expiration": "soon", "conditions": []})"),
          Encoded(R"({"expiration": "2027-01-16T00:00:00Z"})"),
          Encoded(R"({"expiration": "2027-01-16T00:00:00Z", "conditions": [["gt", "$key", "a"]]})"),
          Encoded(R"({"expiration": "2027-01-16T00:00:00Z", "conditions": [["eq", "key", "a"]]})"),
          Encoded(
              R"({"expiration": "2027-01-16T00:00:00Z", "conditions": [{"a": "1", "b": "2"}]})"),
          Encoded(R"({"expiration": "2027-01-16T00:00:00Z", "conditions": [{"a": 1}]})"),
          Encoded(
              R"({"expiration": "2027-01-16T00:00:00Z", "conditions": [["content-length-range", "a", 2]]})"),
      }) {
    auto policy = ParsePostPolicy(bad);
    ASSERT_FALSE(policy.ok()) << bad;
    EXPECT_EQ(Code(policy.status()), "InvalidPolicyDocument") << bad;
  }
}

TEST(PostPolicy, FieldsMustMeetEveryConditionAndBeNamed) {
  PostPolicy policy = Parse(
      R"({"bucket": "in"}, ["starts-with", "$key", "uploads/"], ["starts-with", "$Content-Type", "image/"],)"
      R"( {"x-amz-credential": "K/20270115/us-east-1/s3/aws4_request"}, ["starts-with", "$x-amz-meta-tag", ""])");
  PostFields ok = {{"key", "uploads/a.jpg"},
                   {"content-type", "image/jpeg"},
                   {"x-amz-credential", "K/20270115/us-east-1/s3/aws4_request"},
                   {"policy", "..."},
                   {"x-amz-signature", "..."},
                   {"x-ignore-me", "1"},
                   {"bucket", "in"}};
  EXPECT_TRUE(CheckPostFields(policy, ok, kNow).ok());

  auto with = [&](std::string name, std::string value) {
    PostFields fields = ok;
    bool replaced = false;
    for (auto& field : fields) {
      if (field.first == name) field.second = value, replaced = true;
    }
    if (!replaced) fields.emplace_back(name, value);
    return CheckPostFields(policy, fields, kNow);
  };
  EXPECT_EQ(
      Message(with("key", "elsewhere/a.jpg")),
      R"(Invalid according to Policy: Policy Condition failed: ["starts-with","$key","uploads/"])");
  EXPECT_EQ(Code(with("bucket", "out")), "AccessDenied");
  EXPECT_EQ(Code(with("content-type", "image/png, text/html")), "AccessDenied");
  EXPECT_TRUE(with("content-type", "image/png, image/gif").ok());
  EXPECT_TRUE(with("x-amz-meta-tag", "anything").ok());
  EXPECT_EQ(Message(with("acl", "private")),
            "Invalid according to Policy: Extra input fields: acl");
  EXPECT_EQ(Message(CheckPostFields(policy, ok, kNow + 86'400'000)),
            "Invalid according to Policy: Policy expired.");
  PostFields without_key = ok;
  without_key.erase(without_key.begin());
  EXPECT_EQ(Code(CheckPostFields(policy, without_key, kNow)), "AccessDenied");
}

TEST(PostPolicy, TheTightestRangeWins) {
  auto range = ContentLengthRange(Parse(
      R"(["content-length-range", 0, 100], ["content-length-range", 5, 1000], ["content-length-range", -3, 50])"));
  ASSERT_TRUE(range);
  EXPECT_EQ(range->first, 5u);
  EXPECT_EQ(range->second, 50u);
}

}  // namespace
}  // namespace imgbatch::s3
