#include "auth/policy.h"

#include <gtest/gtest.h>

#include <thread>

namespace imgbatch::auth {
namespace {

TEST(WildcardMatch, StarAndQuestionMark) {
  EXPECT_TRUE(WildcardMatch("*", ""));
  EXPECT_TRUE(WildcardMatch("*", "anything/at:all"));
  EXPECT_TRUE(WildcardMatch("s3:Get*", "s3:GetObject"));
  EXPECT_FALSE(WildcardMatch("s3:Get*", "s3:PutObject"));
  EXPECT_TRUE(WildcardMatch("arn:aws:s3:::in/*", "arn:aws:s3:::in/a/b/c.jpg"));
  EXPECT_FALSE(WildcardMatch("arn:aws:s3:::in/*", "arn:aws:s3:::in"));
  EXPECT_FALSE(WildcardMatch("arn:aws:s3:::in/*", "arn:aws:s3:::input/x"));
  EXPECT_TRUE(WildcardMatch("a?c", "abc"));
  EXPECT_FALSE(WildcardMatch("a?c", "ac"));
  EXPECT_TRUE(WildcardMatch("*.jpg", "x.y.jpg"));
  EXPECT_TRUE(WildcardMatch("a*b*c", "aXXbYYbc"));
  EXPECT_FALSE(WildcardMatch("a*b*c", "aXXbYYbd"));
  EXPECT_FALSE(WildcardMatch("", "a"));
  EXPECT_TRUE(WildcardMatch("", ""));
  EXPECT_TRUE(WildcardMatch("**?", "x"));
  // Hostile pattern: must stay fast (no exponential backtracking).
  EXPECT_FALSE(WildcardMatch("*a*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(Arns, AsAwsWritesThem) {
  EXPECT_EQ(BucketArn("input"), "arn:aws:s3:::input");
  EXPECT_EQ(ObjectArn("input", "a/b.jpg"), "arn:aws:s3:::input/a/b.jpg");
  EXPECT_EQ(QueueArn("us-east-1", "000000000000", "jobs"),
            "arn:aws:sqs:us-east-1:000000000000:jobs");
}

// The default worker key's policy, as DESIGN.md specifies it.
constexpr const char* kWorkerPolicy = R"({
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::input", "arn:aws:s3:::input/*"]},
    {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
     "Resource": "arn:aws:s3:::output/*"},
    {"Effect": "Allow",
     "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                "sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
     "Resource": "arn:aws:sqs:us-east-1:000000000000:jobs"},
    {"Sid": "dlq", "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
     "Resource": "arn:aws:sqs:*:000000000000:jobs-dlq"}
  ]
})";

TEST(Policy, WorkerPolicyIsLeastPrivilege) {
  auto policy = Policy::FromJson(kWorkerPolicy);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  ASSERT_EQ(policy->statements.size(), 4u);
  const Policy& p = *policy;
  EXPECT_TRUE(p.Allows("s3:GetObject", ObjectArn("input", "cats/1.jpg")));
  EXPECT_TRUE(p.Allows("s3:ListBucket", BucketArn("input")));
  EXPECT_FALSE(p.Allows("s3:PutObject", ObjectArn("input", "cats/1.jpg")));
  EXPECT_FALSE(p.Allows("s3:DeleteObject", ObjectArn("input", "cats/1.jpg")));
  EXPECT_TRUE(p.Allows("s3:PutObject", ObjectArn("output", "resized/cats/1.jpg")));
  EXPECT_TRUE(p.Allows("s3:GetObject", ObjectArn("output", "thumbs/x.jpg")));
  EXPECT_FALSE(p.Allows("s3:ListBucket", BucketArn("output")));
  EXPECT_FALSE(p.Allows("s3:GetObject", ObjectArn("other", "x")));
  EXPECT_FALSE(p.Allows("s3:CreateBucket", BucketArn("evil")));

  const std::string jobs = QueueArn("us-east-1", "000000000000", "jobs");
  const std::string dlq = QueueArn("us-east-1", "000000000000", "jobs-dlq");
  EXPECT_TRUE(p.Allows("sqs:ReceiveMessage", jobs));
  EXPECT_TRUE(p.Allows("sqs:DeleteMessage", jobs));
  EXPECT_FALSE(p.Allows("sqs:SendMessage", jobs));
  EXPECT_FALSE(p.Allows("sqs:PurgeQueue", jobs));
  EXPECT_TRUE(p.Allows("sqs:SendMessage", dlq));
  EXPECT_FALSE(p.Allows("sqs:ReceiveMessage", dlq));
  EXPECT_FALSE(p.Allows("sqs:DeleteQueue", dlq));
  // Action names are case-insensitive as in IAM; resources are not.
  EXPECT_TRUE(p.Allows("S3:getobject", ObjectArn("input", "k")));
  EXPECT_FALSE(p.Allows("s3:GetObject", ObjectArn("INPUT", "k")));
}

TEST(Policy, ExplicitDenyWins) {
  auto policy = Policy::FromJson(R"({"Statement": [
      {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
      {"Effect": "Deny", "Action": ["s3:Delete*"], "Resource": "arn:aws:s3:::keep/*"}]})");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  EXPECT_TRUE(policy->Allows("s3:DeleteObject", ObjectArn("scratch", "x")));
  EXPECT_FALSE(policy->Allows("s3:DeleteObject", ObjectArn("keep", "x")));
  EXPECT_TRUE(policy->Allows("s3:GetObject", ObjectArn("keep", "x")));
  EXPECT_FALSE(policy->Allows("sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:q"));
}

TEST(Policy, SingleStatementObjectAndImplicitDeny) {
  auto policy = Policy::FromJson(
      R"({"Statement": {"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:*"}})");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  EXPECT_TRUE(policy->Allows("sqs:CreateQueue", "arn:aws:sqs:us-east-1:000000000000:new"));
  EXPECT_FALSE(policy->Allows("s3:ListAllMyBuckets", "arn:aws:s3:::*"));
  EXPECT_FALSE(Policy{}.Allows("s3:GetObject", "arn:aws:s3:::b/k"));
  EXPECT_TRUE(Policy::AllowAll().Allows("anything:AtAll", "arn:x"));
}

TEST(Policy, RejectsInvalidDocuments) {
  for (const char* bad : {
           "",
           "not json",
           "[]",
           R"({"Version": "2012-10-17"})",
           R"({"Statement": 5})",
           R"({"Statement": [{"Action": "s3:*", "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": [1], "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*",
                              "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "NotResource": "arn:aws:s3:::b"}]})",
           // A key's policy is about the key: no Principal.
           R"({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                              "Resource": "*"}]})",
           R"({"Statement": []})",
           // Conditions that cannot be decided are refused, never ignored.
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "Condition": {"StringSounds": {"s3:prefix": "a"}}}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "Condition": {"StringEquals": {"s3:prefix": []}}}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "Condition": {"StringEquals": {"s3:prefix": {"a": 1}}}}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "Condition": {"NullIfExists": {"s3:prefix": "true"}}}]})",
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                              "Condition": ["Bool"]}]})",
           R"({"Version": "1999-01-01", "Statement": []})",
       }) {
    auto policy = Policy::FromJson(bad);
    ASSERT_FALSE(policy.ok()) << bad;
    EXPECT_EQ(policy.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(Policy, JsonRoundTrip) {
  auto policy = Policy::FromJson(kWorkerPolicy);
  ASSERT_TRUE(policy.ok());
  auto again = Policy::FromJson(policy->ToJson());
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << policy->ToJson();
  ASSERT_EQ(again->statements.size(), policy->statements.size());
  for (size_t i = 0; i < policy->statements.size(); ++i) {
    EXPECT_EQ(again->statements[i].allow, policy->statements[i].allow);
    EXPECT_EQ(again->statements[i].actions, policy->statements[i].actions);
    EXPECT_EQ(again->statements[i].resources, policy->statements[i].resources);
  }
}

// Runtime keys are stored as ToJson's text: conditions must survive it.
TEST(Policy, ConditionsRoundTripThroughJson) {
  auto policy = Policy::FromJson(R"({"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
      "Resource": "*", "Condition": {"StringLike": {"s3:prefix": ["home/a/*", "shared/*"]},
                                     "Bool": {"aws:SecureTransport": false},
                                     "NumericLessThanEquals": {"s3:max-keys": 10}}}]})");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  auto again = Policy::FromJson(policy->ToJson());
  ASSERT_TRUE(again.ok()) << policy->ToJson();
  ASSERT_EQ(again->statements[0].conditions.size(), 3u);
  RequestContext context;
  context.Set("s3:prefix", "home/a/x");
  context.Set("aws:SecureTransport", "false");
  context.Set("s3:max-keys", "5");
  EXPECT_TRUE(again->Allows("s3:ListBucket", "arn:aws:s3:::b", context));
  context.Set("s3:max-keys", "1000");
  EXPECT_FALSE(again->Allows("s3:ListBucket", "arn:aws:s3:::b", context));
}

// A Deny applies only where its condition holds; an Allow likewise.
TEST(Policy, ConditionsDecideWhetherAStatementApplies) {
  auto policy = Policy::FromJson(R"({"Statement": [
      {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
      {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})");
  ASSERT_TRUE(policy.ok());
  RequestContext plain, tls;
  plain.Set("aws:SecureTransport", "false");
  tls.Set("aws:SecureTransport", "true");
  EXPECT_FALSE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/k", plain));
  EXPECT_TRUE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/k", tls));
  // Without the key the Bool condition is false: the Deny does not apply.
  EXPECT_TRUE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/k"));

  KeyRegistry registry;
  registry.Put(AccessKey{"AKIACOND", "secret", "cond", *policy, false});
  EXPECT_FALSE(registry.Allowed("AKIACOND", "s3:GetObject", "arn:aws:s3:::b/k", plain));
  EXPECT_TRUE(registry.Allowed("AKIACOND", "s3:GetObject", "arn:aws:s3:::b/k", tls));
}

TEST(KeyRegistry, FindsKeysAndAuthorizes) {
  KeyRegistry registry;
  registry.Put({"AKIAROOT", "root-secret", "root", Policy{}, /*root=*/true});
  registry.Put({"AKIAWORKER", "worker-secret", "worker", *Policy::FromJson(kWorkerPolicy), false});

