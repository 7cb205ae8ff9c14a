// Bucket policies through the handler: the ?policy and ?policyStatus
// operations, S3's checks of a document, and the policy deciding requests on
// the bucket together with the caller's key policy.
#include <string>

#include "s3/bucket_policy.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

constexpr char kUsers[] = "arn:aws:iam::000000000000:user/";

std::string Statement(const std::string& effect, const std::string& principal,
                      const std::string& action, const std::string& resource,
                      const std::string& extra = "") {
  return R"({"Effect": ")" + effect + R"(", "Principal": )" + principal + R"(, "Action": )" +
         action + R"(, "Resource": )" + resource + extra + "}";
}

std::string Policy(const std::string& statements) {
  return R"({"Version": "2012-10-17", "Statement": [)" + statements + "]}";
}

class PolicyOpsTest : public S3Fixture {
 protected:
  void SetUp() override {
    CreateBucket("pol");
    CreateBucket("other");
    auth_->Grant("alice", "s3:ListBucket", "*");  // alice, bob and nobody exist as users
    auth_->Grant("bob", "s3:GetObject", "*");
  }

  std::shared_ptr<http::FakeExchange> PutPolicy(const std::string& document,
                                                const std::string& bucket = "pol") {
    return Call("PUT", "/" + bucket + "?policy", {}, document);
  }
  std::shared_ptr<http::FakeExchange> As(const std::string& key, const std::string& method,
                                         const std::string& target, std::string body = {}) {
    http::Headers headers;
    headers.Add("Authorization", "fake " + key);
    return Call(method, target, std::move(headers), std::move(body));
  }
};

