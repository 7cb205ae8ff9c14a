#include "dashboard/access.h"

#include <gtest/gtest.h>

namespace imgbatch::dashboard {
namespace {

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

http::RequestHead Head(std::string method, http::Headers headers = {}) {
  http::RequestHead head;
  head.method = std::move(method);
  head.path = "/-/api/status";
  head.headers = std::move(headers);
  return head;
}

std::string CookieOf(const Access& access) {
  std::string set_cookie = access.SessionCookie(false);
  return set_cookie.substr(0, set_cookie.find(';'));
}

TEST(CookieValue, FindsTheNamedCookieAmongOthers) {
  http::Headers h;
  h.Add("Cookie", "a=1; imgbatch_session=xyz ; b=2");
  EXPECT_EQ(CookieValue(h, "imgbatch_session"), "xyz");
  EXPECT_EQ(CookieValue(h, "b"), "2");
  EXPECT_EQ(CookieValue(h, "missing"), "");
}

TEST(Access, SessionCookieIsHttpOnlyStrictAndNotTheToken) {
  Access access(kToken);
  std::string c = access.SessionCookie(false);
  EXPECT_NE(c.find("HttpOnly"), std::string::npos);
  EXPECT_NE(c.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(c.find("Path=/"), std::string::npos);
  EXPECT_EQ(c.find("Secure"), std::string::npos);
  EXPECT_EQ(c.find(kToken), std::string::npos);
  EXPECT_NE(access.SessionCookie(true).find("; Secure"), std::string::npos);
  // Another token, another session: an old cookie stops working.
  EXPECT_NE(CookieOf(Access("another-token")), CookieOf(access));
}

TEST(Access, RefusesWithoutCredentials) {
  Access access(kToken);
  Verdict v = access.CheckApi(Head("GET"));
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.status, 401);
  EXPECT_EQ(v.code, "Unauthorized");
}

TEST(Access, BearerTokenOpensEveryMethodWithoutCsrf) {
  Access access(kToken);
  http::Headers h;
  h.Add("Authorization", std::string("Bearer ") + kToken);
  EXPECT_TRUE(access.CheckApi(Head("GET", h)).allowed);
  Verdict post = access.CheckApi(Head("POST", h));
  EXPECT_TRUE(post.allowed);
  EXPECT_EQ(post.via, Via::kBearer);

  http::Headers wrong;
  wrong.Add("Authorization", "Bearer 0123456789abcdef0123456789abcdeX");
  EXPECT_EQ(access.CheckApi(Head("GET", wrong)).status, 401);
  // A wrong bearer is refused even when a good cookie rides along.
  wrong.Add("Cookie", CookieOf(access));
  EXPECT_FALSE(access.CheckApi(Head("GET", wrong)).allowed);
}

TEST(Access, CookieReadsButStateChangesNeedCsrfAndSameOrigin) {
  Access access(kToken);
  http::Headers h;
  h.Add("Cookie", CookieOf(access));
  h.Add("Host", "127.0.0.1:4566");
  Verdict get = access.CheckApi(Head("GET", h));
  EXPECT_TRUE(get.allowed);
  EXPECT_EQ(get.via, Via::kCookie);

  Verdict no_csrf = access.CheckApi(Head("POST", h));
  EXPECT_FALSE(no_csrf.allowed);
  EXPECT_EQ(no_csrf.status, 403);

  http::Headers bad_csrf = h;
  bad_csrf.Add("X-CSRF-Token", "nope");
  EXPECT_EQ(access.CheckApi(Head("DELETE", bad_csrf)).status, 403);

  http::Headers good = h;
  good.Add("X-CSRF-Token", access.CsrfToken());
  good.Add("Origin", "http://127.0.0.1:4566");
  good.Add("Sec-Fetch-Site", "same-origin");
  EXPECT_TRUE(access.CheckApi(Head("PUT", good)).allowed);
  EXPECT_TRUE(access.CheckApi(Head("DELETE", good)).allowed);

  http::Headers other_origin = h;
  other_origin.Add("X-CSRF-Token", access.CsrfToken());
  other_origin.Add("Origin", "http://evil.example");
  EXPECT_EQ(access.CheckApi(Head("POST", other_origin)).status, 403);

  http::Headers cross_site = h;
  cross_site.Add("X-CSRF-Token", access.CsrfToken());
  cross_site.Add("Sec-Fetch-Site", "cross-site");
  EXPECT_EQ(access.CheckApi(Head("POST", cross_site)).status, 403);
}

TEST(Access, WrongCookieIsRefused) {
  Access access(kToken);
  http::Headers h;
  h.Add("Cookie", std::string(kSessionCookie) + "=" + kToken);  // the raw token is no session
  EXPECT_EQ(access.CheckApi(Head("GET", h)).status, 401);
}

TEST(Access, TokenMatchesOnlyTheToken) {
  Access access(kToken);
  EXPECT_TRUE(access.TokenMatches(kToken));
  EXPECT_FALSE(access.TokenMatches(""));
  EXPECT_FALSE(access.TokenMatches("0123456789abcdef"));
  EXPECT_FALSE(Access("").TokenMatches(""));
}

}  // namespace
}  // namespace imgbatch::dashboard
