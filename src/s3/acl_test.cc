// Whom an ACL reaches, from the x-amz-acl / x-amz-grant-* headers and from
// an AccessControlPolicy document (acl.h, request_xml.h).
#include "s3/acl.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "s3/errors.h"
#include "s3/request_xml.h"

namespace imgbatch::s3 {
namespace {

const std::vector<std::string_view> kOwner = {"owner-id", "000000000000"};
constexpr char kAllUsers[] = "http://acs.amazonaws.com/groups/global/AllUsers";

Result<std::optional<AclReach>> Reach(std::vector<std::pair<std::string, std::string>> headers) {
  http::Headers h;
  for (auto& [name, value] : headers) h.Add(name, value);
  return HeaderAclReach(h, kOwner);
}

std::string Code(const Status& status) { return ToS3Error(status).code; }

TEST(HeaderAcl, NoneNamedIsNullopt) {
  auto reach = Reach({{"content-type", "image/jpeg"}});
  ASSERT_TRUE(reach.ok());
  EXPECT_FALSE(reach->has_value());
}

TEST(HeaderAcl, CannedAclsByWhomTheyReach) {
  for (const char* owner :
       {"private", "bucket-owner-full-control", "bucket-owner-read", " Private "}) {
    EXPECT_EQ(**Reach({{"x-amz-acl", owner}}), AclReach::kOwner) << owner;
  }
  for (const char* everyone : {"public-read", "public-read-write", "authenticated-read"}) {
    EXPECT_EQ(**Reach({{"x-amz-acl", everyone}}), AclReach::kPublic) << everyone;
  }
  for (const char* others : {"aws-exec-read", "log-delivery-write"}) {
    EXPECT_EQ(**Reach({{"x-amz-acl", others}}), AclReach::kOthers) << others;
  }
  auto unknown = Reach({{"x-amz-acl", "world-writable"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(Code(unknown.status()), "InvalidArgument");
}

TEST(HeaderAcl, GrantsReachTheirWidestGrantee) {
  EXPECT_EQ(**Reach({{"x-amz-grant-full-control", R"(id="owner-id")"}}), AclReach::kOwner);
  EXPECT_EQ(**Reach({{"x-amz-grant-read", "id=000000000000"}}), AclReach::kOwner);
  EXPECT_EQ(**Reach({{"x-amz-grant-full-control", R"(id="owner-id")"},
                     {"x-amz-grant-read", R"(id="someone-else")"}}),
            AclReach::kOthers);
  EXPECT_EQ(**Reach({{"x-amz-grant-write", R"(emailAddress="a@example.com")"}}), AclReach::kOthers);
  EXPECT_EQ(
      **Reach({{"x-amz-grant-read", R"(uri="http://acs.amazonaws.com/groups/s3/LogDelivery")"}}),
      AclReach::kOthers);
  EXPECT_EQ(
      **Reach({{"x-amz-grant-read", std::string(R"(id="owner-id", uri=")") + kAllUsers + "\""}}),
      AclReach::kPublic);
  EXPECT_EQ(**Reach({{"x-amz-grant-read-acp",
                      R"(uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers")"}}),
            AclReach::kPublic);
}

TEST(HeaderAcl, MalformedGrantsAndMixedFormsAreRefused) {
  for (const char* bad : {"", "owner-id", R"(id="")", R"(nick="x")", R"(id="a",)", R"(id="a"b")"}) {
    auto reach = Reach({{"x-amz-grant-read", bad}});
    ASSERT_FALSE(reach.ok()) << bad;
    EXPECT_EQ(Code(reach.status()), "InvalidArgument") << bad;
  }
  auto both = Reach({{"x-amz-acl", "private"}, {"x-amz-grant-read", R"(id="owner-id")"}});
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(Code(both.status()), "InvalidRequest");
}

std::string Grant(const std::string& grantee, const std::string& permission = "FULL_CONTROL") {
  return "<Grant>" + grantee + "<Permission>" + permission + "</Permission></Grant>";
}
std::string Document(const std::string& grants) {
  return R"(<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
         "<Owner><ID>owner-id</ID></Owner><AccessControlList>" +
         grants + "</AccessControlList></AccessControlPolicy>";
}
constexpr char kXsi[] = R"(xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance")";
std::string Grantee(const std::string& type, const std::string& inner) {
  return std::string("<Grantee ") + kXsi + " xsi:type=\"" + type + "\">" + inner + "</Grantee>";
}

TEST(AccessControlPolicyXml, GranteesByTheirType) {
  auto owner_only = ParseAccessControlPolicy(
      Document(Grant(Grantee("CanonicalUser", "<ID>owner-id</ID><DisplayName>me</DisplayName>"))));
  ASSERT_TRUE(owner_only.ok()) << owner_only.status().ToString();
  ASSERT_EQ(owner_only->size(), 1u);
  EXPECT_EQ(GranteesReach(*owner_only, kOwner), AclReach::kOwner);

  auto mixed = ParseAccessControlPolicy(Document(
      Grant(Grantee("CanonicalUser", "<ID>owner-id</ID>")) +
      Grant(Grantee("AmazonCustomerByEmail", "<EmailAddress>a@b.c</EmailAddress>"), "READ") +
      Grant(Grantee("Group", std::string("<URI>") + kAllUsers + "</URI>"), "READ")));
  ASSERT_TRUE(mixed.ok());
  ASSERT_EQ(mixed->size(), 3u);
  EXPECT_EQ((*mixed)[1].kind, AclGrantee::Kind::kEmail);
  EXPECT_EQ((*mixed)[2].value, kAllUsers);
  EXPECT_EQ(GranteesReach(*mixed, kOwner), AclReach::kPublic);

  // No xsi:type: the element the grantee carries says what it is.
  auto untyped = ParseAccessControlPolicy(Document(Grant("<Grantee><ID>other</ID></Grantee>")));
  ASSERT_TRUE(untyped.ok());
  EXPECT_EQ(GranteesReach(*untyped, kOwner), AclReach::kOthers);
  // An empty list grants nobody, the owner keeps its control.
  auto empty = ParseAccessControlPolicy(Document(""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(GranteesReach(*empty, kOwner), AclReach::kOwner);
}

TEST(AccessControlPolicyXml, MalformedDocumentsAreMalformedAclError) {
  for (const std::string& bad : {
           std::string("<AccessControlPolicy>"),
           std::string("<Tagging/>"),
           std::string("<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>"),
           Document(Grant(Grantee("CanonicalUser", "<ID>owner-id</ID>"), "EVERYTHING")),
           Document(Grant(Grantee("CanonicalUser", "<URI>x</URI>"))),
           Document(Grant(Grantee("Robot", "<ID>owner-id</ID>"))),
           Document(Grant(Grantee("CanonicalUser", "<ID> </ID>"))),
           Document("<Grant><Permission>READ</Permission></Grant>"),
       }) {
    auto parsed = ParseAccessControlPolicy(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(Code(parsed.status()), "MalformedACLError") << bad;
  }
}

}  // namespace
}  // namespace imgbatch::s3