TEST_F(PolicyOpsTest, PutGetStatusAndDelete) {
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?policy")), "NoSuchBucketPolicy");
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?policyStatus")), "NoSuchBucketPolicy");
  EXPECT_EQ(Call("DELETE", "/pol?policy")->response().status, 204);  // none: still 204

  const std::string grant =
      Policy(Statement("Allow", R"({"AWS": ")" + std::string(kUsers) + R"(alice"})",
                       R"("s3:GetObject")", R"("arn:aws:s3:::pol/*")"));
  auto put = PutPolicy(grant);
  EXPECT_EQ(put->response().status, 204) << put->BodyText();
  auto got = Call("GET", "/pol?policy");
  ASSERT_EQ(got->response().status, 200);
  EXPECT_EQ(got->BodyText(), grant);  // as put
  auto status = Call("GET", "/pol?policyStatus");
  ASSERT_EQ(status->response().status, 200) << status->BodyText();
  EXPECT_STREQ(Xml(status->BodyText()).child("PolicyStatus").child_value("IsPublic"), "false");

  ASSERT_EQ(PutPolicy(Policy(Statement("Allow", R"("*")", R"("s3:GetObject")",
                                       R"("arn:aws:s3:::pol/*")")))
                ->response()
                .status,
            204);
  status = Call("GET", "/pol?policyStatus");
  EXPECT_STREQ(Xml(status->BodyText()).child("PolicyStatus").child_value("IsPublic"), "true");

  EXPECT_EQ(Call("DELETE", "/pol?policy")->response().status, 204);
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?policy")), "NoSuchBucketPolicy");
  for (const char* method : {"GET", "DELETE"}) {
    EXPECT_EQ(ErrorCode(*Call(method, "/none?policy")), "NoSuchBucket") << method;
  }
  EXPECT_EQ(ErrorCode(*PutPolicy(grant, "none")), "NoSuchBucket");
  EXPECT_EQ(ErrorCode(*Call("GET", "/none?policyStatus")), "NoSuchBucket");
}

TEST_F(PolicyOpsTest, DocumentsAreCheckedAsS3ChecksThem) {
  const std::string any = R"("*")";
  const std::string objects = R"("arn:aws:s3:::pol/*")";
  struct Case {
    std::string document;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "the first byte must be '{'"},
      {" " + Policy(Statement("Allow", any, R"("s3:GetObject")", objects)),
       "the first byte must be '{'"},
      {"{\"Statement\": [", "invalid Json"},
      {R"({"Version": "2012-10-17"})", "Missing required field Statement"},
      {R"({"Statement": []})", "Statement is empty"},
      {Policy(R"({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pol/*"})"),
       "Missing required field Principal"},
      {Policy(Statement("Allow", R"({"AWS": ")" + std::string(kUsers) + R"(ghost"})",
                        R"("s3:GetObject")", objects)),
       "Invalid principal in policy"},
      {Policy(Statement("Allow", R"({"AWS": "arn:aws:iam::111122223333:root"})",
                        R"("s3:GetObject")", objects)),
       "Invalid principal in policy"},
      {Policy(Statement("Allow", R"({"AWS": "arn:aws:iam::000000000000:role/r"})",
                        R"("s3:GetObject")", objects)),
       "Invalid principal in policy"},
      {Policy(Statement("Allow", R"({"CanonicalUser": "abc"})", R"("s3:GetObject")", objects)),
       "Invalid principal in policy"},
      {Policy(Statement("Allow", any, R"("s3:GetObject")", R"("arn:aws:s3:::other/*")")),
       "Policy has invalid resource"},
      {Policy(Statement("Allow", any, R"("s3:GetObject")", R"("*")")),
       "Policy has invalid resource"},
      {Policy(Statement("Allow", any, R"("s3:GetObject")", R"("arn:aws:s3:::polish/*")")),
       "Policy has invalid resource"},
      {Policy(Statement("Allow", any, R"("sqs:SendMessage")", objects)),
       "Policy has invalid action"},
      {Policy(Statement("Allow", any, R"("s3:Frobnicate")", objects)), "Policy has invalid action"},
      {Policy(Statement("Allow", any, R"("s3:GetObject")", R"("arn:aws:s3:::pol")")),
       "Action does not apply to any resource(s) in statement"},
      {Policy(Statement("Allow", any, R"(["s3:ListBucket", "s3:GetObject"])", objects)),
       "Action does not apply to any resource(s) in statement"},
      {Policy(Statement("Allow", any, R"("s3:ListAllMyBuckets")", R"("arn:aws:s3:::pol")")),
       "Action does not apply to any resource(s) in statement"},
      {Policy(Statement("Allow", any, R"("s3:GetObject")", objects,
                        R"(, "Condition": {"StringSounds": {"s3:prefix": "a"}})")),
       "unknown condition operator"},
      {Policy(Statement("Allow", any, R"("s3:GetObject")", objects,
                        ", \"Sid\": \"" + std::string(21000, 'x') + "\"")),
       "must not exceed 20480 bytes"},
  };
  for (const Case& c : cases) {
    auto put = PutPolicy(c.document);
    EXPECT_EQ(put->response().status, 400) << c.document.substr(0, 300);
    EXPECT_EQ(ErrorCode(*put), "MalformedPolicy") << c.document.substr(0, 300);
    EXPECT_NE(put->BodyText().find(c.message), std::string::npos) << c.message << "\n"
                                                                  << put->BodyText();
    EXPECT_EQ(ErrorCode(*Call("GET", "/pol?policy")), "NoSuchBucketPolicy");  // nothing kept
  }
  // What S3 takes: wildcards that cover an action of the resources named,
  // the account, its root user, its owner's canonical id, a service.
  for (
      const std::string& ok : {
          Policy(Statement("Allow", any, R"("s3:Get*")", R"("arn:aws:s3:::pol")")),
          Policy(
              Statement("Deny", any, R"("s3:*")", R"(["arn:aws:s3:::pol", "arn:aws:s3:::pol/*"])")),
          Policy(Statement("Allow",
                           R"({"AWS": ["000000000000", "arn:aws:iam::000000000000:root"]})",
                           R"("*")", objects)),
          Policy(Statement("Allow", R"({"CanonicalUser": ")" + context_.owner_id + R"("})",
                           R"("s3:PutObject")", objects)),
          Policy(Statement("Allow", R"({"Service": "logging.s3.amazonaws.com"})",
                           R"("s3:PutObject")", objects)),
          Policy(
              R"({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::000000000000:user/alice"},
                     "NotAction": "s3:Get*", "Resource": "arn:aws:s3:::pol/*"})"),
      }) {
    auto put = PutPolicy(ok);
    EXPECT_EQ(put->response().status, 204) << ok << "\n" << put->BodyText();
  }
}

TEST_F(PolicyOpsTest, APolicyGrantsUsersWhatTheirKeysDoNot) {
  Put("pol", "photo.jpg", "pixels");
  Put("other", "photo.jpg", "pixels");
  EXPECT_EQ(ErrorCode(*As("nobody", "GET", "/pol/photo.jpg")), "AccessDenied");
  ASSERT_EQ(
      PutPolicy(Policy(Statement("Allow", R"({"AWS": ")" + std::string(kUsers) + R"(nobody"})",
                                 R"("s3:GetObject")", R"("arn:aws:s3:::pol/*")")))
          ->response()
          .status,
      204);
  auto got = As("nobody", "GET", "/pol/photo.jpg");
  EXPECT_EQ(got->response().status, 200);
  EXPECT_EQ(got->BodyText(), "pixels");
  EXPECT_EQ(ErrorCode(*As("nobody", "PUT", "/pol/new.jpg", "x")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("nobody", "GET", "/other/photo.jpg")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("alice", "GET", "/pol/photo.jpg")), "AccessDenied");  // not named
  // A missing key: the caller may not list the bucket, so AccessDenied.
  EXPECT_EQ(ErrorCode(*As("nobody", "GET", "/pol/missing.jpg")), "AccessDenied");
}

TEST_F(PolicyOpsTest, ADenyRefusesEvenTheRootUserButNotOverItsPolicy) {
  Put("pol", "keep/a.jpg", "a");
  Put("pol", "tmp/a.jpg", "a");
  ASSERT_EQ(
      PutPolicy(Policy(Statement("Deny", R"("*")", R"("s3:DeleteObject")",
                                 R"("arn:aws:s3:::pol/keep/*")") +
                       "," +
                       Statement("Deny", R"("*")", R"("s3:*")", R"("arn:aws:s3:::pol")",
                                 R"(, "Condition": {"Bool": {"aws:SecureTransport": false}})")))
          ->response()
          .status,
      204);
  EXPECT_EQ(ErrorCode(*Call("DELETE", "/pol/keep/a.jpg")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("bob", "DELETE", "/pol/keep/a.jpg")), "AccessDenied");
  EXPECT_EQ(Call("DELETE", "/pol/tmp/a.jpg")->response().status, 204);
  // Plain HTTP (the fake peer's): every bucket-level request is refused ...
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?list-type=2")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?policyStatus")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("alice", "GET", "/pol?policy")), "AccessDenied");
  // ... except that the account's root user may still read, replace and
  // remove the policy, as on S3.
  EXPECT_EQ(Call("GET", "/pol?policy")->response().status, 200);
  EXPECT_EQ(Call("DELETE", "/pol?policy")->response().status, 204);
  EXPECT_EQ(Call("GET", "/pol?list-type=2")->response().status, 200);
  EXPECT_EQ(Call("DELETE", "/pol/keep/a.jpg")->response().status, 204);
}

// The policy that applies is that of the bucket each check names: a copy's
// source is read under its own bucket's policy.
TEST_F(PolicyOpsTest, ACopysSourceIsReadUnderItsBucketsPolicy) {
  Put("other", "secret.jpg", "s");
  ASSERT_EQ(PutPolicy(Policy(Statement("Deny", R"("*")", R"("s3:GetObject")",
                                       R"("arn:aws:s3:::other/secret.jpg")")),
                      "other")
                ->response()
                .status,
            204);
  http::Headers copy;
  copy.Add("x-amz-copy-source", "/other/secret.jpg");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/pol/copy.jpg", copy)), "AccessDenied");
  EXPECT_EQ(ObjectCount("pol"), 0u);
}

TEST_F(PolicyOpsTest, PrincipalConditionKeys) {
  ASSERT_EQ(
      PutPolicy(Policy(Statement("Deny", R"("*")", R"("s3:PutObject")", R"("arn:aws:s3:::pol/*")",
                                 R"(, "Condition": {"StringNotEquals": {"aws:PrincipalArn": [")" +
                                     std::string(kUsers) +
                                     R"(alice", "arn:aws:iam::000000000000:root"]}})")))
          ->response()
          .status,
      204);
  auth_->Grant("alice", "s3:PutObject", "*");
  auth_->Grant("bob", "s3:PutObject", "*");
  EXPECT_EQ(As("alice", "PUT", "/pol/a.jpg", "a")->response().status, 200);
  EXPECT_EQ(Call("PUT", "/pol/root.jpg", {}, "r")->response().status, 200);
  EXPECT_EQ(ErrorCode(*As("bob", "PUT", "/pol/b.jpg", "b")), "AccessDenied");
}

TEST_F(PolicyOpsTest, ABucketMadeAgainHasNoPolicy) {
  ASSERT_EQ(
      PutPolicy(Policy(Statement("Deny", R"("*")", R"("s3:PutObject")", R"("arn:aws:s3:::pol/*")")))
          ->response()
          .status,
      204);
  EXPECT_EQ(ErrorCode(*Call("PUT", "/pol/k", {}, "x")), "AccessDenied");
  ASSERT_EQ(Call("DELETE", "/pol")->response().status, 204);
  CreateBucket("pol");
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?policy")), "NoSuchBucketPolicy");
  EXPECT_EQ(Call("PUT", "/pol/k", {}, "x")->response().status, 200);
}

TEST_F(PolicyOpsTest, EachOperationNeedsItsOwnAction) {
  const std::string doc =
      Policy(Statement("Allow", R"("*")", R"("s3:GetObject")", R"("arn:aws:s3:::pol/*")"));
  auth_->Grant("alice", "s3:GetBucketPolicy", "arn:aws:s3:::pol");
  EXPECT_EQ(ErrorCode(*As("alice", "GET", "/pol?policy")), "NoSuchBucketPolicy");
  EXPECT_EQ(ErrorCode(*As("alice", "PUT", "/pol?policy", doc)), "AccessDenied");
  auth_->Grant("alice", "s3:PutBucketPolicy", "arn:aws:s3:::pol");
  EXPECT_EQ(As("alice", "PUT", "/pol?policy", doc)->response().status, 204);
  EXPECT_EQ(ErrorCode(*As("alice", "GET", "/pol?policyStatus")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*As("alice", "DELETE", "/pol?policy")), "AccessDenied");
  auth_->Grant("alice", "s3:DeleteBucketPolicy", "arn:aws:s3:::pol");
  EXPECT_EQ(As("alice", "DELETE", "/pol?policy")->response().status, 204);
}

std::string AccessBlock(const std::string& flags) {
  return R"(<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)" +
         flags + "</PublicAccessBlockConfiguration>";
}

TEST_F(PolicyOpsTest, PublicAccessBlockIsKeptAndShown) {
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?publicAccessBlock")),
            "NoSuchPublicAccessBlockConfiguration");
  auto put = Call("PUT", "/pol?publicAccessBlock", {},
                  AccessBlock("<BlockPublicPolicy>true</BlockPublicPolicy>"
                              "<RestrictPublicBuckets>true</RestrictPublicBuckets>"));
  EXPECT_EQ(put->response().status, 200) << put->BodyText();
  auto got = Call("GET", "/pol?publicAccessBlock");
  ASSERT_EQ(got->response().status, 200);
  auto doc = Xml(got->BodyText());
  pugi::xml_node block = doc.child("PublicAccessBlockConfiguration");
  EXPECT_STREQ(block.child_value("BlockPublicAcls"), "false");  // absent: false
  EXPECT_STREQ(block.child_value("IgnorePublicAcls"), "false");
  EXPECT_STREQ(block.child_value("BlockPublicPolicy"), "true");
  EXPECT_STREQ(block.child_value("RestrictPublicBuckets"), "true");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/pol?publicAccessBlock", {},
                            AccessBlock("<BlockPublicAcls>yes</BlockPublicAcls>"))),
            "MalformedXML");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/pol?publicAccessBlock", {}, "<Other/>")), "MalformedXML");
  EXPECT_STREQ(Xml(Call("GET", "/pol?publicAccessBlock")->BodyText())
                   .child("PublicAccessBlockConfiguration")
                   .child_value("BlockPublicPolicy"),
               "true");  // unchanged by the refused ones
  EXPECT_EQ(Call("DELETE", "/pol?publicAccessBlock")->response().status, 204);
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?publicAccessBlock")),
            "NoSuchPublicAccessBlockConfiguration");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/none?publicAccessBlock", {}, AccessBlock(""))),
            "NoSuchBucket");
  auth_->Grant("alice", "s3:GetBucketPublicAccessBlock", "arn:aws:s3:::pol");
  EXPECT_EQ(ErrorCode(*As("alice", "GET", "/pol?publicAccessBlock")),
            "NoSuchPublicAccessBlockConfiguration");
  EXPECT_EQ(ErrorCode(*As("alice", "DELETE", "/pol?publicAccessBlock")), "AccessDenied");
}

TEST_F(PolicyOpsTest, BlockPublicPolicyRefusesOnlyPublicPolicies) {
  ASSERT_EQ(Call("PUT", "/pol?publicAccessBlock", {},
                 AccessBlock("<BlockPublicPolicy>true</BlockPublicPolicy>"))
                ->response()
                .status,
            200);
  const std::string objects = R"("arn:aws:s3:::pol/*")";
  auto refused = PutPolicy(Policy(Statement("Allow", R"("*")", R"("s3:GetObject")", objects)));
  EXPECT_EQ(refused->response().status, 403);
  EXPECT_EQ(ErrorCode(*refused), "AccessDenied");
  EXPECT_NE(refused->BodyText().find("BlockPublicPolicy"), std::string::npos);
  EXPECT_EQ(ErrorCode(*Call("GET", "/pol?policy")), "NoSuchBucketPolicy");
  // Pinned to an address, or to a user, it is not public.
  for (const std::string& ok :
       {Policy(Statement("Allow", R"("*")", R"("s3:GetObject")", objects,
                         R"(, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})")),
        Policy(Statement("Allow", R"({"AWS": ")" + std::string(kUsers) + R"(alice"})",
                         R"("s3:GetObject")", objects)),
        Policy(Statement("Deny", R"("*")", R"("s3:GetObject")", objects))}) {
    EXPECT_EQ(PutPolicy(ok)->response().status, 204) << ok;
  }
}

TEST_F(PolicyOpsTest, BlockPublicAclsRefusesWritesThatGrantThePublic) {
  http::Headers public_read, granted, private_acl;
  public_read.Add("x-amz-acl", "public-read");
  granted.Add("x-amz-grant-read", "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"");
  private_acl.Add("x-amz-acl", "private");
  // ACLs are disabled: a public one is refused anyway, with AccessDenied once
  // the block is on.
  EXPECT_EQ(ErrorCode(*Call("PUT", "/pol/before.jpg", public_read, "x")),
            "AccessControlListNotSupported");
  ASSERT_EQ(Call("PUT", "/pol?publicAccessBlock", {},
                 AccessBlock("<BlockPublicAcls>true</BlockPublicAcls>"))
                ->response()
                .status,
            200);
  EXPECT_EQ(ErrorCode(*Call("PUT", "/pol/a.jpg", public_read, "x")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/pol/b.jpg", granted, "x")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("POST", "/pol/c.jpg?uploads", public_read)), "AccessDenied");
  EXPECT_EQ(Call("PUT", "/pol/d.jpg", private_acl, "x")->response().status, 200);
  EXPECT_EQ(ErrorCode(*Call("PUT", "/other/e.jpg", public_read, "x")),
            "AccessControlListNotSupported");
  EXPECT_EQ(ObjectCount("pol"), 1u);  // d.jpg
}

TEST(BucketPolicyActions, WildcardsCoverTheKindsOfTheActionsTheyMatch) {
  EXPECT_EQ(ActionResourceKinds("s3:GetObject"), kObjectResource);
  EXPECT_EQ(ActionResourceKinds("s3:listbucket"), kBucketResource);
  EXPECT_EQ(ActionResourceKinds("s3:Get*"), kObjectResource | kBucketResource | kAccountResource);
  EXPECT_EQ(ActionResourceKinds("s3:*Object"), kObjectResource);
  EXPECT_EQ(ActionResourceKinds("s3:ListAllMyBuckets"), kAccountResource);
  EXPECT_EQ(ActionResourceKinds("s3:Nothing*"), 0u);
  EXPECT_EQ(ActionResourceKinds("ec2:*"), 0u);
}

}  // namespace
}  // namespace imgbatch::s3::testing