  EXPECT_EQ(registry.SecretFor("AKIAWORKER"), "worker-secret");
  EXPECT_FALSE(registry.SecretFor("AKIANOPE"));
  EXPECT_EQ(registry.Find("AKIAROOT")->name, "root");
  EXPECT_EQ(registry.List().size(), 2u);

  EXPECT_TRUE(registry.Allowed("AKIAROOT", "s3:DeleteBucket", BucketArn("input")));
  EXPECT_TRUE(registry.Allowed("AKIAWORKER", "s3:GetObject", ObjectArn("input", "k")));
  EXPECT_FALSE(registry.Allowed("AKIAWORKER", "s3:DeleteBucket", BucketArn("input")));
  EXPECT_FALSE(registry.Allowed("AKIANOPE", "s3:GetObject", ObjectArn("input", "k")));

  EXPECT_TRUE(registry.Remove("AKIAWORKER"));
  EXPECT_FALSE(registry.Remove("AKIAWORKER"));
  EXPECT_FALSE(registry.Allowed("AKIAWORKER", "s3:GetObject", ObjectArn("input", "k")));
  EXPECT_FALSE(registry.SecretFor("AKIAWORKER"));
}

TEST(Policy, NotActionAndNotResourceApplyToEverythingElse) {
  auto policy = Policy::FromJson(R"({"Statement": [
      {"Effect": "Allow", "NotAction": ["s3:Delete*", "s3:PutBucket*"], "Resource": "*"},
      {"Effect": "Deny", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/public/*"}]})");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  EXPECT_TRUE(policy->Allows("s3:PutObject", "arn:aws:s3:::b/k"));
  EXPECT_TRUE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b"));
  EXPECT_EQ(policy->Decide("s3:DeleteObject", "arn:aws:s3:::b/k"), Decision::kNotApplicable);
  EXPECT_EQ(policy->Decide("s3:putbucketpolicy", "arn:aws:s3:::b"), Decision::kNotApplicable);
  EXPECT_TRUE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/public/a.jpg"));
  EXPECT_EQ(policy->Decide("s3:GetObject", "arn:aws:s3:::b/private/a.jpg"), Decision::kDeny);
  auto again = Policy::FromJson(policy->ToJson());
  ASSERT_TRUE(again.ok()) << policy->ToJson();
  EXPECT_EQ(again->Decide("s3:GetObject", "arn:aws:s3:::b/private/a.jpg"), Decision::kDeny);
  EXPECT_EQ(again->Decide("s3:DeleteObject", "arn:aws:s3:::b/k"), Decision::kNotApplicable);
}

constexpr char kAccount[] = "000000000000";

RequestContext As(const PrincipalIdentity& who) {
  RequestContext context;
  context.SetPrincipal(who);
  return context;
}

TEST(ResourcePolicy, EveryStatementNamesItsPrincipals) {
  for (const char* bad : {
           // No Principal, or one IAM cannot read.
           R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Principal": "alice", "Action": "s3:*",
                              "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Principal": {}, "Action": "s3:*",
                              "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "alice"},
                              "Action": "s3:*", "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::12:root"},
                              "Action": "s3:*", "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Principal": {"Federated": "x"},
                              "Action": "s3:*", "Resource": "*"}]})",
           R"({"Statement": [{"Effect": "Allow", "Principal": "*", "NotPrincipal": "*",
                              "Action": "s3:*", "Resource": "*"}]})",
       }) {
    auto policy = Policy::FromJson(bad, PolicyKind::kResource);
    ASSERT_FALSE(policy.ok()) << bad;
    EXPECT_EQ(policy.status().code(), Code::kInvalidArgument) << bad;
  }
  auto missing =
      Policy::FromJson(R"({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})",
                       PolicyKind::kResource);
  EXPECT_NE(missing.status().message().find("Missing required field Principal"), std::string::npos);
}

TEST(ResourcePolicy, PrincipalsNameUsersTheAccountOrAnyone) {
  auto policy = Policy::FromJson(R"({"Id": "p", "Statement": [
      {"Sid": "alice", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"},
       "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
      {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
       "Resource": "arn:aws:s3:::b"},
      {"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": "s3:PutObject",
       "Resource": "arn:aws:s3:::b/*"},
      {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
       "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}]})",
                                 PolicyKind::kResource);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  const auto alice = As(PrincipalIdentity::User(kAccount, "alice"));
  const auto bob = As(PrincipalIdentity::User(kAccount, "bob"));
  const auto root = As(PrincipalIdentity::Root(kAccount));
  EXPECT_TRUE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/k", alice));
  EXPECT_FALSE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/k", bob));
  EXPECT_TRUE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", bob));
  EXPECT_TRUE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b"));  // no principal: "*" only
  EXPECT_FALSE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/k"));
  // An Allow to the account is the account's root user's; its users have
  // their own policies.
  EXPECT_TRUE(policy->Allows("s3:PutObject", "arn:aws:s3:::b/k", root));
  EXPECT_FALSE(policy->Allows("s3:PutObject", "arn:aws:s3:::b/k", alice));
  // A service is never a key.
  EXPECT_FALSE(policy->Allows("s3:DeleteObject", "arn:aws:s3:::b/k", root));

  auto again = Policy::FromJson(policy->ToJson(), PolicyKind::kResource);
  ASSERT_TRUE(again.ok()) << policy->ToJson();
  EXPECT_EQ(again->id, "p");
  EXPECT_EQ(again->statements[0].sid, "alice");
  EXPECT_TRUE(again->Allows("s3:GetObject", "arn:aws:s3:::b/k", alice));
  EXPECT_FALSE(again->Allows("s3:GetObject", "arn:aws:s3:::b/k", bob));
  EXPECT_TRUE(again->Allows("s3:ListBucket", "arn:aws:s3:::b", bob));
}

TEST(ResourcePolicy, ADenyToTheAccountCoversItsUsersAndNotPrincipalExcepts) {
  auto policy = Policy::FromJson(R"({"Statement": [
      {"Effect": "Deny", "Principal": {"AWS": ["arn:aws:iam::000000000000:root"]},
       "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::b"},
      {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::000000000000:user/admin"},
       "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::b"}]})",
                                 PolicyKind::kResource);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  for (const auto& who :
       {PrincipalIdentity::Root(kAccount), PrincipalIdentity::User(kAccount, "a")}) {
    EXPECT_EQ(policy->Decide("s3:DeleteBucket", "arn:aws:s3:::b", As(who)), Decision::kDeny)
        << who.arn;
    EXPECT_EQ(policy->Decide("s3:PutBucketPolicy", "arn:aws:s3:::b", As(who)), Decision::kDeny)
        << who.arn;
  }
  EXPECT_EQ(policy->Decide("s3:PutBucketPolicy", "arn:aws:s3:::b",
                           As(PrincipalIdentity::User(kAccount, "admin"))),
            Decision::kNotApplicable);
}

TEST(KeyRegistry, DecidesTheKeysPolicyAndTheResourcesTogether) {
  KeyRegistry registry;
  registry.Put({"AKIAROOT", "s", "admin", Policy{}, /*root=*/true});
  registry.Put({"AKIAREAD", "s", "reader",
                *Policy::FromJson(R"({"Statement": {"Effect": "Allow", "Action": "s3:GetObject",
                                      "Resource": "*"}})"),
                false});
  registry.Put({"AKIANONE", "s", "nobody", Policy{}, false});
  auto bucket = Policy::FromJson(R"({"Statement": [
      {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/nobody"},
       "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"},
      {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
       "Resource": "arn:aws:s3:::b/secret/*"}]})",
                                 PolicyKind::kResource);
  ASSERT_TRUE(bucket.ok()) << bucket.status().ToString();
  auto allowed = [&](const char* id, const char* action, const std::string& resource) {
    RequestContext context;
    if (auto principal = registry.Principal(id, kAccount)) context.SetPrincipal(*principal);
    return registry.Allowed(id, action, resource, context, &*bucket);
  };
  EXPECT_EQ(registry.Principal("AKIAROOT", kAccount)->arn, "arn:aws:iam::000000000000:root");
  EXPECT_EQ(registry.Principal("AKIAREAD", kAccount)->arn, "arn:aws:iam::000000000000:user/reader");
  EXPECT_FALSE(registry.Principal("AKIAGONE", kAccount));
  // Either policy's Allow grants ...
  EXPECT_TRUE(allowed("AKIAREAD", "s3:GetObject", ObjectArn("b", "k")));
  EXPECT_TRUE(allowed("AKIANONE", "s3:ListBucket", BucketArn("b")));
  EXPECT_FALSE(allowed("AKIANONE", "s3:GetObject", ObjectArn("b", "k")));
  EXPECT_FALSE(allowed("AKIAREAD", "s3:ListBucket", BucketArn("b")));
  // ... and the bucket's Deny refuses even a root key.
  EXPECT_FALSE(allowed("AKIAREAD", "s3:GetObject", ObjectArn("b", "secret/k")));
  EXPECT_FALSE(allowed("AKIAROOT", "s3:GetObject", ObjectArn("b", "secret/k")));
  EXPECT_TRUE(allowed("AKIAROOT", "s3:DeleteBucket", BucketArn("b")));
  EXPECT_FALSE(allowed("AKIAGONE", "s3:ListBucket", BucketArn("b")));
}

