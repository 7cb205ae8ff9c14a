// ACLs through the handler: disabled, as on an S3 bucket with
// BucketOwnerEnforced. PUT ?acl and the ACL headers of writes accept the
// owner's own grants (changing nothing) and refuse the rest.
#include <string>

#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

constexpr char kAllUsers[] = "http://acs.amazonaws.com/groups/global/AllUsers";

class AclOpsTest : public S3Fixture {
 protected:
  void SetUp() override {
    CreateBucket("acl");
    Put("acl", "k.jpg", "body");
  }

  std::string OwnerGrant() const {
    return R"(<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" )"
           R"(xsi:type="CanonicalUser"><ID>)" +
           context_.owner_id + "</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>";
  }
  static std::string PublicGrant() {
    return R"(<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" )"
           R"(xsi:type="Group"><URI>)" +
           std::string(kAllUsers) + "</URI></Grantee><Permission>READ</Permission></Grant>";
  }
  std::string Document(const std::string& grants) const {
    return "<AccessControlPolicy><Owner><ID>" + context_.owner_id +
           "</ID></Owner><AccessControlList>" + grants +
           "</AccessControlList></AccessControlPolicy>";
  }
  static http::Headers Acl(const std::string& canned) {
    http::Headers headers;
    headers.Add("x-amz-acl", canned);
    return headers;
  }
  // GET ?acl still shows the owner's FULL_CONTROL alone.
  void ExpectOwnerOnly(const std::string& target) {
    auto doc = Xml(Call("GET", target)->BodyText());
    auto grant = doc.child("AccessControlPolicy").child("AccessControlList").child("Grant");
    EXPECT_EQ(std::string(grant.child("Grantee").child_value("ID")), context_.owner_id) << target;
    EXPECT_FALSE(grant.next_sibling("Grant")) << target;
  }
};

TEST_F(AclOpsTest, PutAclAcceptsTheOwnersOwnGrants) {
  for (const char* target : {"/acl?acl", "/acl/k.jpg?acl"}) {
    for (const char* canned : {"private", "bucket-owner-full-control"}) {
      auto ex = Call("PUT", target, Acl(canned));
      EXPECT_EQ(ex->response().status, 200) << target << " " << canned << ex->BodyText();
    }
    auto by_document = Call("PUT", target, {}, Document(OwnerGrant()));
    EXPECT_EQ(by_document->response().status, 200) << target << by_document->BodyText();
    http::Headers grant;
    grant.Add("x-amz-grant-full-control", "id=\"" + context_.owner_id + "\"");
    EXPECT_EQ(Call("PUT", target, grant)->response().status, 200) << target;
    ExpectOwnerOnly(target);
  }
}

TEST_F(AclOpsTest, PutAclRefusesGrantsToAnybodyElse) {
  for (const char* target : {"/acl?acl", "/acl/k.jpg?acl"}) {
    for (const char* canned : {"public-read", "authenticated-read", "log-delivery-write"}) {
      auto ex = Call("PUT", target, Acl(canned));
      EXPECT_EQ(ex->response().status, 400) << target << " " << canned;
      EXPECT_EQ(ErrorCode(*ex), "AccessControlListNotSupported") << target << " " << canned;
    }
    EXPECT_EQ(ErrorCode(*Call("PUT", target, {}, Document(OwnerGrant() + PublicGrant()))),
              "AccessControlListNotSupported")
        << target;
    ExpectOwnerOnly(target);
  }
}

TEST_F(AclOpsTest, PutAclErrors) {
  EXPECT_EQ(ErrorCode(*Call("PUT", "/none?acl", Acl("private"))), "NoSuchBucket");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl/absent.jpg?acl", Acl("private"))), "NoSuchKey");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl/k.jpg?acl&versionId=v1", Acl("private"))),
            "InvalidArgument");  // only "null" names an object, as GetObjectAcl says
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl?acl")), "MalformedACLError");  // no ACL at all
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl?acl", {}, "<AccessControlPolicy>")), "MalformedACLError");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl?acl", Acl("private"), Document(OwnerGrant()))),
            "UnexpectedContent");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl?acl", Acl("everyone"))), "InvalidArgument");
}

TEST_F(AclOpsTest, WritesMayNameOnlyTheOwnersAcl) {
  EXPECT_EQ(Call("PUT", "/acl/private.jpg", Acl("private"), "x")->response().status, 200);
  EXPECT_EQ(Call("PUT", "/acl/full.jpg", Acl("bucket-owner-full-control"), "x")->response().status,
            200);
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl/public.jpg", Acl("public-read"), "x")),
            "AccessControlListNotSupported");
  http::Headers copy = Acl("public-read");
  copy.Add("x-amz-copy-source", "/acl/k.jpg");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl/copy.jpg", copy)), "AccessControlListNotSupported");
  EXPECT_EQ(ErrorCode(*Call("POST", "/acl/up.jpg?uploads", Acl("aws-exec-read"))),
            "AccessControlListNotSupported");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl/bad.jpg", Acl("nonsense"), "x")), "InvalidArgument");
  // A missing bucket is reported as such, whatever the ACL.
  EXPECT_EQ(ErrorCode(*Call("PUT", "/none/public.jpg", Acl("public-read"), "x")), "NoSuchBucket");
  EXPECT_EQ(ObjectCount("acl"), 3u);  // k.jpg, private.jpg, full.jpg
}

TEST_F(AclOpsTest, CreateBucketWithAnAclOrOwnershipThatEnablesAcls) {
  EXPECT_EQ(Call("PUT", "/made-private", Acl("private"))->response().status, 200);
  EXPECT_EQ(ErrorCode(*Call("PUT", "/made-public", Acl("public-read"))),
            "InvalidBucketAclWithObjectOwnership");
  http::Headers writer;
  writer.Add("x-amz-object-ownership", "ObjectWriter");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/made-writer", writer)), "NotImplemented");
  http::Headers bogus;
  bogus.Add("x-amz-object-ownership", "Anyone");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/made-bogus", bogus)), "InvalidArgument");
  http::Headers enforced;
  enforced.Add("x-amz-object-ownership", "BucketOwnerEnforced");
  EXPECT_EQ(Call("PUT", "/made-enforced", enforced)->response().status, 200);
  EXPECT_EQ(Call("HEAD", "/made-public")->response().status, 404);
  EXPECT_EQ(Call("HEAD", "/made-writer")->response().status, 404);
}

TEST_F(AclOpsTest, PutAclNeedsItsOwnPermission) {
  auth_->Grant("alice", "s3:PutObject", "*");
  http::Headers headers = Acl("private");
  headers.Add("Authorization", "fake alice");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl/k.jpg?acl", headers)), "AccessDenied");
  auth_->Grant("alice", "s3:PutObjectAcl", "arn:aws:s3:::acl/*");
  EXPECT_EQ(Call("PUT", "/acl/k.jpg?acl", headers)->response().status, 200);
  EXPECT_EQ(ErrorCode(*Call("PUT", "/acl?acl", headers)), "AccessDenied");
}

}  // namespace
}  // namespace imgbatch::s3::testing
