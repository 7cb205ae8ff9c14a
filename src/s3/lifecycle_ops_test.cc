// Bucket lifecycle through the handler: the ?lifecycle operations, the forms
// of the document S3 takes and gives back, and the x-amz-expiration /
// x-amz-abort-date headers.
#include <string>

#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

std::string Lifecycle(const std::string& rules) {
  return "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + rules +
         "</LifecycleConfiguration>";
}

std::string Rule(const std::string& inner) { return "<Rule>" + inner + "</Rule>"; }

const std::string kExpireTmp = Rule(
    "<ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status>"
    "<Expiration><Days>1</Days></Expiration>");

class LifecycleOpsTest : public S3Fixture {
 protected:
  void SetUp() override { CreateBucket("lcy"); }

  std::shared_ptr<http::FakeExchange> PutLifecycle(const std::string& rules,
                                                   http::Headers headers = {}) {
    return Call("PUT", "/lcy?lifecycle", std::move(headers), Lifecycle(rules));
  }
  std::string PutError(const std::string& rules) { return ErrorCode(*PutLifecycle(rules)); }
};

TEST_F(LifecycleOpsTest, PutGetAndDelete) {
  auto none = Call("GET", "/lcy?lifecycle");
  EXPECT_EQ(none->response().status, 404);
  EXPECT_EQ(ErrorCode(*none), "NoSuchLifecycleConfiguration");
  EXPECT_EQ(Call("DELETE", "/lcy?lifecycle")->response().status, 204);  // none: still 204

  auto put = PutLifecycle(kExpireTmp);
  EXPECT_EQ(put->response().status, 200) << put->BodyText();
  auto got = Call("GET", "/lcy?lifecycle");
  ASSERT_EQ(got->response().status, 200) << got->BodyText();
  auto doc = Xml(got->BodyText());
  pugi::xml_node rule = doc.child("LifecycleConfiguration").child("Rule");
  EXPECT_STREQ(rule.child_value("ID"), "tmp");
  EXPECT_STREQ(rule.child("Filter").child_value("Prefix"), "tmp/");
  EXPECT_STREQ(rule.child_value("Status"), "Enabled");
  EXPECT_STREQ(rule.child("Expiration").child_value("Days"), "1");

  EXPECT_EQ(Call("DELETE", "/lcy?lifecycle")->response().status, 204);
  EXPECT_EQ(ErrorCode(*Call("GET", "/lcy?lifecycle")), "NoSuchLifecycleConfiguration");
  EXPECT_EQ(ErrorCode(*Call("GET", "/none?lifecycle")), "NoSuchBucket");
}

// What a rule was put as is what it reads back as: the first API's <Prefix>,
// one condition straight in <Filter>, several in <And>, dates at midnight.
TEST_F(LifecycleOpsTest, EveryFormReadsBackAsItWasPut) {
  const std::string rules =
      Rule(
          "<ID>legacy</ID><Prefix>old/</Prefix><Status>Disabled</Status>"
          "<Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>") +
      Rule(
          "<ID>and</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
          "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter>"
          "<Status>Enabled</Status><Expiration><Days>30</Days></Expiration>"
          "<NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays>"
          "</NoncurrentVersionExpiration>") +
      Rule(
          "<Filter><Tag><Key>stage</Key><Value>done</Value></Tag></Filter>"
          "<Status>Enabled</Status><Expiration><Days>2</Days></Expiration>") +
      Rule(
          "<ID>uploads</ID><Filter/><Status>Enabled</Status>"
          "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"
          "</AbortIncompleteMultipartUpload>");
  auto put = PutLifecycle(rules);
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  auto doc = Xml(Call("GET", "/lcy?lifecycle")->BodyText());
  auto rule = doc.child("LifecycleConfiguration").children("Rule").begin();

  EXPECT_STREQ(rule->child_value("Prefix"), "old/");
  EXPECT_FALSE(rule->child("Filter"));
  EXPECT_STREQ(rule->child_value("Status"), "Disabled");
  EXPECT_STREQ(rule->child("Expiration").child_value("Date"), "2030-01-01T00:00:00.000Z");

  ++rule;
  pugi::xml_node both = rule->child("Filter").child("And");
  EXPECT_STREQ(both.child_value("Prefix"), "p/");
  EXPECT_STREQ(both.child("Tag").child_value("Key"), "k");
  EXPECT_STREQ(both.child_value("ObjectSizeGreaterThan"), "10");
  EXPECT_STREQ(rule->child("NoncurrentVersionExpiration").child_value("NoncurrentDays"), "5");

  ++rule;
  EXPECT_EQ(std::string(rule->child_value("ID")).size(), 48u);  // made up, as S3 does
  EXPECT_STREQ(rule->child("Filter").child("Tag").child_value("Value"), "done");
  EXPECT_FALSE(rule->child("Filter").child("And"));

  ++rule;
  EXPECT_STREQ(rule->child("AbortIncompleteMultipartUpload").child_value("DaysAfterInitiation"),
               "7");
  EXPECT_TRUE(rule->child("Filter"));
}

