// Bucket CORS: Put/Get/Delete, validation, OPTIONS preflight (no auth) and
// CORS headers on actual requests.
#include "s3/cors.h"

#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

constexpr char kCors[] =
    "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<CORSRule><ID>web</ID><AllowedOrigin>https://*.example.com</AllowedOrigin>"
    "<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>"
    "<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
    "<MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>"
    "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule>"
    "</CORSConfiguration>";

class CorsTest : public S3Fixture {
 protected:
  void SetUp() override { CreateBucket("web"); }

  std::shared_ptr<http::FakeExchange> Preflight(const std::string& origin,
                                                const std::string& method,
                                                const std::string& headers = "") {
    http::Headers h;
    if (!origin.empty()) h.Add("Origin", origin);
    if (!method.empty()) h.Add("Access-Control-Request-Method", method);
    if (!headers.empty()) h.Add("Access-Control-Request-Headers", headers);
    std::string saved = key_;
    key_.clear();  // browsers send preflights without credentials
    auto ex = Call("OPTIONS", "/web/photo.jpg", h);
    key_ = saved;
    return ex;
  }
};

TEST_F(CorsTest, PutGetDelete) {
  EXPECT_EQ(ErrorCode(*Call("GET", "/web?cors")), "NoSuchCORSConfiguration");
  ASSERT_EQ(Call("PUT", "/web?cors", {}, kCors)->response().status, 200);
  auto get = Call("GET", "/web?cors");
  ASSERT_EQ(get->response().status, 200);
  auto doc = Xml(get->BodyText());
  auto root = doc.child("CORSConfiguration");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  auto rule = root.child("CORSRule");
  EXPECT_EQ(std::string(rule.child_value("ID")), "web");
  EXPECT_EQ(std::string(rule.child_value("AllowedOrigin")), "https://*.example.com");
  EXPECT_EQ(std::string(rule.child_value("MaxAgeSeconds")), "3000");
  EXPECT_EQ(
      std::distance(rule.children("AllowedMethod").begin(), rule.children("AllowedMethod").end()),
      2);
  EXPECT_EQ(Call("DELETE", "/web?cors")->response().status, 204);
  EXPECT_EQ(Call("GET", "/web?cors")->response().status, 404);
  EXPECT_EQ(ErrorCode(*Call("GET", "/nobucket?cors")), "NoSuchBucket");
}

TEST_F(CorsTest, ValidatesTheDocument) {
  EXPECT_EQ(ErrorCode(*Call("PUT", "/web?cors", {}, "<CORSConfiguration>")), "MalformedXML");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/web?cors", {}, "<CORSConfiguration/>")), "MalformedXML");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/web?cors", {},
                            "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
                            "<AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>")),
            "InvalidRequest");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/web?cors", {},
                            "<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin>"
                            "<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>")),
            "InvalidRequest");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/web?cors", {},
                            "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
                            "</CORSRule></CORSConfiguration>")),
            "MalformedXML");
}

TEST_F(CorsTest, PreflightAnsweredFromRulesWithoutAuth) {
  auto disabled = Preflight("https://app.example.com", "PUT");
  EXPECT_EQ(disabled->response().status, 403);
  EXPECT_EQ(ErrorCode(*disabled), "CORSResponse");
  ASSERT_EQ(Call("PUT", "/web?cors", {}, kCors)->response().status, 200);

  auto ok = Preflight("https://app.example.com", "PUT", "Content-Type, X-Amz-Date");
  ASSERT_EQ(ok->response().status, 200) << ok->BodyText();
  EXPECT_EQ(Header(*ok, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(Header(*ok, "Access-Control-Allow-Methods"), "GET, PUT");
  EXPECT_EQ(Header(*ok, "Access-Control-Allow-Headers"), "content-type, x-amz-date");
  EXPECT_EQ(Header(*ok, "Access-Control-Expose-Headers"), "ETag");
  EXPECT_EQ(Header(*ok, "Access-Control-Max-Age"), "3000");
  EXPECT_EQ(Header(*ok, "Access-Control-Allow-Credentials"), "true");

  auto any = Preflight("http://other.test", "HEAD");
  EXPECT_EQ(any->response().status, 200);
  EXPECT_EQ(Header(*any, "Access-Control-Allow-Origin"), "*");

  EXPECT_EQ(ErrorCode(*Preflight("http://other.test", "PUT")), "CORSResponse");
  EXPECT_EQ(ErrorCode(*Preflight("https://example.com", "GET")), "CORSResponse");
  EXPECT_EQ(ErrorCode(*Preflight("", "GET")), "BadRequest");
  EXPECT_EQ(ErrorCode(*Preflight("https://a.example.com", "")), "BadRequest");
}

TEST_F(CorsTest, ActualRequestsGetCorsHeaders) {
  ASSERT_EQ(Call("PUT", "/web?cors", {}, kCors)->response().status, 200);
  Put("web", "photo.jpg", "img");
  http::Headers h;
  h.Add("Origin", "https://app.example.com");
  auto get = Call("GET", "/web/photo.jpg", h);
  EXPECT_EQ(get->response().status, 200);
  EXPECT_EQ(Header(*get, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(Header(*get, "Access-Control-Expose-Headers"), "ETag");
  http::Headers other;
  other.Add("Origin", "https://evil.test");
  EXPECT_EQ(Header(*Call("GET", "/web/photo.jpg", other), "Access-Control-Allow-Origin"), "");
}

TEST(CorsRules, FirstMatchingRuleWins) {
  auto config = ParseCorsConfiguration(kCors);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->rules.size(), 2u);
  const CorsRule* rule = MatchCorsRule(*config, "https://a.example.com", "GET", {"x-amz-date"});
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->id, "web");
  EXPECT_EQ(MatchCorsRule(*config, "https://a.example.com", "DELETE", {}), nullptr);
  EXPECT_NE(MatchCorsRule(*config, "https://a.example.com", "HEAD", {}), nullptr);
  // The rendered document parses back to the same rules.
  auto again = ParseCorsConfiguration(RenderCorsConfiguration(*config));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rules[0].allowed_methods, config->rules[0].allowed_methods);
  EXPECT_EQ(again->rules[0].max_age_seconds, config->rules[0].max_age_seconds);
}

}  // namespace
}  // namespace imgbatch::s3::testing
