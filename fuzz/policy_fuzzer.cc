// Fuzzes key policies: Policy::FromJson on any text (what [[keys]] and the
// keys API hand it), then decides the policy for a fixed request context.
// A policy that parses must survive ToJson (runtime keys are stored so) and
// decide the same afterwards; deciding must never crash or throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/policy.h"

namespace {

const imgbatch::auth::RequestContext& Context() {
  static const imgbatch::auth::RequestContext context = [] {
    imgbatch::auth::RequestContext c;
    c.SetGlobals({"127.0.0.1", false, 1'796'040'000'000, "aws-cli/2.9", std::nullopt});
    c.Set("s3:prefix", "home/alice/");
    c.Set("s3:max-keys", "100");
    c.Set("s3:RequestObjectTagKeys", std::vector<std::string>{"stage", "team"});
    c.SetResolver([](std::string_view key) -> std::optional<std::vector<std::string>> {
      if (key.starts_with("s3:existingobjecttag/")) return std::vector<std::string>{"yes"};
      return std::nullopt;
    });
    return c;
  }();
  return context;
}

int Decide(const imgbatch::auth::Policy& policy) {
  const bool get = policy.Allows("s3:GetObject", "arn:aws:s3:::input/a.jpg", Context());
  const bool list = policy.Allows("s3:ListBucket", "arn:aws:s3:::input", Context());
  const bool send = policy.Allows("sqs:SendMessage", "arn:aws:sqs:us-east-1:0:q", Context());
  return (get ? 4 : 0) + (list ? 2 : 0) + (send ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = imgbatch::auth::Policy::FromJson(text);
  if (!policy.ok()) return 0;
  const int decided = Decide(*policy);
  auto stored = imgbatch::auth::Policy::FromJson(policy->ToJson());
  if (!stored.ok() || Decide(*stored) != decided) std::abort();
  return 0;
}
