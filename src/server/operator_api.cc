#include "server/operator_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "common/clock.h"
#include "common/hashing.h"
#include "common/strings.h"
#include "dashboard/api.h"
#include "metrics/prometheus.h"
#include "server/keys_api.h"
#include "server/queue_api.h"
#include "server/reprocess_api.h"

namespace imgbatch::server {
namespace {

using nlohmann::json;

using metrics::Percentile;

void Reply(http::Exchange& ex, int status, const std::string& type, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.Set("Content-Type", type);
  r.headers.Set("Cache-Control", "no-store");
  r.body = std::move(body);
  ex.Respond(std::move(r));
}

bool BearerOk(const http::Exchange& ex, const std::string& token) {
  if (token.empty()) return true;
  auto auth = ex.head().headers.Get("authorization");
  return auth && ConstantTimeEquals(*auth, "Bearer " + token);
}

// A SigV4 request (header form) signed by a key the registry marks root.
// The signature must not claim a body hash it cannot be checked against
// here: UNSIGNED-PAYLOAD, or the empty body's hash without a body.
bool SignedByRootKey(const OperatorContext& ctx, const http::Exchange& ex) {
  const http::RequestHead& head = ex.head();
  auto authorization = head.headers.Get("authorization");
  if (!ctx.key_registry || !authorization || !authorization->starts_with("AWS4-HMAC-SHA256")) {
    return false;
  }
  const std::vector<auth::HeaderField> fields = auth::ViewHeaderFields(head.headers.fields());
  auth::HttpRequestView view{head.method, head.path, head.query};
  view.fields = fields;
  auth::VerifyOptions options;
  options.region = ctx.region;
  options.services = {"s3"};
  options.allow_sigv2 = false;
  auto verified = auth::Verify(
      view, [&](std::string_view id) { return ctx.key_registry->SecretFor(id); },
      std::chrono::system_clock::now(), options);
  if (!verified.ok() || verified->presigned) return false;
  const bool has_body = head.chunked || head.content_length.value_or(0) > 0;
  const bool body_claim_ok =
      verified->payload == auth::PayloadMode::kUnsignedPayload ||
      (verified->payload == auth::PayloadMode::kSignedHex && !has_body &&
       (verified->body_sha256.empty() || verified->body_sha256 == auth::kEmptySha256Hex));
  if (!body_claim_ok) return false;
  auto key = ctx.key_registry->Find(verified->access_key_id);
  return key && key->root;
}

json QueueJson(const OperatorContext& ctx, const QueueSpec& q) {
  json j = {{"name", q.name}};
  if (auto c = ctx.queues->Counts(q.name); c.ok()) {
    j["visible"] = c->visible;
    j["in_flight"] = c->not_visible;
    j["delayed"] = c->delayed;
  }
  if (!q.dead_letter_queue.empty()) j["dead_letter_queue"] = q.dead_letter_queue;
  return j;
}

}  // namespace

std::string StatusJson(const OperatorContext& ctx) {
  json doc;
  doc["uptime_seconds"] = (SystemClock::Instance().NowMillis() - ctx.started_ms) / 1000;
  json queues = json::array();
  for (const auto& q : ctx.config->queues) queues.push_back(QueueJson(ctx, q));
  doc["queues"] = queues;
  doc["connections"] = {{"receives_waiting", ctx.queues->WaitingReceives()}};
  if (ctx.open_connections) doc["connections"]["open"] = ctx.open_connections();
  const WorkerSpec& w = ctx.config->workers;
  doc["pipeline"] = {{"input_bucket", w.input_bucket},
                     {"queue", w.queue},
                     {"dead_letter_queue", w.dead_letter_queue},
                     {"output_bucket", w.output_bucket}};
  if (ctx.pool) {
    auto snap = ctx.pool->Snapshot();
    json workers = json::array();
    for (const auto& w : snap.workers) {
      workers.push_back({{"slot", w.slot},
                         {"pid", w.pid},
                         {"state", autoscaler::WorkerStateName(w.state)},
                         {"in_flight", w.in_flight}});
    }
    doc["workers"] = {
        {"desired", snap.desired}, {"running", snap.running},         {"busy", snap.busy},
        {"idle", snap.idle},       {"stopping", snap.stopping},       {"restarts", snap.restarts},
        {"stopped", snap.stopped}, {"interrupted", snap.interrupted}, {"list", workers}};
  }
  if (ctx.loop) {
    WorkerTotals t = ctx.loop->Totals();
    doc["images"] = {{"processed", t.processed},
                     {"failed", t.failed},
                     {"skipped", t.skipped},
                     {"latency_ms_p50", Percentile(t.latency_ms, 0.5)},
                     {"latency_ms_p99", Percentile(t.latency_ms, 0.99)},
                     {"end_to_end_ms_p50", Percentile(t.end_to_end_ms, 0.5)},
                     {"end_to_end_ms_p99", Percentile(t.end_to_end_ms, 0.99)}};
    int64_t now = SystemClock::Instance().NowMillis();
    auto window = ctx.loop->history().Since("images:processed", now - 60'000);
    double rate = 0;
    if (window.size() >= 2) {
      double dt = static_cast<double>(window.back().time_ms - window.front().time_ms) / 1000.0;
      if (dt > 0) rate = (window.back().value - window.front().value) / dt;
    }
    doc["images"]["per_second_1m"] = rate;
    json alarms = json::array();
    for (const auto& a : ctx.loop->Alarms()) {
      json aj = {{"name", a.spec.name},
                 {"queue", a.queue},
                 {"metric", a.spec.metric},
                 {"statistic", metrics::StatisticName(a.spec.statistic)},
                 {"comparison", metrics::ComparisonName(a.spec.comparison)},
                 {"threshold", a.spec.threshold},
                 {"period", a.spec.period_seconds},
                 {"state", metrics::AlarmStateName(a.evaluation.state)},
                 {"reason", a.evaluation.reason}};
      if (a.evaluation.last_value) aj["value"] = *a.evaluation.last_value;
      alarms.push_back(aj);
    }
    doc["alarms"] = alarms;
    json decisions = json::array();
    for (const auto& d : ctx.loop->Decisions()) {
      decisions.push_back(
          {{"time_ms", d.time_ms}, {"from", d.from}, {"to", d.to}, {"reason", d.reason}});
    }
    doc["scaling"] = decisions;
  }
  return doc.dump();
}

std::string PrometheusText(const OperatorContext& ctx) {
  using metrics::PromFamily;
  std::vector<PromFamily> f = {
      {"imgbatch_queue_messages_visible", "Messages available for retrieval.", "gauge", {}},
      {"imgbatch_queue_messages_in_flight", "Messages received and not yet deleted.", "gauge", {}},
      {"imgbatch_queue_messages_delayed", "Messages delayed, not yet available.", "gauge", {}},
  };
  for (const auto& q : ctx.config->queues) {
    auto c = ctx.queues->Counts(q.name);
    if (!c.ok()) continue;
    f[0].samples.push_back({{{"queue", q.name}}, static_cast<double>(c->visible)});
    f[1].samples.push_back({{{"queue", q.name}}, static_cast<double>(c->not_visible)});
    f[2].samples.push_back({{{"queue", q.name}}, static_cast<double>(c->delayed)});
  }
  f.push_back({"imgbatch_queue_receives_waiting",
               "Long polls (ReceiveMessage with a wait) parked right now, all queues.",
               "gauge",
               {{{}, static_cast<double>(ctx.queues->WaitingReceives())}}});
  f.push_back({"imgbatch_queue_fifo_deduplication_ids",
               "FIFO deduplication ids remembered (the last five minutes'), all queues; each "
               "holds 25-45 bytes of server memory.",
               "gauge",
               {{{}, static_cast<double>(ctx.queues->DeduplicationIdsRemembered())}}});
  PromFamily noisy{"imgbatch_queue_noisy_groups",
                   "Fair queues: tenants (MessageGroupIds) noisy at the last sample, for each "
                   "standard queue whose sends carried a MessageGroupId lately.",
                   "gauge",
                   {}};
  for (const auto& [queue, n] : ctx.queues->NoisyGroups()) {
    noisy.samples.push_back({{{"queue", queue}}, static_cast<double>(n)});
  }
  f.push_back(std::move(noisy));
  PromFamily throttled{"imgbatch_queue_throttled_calls_total",
                       "FIFO queues: calls refused as RequestThrottled, over the queue's "
                       "throughput quota ([limits] fifo_calls_per_second), since the start.",
                       "counter",
                       {}};
  for (const auto& [queue, n] : ctx.queues->ThrottledCalls()) {
    throttled.samples.push_back({{{"queue", queue}}, static_cast<double>(n)});
  }
  f.push_back(std::move(throttled));
  if (ctx.notifier) {
    PromFamily dropped{"imgbatch_notification_events_dropped_total",
                       "S3 events not sent because their destination queue no longer exists "
                       "(the objects were stored), since the start.",
                       "counter",
                       {}};
    for (const auto& [arn, n] : ctx.notifier->DroppedEvents()) {
      dropped.samples.push_back({{{"destination", arn}}, static_cast<double>(n)});
    }
    f.push_back(std::move(dropped));
  }
  if (ctx.open_connections) {
    f.push_back({"imgbatch_http_connections_open",
                 "Client connections open right now.",
                 "gauge",
                 {{{}, static_cast<double>(ctx.open_connections())}}});
  }
  if (ctx.pool) {
    auto snap = ctx.pool->Snapshot();
    f.push_back({"imgbatch_workers_desired",
                 "Workers the scaling policy wants.",
                 "gauge",
                 {{{}, static_cast<double>(snap.desired)}}});
    f.push_back({"imgbatch_workers_running",
                 "Worker processes alive.",
                 "gauge",
                 {{{}, static_cast<double>(snap.running)}}});
    f.push_back({"imgbatch_workers_busy",
                 "Workers with images in flight.",
                 "gauge",
                 {{{}, static_cast<double>(snap.busy)}}});
  }
  if (ctx.loop) {
    WorkerTotals t = ctx.loop->Totals();
    f.push_back({"imgbatch_images_processed_total",
                 "Images processed by the workers.",
                 "counter",
                 {{{}, static_cast<double>(t.processed)}}});
    f.push_back({"imgbatch_images_failed_total",
                 "Images that failed permanently.",
                 "counter",
                 {{{}, static_cast<double>(t.failed)}}});
    f.push_back({"imgbatch_image_latency_ms",
                 "Recent per-image processing time.",
                 "gauge",
                 {{{{"quantile", "0.5"}}, Percentile(t.latency_ms, 0.5)},
                  {{{"quantile", "0.99"}}, Percentile(t.latency_ms, 0.99)}}});
    f.push_back({"imgbatch_upload_to_output_ms",
                 "Recent upload-to-output time.",
                 "gauge",
                 {{{{"quantile", "0.5"}}, Percentile(t.end_to_end_ms, 0.5)},
                  {{{"quantile", "0.99"}}, Percentile(t.end_to_end_ms, 0.99)}}});
    PromFamily alarms{"imgbatch_alarm_state", "1 when the alarm is in ALARM.", "gauge", {}};
    for (const auto& a : ctx.loop->Alarms()) {
      alarms.samples.push_back({{{"alarm", a.spec.name}},
                                a.evaluation.state == metrics::AlarmState::kAlarm ? 1.0 : 0.0});
    }
    f.push_back(alarms);
  }
  return metrics::RenderPrometheus(f);
}

void HandleMetrics(const OperatorContext& ctx, http::Exchange& ex) {
  if (!BearerOk(ex, ctx.metrics_token)) {
    return Reply(ex, 401, "text/plain", "metrics need the bearer token\n");
  }
  Reply(ex, 200, "text/plain; version=0.0.4; charset=utf-8", PrometheusText(ctx));
}

void ReplyJson(http::Exchange& ex, int status, std::string body) {
  Reply(ex, status, "application/json", std::move(body));
}

void ReplyApiError(http::Exchange& ex, int status, const std::string& code,
                   const std::string& message) {
  ReplyJson(ex, status, json{{"error", code}, {"message", message}}.dump());
}

dashboard::Verdict ApiAuthorized(const OperatorContext& ctx, const http::Exchange& ex) {
  dashboard::Verdict verdict = ctx.access ? ctx.access->CheckApi(ex.head())
                                          : dashboard::Access(ctx.api_token).CheckApi(ex.head());
  if (!verdict.allowed && SignedByRootKey(ctx, ex)) {
    verdict = dashboard::Verdict{true, dashboard::Via::kBearer, 200, {}, {}};
  }
  return verdict;
}

void HandleApi(const OperatorContext& ctx, http::Exchange& ex) {
  dashboard::Verdict verdict = ApiAuthorized(ctx, ex);
  if (!verdict.allowed) return ReplyApiError(ex, verdict.status, verdict.code, verdict.message);
  const std::string& path = ex.head().path;
  if (path == "/-/api/status" && ex.head().method == "GET") {
    return ReplyJson(ex, 200, StatusJson(ctx));
  }
  if (HandleQueueApi(*ctx.queues, ex)) return;
  if (ctx.key_store && HandleKeysApi(*ctx.key_store, ex)) return;
  if (ctx.notifier && HandleReprocessApi(*ctx.notifier, ctx.root_access_key_id, ex)) return;
  if (dashboard::HandleApi(ctx.dashboard, ex)) return;
  ReplyApiError(ex, 404, "NotFound", "no such API endpoint: " + path);
}

}  // namespace imgbatch::server
