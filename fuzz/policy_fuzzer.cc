// Fuzzes key policies and bucket policies: Policy::FromJson on any text (what
// [[keys]], the keys API and PutBucketPolicy hand it), as an identity policy
// and as a resource policy, then decides it for fixed request contexts (no
// principal, the root user, a user). A policy that parses must survive
// ToJson (runtime keys are stored so) and decide the same afterwards;
// deciding must never crash or throw. The same text, as the value of a
// policy variable, must match only itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/policy.h"

namespace {

imgbatch::auth::RequestContext MakeContext(
    std::optional<imgbatch::auth::PrincipalIdentity> principal) {
  imgbatch::auth::RequestContext c;
  if (principal) c.SetPrincipal(*principal);
  c.SetGlobals({"127.0.0.1", false, 1'796'040'000'000, "aws-cli/2.9", std::nullopt});
  c.Set("s3:prefix", "home/alice/");
  c.Set("s3:max-keys", "100");
  c.Set("s3:RequestObjectTagKeys", std::vector<std::string>{"stage", "team"});
  c.SetResolver([](std::string_view key) -> std::optional<std::vector<std::string>> {
    if (key.starts_with("s3:existingobjecttag/")) return std::vector<std::string>{"yes"};
    return std::nullopt;
  });
  return c;
}

int Decide(const imgbatch::auth::Policy& policy) {
  using imgbatch::auth::PrincipalIdentity;
  static const imgbatch::auth::RequestContext contexts[] = {
      MakeContext(std::nullopt), MakeContext(PrincipalIdentity::Root("000000000000")),
      MakeContext(PrincipalIdentity::User("000000000000", "alice"))};
  int decided = 0;
  for (const auto& context : contexts) {
    const auto get = policy.Decide("s3:GetObject", "arn:aws:s3:::input/a.jpg", context);
    const auto list = policy.Decide("s3:ListBucket", "arn:aws:s3:::input", context);
    const auto send = policy.Decide("sqs:SendMessage", "arn:aws:sqs:us-east-1:0:q", context);
    decided = decided * 27 + static_cast<int>(get) * 9 + static_cast<int>(list) * 3 +
              static_cast<int>(send);
  }
  return decided;
}

void CheckRoundTrip(std::string_view text, imgbatch::auth::PolicyKind kind) {
  auto policy = imgbatch::auth::Policy::FromJson(text, kind);
  if (!policy.ok()) return;
  const int decided = Decide(*policy);
  auto stored = imgbatch::auth::Policy::FromJson(policy->ToJson(), kind);
  if (!stored.ok() || Decide(*stored) != decided) std::abort();
}

// What a policy variable brings into a pattern matches itself and nothing
// else: the text as a request's s3:prefix, expanded as a pattern, matches
// exactly that text (however many '*', '?' and '\\' it holds).
void CheckVariablesMatchThemselves(std::string_view text) {
  imgbatch::auth::RequestContext context;
  context.Set("s3:prefix", std::string(text));
  auto pattern = imgbatch::auth::ExpandPolicyVariables("${s3:prefix}", context, true);
  if (!pattern) std::abort();
  using imgbatch::auth::WildcardMatch;
  if (!WildcardMatch(*pattern, text, true)) std::abort();
  if (WildcardMatch(*pattern, std::string(text) + "x", true)) std::abort();
  if (!text.empty() && WildcardMatch(*pattern, text.substr(1), true)) std::abort();
  // Written around it, the policy's own wildcards still are wildcards.
  auto around = imgbatch::auth::ExpandPolicyVariables("a*${s3:prefix}?", context, true);
  if (!around || !WildcardMatch(*around, "abc" + std::string(text) + "z", true)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip(text, imgbatch::auth::PolicyKind::kIdentity);
  CheckRoundTrip(text, imgbatch::auth::PolicyKind::kResource);
  CheckVariablesMatchThemselves(text);
  return 0;
}
