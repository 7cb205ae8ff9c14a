// The server's own endpoints: /-/metrics (Prometheus text) and /-/api/ (the
// JSON the dashboard and the operator commands read: status, DLQ peek,
// redrive). Thin: reads from the control loop, the pool and the queue engine.
// Thread-safety: handlers run concurrently; everything they read is
// thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "auth/policy.h"
#include "autoscaler/worker_pool.h"
#include "dashboard/access.h"
#include "dashboard/api.h"
#include "http/exchange.h"
#include "keys/key_store.h"
#include "notify/notifier.h"
#include "queue/queue_engine.h"
#include "server/config.h"
#include "server/control_loop.h"

namespace imgbatch::server {

struct OperatorContext {
  const Config* config = nullptr;
  queue::QueueEngine* queues = nullptr;
  ControlLoop* loop = nullptr;
  autoscaler::WorkerPool* pool = nullptr;           // may be null
  keys::KeyStore* key_store = nullptr;              // may be null (no /-/api/keys)
  notify::Notifier* notifier = nullptr;             // may be null (no /-/api/reprocess)
  std::string metrics_token;                        // "" = /-/metrics without auth
  std::string api_token;                            // the dashboard token opens /-/api/
  const auth::KeyRegistry* key_registry = nullptr;  // root keys may sign /-/api/ requests
  std::string region = "us-east-1";                 // the region those signatures name
  const dashboard::Access* access = nullptr;        // built from api_token when null
  dashboard::ApiContext dashboard;                  // history, upload, gallery, objects
  std::string root_access_key_id;
  int64_t started_ms = 0;
  std::function<size_t()> open_connections;  // the HTTP server's; may be empty
};

// The status document (`imgbatch status --json` prints it as is).
std::string StatusJson(const OperatorContext& ctx);
std::string PrometheusText(const OperatorContext& ctx);

void HandleMetrics(const OperatorContext& ctx, http::Exchange& ex);
// /-/api/: checks ApiAuthorized, then status, queues (server/queue_api.h),
// keys (server/keys_api.h), reprocess (server/reprocess_api.h).
void HandleApi(const OperatorContext& ctx, http::Exchange& ex);

// The one authorization check of every /-/api/ endpoint: the bearer token
// (CLI), a SigV4 signature by a root key (operators without the data
// directory; the body is not covered: UNSIGNED-PAYLOAD, as S3 allows), or
// the dashboard's session cookie, with CSRF token + same origin for
// state-changing cookie calls (dashboard/access.h).
dashboard::Verdict ApiAuthorized(const OperatorContext& ctx, const http::Exchange& ex);

// Replies of the /-/api/ endpoints: JSON bodies, and errors as
// {"error": "<Code>", "message": "..."}.
void ReplyJson(http::Exchange& ex, int status, std::string body);
void ReplyApiError(http::Exchange& ex, int status, const std::string& code,
                   const std::string& message);

}  // namespace imgbatch::server