TEST_F(LifecycleOpsTest, BadDocumentsGetS3sErrorsAndChangeNothing) {
  ASSERT_EQ(PutLifecycle(kExpireTmp)->response().status, 200);
  const std::string expire = "<Expiration><Days>1</Days></Expiration>";
  const std::string filter = "<Filter><Prefix>a/</Prefix></Filter>";
  EXPECT_EQ(PutError(""), "MalformedXML");
  EXPECT_EQ(PutError(Rule(filter + "<Status>enabled</Status>" + expire)), "MalformedXML");
  EXPECT_EQ(PutError(Rule(filter + expire)), "MalformedXML");  // no Status
  EXPECT_EQ(PutError(Rule("<Prefix>a/</Prefix>" + filter + "<Status>Enabled</Status>" + expire)),
            "MalformedXML");
  EXPECT_EQ(PutError(Rule("<Status>Enabled</Status>" + expire)), "MalformedXML");  // no filter
  EXPECT_EQ(PutError(Rule("<Filter><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
                          "</Filter><Status>Enabled</Status>" +
                          expire)),
            "MalformedXML");  // two conditions need <And>
  EXPECT_EQ(PutError(Rule(filter + "<Status>Enabled</Status><Expiration><Days>x</Days>"
                                   "</Expiration>")),
            "MalformedXML");
  EXPECT_EQ(PutError(Rule(filter + "<Status>Enabled</Status><Expiration><Days>0</Days>"
                                   "</Expiration>")),
            "InvalidArgument");
  EXPECT_EQ(PutError(Rule(filter + "<Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:"
                                   "00Z</Date></Expiration>")),
            "InvalidArgument");  // not midnight
  EXPECT_EQ(PutError(Rule(filter + "<Status>Enabled</Status><Expiration><Date>soon</Date>"
                                   "</Expiration>")),
            "InvalidArgument");
  EXPECT_EQ(PutError(Rule("<ID>" + std::string(256, 'i') + "</ID>" + filter +
                          "<Status>Enabled</Status>" + expire)),
            "InvalidArgument");
  EXPECT_EQ(PutError(kExpireTmp + kExpireTmp), "InvalidArgument");  // the same ID twice
  EXPECT_EQ(PutError(Rule(filter + "<Status>Enabled</Status>")), "InvalidRequest");  // no action
  auto transition =
      PutLifecycle(Rule(filter + "<Status>Enabled</Status><Transition><Days>30</Days>"
                                 "<StorageClass>GLACIER</StorageClass></Transition>"));
  EXPECT_EQ(transition->response().status, 501);
  EXPECT_EQ(ErrorCode(*transition), "NotImplemented");
  // A bad transition is still a bad document.
  EXPECT_EQ(PutError(Rule(filter + "<Status>Enabled</Status><Transition><Date>1970-08-23T01:08:47Z"
                                   "</Date><StorageClass>GLACIER</StorageClass></Transition>")),
            "InvalidArgument");
  auto doc = Xml(Call("GET", "/lcy?lifecycle")->BodyText());
  EXPECT_STREQ(doc.child("LifecycleConfiguration").child("Rule").child_value("ID"), "tmp");
}

