// Authenticator: the authentication and authorization step of the S3 adapter,
// behind a small interface so in-process tests can fake it. The real one is
// SigV4Authenticator (sigv4_authenticator.h: auth::Verify, aws-chunked
// decoding, KeyRegistry policies).
//
// Thread-safety: implementations are called concurrently from handler-pool
// threads and must be thread-safe. A ChunkedBody belongs to one request.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "auth/conditions.h"
#include "auth/policy.h"
#include "auth/sigv4.h"
#include "common/status.h"
#include "http/exchange.h"

namespace imgbatch::s3 {

// Reads the undecoded HTTP request body; 0 at the end.
using RawBodyRead = std::function<Result<size_t>(std::span<char>)>;

// A de-framed aws-chunked body: payload bytes, then the trailers (names
// lower-cased) once Read returned 0.
class ChunkedBody {
 public:
  virtual ~ChunkedBody() = default;
  virtual Result<size_t> Read(std::span<char> buffer) = 0;
  virtual const auth::HeaderList& trailers() const = 0;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Checks the request's signature (header or presigned query). Errors carry
  // AWS's error code in Status::detail() ("SignatureDoesNotMatch", ...).
  virtual Result<auth::VerifiedRequest> Verify(const http::RequestHead& head) = 0;
  // Checks the signature of a browser-based POST upload's policy (its form
  // fields; auth::VerifyPostForm). Errors as Verify's.
  virtual Result<auth::VerifiedRequest> VerifyPost(const auth::PostFormSignature& form) = 0;
  // Whether the verified caller may perform action ("s3:GetObject") on
  // resource ("arn:aws:s3:::bucket/key"), with the request's condition keys
  // for the policies' Condition blocks, by its key's policy and the bucket's
  // policy when it has one (auth::AllowedTogether).
  virtual bool Allowed(const auth::VerifiedRequest& caller, std::string_view action,
                       std::string_view resource, const auth::RequestContext& context,
                       const auth::Policy* bucket_policy) = 0;
  // The verified caller as IAM names it in the account (bucket policies'
  // principals, the aws:Principal* condition keys).
  virtual std::optional<auth::PrincipalIdentity> Principal(const auth::VerifiedRequest& caller,
                                                           std::string_view account_id) = 0;
  // Whether the account has a user of this name (a bucket policy may name it).
  virtual bool HasUser(std::string_view name) = 0;
  // Decodes an aws-chunked body (payload modes kStreaming*), verifying chunk
  // signatures where the mode has them.
  virtual std::unique_ptr<ChunkedBody> OpenChunked(RawBodyRead raw,
                                                   const auth::VerifiedRequest& caller) = 0;
};

}  // namespace imgbatch::s3
