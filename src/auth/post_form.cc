// The signature of a browser-based POST upload's policy (sigv4.h,
// VerifyPostForm): AWS's "Authenticating Requests in Browser-Based Uploads
// Using POST" (SigV4) and the legacy SigV2 form.
#include <string>
#include <vector>

#include "auth/signing_internal.h"
#include "auth/sigv4.h"
#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::auth {
namespace {

using internal::AuthError;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

Status BadField(std::string message) {
  return AuthError(Code::kInvalidArgument, "InvalidArgument", std::move(message));
}

Status UnknownKey() {
  return AuthError(Code::kUnauthenticated, "InvalidAccessKeyId",
                   "The AWS Access Key Id you provided does not exist in our records.");
}

Status Mismatch() {
  return AuthError(Code::kUnauthenticated, "SignatureDoesNotMatch",
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your key and signing method.");
}

struct Scope {
  std::string access_key_id, date, region, service;
};

// "<AKID>/YYYYMMDD/REGION/s3/aws4_request", checked against the server's
// region and the date of x-amz-date.
Result<Scope> ParseScope(const PostFormSignature& form, const VerifyOptions& options) {
  const std::vector<std::string_view> parts = Split(form.credential, '/');
  if (parts.size() != 5 || parts[0].empty() || parts[1].size() != 8 ||
      !internal::IsDigits(parts[1]) || parts[4] != "aws4_request") {
    return BadField(
        "the x-amz-credential field is mal-formed; expecting "
        "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".");
  }
  Scope scope{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]),
              std::string(parts[3])};
  if (!options.region.empty() && scope.region != options.region) {
    return BadField("the region '" + scope.region + "' is wrong; expecting '" + options.region +
                    "'");
  }
  if (scope.service != "s3") {
    return BadField("the service '" + scope.service + "' is wrong; expecting 's3'");
  }
  if (!internal::ParseRequestTime(form.amz_date) || !form.amz_date.starts_with(scope.date)) {
    return BadField("the x-amz-date field must be the credential's date in ISO 8601 basic form");
  }
  return scope;
}

Result<VerifiedRequest> VerifyV4(const PostFormSignature& form, const SecretLookup& secrets,
                                 const VerifyOptions& options) {
  if (form.algorithm != kAlgorithm) {
    return BadField("the x-amz-algorithm field must be AWS4-HMAC-SHA256");
  }
  IMGBATCH_ASSIGN_OR_RETURN(Scope scope, ParseScope(form, options));
  std::optional<std::string> secret = secrets ? secrets(scope.access_key_id) : std::nullopt;
  if (!secret) return UnknownKey();
  std::string signing_key = DeriveSigningKey(*secret, scope.date, scope.region, scope.service);
  if (!ConstantTimeEquals(HexEncode(HmacSha256(signing_key, form.policy)),
                          ToLower(form.signature))) {
    return Mismatch();
  }
  VerifiedRequest verified;
  verified.access_key_id = std::move(scope.access_key_id);
  verified.region = std::move(scope.region);
  verified.service = std::move(scope.service);
  verified.payload = PayloadMode::kUnsignedPayload;
  verified.amz_date = form.amz_date;
  verified.scope = form.credential.substr(form.credential.find('/') + 1);
  verified.signing_key = std::move(signing_key);
  verified.seed_signature = form.signature;
  verified.session_token = form.security_token;
  return verified;
}

Result<VerifiedRequest> VerifyV2(const PostFormSignature& form, const SecretLookup& secrets,
                                 const VerifyOptions& options) {
  if (!options.allow_sigv2) {
    return AuthError(Code::kInvalidArgument, "InvalidRequest",
                     "The authorization mechanism you have provided is not supported. Please use "
                     "AWS4-HMAC-SHA256.");
  }
  std::optional<std::string> secret = secrets ? secrets(form.access_key_id) : std::nullopt;
  if (!secret) return UnknownKey();
  if (!ConstantTimeEquals(internal::HmacSha1Base64(*secret, form.policy), form.signature_v2)) {
    return Mismatch();
  }
  VerifiedRequest verified;
  verified.access_key_id = form.access_key_id;
  verified.region = options.region;
  verified.service = "s3";
  verified.payload = PayloadMode::kUnsignedPayload;
  verified.session_token = form.security_token;
  return verified;
}

}  // namespace

Result<VerifiedRequest> VerifyPostForm(const PostFormSignature& form, const SecretLookup& secrets,
                                       const VerifyOptions& options) {
  const bool v4 = !form.algorithm.empty() || !form.credential.empty() || !form.signature.empty();
  const bool v2 = !form.access_key_id.empty() || !form.signature_v2.empty();
  if (!v4 && !v2) return AuthError(Code::kAccessDenied, "AccessDenied", "Access Denied");
  if (v4 && v2) {
    return BadField("Only one auth mechanism allowed: the x-amz-* fields or AWSAccessKeyId");
  }
  if (form.policy.empty()) {
    return BadField("Bucket POST must contain a field named 'policy' when it is signed");
  }
  if (v4) {
    if (form.credential.empty() || form.signature.empty()) {
      return BadField("Bucket POST must contain the fields x-amz-credential and x-amz-signature");
    }
    return VerifyV4(form, secrets, options);
  }
  if (form.access_key_id.empty() || form.signature_v2.empty()) {
    return BadField("Bucket POST must contain the fields AWSAccessKeyId and signature");
  }
  return VerifyV2(form, secrets, options);
}

}  // namespace imgbatch::auth
