// IAM condition evaluation, case by case as IAM's documentation states it.
#include "auth/conditions.h"

#include <gtest/gtest.h>

namespace imgbatch::auth {
namespace {

bool Holds(std::string op, std::string key, std::vector<std::string> values,
           const RequestContext& context) {
  Condition condition{std::move(op), std::move(key), std::move(values)};
  EXPECT_TRUE(ValidateCondition(condition).ok()) << ValidateCondition(condition).ToString();
  return ConditionsHold({condition}, context);
}

TEST(Conditions, StringOperatorsAndTheirValuesOr) {
  RequestContext c;
  c.Set("s3:prefix", "home/alice/photos");
  EXPECT_TRUE(Holds("StringEquals", "s3:prefix", {"x", "home/alice/photos"}, c));
  EXPECT_FALSE(Holds("StringEquals", "s3:prefix", {"HOME/alice/photos"}, c));
  EXPECT_TRUE(Holds("StringEqualsIgnoreCase", "s3:prefix", {"HOME/alice/photos"}, c));
  EXPECT_TRUE(Holds("StringLike", "s3:prefix", {"home/*/photos"}, c));
  EXPECT_TRUE(Holds("StringLike", "s3:prefix", {"home/alic?/*"}, c));
  EXPECT_FALSE(Holds("StringLike", "s3:prefix", {"home/bob/*"}, c));
  // Negated operators: the values NOR together.
  EXPECT_TRUE(Holds("StringNotEquals", "s3:prefix", {"a", "b"}, c));
  EXPECT_FALSE(Holds("StringNotEquals", "s3:prefix", {"a", "home/alice/photos"}, c));
  EXPECT_FALSE(Holds("StringNotLike", "s3:prefix", {"home/*"}, c));
  EXPECT_FALSE(Holds("StringNotEqualsIgnoreCase", "s3:prefix", {"HOME/ALICE/PHOTOS"}, c));
  // Key names are case-insensitive, values are not.
  EXPECT_TRUE(Holds("StringEquals", "S3:Prefix", {"home/alice/photos"}, c));
}

TEST(Conditions, AbsentKeysAreFalseExceptNegatedIfExistsAndNull) {
  RequestContext empty;
  EXPECT_FALSE(Holds("StringEquals", "s3:prefix", {"a"}, empty));
  EXPECT_FALSE(Holds("StringLike", "s3:prefix", {"*"}, empty));
  EXPECT_TRUE(Holds("StringNotEquals", "s3:prefix", {"a"}, empty));
  EXPECT_TRUE(Holds("NotIpAddress", "aws:SourceIp", {"10.0.0.0/8"}, empty));
  EXPECT_TRUE(Holds("StringEqualsIfExists", "s3:prefix", {"a"}, empty));
  EXPECT_TRUE(Holds("Null", "s3:prefix", {"true"}, empty));
  EXPECT_FALSE(Holds("Null", "s3:prefix", {"false"}, empty));
  EXPECT_TRUE(Holds("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", {"a"}, empty));
  EXPECT_FALSE(Holds("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", {"a"}, empty));
  RequestContext c;
  c.Set("s3:prefix", "b");
  EXPECT_FALSE(Holds("StringEqualsIfExists", "s3:prefix", {"a"}, c));  // present: checked
  EXPECT_FALSE(Holds("Null", "s3:prefix", {"true"}, c));
}

TEST(Conditions, ForAnyValueAndForAllValuesOverMultivaluedKeys) {
  RequestContext c;
  c.Set("s3:RequestObjectTagKeys", std::vector<std::string>{"stage", "team"});
  EXPECT_TRUE(
      Holds("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", {"stage", "team", "cost"}, c));
  EXPECT_FALSE(Holds("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", {"stage"}, c));
  EXPECT_TRUE(Holds("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", {"team"}, c));
  EXPECT_FALSE(Holds("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", {"cost"}, c));
  // ForAnyValue with a negated operator: some value matches none of the policy's.
  EXPECT_TRUE(Holds("ForAnyValue:StringNotEquals", "s3:RequestObjectTagKeys", {"stage"}, c));
  EXPECT_FALSE(Holds("ForAllValues:StringNotEquals", "s3:RequestObjectTagKeys", {"stage"}, c));
}

TEST(Conditions, NumbersDatesAndBooleans) {
  RequestContext c;
  c.Set("s3:max-keys", "100");
  c.Set("aws:CurrentTime", "2026-11-30T12:00:00Z");
  c.Set("aws:EpochTime", "1796040000");
  c.Set("aws:SecureTransport", "false");
  EXPECT_TRUE(Holds("NumericLessThanEquals", "s3:max-keys", {"100"}, c));
  EXPECT_FALSE(Holds("NumericLessThan", "s3:max-keys", {"100"}, c));
  EXPECT_TRUE(Holds("NumericGreaterThan", "s3:max-keys", {"99.5"}, c));
  EXPECT_TRUE(Holds("NumericNotEquals", "s3:max-keys", {"10"}, c));
  EXPECT_TRUE(Holds("DateLessThan", "aws:CurrentTime", {"2026-12-01T00:00:00Z"}, c));
  EXPECT_TRUE(Holds("DateLessThan", "aws:CurrentTime", {"2026-12-01"}, c));  // its midnight
  EXPECT_FALSE(Holds("DateGreaterThan", "aws:CurrentTime", {"2026-12-01T00:00:00Z"}, c));
  EXPECT_TRUE(Holds("DateGreaterThanEquals", "aws:EpochTime", {"2026-11-30T12:00:00Z"}, c));
  EXPECT_TRUE(Holds("DateEquals", "aws:CurrentTime", {"1796040000"}, c));  // epoch seconds
  EXPECT_TRUE(Holds("Bool", "aws:SecureTransport", {"false"}, c));
  EXPECT_FALSE(Holds("Bool", "aws:SecureTransport", {"true"}, c));
  // Epoch seconds too far out to be a date are refused (they would overflow).
  EXPECT_FALSE(ValidateCondition({"DateLessThan", "aws:EpochTime", {"6148914691236517172"}}).ok());
  c.Set("aws:EpochTime", "-6148914691236517172");
  EXPECT_FALSE(Holds("DateLessThan", "aws:EpochTime", {"2026-01-01"}, c));
  c.Set("s3:max-keys", "many");  // a request value that is no number matches nothing
  EXPECT_FALSE(Holds("NumericLessThan", "s3:max-keys", {"100"}, c));
}

TEST(Conditions, AddressesInCidrBlocks) {
  RequestContext v4, mapped, v6;
  v4.Set("aws:SourceIp", "192.168.1.77");
  mapped.Set("aws:SourceIp", "::ffff:192.168.1.77");
  v6.Set("aws:SourceIp", "2001:db8::1");
  for (const RequestContext* c : {&v4, &mapped}) {
    EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"192.168.1.0/24"}, *c));
    EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"10.0.0.0/8", "192.168.0.0/17"}, *c));
    EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"192.168.1.64/29"}, *c));  // .64-.71
    EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"192.168.1.77"}, *c));
    EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"0.0.0.0/0"}, *c));
    EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"2001:db8::/32"}, *c));
    EXPECT_TRUE(Holds("NotIpAddress", "aws:SourceIp", {"10.0.0.0/8"}, *c));
  }
  EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"2001:db8::/32"}, v6));
  EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"2001:db9::/32"}, v6));
  EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"0.0.0.0/0"}, v6));
}

