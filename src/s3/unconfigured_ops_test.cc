// GET of bucket sub-resources nothing is configured for, and GetObjectAcl:
// S3's answers for such a bucket.
#include <string>
#include <utility>
#include <vector>

#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

class UnconfiguredOpsTest : public S3Fixture {
 protected:
  void SetUp() override { CreateBucket("plain"); }
};

TEST_F(UnconfiguredOpsTest, AbsentConfigurationsAreS3sNotFoundErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"website", "NoSuchWebsiteConfiguration"},
      {"encryption", "ServerSideEncryptionConfigurationNotFoundError"},
      {"replication", "ReplicationConfigurationNotFoundError"},
      {"object-lock", "ObjectLockConfigurationNotFoundError"},
  };
  for (const auto& [subresource, code] : cases) {
    auto ex = Call("GET", "/plain?" + subresource);
    EXPECT_EQ(ex->response().status, 404) << subresource;
    EXPECT_EQ(ErrorCode(*ex), code) << subresource;
    EXPECT_EQ(ErrorCode(*Call("GET", "/missing?" + subresource)), "NoSuchBucket") << subresource;
    // Setting them is still not served.
    EXPECT_EQ(ErrorCode(*Call("PUT", "/plain?" + subresource, {}, "<x/>")), "NotImplemented")
        << subresource;
  }
}

TEST_F(UnconfiguredOpsTest, DefaultDocuments) {
  auto ownership = Xml(Call("GET", "/plain?ownershipControls")->BodyText());
  EXPECT_EQ(std::string(
                ownership.child("OwnershipControls").child("Rule").child_value("ObjectOwnership")),
            "BucketOwnerEnforced");
  auto logging = Call("GET", "/plain?logging");
  ASSERT_EQ(logging->response().status, 200);
  auto logging_doc = Xml(logging->BodyText());
  ASSERT_TRUE(logging_doc.child("BucketLoggingStatus"));
  EXPECT_FALSE(logging_doc.child("BucketLoggingStatus").first_child());
  auto payment = Xml(Call("GET", "/plain?requestPayment")->BodyText());
  EXPECT_EQ(std::string(payment.child("RequestPaymentConfiguration").child_value("Payer")),
            "BucketOwner");
  auto accelerate = Xml(Call("GET", "/plain?accelerate")->BodyText());
  ASSERT_TRUE(accelerate.child("AccelerateConfiguration"));
  EXPECT_FALSE(accelerate.child("AccelerateConfiguration").child("Status"));
}

TEST_F(UnconfiguredOpsTest, AclsAreTheOwnersFullControl) {
  Put("plain", "k", "body");
  for (const char* target : {"/plain?acl", "/plain/k?acl"}) {
    auto ex = Call("GET", target);
    ASSERT_EQ(ex->response().status, 200) << target << ex->BodyText();
    auto doc = Xml(ex->BodyText());
    auto policy = doc.child("AccessControlPolicy");
    EXPECT_EQ(std::string(policy.child("Owner").child_value("ID")), context_.owner_id);
    auto grant = policy.child("AccessControlList").child("Grant");
    EXPECT_EQ(std::string(grant.child_value("Permission")), "FULL_CONTROL") << target;
    EXPECT_EQ(std::string(grant.child("Grantee").attribute("xsi:type").value()), "CanonicalUser");
    EXPECT_EQ(std::string(grant.child("Grantee").child_value("ID")), context_.owner_id);
    EXPECT_FALSE(grant.next_sibling("Grant"));
  }
  EXPECT_EQ(ErrorCode(*Call("GET", "/plain/absent?acl")), "NoSuchKey");
  // Setting them is acl_ops_test.cc's.
}

TEST_F(UnconfiguredOpsTest, EachNeedsItsOwnAction) {
  Put("plain", "k", "body");
  http::Headers as_user;
  as_user.Add("Authorization", "fake user");
  auth_->Grant("user", "s3:GetBucketAcl", "arn:aws:s3:::plain");
  EXPECT_EQ(Call("GET", "/plain?acl", as_user)->response().status, 200);
  EXPECT_EQ(ErrorCode(*Call("GET", "/plain?website", as_user)), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("GET", "/plain/k?acl", as_user)), "AccessDenied");
  auth_->Grant("user", "s3:GetBucketWebsite", "arn:aws:s3:::plain");
  EXPECT_EQ(ErrorCode(*Call("GET", "/plain?website", as_user)), "NoSuchWebsiteConfiguration");
  auth_->Grant("user", "s3:GetObjectAcl", "arn:aws:s3:::plain/*");
  EXPECT_EQ(Call("GET", "/plain/k?acl", as_user)->response().status, 200);
}

}  // namespace
}  // namespace imgbatch::s3::testing
