#include "auth/sigv4.h"

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <unordered_map>

#include "auth/signing_internal.h"
#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::auth {

using internal::AuthError;
using internal::HeaderValue;
using internal::HeaderValueView;

namespace internal {

Status AuthError(Code code, std::string_view detail, std::string message) {
  return Status(code, std::move(message)).WithDetail(std::string(detail));
}

void AppendTrimAll(std::string& out, std::string_view value) {
  value = Trim(value);
  if (value.find("  ") == std::string_view::npos && value.find('\t') == std::string_view::npos) {
    out.append(value);  // the common case: nothing to collapse
    return;
  }
  bool in_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      in_space = true;
      continue;
    }
    if (in_space) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
}

std::string TrimAll(std::string_view value) {
  std::string out;
  AppendTrimAll(out, value);
  return out;
}

bool AppendHeaderValue(std::string& out, std::span<const HeaderField> headers,
                       std::string_view name) {
  bool found = false;
  for (const auto& [n, v] : headers) {
    if (!IEquals(n, name)) continue;
    if (found) out.push_back(',');
    AppendTrimAll(out, v);
    found = true;
  }
  return found;
}

std::optional<std::string> HeaderValue(std::span<const HeaderField> headers,
                                       std::string_view name) {
  std::string joined;
  if (!AppendHeaderValue(joined, headers, name)) return std::nullopt;
  return joined;
}

std::optional<std::string_view> HeaderValueView(std::span<const HeaderField> headers,
                                                std::string_view name, std::string& storage) {
  const HeaderField* only = nullptr;
  for (const auto& field : headers) {
    if (!IEquals(field.name, name)) continue;
    if (only != nullptr) {
      only = nullptr;  // repeated: joined below
      break;
    }
    only = &field;
  }
  if (only != nullptr) {
    std::string_view value = Trim(only->value);
    if (value.find("  ") == std::string_view::npos && value.find('\t') == std::string_view::npos) {
      return value;  // the common case: nothing to join or collapse
    }
  }
  storage.clear();
  if (!AppendHeaderValue(storage, headers, name)) return std::nullopt;
  return std::string_view(storage);
}

