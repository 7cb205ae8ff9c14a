#include "dashboard/ui.h"

#include <gtest/gtest.h>

#include "dashboard/assets.h"
#include "http/testing.h"

namespace imgbatch::dashboard {
namespace {

constexpr char kToken[] = "tok-0123456789abcdef0123456789";

http::Handler Ui(const Access& access) {
  return [&access](std::shared_ptr<http::Exchange> ex) { HandleUi(access, *ex); };
}

std::string Header(http::FakeExchange& ex, std::string_view name) {
  return std::string(ex.response().headers.Get(name).value_or(""));
}

TEST(Ui, WithoutSessionAnswers401WithATokenForm) {
  Access access(kToken);
  auto ex = http::Call(Ui(access), "GET", "/ui/");
  EXPECT_EQ(ex->response().status, 401);
  EXPECT_EQ(Header(*ex, "Content-Type"), "text/html; charset=utf-8");
  std::string body = ex->BodyText();
  EXPECT_NE(body.find("<form method=\"get\" action=\"/ui/\">"), std::string::npos);
  EXPECT_NE(body.find("name=\"token\""), std::string::npos);
  EXPECT_NE(body.find("rel=\"icon\""), std::string::npos);
  EXPECT_EQ(body.find("csrf"), std::string::npos);
}

TEST(Ui, TokenSetsTheCookieAndRedirectsWithoutIt) {
  Access access(kToken);
  auto ex = http::Call(Ui(access), "GET", std::string("/ui/?token=") + kToken);
  EXPECT_EQ(ex->response().status, 303);
  EXPECT_EQ(Header(*ex, "Location"), "/ui/");
  EXPECT_EQ(Header(*ex, "Set-Cookie"), access.SessionCookie(false));
  EXPECT_EQ(Header(*ex, "Referrer-Policy"), "no-referrer");
}

TEST(Ui, WrongTokenShowsTheFormAgain) {
  Access access(kToken);
  auto ex = http::Call(Ui(access), "GET", "/ui/?token=wrong");
  EXPECT_EQ(ex->response().status, 401);
  EXPECT_FALSE(ex->response().headers.Has("Set-Cookie"));
  EXPECT_NE(ex->BodyText().find("not right"), std::string::npos);
}

TEST(Ui, SessionGetsThePageWithTheCsrfTokenAndNoStore) {
  Access access(kToken);
  std::string cookie = access.SessionCookie(false);
  http::Headers h;
  h.Add("Cookie", cookie.substr(0, cookie.find(';')));
  auto ex = http::Call(Ui(access), "GET", "/ui/", h);
  ASSERT_EQ(ex->response().status, 200);
  EXPECT_EQ(Header(*ex, "Cache-Control"), "no-store");
  EXPECT_NE(Header(*ex, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  std::string body = ex->BodyText();
  EXPECT_NE(body.find("content=\"" + access.CsrfToken() + "\""), std::string::npos);
  EXPECT_EQ(body.find("__CSRF_TOKEN__"), std::string::npos);
  EXPECT_NE(body.find("rel=\"icon\""), std::string::npos);
}

TEST(Ui, AssetsHaveTypesAndRevalidate) {
  Access access(kToken);
  struct Case {
    const char* path;
    const char* type;
  } cases[] = {{"/ui/app.js", "text/javascript; charset=utf-8"},
               {"/ui/app.css", "text/css; charset=utf-8"},
               {"/ui/favicon.svg", "image/svg+xml"}};
  for (const auto& c : cases) {
    auto ex = http::Call(Ui(access), "GET", c.path);
    ASSERT_EQ(ex->response().status, 200) << c.path;
    EXPECT_EQ(Header(*ex, "Content-Type"), c.type);
    EXPECT_EQ(Header(*ex, "Cache-Control"), "no-cache");
    std::string etag = Header(*ex, "ETag");
    ASSERT_FALSE(etag.empty());
    EXPECT_GT(ex->BodyText().size(), 100u) << c.path;
    http::Headers h;
    h.Add("If-None-Match", etag);
    auto again = http::Call(Ui(access), "GET", c.path, h);
    EXPECT_EQ(again->response().status, 304) << c.path;
  }
}

TEST(Ui, TheBundleCarriesTheChartLibrary) {
  const ServedAsset* js = FindAsset("app.js");
  ASSERT_NE(js, nullptr);
  EXPECT_NE(js->bytes.find("uplot"), std::string_view::npos);  // uPlot's CSS class names
}

TEST(Ui, UnknownFilesAndOtherMethods) {
  Access access(kToken);
  EXPECT_EQ(http::Call(Ui(access), "GET", "/ui/nope.js")->response().status, 404);
  EXPECT_EQ(http::Call(Ui(access), "POST", "/ui/")->response().status, 405);
  auto bare = http::Call(Ui(access), "GET", "/ui");
  EXPECT_EQ(bare->response().status, 303);
  EXPECT_EQ(Header(*bare, "Location"), "/ui/");
}

}  // namespace
}  // namespace imgbatch::dashboard
