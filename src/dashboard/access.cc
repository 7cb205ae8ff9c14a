#include "dashboard/access.h"

#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::dashboard {
namespace {

// Browsers keep a session a week; the token itself never expires.
constexpr int kSessionMaxAgeSeconds = 7 * 24 * 3600;

bool IsSafeMethod(std::string_view method) { return method == "GET" || method == "HEAD"; }

Verdict Refuse(int status, std::string code, std::string message) {
  Verdict v;
  v.status = status;
  v.code = std::move(code);
  v.message = std::move(message);
  return v;
}

Verdict Allow(Via via) {
  Verdict v;
  v.allowed = true;
  v.via = via;
  v.status = 200;
  return v;
}

// A state-changing request with the cookie must come from our own origin:
// Origin (sent by every current browser on POST/PUT/DELETE) must name the
// Host it was sent to, and Sec-Fetch-Site, when present, must say so too.
bool SameOrigin(const http::RequestHead& head) {
  if (auto site = head.headers.Get("sec-fetch-site")) {
    if (*site != "same-origin") return false;
  }
  auto origin = head.headers.Get("origin");
  if (!origin) return true;
  auto host = head.headers.Get("host");
  if (!host) return false;
  std::string scheme = head.tls ? "https://" : "http://";
  return *origin == scheme + std::string(*host);
}

}  // namespace

std::string CookieValue(const http::Headers& headers, std::string_view name) {
  for (const auto& field : headers.fields()) {
    if (!IEquals(field.name, "cookie")) continue;
    for (std::string_view pair : Split(field.value, ';')) {
      pair = Trim(pair);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (Trim(pair.substr(0, eq)) == name) return std::string(Trim(pair.substr(eq + 1)));
    }
  }
  return {};
}

Access::Access(std::string token) : token_(std::move(token)) {
  if (!token_.empty()) {
    session_ = HexEncode(HmacSha256(token_, "imgbatch dashboard session v1"));
    csrf_ = HexEncode(HmacSha256(token_, "imgbatch dashboard csrf v1"));
  }
}

bool Access::TokenMatches(std::string_view candidate) const {
  return !token_.empty() && ConstantTimeEquals(candidate, token_);
}

bool Access::HasSession(const http::RequestHead& head) const {
  if (token_.empty()) return true;
  std::string cookie = CookieValue(head.headers, kSessionCookie);
  return !cookie.empty() && ConstantTimeEquals(cookie, session_);
}

std::string Access::CsrfToken() const { return csrf_; }

std::string Access::SessionCookie(bool secure) const {
  return std::string(kSessionCookie) + "=" + session_ +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(kSessionMaxAgeSeconds) +
         (secure ? "; Secure" : "");
}

Verdict Access::CheckApi(const http::RequestHead& head) const {
  if (token_.empty()) return Allow(Via::kOpen);
  if (auto auth = head.headers.Get("authorization")) {
    std::string_view value = Trim(*auth);
    if (IStartsWith(value, "Bearer ") && TokenMatches(Trim(value.substr(7)))) {
      return Allow(Via::kBearer);
    }
    return Refuse(401, "Unauthorized",
                  "Authorization is neither the bearer token (<data-dir>/dashboard-token) nor a "
                  "valid root-key signature");
  }
  if (!HasSession(head)) {
    return Refuse(401, "Unauthorized",
                  "the API needs the dashboard token: Authorization: Bearer <token> "
                  "(<data-dir>/dashboard-token) or the dashboard's session cookie");
  }
  if (IsSafeMethod(head.method)) return Allow(Via::kCookie);
  auto csrf = head.headers.Get(kCsrfHeader);
  if (!csrf || !ConstantTimeEquals(*csrf, csrf_)) {
    return Refuse(403, "Forbidden", "missing or wrong X-CSRF-Token for a state-changing call");
  }
  if (!SameOrigin(head)) {
    return Refuse(403, "Forbidden", "cross-origin state-changing call refused");
  }
  return Allow(Via::kCookie);
}

}  // namespace imgbatch::dashboard
