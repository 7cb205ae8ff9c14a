// SigV4Authenticator: the production Authenticator. Verifies signatures with
// auth::Verify against the KeyRegistry's secrets, decodes aws-chunked bodies
// with auth::AwsChunkedDecoder and authorizes with KeyRegistry::Allowed.
//
// Thread-safety: thread-safe (the registry is; the rest is immutable). The
// registry and clock must outlive it.
#pragma once

#include "auth/policy.h"
#include "common/clock.h"
#include "s3/authenticator.h"

namespace imgbatch::s3 {

class SigV4Authenticator final : public Authenticator {
 public:
  SigV4Authenticator(const auth::KeyRegistry& keys, auth::VerifyOptions options,
                     const Clock& clock = SystemClock::Instance());

  Result<auth::VerifiedRequest> Verify(const http::RequestHead& head) override;
  Result<auth::VerifiedRequest> VerifyPost(const auth::PostFormSignature& form) override;
  bool Allowed(const auth::VerifiedRequest& caller, std::string_view action,
               std::string_view resource, const auth::RequestContext& context,
               const auth::Policy* bucket_policy) override;
  std::optional<auth::PrincipalIdentity> Principal(const auth::VerifiedRequest& caller,
                                                   std::string_view account_id) override;
  bool HasUser(std::string_view name) override;
  std::unique_ptr<ChunkedBody> OpenChunked(RawBodyRead raw,
                                           const auth::VerifiedRequest& caller) override;

 private:
  const auth::KeyRegistry& keys_;
  auth::SecretLookup Secrets() const;

  auth::VerifyOptions options_;
  const Clock& clock_;
};

}  // namespace imgbatch::s3
