// Access to the dashboard and the /-/api/ endpoints. One token (kept in the
// data directory, printed at start) opens everything:
// - a CLI sends it as `Authorization: Bearer <token>`;
// - a browser opens /ui/?token=<token> once and then holds a session cookie
//   (HttpOnly, SameSite=Strict) derived from the token.
// State-changing calls (anything but GET/HEAD) made with the cookie must also
// carry the CSRF token in X-CSRF-Token (the page reads it from its own HTML,
// which another site cannot) and, when the browser sends Origin or
// Sec-Fetch-Site, come from this origin. Bearer calls need no CSRF defence:
// a cross-site page cannot set Authorization without a CORS preflight we never
// answer.
//
// The cookie and CSRF values are HMACs of the token, so the server keeps no
// session state and a restart (or several servers on one data dir, one after
// the other) keeps browsers logged in. All comparisons are constant-time.
//
// Thread-safety: immutable after construction; use from any thread.
#pragma once

#include <string>
#include <string_view>

#include "http/exchange.h"

namespace imgbatch::dashboard {

inline constexpr char kSessionCookie[] = "imgbatch_session";
inline constexpr char kCsrfHeader[] = "X-CSRF-Token";

enum class Via { kNone, kBearer, kCookie, kOpen };

struct Verdict {
  bool allowed = false;
  Via via = Via::kNone;
  int status = 401;     // when refused: 401 (no credentials) or 403 (CSRF / origin)
  std::string code;     // "Unauthorized", "Forbidden"
  std::string message;  // why, for the JSON error
};

// The value of one cookie in a Cookie header ("" when absent).
std::string CookieValue(const http::Headers& headers, std::string_view name);

class Access {
 public:
  // An empty token leaves everything open (in-process tests only; `up`
  // always has one).
  explicit Access(std::string token);

  // The one check every /-/api/ route goes through.
  Verdict CheckApi(const http::RequestHead& head) const;

  bool TokenMatches(std::string_view candidate) const;
  bool HasSession(const http::RequestHead& head) const;
  std::string CsrfToken() const;
  // The Set-Cookie value that opens a browser session (Secure under TLS).
  std::string SessionCookie(bool secure) const;

 private:
  std::string token_;
  std::string session_;  // cookie value
  std::string csrf_;
};

}  // namespace imgbatch::dashboard