TEST(PolicyVariables, ExpandFromTheRequestsKeys) {
  RequestContext context;
  context.SetPrincipal(PrincipalIdentity::User(kAccount, "alice"));
  context.Set("s3:prefix", "photos/");
  EXPECT_EQ(ExpandPolicyVariables("arn:aws:s3:::b/home/${aws:username}/*", context),
            "arn:aws:s3:::b/home/alice/*");
  EXPECT_EQ(ExpandPolicyVariables("${ aws:USERNAME }-${s3:prefix}", context), "alice-photos/");
  EXPECT_EQ(ExpandPolicyVariables("${aws:SourceIp, 'nowhere'}", context), "nowhere");
  EXPECT_EQ(ExpandPolicyVariables("${aws:SourceIp}", context), std::nullopt);
  EXPECT_EQ(ExpandPolicyVariables("a${$}b${*}c", context), "a$b*c");
  EXPECT_EQ(ExpandPolicyVariables("${aws:SourceIp, nowhere}", context), std::nullopt);
  EXPECT_EQ(ExpandPolicyVariables("no variables, ${ unclosed", context),
            "no variables, ${ unclosed");
}

TEST(PolicyVariables, AHomeFolderPerUser) {
  auto policy = Policy::FromJson(R"({"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
       "Resource": "arn:aws:s3:::b/home/${aws:username}/*"},
      {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
       "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}}]})");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  RequestContext alice = As(PrincipalIdentity::User(kAccount, "alice"));
  EXPECT_TRUE(policy->Allows("s3:PutObject", "arn:aws:s3:::b/home/alice/a.jpg", alice));
  EXPECT_FALSE(policy->Allows("s3:PutObject", "arn:aws:s3:::b/home/bob/a.jpg", alice));
  alice.Set("s3:prefix", "home/alice/2026/");
  EXPECT_TRUE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", alice));
  alice.Set("s3:prefix", "home/bob/");
  EXPECT_FALSE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", alice));
  // The root user has no aws:username: the statements match nothing.
  EXPECT_FALSE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/home/${aws:username}/x",
                              As(PrincipalIdentity::Root(kAccount))));
  // Stored and read back (runtime keys are), the same.
  auto again = Policy::FromJson(policy->ToJson());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->Allows("s3:GetObject", "arn:aws:s3:::b/home/alice/a.jpg",
                            As(PrincipalIdentity::User(kAccount, "alice"))));
}