HttpRequestView WithFields(const HttpRequestView& request, std::vector<HeaderField>& storage) {
  HttpRequestView out = request;
  if (request.headers != nullptr) {
    storage = ViewHeaderFields(*request.headers);
    out.fields = storage;
  }
  out.headers = nullptr;
  return out;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Request times before 1970 are refused; past kMaxRequestYear the
// nanosecond system_clock would overflow (~2262, a fuzzer found that), so a
// later year is read as that one: still far enough ahead to be
// RequestTimeTooSkewed, which is what AWS answers for such a date.
constexpr std::string_view kMinRequestYear = "1970";
constexpr std::string_view kMaxRequestYear = "2200";

// `value` with its four-digit year at `at` bounded as above; nullopt when
// the year is not four digits or before 1970.
std::optional<std::string> WithBoundedYear(std::string_view value, size_t at) {
  if (value.size() < at + 4) return std::nullopt;
  std::string_view year = value.substr(at, 4);
  if (!IsDigits(year) || year < kMinRequestYear) return std::nullopt;
  std::string bounded(value);
  if (year > kMaxRequestYear) bounded.replace(at, 4, kMaxRequestYear);
  return bounded;
}

std::optional<std::chrono::system_clock::time_point> ParseRequestTime(std::string_view amz_date) {
  if (amz_date.size() != 16) return std::nullopt;
  std::optional<std::string> bounded = WithBoundedYear(amz_date, 0);
  return bounded ? ParseAmzDate(*bounded) : std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> ParseDateHeader(std::string_view date) {
  date = Trim(date);
  auto parts = Split(date, ' ');
  if (parts.size() != 6 || parts[3].size() != 4) return std::nullopt;
  const size_t at = static_cast<size_t>(parts[3].data() - date.data());
  std::optional<std::string> bounded = WithBoundedYear(date, at);
  return bounded ? ParseHttpDate(*bounded) : std::nullopt;
}

}  // namespace internal

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr size_t kSignatureHexLength = 64;
constexpr size_t kMaxSignedHeaders = 64;

// Headers a signer leaves out: they are added or rewritten by proxies and
// HTTP libraries after signing (botocore and the JS SDK skip the same ones).
constexpr std::string_view kUnsignableHeaders[] = {
    "authorization", "user-agent", "expect", "x-amzn-trace-id", "connection", "transfer-encoding"};

Status HeaderMalformed(std::string_view why) {
  return AuthError(Code::kInvalidArgument, "AuthorizationHeaderMalformed",
                   "The authorization header is malformed; " + std::string(why));
}

Status QueryMalformed(std::string_view why) {
  return AuthError(Code::kInvalidArgument, "AuthorizationQueryParametersError", std::string(why));
}

Status SignatureMismatch() {
  return AuthError(Code::kUnauthenticated, "SignatureDoesNotMatch",
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your key and signing method.");
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

bool ContainsHeader(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string JoinSignedHeaders(const std::vector<std::string>& names) {
  std::string out;
  size_t size = 0;
  for (const auto& n : names) size += n.size() + 1;
  out.reserve(size);
  for (const auto& n : names) {
    if (!out.empty()) out.push_back(';');
    out += n;
  }
  return out;
}

// Generic services: remove "." and "..", collapse empty segments, keep a
// trailing slash (AWS's generic normalisation; S3 opts out of it).
std::string NormalizeGenericPath(std::string_view path) {
  std::vector<std::string_view> out;
  for (std::string_view seg : Split(path, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(seg);
  }
  std::string joined = "/";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) joined.push_back('/');
    joined.append(out[i]);
  }
  if (!out.empty() && path.size() > 1 && path.back() == '/') joined.push_back('/');
  return joined;
}

struct CanonicalParts {
  std::string_view method;
  std::string_view path;
  std::string_view query;
  std::span<const HeaderField> headers;
  const std::vector<std::string>* signed_headers = nullptr;
  std::string_view payload_hash;
  std::string_view service;
  bool presigned = false;
  bool plus_as_space = false;
  bool path_as_sent = false;  // the raw path itself as canonical URI
};

std::string CanonicalRequest(const CanonicalParts& p) {
  std::string out;
  out.reserve(512);
  out.append(p.method).push_back('\n');
  if (p.path_as_sent) {
    out.append(p.path).push_back('\n');
  } else {
    out.append(CanonicalUri(p.path, p.service)).push_back('\n');
  }
  out.append(CanonicalQuery(p.query, p.presigned, p.plus_as_space)).push_back('\n');
  for (const auto& name : *p.signed_headers) {
    out.append(name).push_back(':');
    internal::AppendHeaderValue(out, p.headers, name);
    out.push_back('\n');
  }
  out.push_back('\n');
  out.append(JoinSignedHeaders(*p.signed_headers)).push_back('\n');
  out.append(p.payload_hash);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out;
  out.reserve(kAlgorithm.size() + amz_date.size() + scope.size() + 2 * kSignatureHexLength);
  out.append(kAlgorithm).push_back('\n');
  out.append(amz_date).push_back('\n');
  out.append(scope).push_back('\n');
  out.append(Sha256Hex(canonical_request));
  return out;
}

std::string Scope(std::string_view date, std::string_view region, std::string_view service) {
  std::string out;
  out.append(date).push_back('/');
  out.append(region).push_back('/');
  out.append(service).push_back('/');
  out.append(kTerminator);
  return out;
}

using internal::IsDigits;
using internal::ParseDateHeader;
using internal::ParseRequestTime;

// The parsed signature fields of either form.
struct AuthFields {
  bool presigned = false;
  std::string access_key_id;
  std::string date;  // YYYYMMDD from the credential scope
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;
  std::string signature;
  std::string amz_date;                             // request timestamp, ISO basic
  std::chrono::system_clock::time_point signed_at;  // amz_date, parsed
  int64_t expires = 0;                              // presigned only
  std::string session_token;
};

Status ParseCredential(std::string_view credential, AuthFields& fields) {
  // "<AKID>/YYYYMMDD/REGION/SERVICE/aws4_request": five parts, viewed in place.
  std::array<std::string_view, 5> parts;
  size_t count = 0;
  for (std::string_view rest = credential;; ++count) {
    const size_t slash = rest.find('/');
    if (count == parts.size()) break;  // a sixth part: count stays past 5
    parts[count] = rest.substr(0, slash);
    if (slash == std::string_view::npos) {
      ++count;
      break;
    }
    rest.remove_prefix(slash + 1);
  }
  if (count != parts.size() || parts[4] != kTerminator || parts[0].empty() ||
      parts[1].size() != 8 || !IsDigits(parts[1]) || parts[2].empty() || parts[3].empty()) {
    std::string why =
        "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/"
        "aws4_request\".";
    return fields.presigned ? QueryMalformed("Error parsing the X-Amz-Credential parameter; " + why)
                            : HeaderMalformed(why);
  }
  fields.access_key_id = parts[0];
  fields.date = parts[1];
  fields.region = parts[2];
  fields.service = parts[3];
  return Status::Ok();
}

Status ParseSignedHeaders(std::string_view list, AuthFields& fields) {
  fields.signed_headers.reserve(
      std::min<size_t>(kMaxSignedHeaders, std::count(list.begin(), list.end(), ';') + 1));
  for (std::string_view name : Split(list, ';')) {
    if (name.empty() || fields.signed_headers.size() >= kMaxSignedHeaders) {
      return fields.presigned ? QueryMalformed("X-Amz-SignedHeaders is malformed.")
                              : HeaderMalformed("SignedHeaders is malformed.");
    }
    fields.signed_headers.push_back(ToLower(name));
  }
  if (!ContainsHeader(fields.signed_headers, "host")) {
    return fields.presigned ? QueryMalformed("X-Amz-SignedHeaders must include host.")
                            : HeaderMalformed("SignedHeaders must include host.");
  }
  return Status::Ok();
}

// AWS refuses a request whose x-amz-* headers the signature does not cover:
// they change what the request means (copy source, checksums, metadata, ACL),
// so an unsigned one could be added in transit. Host is checked when the
// SignedHeaders list is parsed; Content-MD5 and Content-Type need not be
// signed (S3 verifies the digest against the body either way).
Status CheckAmzHeadersSigned(std::span<const HeaderField> headers, const AuthFields& fields) {
  std::vector<std::string> not_signed;
  for (const HeaderField& field : headers) {
    // A plain reference, not a structured binding: clang before 16 (the
    // libFuzzer builds) cannot capture a binding in the lambda below.
    const std::string_view name = field.name;
    if (!IStartsWith(name, "x-amz-")) continue;
    // The signed names are lower case: a signed header needs no lowered copy.
    if (std::any_of(fields.signed_headers.begin(), fields.signed_headers.end(),
                    [&](const std::string& s) { return IEquals(s, name); })) {
      continue;
    }
    std::string lower = ToLower(name);
    if (ContainsHeader(fields.signed_headers, lower) || ContainsHeader(not_signed, lower)) {
      continue;
    }
    not_signed.push_back(std::move(lower));
  }
  if (not_signed.empty()) return Status::Ok();
  std::sort(not_signed.begin(), not_signed.end());
  return AuthError(Code::kAccessDenied, "AccessDenied",
                   "There were headers present in the request which were not signed "
                   "(HeadersNotSigned: " +
                       JoinSignedHeaders(not_signed) + ")");
}

Status ParseSignature(std::string_view signature, AuthFields& fields) {
  fields.signature = ToLower(signature);
  if (fields.signature.size() != kSignatureHexLength || !IsLowerHex(fields.signature)) {
    // A well-formed request with the wrong signature and one whose signature
    // is not even hex both fail the same way on AWS.
    return SignatureMismatch();
  }
  return Status::Ok();
}

// Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...
Status ParseAuthorizationHeader(std::string_view header, std::span<const HeaderField> headers,
                                AuthFields& fields) {
  std::string_view rest = Trim(header);
  if (!rest.starts_with(kAlgorithm) ||
      (rest.size() > kAlgorithm.size() && rest[kAlgorithm.size()] != ' ')) {
    return AuthError(Code::kInvalidArgument, "InvalidRequest",
                     "The authorization mechanism you have provided is not supported. Please use "
                     "AWS4-HMAC-SHA256.");
  }
  rest.remove_prefix(kAlgorithm.size());
  std::optional<std::string_view> credential, signed_headers, signature;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view part = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = part.substr(0, eq), value = Trim(part.substr(eq + 1));
    if (key == "Credential") credential = value;
    if (key == "SignedHeaders") signed_headers = value;
    if (key == "Signature") signature = value;
  }
  if (!credential || !signed_headers || !signature) {
    return HeaderMalformed(
        "the authorization header requires three components: Credential, SignedHeaders, and "
        "Signature.");
  }
  IMGBATCH_RETURN_IF_ERROR(ParseCredential(*credential, fields));
  IMGBATCH_RETURN_IF_ERROR(ParseSignedHeaders(*signed_headers, fields));
  IMGBATCH_RETURN_IF_ERROR(ParseSignature(*signature, fields));

  std::string storage;
  if (auto amz_date = HeaderValueView(headers, "x-amz-date", storage)) {
    fields.amz_date = *amz_date;
  } else if (auto date = HeaderValue(headers, "date")) {
    // AWS accepts the Date header when x-amz-date is absent; the string to
    // sign then carries that time in ISO basic form.
    auto parsed = ParseDateHeader(*date);
    if (parsed) fields.amz_date = FormatAmzDate(*parsed);
  }
  auto signed_at = fields.amz_date.empty() ? std::nullopt : ParseRequestTime(fields.amz_date);
  if (!signed_at) {
    return AuthError(Code::kAccessDenied, "AccessDenied",
                     "AWS authentication requires a valid Date or x-amz-date header");
  }
  fields.signed_at = *signed_at;
  if (auto token = HeaderValueView(headers, "x-amz-security-token", storage)) {
    fields.session_token = *token;
  }
  return Status::Ok();
}

Status ParsePresignedQuery(const QueryParams& params, AuthFields& fields) {
  auto algorithm = QueryGet(params, "X-Amz-Algorithm");
  auto credential = QueryGet(params, "X-Amz-Credential");
  auto signature = QueryGet(params, "X-Amz-Signature");
  auto signed_headers = QueryGet(params, "X-Amz-SignedHeaders");
  auto date = QueryGet(params, "X-Amz-Date");
  auto expires = QueryGet(params, "X-Amz-Expires");
  if (!algorithm || !credential || !signature || !signed_headers || !date || !expires) {
    return QueryMalformed(
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
        "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
  }
  if (*algorithm != kAlgorithm) {
    return QueryMalformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  IMGBATCH_RETURN_IF_ERROR(ParseCredential(*credential, fields));
  IMGBATCH_RETURN_IF_ERROR(ParseSignedHeaders(*signed_headers, fields));
  IMGBATCH_RETURN_IF_ERROR(ParseSignature(*signature, fields));
  auto signed_at = ParseRequestTime(*date);
  if (!signed_at) {
    return QueryMalformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  }
  fields.amz_date = *date;
  fields.signed_at = *signed_at;
  auto seconds = ParseInt(*expires);
  if (!seconds || *seconds < 0) {
    return QueryMalformed("X-Amz-Expires should be a number");
  }
  fields.expires = *seconds;
  fields.session_token = QueryGet(params, "X-Amz-Security-Token").value_or("");
  return Status::Ok();
}

bool HasPresignedParams(const QueryParams& params) {
  return QueryGet(params, "X-Amz-Algorithm") || QueryGet(params, "X-Amz-Credential") ||
         QueryGet(params, "X-Amz-Signature");
}

Status CheckScope(const AuthFields& fields, const VerifyOptions& options) {
  if (fields.date != std::string_view(fields.amz_date).substr(0, 8)) {
    std::string why = "Invalid credential date. Date is not the same as X-Amz-Date.";
    return fields.presigned ? QueryMalformed("Error parsing the X-Amz-Credential parameter; " + why)
                            : HeaderMalformed(why);
  }
  if (!options.region.empty() && fields.region != options.region) {
    std::string why =
        "the region '" + fields.region + "' is wrong; expecting '" + options.region + "'";
    return fields.presigned ? QueryMalformed("Error parsing the X-Amz-Credential parameter; " + why)
                            : HeaderMalformed(why);
  }
  if (!options.services.empty() && std::find(options.services.begin(), options.services.end(),
                                             fields.service) == options.services.end()) {
    std::string why = "the service '" + fields.service + "' is wrong; expecting one of:";
    for (const auto& service : options.services) why += " '" + service + "'";
    return fields.presigned ? QueryMalformed("Error parsing the X-Amz-Credential parameter; " + why)
                            : HeaderMalformed(why);
  }
  return Status::Ok();
}

Status CheckTime(const AuthFields& fields, std::chrono::system_clock::time_point now,
                 const VerifyOptions& options) {
  const auto signed_at = fields.signed_at;
  if (fields.presigned) {
    if (fields.expires > options.max_presign_expiry.count()) {
      return QueryMalformed("X-Amz-Expires must be less than a week (in seconds) that is; 604800");
    }
    if (signed_at > now + options.max_skew) {
      return AuthError(Code::kAccessDenied, "AccessDenied", "Request is not yet valid");
    }
    if (now > signed_at + std::chrono::seconds(fields.expires)) {
      return AuthError(Code::kAccessDenied, "AccessDenied", "Request has expired");
    }
    return Status::Ok();
  }
  auto skew = now > signed_at ? now - signed_at : signed_at - now;
  if (skew > options.max_skew) {
    return AuthError(Code::kUnauthenticated, "RequestTimeTooSkewed",
                     "The difference between the request time and the current time is too "
                     "large.");
  }
  return Status::Ok();
}

// Maps an x-amz-content-sha256 value to its payload mode; nullopt when it is
// none of the forms AWS accepts.
std::optional<PayloadMode> PayloadModeOf(std::string_view value) {
  if (value == kUnsignedPayload) return PayloadMode::kUnsignedPayload;
  if (value == kStreamingSignedPayload) return PayloadMode::kStreamingSigned;
  if (value == kStreamingSignedPayloadTrailer) return PayloadMode::kStreamingSignedTrailer;
  if (value == kStreamingUnsignedPayloadTrailer) return PayloadMode::kStreamingUnsignedTrailer;
  if (value.size() == kSignatureHexLength && IsHex(value)) {
    return PayloadMode::kSignedHex;
  }
  return std::nullopt;
}

// The payload hash line of the canonical request, as the signer must have
// written it.
Result<std::string> PayloadHashFor(const HttpRequestView& request, const AuthFields& fields) {
  auto header = HeaderValue(request.fields, "x-amz-content-sha256");
  bool use_header = header && (!fields.presigned ||
                               ContainsHeader(fields.signed_headers, "x-amz-content-sha256"));
  if (use_header) {
    if (!PayloadModeOf(*header)) {
      return AuthError(Code::kInvalidArgument, "InvalidArgument",
                       "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                       "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.");
    }
    return *header;
  }
  if (fields.presigned && fields.service == "s3") {
    // The JS SDK's presigner puts X-Amz-Content-Sha256 in the query.
    auto in_query = QueryGet(ParseQuery(request.query), "X-Amz-Content-Sha256");
    if (in_query && PayloadModeOf(*in_query)) return *in_query;
    return std::string(kUnsignedPayload);
  }
  if (!request.body_sha256_hex.empty()) return ToLower(request.body_sha256_hex);
  return std::string(kEmptySha256Hex);
}

std::string ComputeSignature(std::string_view signing_key, const CanonicalParts& parts,
                             std::string_view amz_date, std::string_view scope) {
  std::string sts = StringToSign(amz_date, scope, CanonicalRequest(parts));
  return HexEncode(HmacSha256(signing_key, sts));
}

// Derived keys change once a day per key: caching them saves four of the
// six HMACs of a verification (OpenSSL 3's one-shot HMAC costs ~5 us).
std::string CachedSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  // A thread mostly signs or verifies with one key at a time: its last
  // answer needs neither the map's lock nor a lookup id.
  struct LastKey {
    std::string secret, date, region, service, key;
  };
  thread_local LastKey last;
  if (!last.key.empty() && last.secret == secret && last.date == date && last.region == region &&
      last.service == service) {
    return last.key;
  }
  constexpr size_t kMaxCachedKeys = 256;
  static std::mutex mu;
  static std::unordered_map<std::string, std::string> cache;
  std::string key;
  std::string id;
  id.append(secret).push_back('\0');
  id.append(date).push_back('\0');
  id.append(region).push_back('\0');
  id.append(service);
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(id); it != cache.end()) key = it->second;
  }
  if (key.empty()) {
    key = DeriveSigningKey(secret, date, region, service);
    std::lock_guard lock(mu);
    if (cache.size() >= kMaxCachedKeys) cache.clear();  // stale dates age out wholesale
    cache.emplace(std::move(id), key);
  }
  last = {std::string(secret), std::string(date), std::string(region), std::string(service), key};
  return key;
}

}  // namespace

std::string CanonicalUri(std::string_view raw_path, std::string_view service) {
  if (raw_path.empty() || raw_path == "/") return "/";
  if (service != "s3") return UriEncode(NormalizeGenericPath(raw_path), /*encode_slash=*/false);
  std::string out;
  out.reserve(raw_path.size() + 16);
  bool first = true;
  for (std::string_view seg : Split(raw_path, '/')) {
    if (!first) out.push_back('/');
    first = false;
    auto decoded = PercentDecode(seg);
    out += UriEncode(decoded ? *decoded : std::string(seg));
  }
  if (out.empty() || out[0] != '/') out.insert(out.begin(), '/');
  return out;
}

std::string CanonicalQuery(std::string_view raw_query, bool presigned, bool plus_as_space) {
  if (raw_query.empty()) return {};
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& [name, value] : ParseQuery(raw_query, plus_as_space)) {
    if (presigned && name == "X-Amz-Signature") continue;
    params.emplace_back(UriEncode(name), UriEncode(value));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [n, v] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(n).push_back('=');
    out.append(v);
  }
  return out;
}

