// Authenticator: the authentication and authorization step of the SQS
// adapter, behind a small interface so in-process tests can fake it. The real
// one is SigV4Authenticator (sigv4_authenticator.h).
//
// Thread-safety: implementations are called concurrently from handler-pool
// threads and must be thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/conditions.h"
#include "auth/policy.h"
#include "auth/sigv4.h"
#include "common/clock.h"
#include "common/status.h"
#include "http/exchange.h"

namespace imgbatch::sqs {

struct Caller {
  std::string access_key_id;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Checks the request's SigV4 signature. SQS requests carry no
  // x-amz-content-sha256 header: the signature covers the SHA-256 of body,
  // which the adapter has read whole before calling. Errors carry AWS's code
  // in Status::detail() ("SignatureDoesNotMatch", "InvalidClientTokenId", ...).
  virtual Result<Caller> Authenticate(const http::RequestHead& head, std::string_view body) = 0;
  // Whether caller may perform action ("sqs:SendMessage") on resource
  // ("arn:aws:sqs:us-east-1:000000000000:jobs"), with the request's condition
  // keys (the global aws:* ones, the caller's principal) for the policies'
  // Condition blocks: by its key's policy and the queue's policy when it has
  // one (auth::AllowedTogether).
  virtual bool Allowed(const Caller& caller, std::string_view action, std::string_view resource,
                       const auth::RequestContext& context, const auth::Policy* queue_policy) = 0;
  // The caller as IAM names it in the account (queue policies' principals, the
  // aws:Principal* condition keys); nullopt for a key gone since it was checked.
  virtual std::optional<auth::PrincipalIdentity> Principal(const Caller& caller,
                                                           std::string_view account_id) = 0;
};

// The production Authenticator: auth::Verify against the registry's secrets,
// KeyRegistry::Allowed for the policy. The registry and clock must outlive it.
std::shared_ptr<Authenticator> MakeSigV4Authenticator(const auth::KeyRegistry& keys,
                                                      auth::VerifyOptions options,
                                                      const Clock& clock = SystemClock::Instance());

}  // namespace imgbatch::sqs