TEST(Conditions, EveryConditionMustHold) {
  RequestContext c;
  c.Set("s3:prefix", "home/a/");
  c.Set("aws:SecureTransport", "true");
  std::vector<Condition> both = {{"StringLike", "s3:prefix", {"home/a/*"}},
                                 {"Bool", "aws:SecureTransport", {"true"}}};
  EXPECT_TRUE(ConditionsHold(both, c));
  both[1].values = {"false"};
  EXPECT_FALSE(ConditionsHold(both, c));
  EXPECT_TRUE(ConditionsHold({}, c));
}

// Costly keys are looked up only when a condition names them, once.
TEST(Conditions, TheResolverIsAskedOnlyForKeysNamedAndOnlyOnce) {
  RequestContext c;
  int calls = 0;
  c.SetResolver([&](std::string_view key) -> std::optional<std::vector<std::string>> {
    ++calls;
    if (key == "s3:existingobjecttag/stage") return std::vector<std::string>{"done"};
    return std::nullopt;
  });
  c.Set("s3:prefix", "p");
  EXPECT_TRUE(Holds("StringEquals", "s3:prefix", {"p"}, c));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(Holds("StringEquals", "s3:ExistingObjectTag/stage", {"done"}, c));
  EXPECT_TRUE(Holds("StringEquals", "s3:ExistingObjectTag/Stage", {"done"}, c));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(Holds("StringEquals", "s3:ExistingObjectTag/team", {"a"}, c));
  EXPECT_EQ(calls, 2);
}

TEST(Conditions, GlobalKeys) {
  RequestContext c;
  c.SetGlobals({"127.0.0.1", false, 1'796'040'000'123, "aws-cli/2.9", std::nullopt});
  EXPECT_EQ(c.Find("aws:SourceIp"), std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(c.Find("aws:SecureTransport"), std::vector<std::string>{"false"});
  EXPECT_EQ(c.Find("aws:CurrentTime"), std::vector<std::string>{"2026-11-30T12:00:00Z"});
  EXPECT_EQ(c.Find("aws:EpochTime"), std::vector<std::string>{"1796040000"});
  EXPECT_EQ(c.Find("aws:UserAgent"), std::vector<std::string>{"aws-cli/2.9"});
  EXPECT_EQ(c.Find("aws:Referer"), std::nullopt);
}

TEST(Conditions, PrincipalKeys) {
  RequestContext c;
  c.SetGlobals({"127.0.0.1", false, 0, std::nullopt, std::nullopt});
  EXPECT_EQ(c.Find("aws:PrincipalArn"), std::nullopt);  // not verified yet
  c.SetPrincipal(PrincipalIdentity::User("000000000000", "alice"));
  EXPECT_EQ(c.Find("aws:PrincipalArn"),
            std::vector<std::string>{"arn:aws:iam::000000000000:user/alice"});
  EXPECT_EQ(c.Find("aws:principalaccount"), std::vector<std::string>{"000000000000"});
  EXPECT_EQ(c.Find("aws:PrincipalType"), std::vector<std::string>{"User"});
  EXPECT_EQ(c.Find("aws:username"), std::vector<std::string>{"alice"});
  EXPECT_EQ(c.Find("aws:SourceIp"), std::vector<std::string>{"127.0.0.1"});
  c.SetPrincipal(PrincipalIdentity::Root("000000000000"));
  EXPECT_EQ(c.Find("aws:PrincipalArn"), std::vector<std::string>{"arn:aws:iam::000000000000:root"});
  EXPECT_EQ(c.Find("aws:PrincipalType"), std::vector<std::string>{"Account"});
  EXPECT_EQ(c.Find("aws:username"), std::nullopt);  // the root user has none, as in IAM
  EXPECT_TRUE(Holds("StringNotEquals", "aws:username", {"alice"}, c));
}

}  // namespace
}  // namespace imgbatch::auth
