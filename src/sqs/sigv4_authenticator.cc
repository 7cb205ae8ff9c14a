#include <string>
#include <vector>

#include "auth/policy.h"
#include "common/hashing.h"
#include "sqs/authenticator.h"

namespace imgbatch::sqs {
namespace {

class SigV4Authenticator final : public Authenticator {
 public:
  SigV4Authenticator(const auth::KeyRegistry& keys, auth::VerifyOptions options, const Clock& clock)
      : keys_(keys), options_(std::move(options)), clock_(clock) {}

  Result<Caller> Authenticate(const http::RequestHead& head, std::string_view body) override {
    // The headers are viewed where the request keeps them, not copied.
    const std::vector<auth::HeaderField> fields = auth::ViewHeaderFields(head.headers.fields());
    const std::string body_hash = Sha256Hex(body);
    auth::HttpRequestView view;
    view.method = head.method;
    view.path = head.path;
    view.query = head.query;
    view.body_sha256_hex = body_hash;
    view.fields = fields;
    // The secret alone: Find() would copy the key's whole policy per request.
    auto secrets = [this](std::string_view id) { return keys_.SecretFor(id); };
    IMGBATCH_ASSIGN_OR_RETURN(auth::VerifiedRequest verified,
                              auth::Verify(view, secrets, clock_.Now(), options_));
    return Caller{verified.access_key_id};
  }

  bool Allowed(const Caller& caller, std::string_view action, std::string_view resource,
               const auth::RequestContext& context, const auth::Policy* queue_policy) override {
    return keys_.Allowed(caller.access_key_id, action, resource, context, queue_policy);
  }

  std::optional<auth::PrincipalIdentity> Principal(const Caller& caller,
                                                   std::string_view account_id) override {
    return keys_.Principal(caller.access_key_id, account_id);
  }

 private:
  const auth::KeyRegistry& keys_;
  const auth::VerifyOptions options_;
  const Clock& clock_;
};

}  // namespace

std::shared_ptr<Authenticator> MakeSigV4Authenticator(const auth::KeyRegistry& keys,
                                                      auth::VerifyOptions options,
                                                      const Clock& clock) {
  return std::make_shared<SigV4Authenticator>(keys, std::move(options), clock);
}

}  // namespace imgbatch::sqs
