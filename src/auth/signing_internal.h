// Helpers shared by the SigV4 and SigV2 verifiers inside the auth module.
// Not part of the module's API. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sigv4.h"
#include "common/status.h"

namespace imgbatch::auth::internal {

// A Status whose detail() is the AWS error code.
Status AuthError(Code code, std::string_view detail, std::string message);
// "Trimall": both ends stripped, inner runs of spaces/tabs collapsed to one.
std::string TrimAll(std::string_view value);
// All values of a header (case-insensitive name) trimmed and joined with ','
// in request order; nullopt when absent.
std::optional<std::string> HeaderValue(std::span<const HeaderField> headers, std::string_view name);
// The same value, viewed in place when the header appears once with nothing
// to collapse (the common case), else joined into storage; valid while the
// headers and storage are.
std::optional<std::string_view> HeaderValueView(std::span<const HeaderField> headers,
                                                std::string_view name, std::string& storage);
// The same value appended to out (no copy of its own); false when absent.
bool AppendHeaderValue(std::string& out, std::span<const HeaderField> headers,
                       std::string_view name);
// The request with its headers as `fields` (a HeaderList's viewed into
// storage), the form the verifiers read.
HttpRequestView WithFields(const HttpRequestView& request, std::vector<HeaderField>& storage);

// Non-empty and only ASCII digits.
bool IsDigits(std::string_view s);
// A request's signing time: x-amz-date / X-Amz-Date (ISO 8601 basic,
// 20130524T000000Z) or a Date header (RFC 1123). nullopt when malformed or
// before 1970; a year past 2200 reads as 2200 (the clock cannot hold much
// more), which any skew check refuses as AWS does: RequestTimeTooSkewed.
std::optional<std::chrono::system_clock::time_point> ParseRequestTime(std::string_view amz_date);
std::optional<std::chrono::system_clock::time_point> ParseDateHeader(std::string_view date);

// Signature Version 2 (HMAC-SHA1), for S3 only: "Authorization: AWS id:sig"
// and presigned AWSAccessKeyId/Expires/Signature URLs, which botocore and the
// aws CLI still produce by default for us-east-1 presigned URLs.
// Both read request.fields: pass a request from WithFields.
bool IsSigV2(const HttpRequestView& request);
// SigV2's signature: base64 of HMAC-SHA1(secret, string to sign).
std::string HmacSha1Base64(std::string_view key, std::string_view data);
Result<VerifiedRequest> VerifySigV2(const HttpRequestView& request, const SecretLookup& secrets,
                                    std::chrono::system_clock::time_point now,
                                    const VerifyOptions& options);

}  // namespace imgbatch::auth::internal