TEST(WildcardMatch, BackslashEscapesWhenAsked) {
  EXPECT_TRUE(WildcardMatch(R"(a\*)", "a*", true));
  EXPECT_FALSE(WildcardMatch(R"(a\*)", "ab", true));
  EXPECT_FALSE(WildcardMatch(R"(a\?c)", "abc", true));
  EXPECT_TRUE(WildcardMatch(R"(a\?c)", "a?c", true));
  EXPECT_TRUE(WildcardMatch(R"(a\\*)", R"(a\anything)", true));
  EXPECT_FALSE(WildcardMatch(R"(a\\*)", "ab", true));
  EXPECT_TRUE(WildcardMatch(R"(*\*)", "x/y*", true));
  EXPECT_FALSE(WildcardMatch(R"(*\*)", "x/y", true));
  EXPECT_TRUE(WildcardMatch(R"(*\*x)", "a*b*x", true));  // backtracks over an escaped pair
  // Without escapes a backslash is an ordinary character.
  EXPECT_TRUE(WildcardMatch(R"(a\*)", R"(a\bc)"));
  EXPECT_FALSE(WildcardMatch(R"(a\*)", "a*"));
}

TEST(PolicyVariables, AsPatternsWhatVariablesBringInMatchesOnlyItself) {
  RequestContext context;
  context.Set("s3:prefix", "a*?\\");
  EXPECT_EQ(ExpandPolicyVariables(R"(x\${s3:prefix}*${*}${?})", context, true),
            R"(x\\a\*\?\\*\*\?)");
  EXPECT_EQ(ExpandPolicyVariables("${missing, '*'}", context, true), R"(\*)");
}

