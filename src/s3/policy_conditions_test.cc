// Key policies with Condition blocks through the handler: the condition keys
// S3 requests carry (s3:prefix, s3:ExistingObjectTag/<key>,
// s3:RequestObjectTag/<key>, aws:SourceIp, aws:SecureTransport, ...) decide
// whether a statement applies.
#include <string>

#include "auth/policy.h"
#include "common/hashing.h"
#include "s3/request.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

class PolicyConditionsTest : public S3Fixture {
 protected:
  void SetUp() override { CreateBucket("cond"); }

  void PolicyFor(const std::string& key, const std::string& json) {
    Result<auth::Policy> policy = auth::Policy::FromJson(json);
    ASSERT_TRUE(policy.ok()) << policy.status().ToString();
    auth_->GrantPolicy(key, *policy);
  }
  std::shared_ptr<http::FakeExchange> As(const std::string& key, const std::string& method,
                                         const std::string& target, http::Headers headers = {},
                                         std::string body = {}) {
    headers.Add("Authorization", "fake " + key);
    return Call(method, target, std::move(headers), std::move(body));
  }
};

TEST_F(PolicyConditionsTest, ListingIsLimitedToAPrefix) {
  PolicyFor("alice", R"({"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
      "Resource": "arn:aws:s3:::cond", "Condition": {"StringLike": {"s3:prefix": "home/alice/*"}}}]})");
  EXPECT_EQ(As("alice", "GET", "/cond?list-type=2&prefix=home%2Falice%2Fphotos")->response().status,
            200);
  EXPECT_EQ(As("alice", "GET", "/cond?prefix=home%2Falice%2F")->response().status, 200);  // V1
  EXPECT_EQ(ErrorCode(*As("alice", "GET", "/cond?list-type=2&prefix=home%2Fbob%2F")),
            "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("alice", "GET", "/cond?list-type=2")), "AccessDenied");  // no prefix
}

TEST_F(PolicyConditionsTest, ReadsDependOnTheObjectsTagsAndWritesOnTheTagsSent) {
  PolicyFor("reader", R"({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::cond/*",
      "Condition": {"StringEquals": {"s3:ExistingObjectTag/public": "yes"}}}]})");
  PolicyFor("uploader", R"({"Statement": [{"Effect": "Allow", "Action": ["s3:PutObject",
      "s3:PutObjectTagging"], "Resource": "arn:aws:s3:::cond/*",
      "Condition": {"StringEquals": {"s3:RequestObjectTag/stage": "raw"},
                    "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["stage", "team"]}}}]})");
  http::Headers raw;
  raw.Add("x-amz-tagging", "stage=raw&team=a");
  EXPECT_EQ(As("uploader", "PUT", "/cond/shared.jpg", raw, "x")->response().status, 200);
  EXPECT_EQ(ErrorCode(*As("uploader", "PUT", "/cond/untagged.jpg", {}, "x")), "AccessDenied");
  http::Headers extra;
  extra.Add("x-amz-tagging", "stage=raw&owner=b");  // a tag key the policy does not list
  EXPECT_EQ(ErrorCode(*As("uploader", "PUT", "/cond/extra.jpg", extra, "x")), "AccessDenied");

  http::Headers shared;
  shared.Add("x-amz-tagging", "public=yes");
  Put("cond", "public.jpg", "seen", shared);
  Put("cond", "private.jpg", "unseen");
  auto got = As("reader", "GET", "/cond/public.jpg");
  EXPECT_EQ(got->response().status, 200);
  EXPECT_EQ(got->BodyText(), "seen");
  EXPECT_EQ(ErrorCode(*As("reader", "GET", "/cond/private.jpg")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("reader", "GET", "/cond/missing.jpg")), "AccessDenied");
}

