// Routing on one port (DESIGN.md "Routing on one port"): S3 and SQS share the
// listener, as on LocalStack's edge port; a few reserved paths no bucket name
// can take belong to the server itself. Pure functions over the request head.
#pragma once

#include <string_view>

#include "http/exchange.h"

namespace imgbatch::server {

enum class Route {
  kHealthy,    // /-/healthy: the process is up
  kReady,      // /-/ready: serving requests
  kMetrics,    // /-/metrics
  kApi,        // /-/api/...
  kDashboard,  // /ui/...
  kSqs,
  kS3,
};

// A request is SQS when its SigV4 credential scope names service "sqs" (header
// or presigned query), it carries X-Amz-Target: AmazonSQS.*, or it is a form
// POST (application/x-www-form-urlencoded: S3 never takes one) or a GET whose
// query holds Action=. Everything else is S3.
Route RouteFor(const http::RequestHead& head);
bool LooksLikeSqs(const http::RequestHead& head);

}  // namespace imgbatch::server