TEST(PolicyVariables, LiteralWildcardCharactersInResourcesAndConditions) {
  auto policy = Policy::FromJson(R"({"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/star${*}/*"},
      {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
       "Condition": {"StringLike": {"s3:prefix": ["what${?}", "${aws:username}/*"]}}}]})");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  RequestContext alice = As(PrincipalIdentity::User(kAccount, "alice"));
  EXPECT_TRUE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/star*/k", alice));
  EXPECT_FALSE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/stars/k", alice));
  alice.Set("s3:prefix", "what?");
  EXPECT_TRUE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", alice));
  alice.Set("s3:prefix", "whats");
  EXPECT_FALSE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", alice));
  alice.Set("s3:prefix", "alice/2026/");
  EXPECT_TRUE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", alice));
  // A user named with a wildcard reaches no one else's folder.
  RequestContext star = As(PrincipalIdentity::User(kAccount, "*"));
  star.Set("s3:prefix", "alice/");
  EXPECT_FALSE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", star));
  star.Set("s3:prefix", "*/");
  EXPECT_TRUE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", star));
}

TEST(PolicyVariables, ExactOperatorsCompareExpandedValuesAsText) {
  auto policy = Policy::FromJson(R"({"Version": "2012-10-17", "Statement": {
      "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
      "Condition": {"StringEquals": {"s3:prefix": "${aws:username}${*}\\"}}}})");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  RequestContext alice = As(PrincipalIdentity::User(kAccount, "alice"));
  alice.Set("s3:prefix", "alice*\\");
  EXPECT_TRUE(policy->Allows("s3:ListBucket", "arn:aws:s3:::b", alice));
}