std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  std::string k = HmacSha256("AWS4" + std::string(secret), date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  return HmacSha256(k, kTerminator);
}

Result<VerifiedRequest> Verify(const HttpRequestView& request, const SecretLookup& secrets,
                               std::chrono::system_clock::time_point now,
                               const VerifyOptions& options) {
  std::vector<HeaderField> storage;
  const HttpRequestView req = internal::WithFields(request, storage);

  if (internal::IsSigV2(req)) return internal::VerifySigV2(req, secrets, now, options);

  AuthFields fields;
  std::string authorization_storage;
  auto authorization = HeaderValueView(req.fields, "authorization", authorization_storage);
  QueryParams params = ParseQuery(req.query);
  bool presigned = HasPresignedParams(params);
  if (authorization && presigned) {
    return AuthError(Code::kInvalidArgument, "InvalidArgument",
                     "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                     "Signature query string parameter or the Authorization header should be "
                     "specified");
  }
  if (authorization) {
    IMGBATCH_RETURN_IF_ERROR(ParseAuthorizationHeader(*authorization, req.fields, fields));
  } else if (presigned) {
    fields.presigned = true;
    IMGBATCH_RETURN_IF_ERROR(ParsePresignedQuery(params, fields));
  } else {
    return AuthError(Code::kAccessDenied, "AccessDenied", "Access Denied");
  }
  IMGBATCH_RETURN_IF_ERROR(CheckScope(fields, options));

  std::optional<std::string> secret = secrets ? secrets(fields.access_key_id) : std::nullopt;
  if (!secret) {
    return AuthError(Code::kUnauthenticated, "InvalidAccessKeyId",
                     "The AWS Access Key Id you provided does not exist in our records.");
  }
  IMGBATCH_RETURN_IF_ERROR(CheckTime(fields, now, options));
  IMGBATCH_RETURN_IF_ERROR(CheckAmzHeadersSigned(req.fields, fields));
  IMGBATCH_ASSIGN_OR_RETURN(std::string payload_hash, PayloadHashFor(req, fields));

  std::string scope = Scope(fields.date, fields.region, fields.service);
  std::string signing_key = CachedSigningKey(*secret, fields.date, fields.region, fields.service);
  CanonicalParts parts{
      req.method,   req.path,       req.query,       req.fields, &fields.signed_headers,
      payload_hash, fields.service, fields.presigned};
  // Readings of the request a signer may have used, AWS's own first. Signers
  // disagree on whether a raw '+' in a query is a space (form encoding) or a
  // plus, and a few S3 clients sign their wire path verbatim without strict
  // encoding. Every reading names the same decoded path and query, so
  // accepting any of them grants nothing the key holder did not sign.
  const bool query_has_plus = req.query.find('+') != std::string_view::npos;
  const bool path_differs = fields.service == "s3" && !req.path.empty() &&
                            CanonicalUri(req.path, fields.service) != req.path;
  bool match = false;
  for (int reading = 0; reading < 4 && !match; ++reading) {
    parts.plus_as_space = (reading & 1) != 0;
    parts.path_as_sent = (reading & 2) != 0;
    if ((parts.plus_as_space && !query_has_plus) || (parts.path_as_sent && !path_differs)) {
      continue;
    }
    match = ConstantTimeEquals(ComputeSignature(signing_key, parts, fields.amz_date, scope),
                               fields.signature);
  }
  if (!match) return SignatureMismatch();

  VerifiedRequest verified;
  verified.payload = PayloadModeOf(payload_hash).value_or(PayloadMode::kSignedHex);
  if (verified.payload == PayloadMode::kSignedHex) {
    verified.body_sha256 = std::move(payload_hash);
    for (char& c : verified.body_sha256) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  // fields is not read again: its strings move into the answer.
  verified.access_key_id = std::move(fields.access_key_id);
  verified.region = std::move(fields.region);
  verified.service = std::move(fields.service);
  verified.signing_key = std::move(signing_key);
  verified.seed_signature = std::move(fields.signature);
  verified.amz_date = std::move(fields.amz_date);
  verified.scope = std::move(scope);
  verified.presigned = fields.presigned;
  verified.session_token = std::move(fields.session_token);
  std::string decoded_storage;
  if (auto decoded = HeaderValueView(req.fields, "x-amz-decoded-content-length", decoded_storage)) {
    verified.decoded_content_length = ParseUint(*decoded);
  }
  return verified;
}

std::optional<ClaimedScope> PeekScope(const HttpRequestView& request) {
  std::vector<HeaderField> storage;
  const HttpRequestView req = internal::WithFields(request, storage);
  if (internal::IsSigV2(req)) {
    ClaimedScope scope;
    scope.service = "s3";
    if (auto auth = HeaderValue(req.fields, "authorization")) {
      std::string_view rest = std::string_view(*auth).substr(4);  // "AWS "
      scope.access_key_id = rest.substr(0, rest.rfind(':'));
    } else {
      scope.access_key_id = QueryGet(ParseQuery(req.query), "AWSAccessKeyId").value_or("");
    }
    return scope;
  }
  std::optional<std::string> credential;
  if (auto auth = HeaderValue(req.fields, "authorization")) {
    for (std::string_view part : Split(*auth, ',')) {
      part = Trim(part);
      if (part.starts_with(kAlgorithm)) part = Trim(part.substr(kAlgorithm.size()));
      if (part.starts_with("Credential=")) credential = std::string(part.substr(11));
    }
  } else {
    credential = QueryGet(ParseQuery(req.query), "X-Amz-Credential");
  }
  if (!credential) return std::nullopt;
  AuthFields fields;
  if (!ParseCredential(*credential, fields).ok()) return std::nullopt;
  return ClaimedScope{fields.access_key_id, fields.date, fields.region, fields.service};
}

Status CheckPayloadSha256(const VerifiedRequest& request, std::string_view actual_sha256_hex) {
  if (request.payload != PayloadMode::kSignedHex || request.body_sha256.empty()) {
    return Status::Ok();
  }
  if (!IEquals(request.body_sha256, actual_sha256_hex)) {
    return AuthError(Code::kInvalidArgument, "XAmzContentSHA256Mismatch",
                     "The provided 'x-amz-content-sha256' header does not match what was "
                     "computed.");
  }
  return Status::Ok();
}

namespace {

void RemoveHeader(HeaderList& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return IEquals(h.first, name); });
}