// PutObjectTagging's tags are in its body: the policy sees them there.
TEST_F(PolicyConditionsTest, TaggingAnObjectIsDecidedByTheTagsInTheBody) {
  PolicyFor("tagger", R"({"Statement": [{"Effect": "Allow", "Action": "s3:PutObjectTagging",
      "Resource": "arn:aws:s3:::cond/*",
      "Condition": {"StringEquals": {"s3:RequestObjectTag/stage": "done"},
                    "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["stage"]}}}]})");
  Put("cond", "photo.jpg", "x");
  auto tagging = [](const std::string& tags) {
    return "<Tagging><TagSet>" + tags + "</TagSet></Tagging>";
  };
  const std::string done = tagging("<Tag><Key>stage</Key><Value>done</Value></Tag>");
  auto tagged = As("tagger", "PUT", "/cond/photo.jpg?tagging", {}, done);
  EXPECT_EQ(tagged->response().status, 200) << tagged->BodyText();
  EXPECT_NE(Call("GET", "/cond/photo.jpg?tagging")->BodyText().find("<Value>done</Value>"),
            std::string::npos);
  EXPECT_EQ(ErrorCode(*As("tagger", "PUT", "/cond/photo.jpg?tagging", {},
                          tagging("<Tag><Key>stage</Key><Value>raw</Value></Tag>"))),
            "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("tagger", "PUT", "/cond/photo.jpg?tagging", {},
                          tagging("<Tag><Key>stage</Key><Value>done</Value></Tag>"
                                  "<Tag><Key>owner</Key><Value>b</Value></Tag>"))),
            "AccessDenied");
  // A body that does not parse is decided without tags: refused, not described.
  EXPECT_EQ(ErrorCode(*As("tagger", "PUT", "/cond/photo.jpg?tagging", {}, "<Tagging>")),
            "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("root", "PUT", "/cond/photo.jpg?tagging", {}, "<Tagging>")),
            "MalformedXML");
  // Nor may a key without the action tag anything.
  PolicyFor("reader", R"({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::cond/*"}]})");
  EXPECT_EQ(ErrorCode(*As("reader", "PUT", "/cond/photo.jpg?tagging", {}, done)), "AccessDenied");
}

