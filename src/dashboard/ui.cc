#include "dashboard/ui.h"

#include "common/strings.h"
#include "dashboard/assets.h"

namespace imgbatch::dashboard {
namespace {

constexpr char kCsrfPlaceholder[] = "__CSRF_TOKEN__";
// Scripts and styles only from /ui/; images from the API (gallery) and data:
// URIs (the icon). Nothing inline, nothing from another origin.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
// The same icon as in index.html, for the login page.
constexpr char kIconLink[] =
    "<link rel=\"icon\" href=\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' "
    "viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23264653'/%3E%3Cpath "
    "d='M3 11l3-4 2 3 2-2 3 3z' fill='%23e9c46a'/%3E%3C/svg%3E\">";

void SetCommonHeaders(http::Response& r) {
  r.headers.Set("X-Content-Type-Options", "nosniff");
  r.headers.Set("Referrer-Policy", "no-referrer");
  r.headers.Set("Content-Security-Policy", kContentSecurityPolicy);
  r.headers.Set("X-Frame-Options", "DENY");
}

void Redirect(http::Exchange& ex, const std::string& location, const std::string& cookie = {}) {
  http::Response r;
  r.status = 303;
  r.headers.Set("Location", location);
  r.headers.Set("Cache-Control", "no-store");
  if (!cookie.empty()) r.headers.Set("Set-Cookie", cookie);
  SetCommonHeaders(r);
  ex.Respond(std::move(r));
}

void LoginPage(http::Exchange& ex, bool wrong_token) {
  http::Response r;
  r.status = 401;
  r.headers.Set("Content-Type", "text/html; charset=utf-8");
  r.headers.Set("Cache-Control", "no-store");
  SetCommonHeaders(r);
  std::string body =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>imgbatch dashboard: token needed</title>";
  body += kIconLink;
  body += "<link rel=\"stylesheet\" href=\"/ui/app.css\"></head><body class=\"login\"><main>";
  body += "<h1>imgbatch dashboard</h1>";
  if (wrong_token) body += "<p class=\"error\" role=\"alert\">That token is not right.</p>";
  body +=
      "<p>Paste the token <code>imgbatch up</code> printed (the <code>dashboard:</code> line), "
      "also kept in <code>&lt;data-dir&gt;/dashboard-token</code>.</p>"
      "<form method=\"get\" action=\"/ui/\"><label for=\"token\">Token</label> "
      "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required "
      "autofocus> <button type=\"submit\">Open</button></form></main></body></html>\n";
  r.body = std::move(body);
  ex.Respond(std::move(r));
}

void NotFound(http::Exchange& ex) {
  http::Response r;
  r.status = 404;
  r.headers.Set("Content-Type", "text/plain; charset=utf-8");
  SetCommonHeaders(r);
  r.body = std::string("no such dashboard file\n");
  ex.Respond(std::move(r));
}

void ServeIndex(const Access& access, http::Exchange& ex) {
  const ServedAsset* index = FindAsset("index.html");
  if (!index) return NotFound(ex);
  std::string html(index->bytes);
  if (size_t at = html.find(kCsrfPlaceholder); at != std::string::npos) {
    html.replace(at, sizeof kCsrfPlaceholder - 1, access.CsrfToken());
  }
  http::Response r;
  r.headers.Set("Content-Type", index->content_type);
  r.headers.Set("Cache-Control", "no-store");  // carries the CSRF token
  SetCommonHeaders(r);
  if (ex.head().method == "HEAD") {
    r.content_length = html.size();
  } else {
    r.body = std::move(html);
  }
  ex.Respond(std::move(r));
}

// The bundle is public code with no data in it, so it needs no session (the
// login page uses its stylesheet). Revalidated on every use with its ETag:
// file names carry no hash, and a new binary must never run an old script.
void ServeAsset(http::Exchange& ex, std::string_view name) {
  const ServedAsset* asset = name == "index.html" ? nullptr : FindAsset(name);
  if (!asset) return NotFound(ex);
  http::Response r;
  r.headers.Set("Cache-Control", "no-cache");
  r.headers.Set("ETag", asset->etag);
  SetCommonHeaders(r);
  auto if_none_match = ex.head().headers.Get("if-none-match");
  if (if_none_match && *if_none_match == asset->etag) {
    r.status = 304;
    r.content_length = 0;
    return ex.Respond(std::move(r));
  }
  r.headers.Set("Content-Type", asset->content_type);
  if (ex.head().method == "HEAD") {
    r.content_length = asset->bytes.size();
  } else {
    r.body = std::string(asset->bytes);
  }
  ex.Respond(std::move(r));
}

}  // namespace

void HandleUi(const Access& access, http::Exchange& ex) {
  const http::RequestHead& head = ex.head();
  if (head.method != "GET" && head.method != "HEAD") {
    http::Response r;
    r.status = 405;
    r.headers.Set("Allow", "GET, HEAD");
    r.headers.Set("Content-Type", "text/plain; charset=utf-8");
    r.body = std::string("the dashboard's pages are read with GET\n");
    return ex.Respond(std::move(r));
  }
  if (head.path == "/ui") return Redirect(ex, "/ui/");
  std::string_view name = std::string_view(head.path).substr(4);  // after "/ui/"
  if (!name.empty() && name != "index.html") return ServeAsset(ex, name);

  auto token = QueryGet(ParseQuery(head.query, /*plus_as_space=*/true), "token");
  if (token) {
    if (!access.TokenMatches(*token)) return LoginPage(ex, /*wrong_token=*/true);
    return Redirect(ex, "/ui/", access.SessionCookie(head.tls));
  }
  if (!access.HasSession(head)) return LoginPage(ex, /*wrong_token=*/false);
  ServeIndex(access, ex);
}

}  // namespace imgbatch::dashboard