bool IsUnsignable(std::string_view lower_name) {
  return std::find(std::begin(kUnsignableHeaders), std::end(kUnsignableHeaders), lower_name) !=
         std::end(kUnsignableHeaders);
}

std::vector<std::string> SignableHeaderNames(const HeaderList& headers) {
  std::vector<std::string> names;
  for (const auto& [name, value] : headers) {
    std::string lower = ToLower(name);
    if (!IsUnsignable(lower)) names.push_back(std::move(lower));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace

void SignRequest(std::string_view method, std::string_view path, std::string_view query,
                 HeaderList& headers, std::string_view payload_sha256_hex,
                 const Credentials& credentials, std::string_view region, std::string_view service,
                 std::chrono::system_clock::time_point now) {
  std::string amz_date = FormatAmzDate(now);
  std::string date = amz_date.substr(0, 8);
  std::string payload_hash =
      payload_sha256_hex.empty() ? std::string(kEmptySha256Hex) : std::string(payload_sha256_hex);

  // Re-signing (a retry) replaces what an earlier signature added.
  RemoveHeader(headers, "authorization");
  RemoveHeader(headers, "x-amz-date");
  RemoveHeader(headers, "x-amz-security-token");
  headers.emplace_back("x-amz-date", amz_date);
  if (service == "s3") {
    RemoveHeader(headers, "x-amz-content-sha256");
    headers.emplace_back("x-amz-content-sha256", payload_hash);
  }
  if (!credentials.session_token.empty()) {
    headers.emplace_back("x-amz-security-token", credentials.session_token);
  }

  std::vector<std::string> signed_headers = SignableHeaderNames(headers);
  std::string scope = Scope(date, region, service);
  // Cached per day/region/service as the SDKs cache it: a client signing
  // thousands of requests a second (bench/queue's load generator) spent
  // most of its signing time re-deriving the same key.
  std::string signing_key = CachedSigningKey(credentials.secret_access_key, date, region, service);
  const std::vector<HeaderField> views = ViewHeaderFields(headers);
  CanonicalParts parts{method, path, query, views, &signed_headers, payload_hash, service};
  std::string signature = ComputeSignature(signing_key, parts, amz_date, scope);
  headers.emplace_back("Authorization",
                       std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                           scope + ", SignedHeaders=" + JoinSignedHeaders(signed_headers) +
                           ", Signature=" + signature);
}

std::string PresignQuery(std::string_view method, std::string_view path, std::string_view query,
                         std::string_view host, const Credentials& credentials,
                         std::string_view region, std::string_view service,
                         std::chrono::system_clock::time_point now, std::chrono::seconds expires) {
  std::string amz_date = FormatAmzDate(now);
  std::string date = amz_date.substr(0, 8);
  std::string scope = Scope(date, region, service);

  std::string full_query(query);
  auto add = [&](std::string_view name, std::string_view value) {
    if (!full_query.empty()) full_query.push_back('&');
    full_query.append(name).push_back('=');
    full_query.append(UriEncode(value));
  };
  add("X-Amz-Algorithm", kAlgorithm);
  add("X-Amz-Credential", credentials.access_key_id + "/" + scope);
  add("X-Amz-Date", amz_date);
  add("X-Amz-Expires", std::to_string(expires.count()));
  add("X-Amz-SignedHeaders", "host");
  if (!credentials.session_token.empty()) add("X-Amz-Security-Token", credentials.session_token);

  HeaderList headers{{"host", std::string(host)}};
  std::vector<std::string> signed_headers{"host"};
  std::string_view payload_hash = service == "s3" ? kUnsignedPayload : kEmptySha256Hex;
  std::string signing_key = DeriveSigningKey(credentials.secret_access_key, date, region, service);
  const std::vector<HeaderField> views = ViewHeaderFields(headers);
  CanonicalParts parts{method,          path,         full_query, views,
                       &signed_headers, payload_hash, service,    /*presigned=*/true};
  std::string signature = ComputeSignature(signing_key, parts, amz_date, scope);
  return CanonicalQuery(full_query, /*presigned=*/true) + "&X-Amz-Signature=" + signature;
}

}  // namespace imgbatch::auth
