// Signature Version 2 for S3 (AWS "Signing and Authenticating REST Requests",
// the legacy S3 page): HMAC-SHA1 over
//   METHOD\nContent-MD5\nContent-Type\n<Date or Expires>\n<x-amz-* headers><resource>
// Kept because botocore and the aws CLI presign with it by default in
// us-east-1, and s3cmd can be configured to use it.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>

#include "auth/signing_internal.h"
#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::auth::internal {
namespace {

constexpr std::string_view kHeaderPrefix = "AWS ";

// Query parameters that are part of the signed resource (sub-resources and
// response overrides), as S3's SigV2 documentation lists them.
constexpr std::string_view kSubResources[] = {"accelerate",
                                              "acl",
                                              "analytics",
                                              "cors",
                                              "delete",
                                              "inventory",
                                              "lifecycle",
                                              "location",
                                              "logging",
                                              "metrics",
                                              "notification",
                                              "object-lock",
                                              "partNumber",
                                              "policy",
                                              "replication",
                                              "requestPayment",
                                              "response-cache-control",
                                              "response-content-disposition",
                                              "response-content-encoding",
                                              "response-content-language",
                                              "response-content-type",
                                              "response-expires",
                                              "restore",
                                              "select",
                                              "select-type",
                                              "tagging",
                                              "torrent",
                                              "uploadId",
                                              "uploads",
                                              "versionId",
                                              "versioning",
                                              "versions",
                                              "website"};

bool IsSubResource(std::string_view name) {
  return std::find(std::begin(kSubResources), std::end(kSubResources), name) !=
         std::end(kSubResources);
}

// "/bucket/key?acl&uploadId=x": the path as sent (with the bucket of a
// virtual-host request prepended) plus the signed sub-resources, sorted.
std::string CanonicalResource(const HttpRequestView& request, const VerifyOptions& options,
                              bool bucket_slash) {
  std::string resource;
  if (!options.virtual_host_domain.empty()) {
    std::string host = HeaderValue(request.fields, "host").value_or("");
    host = host.substr(0, host.rfind(':') == std::string::npos || host.back() == ']'
                              ? host.size()
                              : host.rfind(':'));
    std::string suffix = "." + options.virtual_host_domain;
    if (host.size() > suffix.size() && host.ends_with(suffix)) {
      resource = "/" + host.substr(0, host.size() - suffix.size());
    }
  }
  resource.append(request.path.empty() ? std::string_view("/") : request.path);
  if (bucket_slash) resource.push_back('/');
  std::vector<std::pair<std::string, std::optional<std::string>>> signed_params;
  for (std::string_view part : Split(request.query, '&')) {
    size_t eq = part.find('=');
    std::string name(part.substr(0, eq));
    if (!IsSubResource(name)) continue;
    std::optional<std::string> value;
    if (eq != std::string_view::npos) {
      auto decoded = PercentDecode(part.substr(eq + 1));
      value = decoded ? *decoded : std::string(part.substr(eq + 1));
    }
    signed_params.emplace_back(std::move(name), std::move(value));
  }
  std::stable_sort(signed_params.begin(), signed_params.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < signed_params.size(); ++i) {
    resource.push_back(i == 0 ? '?' : '&');
    resource.append(signed_params[i].first);
    if (signed_params[i].second) resource.append("=").append(*signed_params[i].second);
  }
  return resource;
}

std::string StringToSign(const HttpRequestView& request, std::string_view date_or_expires,
                         const VerifyOptions& options, bool bucket_slash) {
  std::map<std::string, std::string> amz_headers;
  for (const auto& [name, value] : request.fields) {
    std::string lower = ToLower(name);
    if (!lower.starts_with("x-amz-") || amz_headers.contains(lower)) continue;
    amz_headers[lower] = HeaderValue(request.fields, lower).value_or("");
  }
  std::string sts(request.method);
  sts.push_back('\n');
  sts.append(HeaderValue(request.fields, "content-md5").value_or("")).push_back('\n');
  sts.append(HeaderValue(request.fields, "content-type").value_or("")).push_back('\n');
  sts.append(date_or_expires).push_back('\n');
  for (const auto& [name, value] : amz_headers) {
    sts.append(name).push_back(':');
    sts.append(value).push_back('\n');
  }
  sts.append(CanonicalResource(request, options, bucket_slash));
  return sts;
}

Status Mismatch() {
  return AuthError(Code::kUnauthenticated, "SignatureDoesNotMatch",
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your key and signing method.");
}

Status QueryError(std::string message) {
  return AuthError(Code::kInvalidArgument, "AuthorizationQueryParametersError", std::move(message));
}

// The header form's time: x-amz-date wins over Date (and then the Date line
// of the string to sign is empty).
std::optional<std::chrono::system_clock::time_point> HeaderTime(
    std::span<const HeaderField> headers, bool* date_line_empty) {
  auto value = HeaderValue(headers, "x-amz-date");
  *date_line_empty = value.has_value();
  if (!value) value = HeaderValue(headers, "date");
  if (!value) return std::nullopt;
  if (auto at = ParseDateHeader(*value)) return at;
  return ParseRequestTime(*value);
}

}  // namespace

std::string HmacSha1Base64(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

bool IsSigV2(const HttpRequestView& request) {
  std::string storage;
  if (auto auth = HeaderValueView(request.fields, "authorization", storage)) {
    return auth->starts_with(kHeaderPrefix);
  }
  QueryParams params = ParseQuery(request.query);
  return QueryGet(params, "AWSAccessKeyId") && QueryGet(params, "Signature") &&
         !QueryGet(params, "X-Amz-Algorithm");
}

Result<VerifiedRequest> VerifySigV2(const HttpRequestView& request, const SecretLookup& secrets,
                                    std::chrono::system_clock::time_point now,
                                    const VerifyOptions& options) {
  if (!options.allow_sigv2) {
    return AuthError(Code::kInvalidArgument, "InvalidRequest",
                     "The authorization mechanism you have provided is not supported. Please use "
                     "AWS4-HMAC-SHA256.");
  }
  VerifiedRequest verified;
  std::string signature, date_line;
  if (auto auth = HeaderValue(request.fields, "authorization")) {
    std::string_view rest = std::string_view(*auth).substr(kHeaderPrefix.size());
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return AuthError(Code::kInvalidArgument, "InvalidArgument",
                       "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature");
    }
    verified.access_key_id = Trim(rest.substr(0, colon));
    signature = Trim(rest.substr(colon + 1));
    bool date_line_empty = false;
    auto at = HeaderTime(request.fields, &date_line_empty);
    if (!at) {
      return AuthError(Code::kAccessDenied, "AccessDenied",
                       "AWS authentication requires a valid Date or x-amz-date header");
    }
    auto skew = now > *at ? now - *at : *at - now;
    if (skew > options.max_skew) {
      return AuthError(Code::kUnauthenticated, "RequestTimeTooSkewed",
                       "The difference between the request time and the current time is too "
                       "large.");
    }
    if (!date_line_empty) date_line = HeaderValue(request.fields, "date").value_or("");
  } else {
    QueryParams params = ParseQuery(request.query);
    verified.access_key_id = QueryGet(params, "AWSAccessKeyId").value_or("");
    signature = QueryGet(params, "Signature").value_or("");
    auto expires = ParseInt(QueryGet(params, "Expires").value_or(""));
    if (!expires || *expires < 0) return QueryError("Expires must be a number of seconds");
    auto limit = std::chrono::duration_cast<std::chrono::seconds>(
                     (now + options.max_presign_expiry).time_since_epoch())
                     .count();
    if (*expires > limit) return QueryError("Expires must be less than a week from now");
    auto now_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (now_seconds > *expires) {
      return AuthError(Code::kAccessDenied, "AccessDenied", "Request has expired");
    }
    date_line = std::to_string(*expires);
    verified.presigned = true;
  }

  std::optional<std::string> secret = secrets ? secrets(verified.access_key_id) : std::nullopt;
  if (!secret) {
    return AuthError(Code::kUnauthenticated, "InvalidAccessKeyId",
                     "The AWS Access Key Id you provided does not exist in our records.");
  }
  // A bucket's resource is "/bucket/" (S3's SigV2 page; botocore signs a
  // path-style "/input" request so); the bare path is tried second.
  bool bucket_only = request.path.size() > 1 && request.path.find('/', 1) == std::string::npos;
  bool match = false;
  for (bool bucket_slash : {true, false}) {
    if (match || (bucket_slash && !bucket_only)) continue;
    std::string expected =
        HmacSha1Base64(*secret, StringToSign(request, date_line, options, bucket_slash));
    match = ConstantTimeEquals(expected, signature);
  }
  if (!match) return Mismatch();

  verified.region = options.region.empty() ? "us-east-1" : options.region;
  verified.service = "s3";
  // SigV2 never covers the body; Content-MD5, when sent, is the s3 adapter's check.
  verified.payload = PayloadMode::kUnsignedPayload;
  verified.session_token = HeaderValue(request.fields, "x-amz-security-token").value_or("");
  return verified;
}

}  // namespace imgbatch::auth::internal