TEST(PolicyVariables, OnlyFromVersion20121017) {
  for (const char* version : {R"("Version": "2008-10-17",)", ""}) {
    auto policy = Policy::FromJson(std::string("{") + version + R"("Statement": {"Effect": "Allow",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}"}})");
    ASSERT_TRUE(policy.ok()) << version;
    const RequestContext alice = As(PrincipalIdentity::User(kAccount, "alice"));
    EXPECT_FALSE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/alice", alice)) << version;
    EXPECT_TRUE(policy->Allows("s3:GetObject", "arn:aws:s3:::b/${aws:username}", alice));
    auto again = Policy::FromJson(policy->ToJson());
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->Allows("s3:GetObject", "arn:aws:s3:::b/alice", alice)) << version;
  }
}

TEST(KeyRegistry, ConcurrentReadersAndWriters) {
  KeyRegistry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry, t] {
      for (int i = 0; i < 200; ++i) {
        std::string id = "AKIA" + std::to_string(t) + "_" + std::to_string(i);
        registry.Put({id, "s", "k", Policy::AllowAll(), false});
        EXPECT_TRUE(registry.Allowed(id, "s3:GetObject", "arn:aws:s3:::b/k"));
        if (i % 2 == 0) registry.Remove(id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(registry.List().size(), 400u);
}

}  // namespace
}  // namespace imgbatch::auth
