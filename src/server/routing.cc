#include "server/routing.h"

#include "common/strings.h"

namespace imgbatch::server {
namespace {

// The service of a credential scope "AKID/20260101/us-east-1/sqs/aws4_request".
std::string_view ScopeService(std::string_view credential) {
  auto parts = Split(credential, '/');
  if (parts.size() < 5) return {};
  return parts[parts.size() - 2];
}

std::string_view CredentialFromAuthorization(std::string_view authorization) {
  size_t pos = authorization.find("Credential=");
  if (pos == std::string_view::npos) return {};
  std::string_view rest = authorization.substr(pos + 11);
  size_t end = rest.find_first_of(", ");
  return rest.substr(0, end);
}

bool QueryHas(std::string_view query, std::string_view name) {
  for (std::string_view part : Split(query, '&')) {
    if (part.substr(0, part.find('=')) == name) return true;
  }
  return false;
}

}  // namespace

bool LooksLikeSqs(const http::RequestHead& head) {
  if (auto target = head.headers.Get("x-amz-target")) {
    if (IStartsWith(*target, "AmazonSQS.")) return true;
    // S3 takes no X-Amz-Target: another one is decided by the credential
    // scope below, so an SQS-signed request naming a wrong target gets SQS's
    // InvalidAction, not an S3 signature error.
  }
  if (auto authorization = head.headers.Get("authorization")) {
    std::string_view service = ScopeService(CredentialFromAuthorization(*authorization));
    if (!service.empty()) return service == "sqs";
  }
  if (QueryHas(head.query, "X-Amz-Credential")) {
    auto params = ParseQuery(head.query);
    if (auto cred = QueryGet(params, "X-Amz-Credential")) return ScopeService(*cred) == "sqs";
  }
  if (head.method == "POST") {
    if (auto type = head.headers.Get("content-type")) {
      if (IStartsWith(Trim(*type), "application/x-www-form-urlencoded")) return true;
    }
  }
  return head.method == "GET" && QueryHas(head.query, "Action");
}

Route RouteFor(const http::RequestHead& head) {
  std::string_view path = head.path;
  if (path == "/-/healthy") return Route::kHealthy;
  if (path == "/-/ready") return Route::kReady;
  if (path == "/-/metrics") return Route::kMetrics;
  if (path.starts_with("/-/api/") || path == "/-/api") return Route::kApi;
  if (path == "/ui" || path.starts_with("/ui/")) return Route::kDashboard;
  return LooksLikeSqs(head) ? Route::kSqs : Route::kS3;
}

}  // namespace imgbatch::server