TEST_F(LifecycleOpsTest, ResponsesSayWhenARuleWillAct) {
  ASSERT_EQ(
      PutLifecycle(kExpireTmp + Rule("<ID>stale-uploads</ID><Filter><Prefix>tmp/</Prefix></Filter>"
                                     "<Status>Enabled</Status><AbortIncompleteMultipartUpload>"
                                     "<DaysAfterInitiation>3</DaysAfterInitiation>"
                                     "</AbortIncompleteMultipartUpload>"))
          ->response()
          .status,
      200);
  // The fixture's clock reads 2023-11-14T22:13:20Z: one day on, the next midnight.
  const std::string expected = "expiry-date=\"Thu, 16 Nov 2023 00:00:00 GMT\", rule-id=\"tmp\"";
  auto put = Call("PUT", "/lcy/tmp/a", {}, "body");
  EXPECT_EQ(Header(*put, "x-amz-expiration"), expected);
  EXPECT_EQ(Header(*Call("HEAD", "/lcy/tmp/a"), "x-amz-expiration"), expected);
  EXPECT_EQ(Header(*Call("GET", "/lcy/tmp/a"), "x-amz-expiration"), expected);
  Put("lcy", "keep/a", "body");
  EXPECT_EQ(Header(*Call("HEAD", "/lcy/keep/a"), "x-amz-expiration"), "");

  auto upload = Call("POST", "/lcy/tmp/big?uploads");
  EXPECT_EQ(Header(*upload, "x-amz-abort-date"), "Sat, 18 Nov 2023 00:00:00 GMT");
  EXPECT_EQ(Header(*upload, "x-amz-abort-rule-id"), "stale-uploads");
  EXPECT_EQ(Header(*Call("POST", "/lcy/keep/big?uploads"), "x-amz-abort-date"), "");

  ASSERT_EQ(Call("DELETE", "/lcy?lifecycle")->response().status, 204);
  EXPECT_EQ(Header(*Call("HEAD", "/lcy/tmp/a"), "x-amz-expiration"), "");
}

// DeleteBucketLifecycle has no action of its own: it is s3:PutLifecycleConfiguration.
TEST_F(LifecycleOpsTest, LifecycleNeedsTheLifecycleActions) {
  http::Headers as_user;
  as_user.Add("Authorization", "fake user");
  auth_->Grant("user", "s3:PutObject", "arn:aws:s3:::lcy/*");
  EXPECT_EQ(ErrorCode(*PutLifecycle(kExpireTmp, as_user)), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("GET", "/lcy?lifecycle", as_user)), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("DELETE", "/lcy?lifecycle", as_user)), "AccessDenied");
  auth_->Grant("user", "s3:PutLifecycleConfiguration", "arn:aws:s3:::lcy");
  EXPECT_EQ(PutLifecycle(kExpireTmp, as_user)->response().status, 200);
  EXPECT_EQ(ErrorCode(*Call("GET", "/lcy?lifecycle", as_user)), "AccessDenied");
  auth_->Grant("user", "s3:GetLifecycleConfiguration", "arn:aws:s3:::lcy");
  EXPECT_EQ(Call("GET", "/lcy?lifecycle", as_user)->response().status, 200);
  EXPECT_EQ(Call("DELETE", "/lcy?lifecycle", as_user)->response().status, 204);
}

}  // namespace
}  // namespace imgbatch::s3::testing
