// Fuzzes SigV4 verification and canonicalisation. The input is a request in
// text form:
//   line 1: method   line 2: path   line 3: query
//   then "name: value" header lines, an empty line, and the body.
// Every input goes through Verify (header and presigned forms) and the
// canonicalisers; none may crash. Two invariants are checked too (abort on
// failure, which libFuzzer and the replay test report): a request we sign
// ourselves always verifies, for s3 and for sqs, and so does a URL we presign.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "common/hashing.h"
#include "common/strings.h"

namespace {

using imgbatch::auth::Credentials;
using imgbatch::auth::HeaderList;
using imgbatch::auth::HttpRequestView;

constexpr std::string_view kKeyId = "AKIAFUZZ";
constexpr std::string_view kSecret = "fuzz-secret";

std::chrono::system_clock::time_point Now() { return *imgbatch::ParseAmzDate("20261128T014500Z"); }

std::optional<std::string> Lookup(std::string_view id) {
  if (id == kKeyId) return std::string(kSecret);
  return std::nullopt;
}

struct Request {
  std::string method, path, query, body;
  HeaderList headers;
};

std::string_view NextLine(std::string_view& in) {
  size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return line;
}

Request Parse(std::string_view in) {
  Request r;
  r.method = NextLine(in);
  r.path = NextLine(in);
  r.query = NextLine(in);
  while (!in.empty()) {
    std::string_view line = NextLine(in);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    r.headers.emplace_back(std::string(line.substr(0, colon)),
                           std::string(imgbatch::Trim(line.substr(colon + 1))));
  }
  r.body = in;
  return r;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Our own signatures must verify whenever the request is one a client could
// sign: token header names and a query without SigV4 query parameters.
bool Signable(const Request& r) {
  for (const auto& [name, value] : imgbatch::ParseQuery(r.query)) {
    if (imgbatch::IStartsWith(name, "X-Amz-")) return false;
  }
  for (const auto& [name, value] : r.headers) {
    if (!IsToken(name)) return false;
  }
  return true;
}

void CheckSignThenVerify(const Request& r, std::string_view service) {
  HeaderList headers;
  bool has_host = false;
  for (const auto& [name, value] : r.headers) {
    // Only s3 signers own x-amz-content-sha256; elsewhere it is the caller's.
    if (service != "s3" && imgbatch::IEquals(name, "x-amz-content-sha256")) continue;
    has_host = has_host || imgbatch::IEquals(name, "host");
    headers.emplace_back(name, value);
  }
  if (!has_host) headers.emplace_back("Host", "host.example");
  std::string body_hash = imgbatch::Sha256Hex(r.body);
  Credentials creds{std::string(kKeyId), std::string(kSecret), ""};
  imgbatch::auth::SignRequest(r.method, r.path, r.query, headers, body_hash, creds, "us-east-1",
                              service, Now());
  HttpRequestView view{r.method, r.path, r.query, &headers, body_hash};
  auto verified = imgbatch::auth::Verify(view, Lookup, Now());
  if (!verified.ok() || verified->body_sha256 != body_hash) std::abort();
}

void CheckPresignThenVerify(const Request& r) {
  Credentials creds{std::string(kKeyId), std::string(kSecret), "token"};
  std::string query =
      imgbatch::auth::PresignQuery(r.method, r.path, r.query, "host.example", creds, "us-east-1",
                                   "s3", Now(), std::chrono::seconds(300));
  HeaderList headers{{"Host", "host.example"}};
  auto verified = imgbatch::auth::Verify({r.method, r.path, query, &headers}, Lookup, Now());
  if (!verified.ok()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Request r = Parse(input);

  (void)imgbatch::auth::CanonicalUri(r.path, "s3");
  (void)imgbatch::auth::CanonicalUri(r.path, "sqs");
  (void)imgbatch::auth::CanonicalQuery(r.query, true);
  (void)imgbatch::auth::CanonicalQuery(r.query, false, true);

  std::string body_hash = imgbatch::Sha256Hex(r.body);
  HttpRequestView view{r.method, r.path, r.query, &r.headers, body_hash};
  (void)imgbatch::auth::Verify(view, Lookup, Now());
  (void)imgbatch::auth::PeekScope(view);

  if (Signable(r)) {
    CheckSignThenVerify(r, "s3");
    CheckSignThenVerify(r, "sqs");
    CheckPresignThenVerify(r);
  }
  return 0;
}