// A check on another object than the one the request names is decided by
// that object's tags: a copy's source, each key of DeleteObjects.
TEST_F(PolicyConditionsTest, ExistingTagsAreThoseOfTheObjectChecked) {
  PolicyFor("mover", R"({"Statement": [
      {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging"],
       "Resource": "arn:aws:s3:::cond/*"},
      {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cond/*",
       "Condition": {"StringEquals": {"s3:ExistingObjectTag/public": "yes"}}},
      {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::cond/*",
       "Condition": {"StringEquals": {"s3:ExistingObjectTag/keep": "yes"}}}]})");
  http::Headers public_tag, keep_tag;
  public_tag.Add("x-amz-tagging", "public=yes");
  keep_tag.Add("x-amz-tagging", "keep=yes");
  Put("cond", "private.jpg", "secret");
  Put("cond", "public.jpg", "open", public_tag);
  Put("cond", "kept.jpg", "k", keep_tag);
  Put("cond", "loose.jpg", "l");

  // The destination is tagged public=yes; the source is not: no copy.
  http::Headers copy;
  copy.Add("x-amz-copy-source", "/cond/private.jpg");
  EXPECT_EQ(ErrorCode(*As("mover", "PUT", "/cond/public.jpg", copy)), "AccessDenied");
  http::Headers copy_public;
  copy_public.Add("x-amz-copy-source", "/cond/public.jpg");
  EXPECT_EQ(As("mover", "PUT", "/cond/copied.jpg", copy_public)->response().status, 200);

  const std::string keys =
      "<Delete><Object><Key>kept.jpg</Key></Object><Object><Key>loose.jpg</Key></Object></Delete>";
  http::Headers md5;
  md5.Add("Content-MD5", Base64Encode(Md5(keys)));
  auto deleted = As("mover", "POST", "/cond?delete", md5, keys);
  ASSERT_EQ(deleted->response().status, 200) << deleted->BodyText();
  auto doc = Xml(deleted->BodyText());
  EXPECT_STREQ(doc.child("DeleteResult").child("Error").child_value("Key"), "kept.jpg");
  EXPECT_STREQ(doc.child("DeleteResult").child("Error").child_value("Code"), "AccessDenied");
  EXPECT_STREQ(doc.child("DeleteResult").child("Deleted").child_value("Key"), "loose.jpg");
  EXPECT_EQ(ErrorCode(*As("mover", "DELETE", "/cond/kept.jpg")), "AccessDenied");
}

TEST_F(PolicyConditionsTest, GlobalKeysSourceIpTransportAndTime) {
  PolicyFor("local", R"({"Statement": [
      {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
       "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}},
      {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*",
       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})");
  PolicyFor("remote", R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
      "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]})");
  PolicyFor("expired", R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
      "Condition": {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}]})");
  Put("cond", "k", "v");
  EXPECT_EQ(As("local", "GET", "/cond/k")->response().status, 200);  // the fake peer: 127.0.0.1
  EXPECT_EQ(ErrorCode(*As("remote", "GET", "/cond/k")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("local", "DELETE", "/cond/k")), "AccessDenied");  // plain HTTP
  EXPECT_EQ(ErrorCode(*As("expired", "GET", "/cond/k")), "AccessDenied");   // the clock: 2023
}

TEST(ConditionKeysTest, FromTheRequestsHeadersAndQuery) {
  http::RequestHead head;
  head.method = "GET";
  head.target = "/b?list-type=2&prefix=a%2Fb&max-keys=5";
  head.path = "/b";
  head.query = "list-type=2&prefix=a%2Fb&max-keys=5";
  head.headers.Add("Authorization", "AWS4-HMAC-SHA256 Credential=...");
  head.headers.Add("Host", "localhost");
  Result<S3Request> list = ParseRequest(head, "localhost");
  ASSERT_TRUE(list.ok());
  auth::RequestContext context;
  AddConditionKeys(*list, context);
  EXPECT_EQ(context.Find("s3:prefix"), std::vector<std::string>{"a/b"});
  EXPECT_EQ(context.Find("s3:max-keys"), std::vector<std::string>{"5"});
  EXPECT_EQ(context.Find("s3:delimiter"), std::nullopt);
  EXPECT_EQ(context.Find("s3:authType"), std::vector<std::string>{"REST-HEADER"});
  EXPECT_EQ(context.Find("s3:signatureversion"), std::vector<std::string>{"AWS4-HMAC-SHA256"});

  http::RequestHead put;
  put.method = "PUT";
  put.target = put.path = "/b/k";
  put.headers.Add("Host", "localhost");
  put.headers.Add("x-amz-tagging", "stage=raw&team=a%20b");
  put.headers.Add("x-amz-acl", "private");
  put.headers.Add("x-amz-copy-source", "/b/src");
  Result<S3Request> copy = ParseRequest(put, "localhost");
  ASSERT_TRUE(copy.ok());
  auth::RequestContext copy_context;
  AddConditionKeys(*copy, copy_context);
  EXPECT_EQ(copy_context.Find("s3:prefix"), std::nullopt);  // not a listing
  EXPECT_EQ(copy_context.Find("s3:RequestObjectTag/team"), std::vector<std::string>{"a b"});
  EXPECT_EQ(copy_context.Find("s3:RequestObjectTagKeys"),
            (std::vector<std::string>{"stage", "team"}));
  EXPECT_EQ(copy_context.Find("s3:x-amz-acl"), std::vector<std::string>{"private"});
  EXPECT_EQ(copy_context.Find("s3:x-amz-copy-source"), std::vector<std::string>{"/b/src"});
}

}  // namespace
}  // namespace imgbatch::s3::testing
