// AWS Signature Version 4: signing (for our clients) and verification (for the
// server), header and presigned-query forms, and the payload forms S3 clients
// send. Pure functions plus small value types; thread-safe.
// Reference: AWS "Signature Version 4 signing process" and S3's
// "Authenticating Requests (AWS Signature Version 4)" pages.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace imgbatch::auth {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A request header viewed where the server already keeps it (no copy).
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// Views of every field of `fields` — any range of name/value pairs or
// two-member structs (a HeaderList, an HTTP server's header fields) — for
// HttpRequestView::fields. `fields` must outlive the views.
template <class Fields>
std::vector<HeaderField> ViewHeaderFields(const Fields& fields) {
  std::vector<HeaderField> out;
  out.reserve(std::size(fields));
  for (const auto& [name, value] : fields) out.push_back({name, value});
  return out;
}

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

// What the server saw: raw, still percent-encoded path and query.
struct HttpRequestView {
  std::string_view method;
  std::string_view path;   // "/bucket/a%20b"
  std::string_view query;  // "list-type=2&prefix=a" (no '?')
  const HeaderList* headers = nullptr;
  // Hex SHA-256 of the body, for requests whose signature covers the body
  // without an x-amz-content-sha256 header (SQS, both protocols): the sqs
  // adapter reads its small body first and passes the hash here. Left empty,
  // the hash of the empty body is assumed (right for GET/HEAD/DELETE). Never
  // needed for S3 header auth, whose clients always send the header.
  std::string_view body_sha256_hex = {};
  // The headers viewed in place instead of copied into a HeaderList: what
  // the server's adapters pass. Used when `headers` is null.
  std::span<const HeaderField> fields = {};
};

// The literal payload hashes (x-amz-content-sha256 values).
inline constexpr std::string_view kEmptySha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayloadTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingUnsignedPayloadTrailer =
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

enum class PayloadMode {
  kSignedHex,                 // x-amz-content-sha256: <hex> (or absent: SQS/form)
  kUnsignedPayload,           // UNSIGNED-PAYLOAD (also presigned URLs)
  kStreamingSigned,           // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  kStreamingSignedTrailer,    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  kStreamingUnsignedTrailer,  // STREAMING-UNSIGNED-PAYLOAD-TRAILER
};

// Everything a later step needs after the signature checked out: who signed,
// for what, and how the body must be verified.
struct VerifiedRequest {
  std::string access_key_id;
  std::string region;
  std::string service;  // "s3", "sqs"
  PayloadMode payload = PayloadMode::kSignedHex;
  // For kSignedHex: the hex SHA-256 the body must match (empty when the
  // service signs the body in the canonical request without the header,
  // e.g. SQS: then body_sha256 is what the signature covered).
  std::string body_sha256;
  // For streaming modes: values to verify chunk signatures.
  std::string signing_key;     // raw derived key
  std::string seed_signature;  // hex signature of the request
  std::string amz_date;        // 20130524T000000Z
  std::string scope;           // 20130524/us-east-1/s3/aws4_request
  bool presigned = false;
  // x-amz-decoded-content-length (streaming modes): the decoder checks it.
  std::optional<uint64_t> decoded_content_length = {};
  // X-Amz-Security-Token as sent (signed, not validated: we issue no tokens).
  std::string session_token = {};
};

// Looks up a secret for an access key id; nullopt when unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

struct VerifyOptions {
  std::string region = "us-east-1";  // requests scoped to another region are refused
  // Services a credential scope may name (an adapter may narrow it to its own).
  std::vector<std::string> services = {"s3", "sqs"};
  std::chrono::seconds max_skew{15 * 60};
  std::chrono::seconds max_presign_expiry{7 * 24 * 3600};
  // Signature Version 2 (S3 only): "Authorization: AWS id:sig" and presigned
  // AWSAccessKeyId/Expires/Signature URLs, which botocore and the aws CLI
  // still generate by default for us-east-1. VerifiedRequest then has
  // payload kUnsignedPayload and no signing_key/scope.
  bool allow_sigv2 = true;
  // For SigV2's signed resource: a Host "<bucket>.<domain>" names the bucket
  // (virtual-host style). Empty: path-style only.
  std::string virtual_host_domain = {};
};

// Verifies a request's signature (SigV4 header or presigned query; SigV2 when
// allowed) from its head alone; the body is checked later as
// VerifiedRequest::payload says (see PayloadReader in aws_chunked.h).
// Errors carry AWS's code in Status::detail(); code() is coarse:
//   kAccessDenied     "AccessDenied" (no auth at all, no valid date, presigned
//                     URL expired: "Request has expired", or not yet valid)
//   kUnauthenticated  "SignatureDoesNotMatch", "InvalidAccessKeyId",
//                     "RequestTimeTooSkewed" (> max_skew)
//   kInvalidArgument  "AuthorizationHeaderMalformed" (incl. wrong region: "the
//                     region 'x' is wrong; expecting 'us-east-1'"),
//                     "AuthorizationQueryParametersError", "InvalidRequest"
//                     (unsupported scheme), "InvalidArgument" (both forms at
//                     once; bad x-amz-content-sha256 value)
// The signature is compared in constant time.
Result<VerifiedRequest> Verify(const HttpRequestView& request, const SecretLookup& secrets,
                               std::chrono::system_clock::time_point now,
                               const VerifyOptions& options = {});

// The credential scope a request claims, parsed without verifying anything.
// Lets the router pick s3 or sqs (DESIGN.md "Routing on one port") before an
// sqs adapter reads the body whose hash Verify then needs. SigV2 requests
// claim service "s3" and an empty date/region. nullopt: no (parsable) auth.
struct ClaimedScope {
  std::string access_key_id;
  std::string date;  // YYYYMMDD
  std::string region;
  std::string service;
};
std::optional<ClaimedScope> PeekScope(const HttpRequestView& request);

// Checks a body's hex SHA-256 against what the signature covered (payload
// kSignedHex). Error: kInvalidArgument, detail "XAmzContentSHA256Mismatch".
// Other payload modes: always ok (streaming ones are checked by the decoder).
Status CheckPayloadSha256(const VerifiedRequest& request, std::string_view actual_sha256_hex);

// The canonical URI of a raw (as sent) path. service "s3": each segment
// decoded once and re-encoded with UriEncode, no dot-segment removal. Other
// services: dot segments and empty segments removed, then UriEncode of the
// wire path (the generic "encode twice" rule).
std::string CanonicalUri(std::string_view raw_path, std::string_view service);
// The canonical query string of a raw query: names and values decoded then
// UriEncoded, sorted by name then value; X-Amz-Signature dropped when
// presigned. plus_as_space decodes '+' as a space (tried as a fallback).
std::string CanonicalQuery(std::string_view raw_query, bool presigned, bool plus_as_space = false);

// Signs a request in place (adds x-amz-date, x-amz-content-sha256 when
// service is s3, x-amz-security-token, Authorization). payload_sha256_hex may
// be "UNSIGNED-PAYLOAD". host must already be in headers.
void SignRequest(std::string_view method, std::string_view path, std::string_view query,
                 HeaderList& headers, std::string_view payload_sha256_hex,
                 const Credentials& credentials, std::string_view region, std::string_view service,
                 std::chrono::system_clock::time_point now);

// Returns the query string (existing query + X-Amz-* parameters) of a
// presigned URL: canonical (sorted, encoded), X-Amz-Signature last. Signs
// host only; the payload is UNSIGNED-PAYLOAD for s3.
std::string PresignQuery(std::string_view method, std::string_view path, std::string_view query,
                         std::string_view host, const Credentials& credentials,
                         std::string_view region, std::string_view service,
                         std::chrono::system_clock::time_point now, std::chrono::seconds expires);

// Browser-based uploads (S3's POST Object): an HTML form whose fields sign
// its base64 `policy` document instead of the request. SigV4: x-amz-algorithm
// (AWS4-HMAC-SHA256), x-amz-credential (AKID/YYYYMMDD/REGION/s3/aws4_request),
// x-amz-date and x-amz-signature, the hex HMAC-SHA256 of the policy with the
// scope's signing key. SigV2 (what botocore's generate_presigned_post makes by
// default for us-east-1): AWSAccessKeyId and signature, the base64
// HMAC-SHA1 of the policy with the secret. Field values as sent.
struct PostFormSignature {
  std::string policy;
  std::string algorithm, credential, amz_date, signature;  // SigV4
  std::string access_key_id, signature_v2;                 // SigV2
  std::string security_token;
};
// Verifies the form's signature of its policy (the policy's own expiration
// and conditions are the S3 adapter's to check). The VerifiedRequest has
// payload kUnsignedPayload: a form's bytes are not signed. Errors as Verify's:
// "AccessDenied" (no signature fields at all), "InvalidArgument" (a field
// missing or malformed, a wrong region or service, an unknown algorithm),
// "InvalidAccessKeyId", "SignatureDoesNotMatch".
Result<VerifiedRequest> VerifyPostForm(const PostFormSignature& form, const SecretLookup& secrets,
                                       const VerifyOptions& options = {});

// Derives the signing key kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
// "aws4_request").
std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service);

}  // namespace imgbatch::auth
