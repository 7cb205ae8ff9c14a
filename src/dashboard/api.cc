#include "dashboard/api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/strings.h"

namespace imgbatch::dashboard {
namespace {

using nlohmann::json;

constexpr std::string_view kHistoryPath = "/-/api/history";
constexpr std::string_view kUploadPrefix = "/-/api/upload/";
constexpr std::string_view kGalleryPath = "/-/api/gallery";
constexpr std::string_view kObjectsPrefix = "/-/api/objects/";

void Reply(http::Exchange& ex, int status, json body) {
  http::Response r;
  r.status = status;
  r.headers.Set("Content-Type", "application/json");
  r.headers.Set("Cache-Control", "no-store");
  r.body = body.dump();
  ex.Respond(std::move(r));
}

void Error(http::Exchange& ex, int status, const std::string& code, const std::string& message) {
  Reply(ex, status, json{{"error", code}, {"message", message}});
}

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kNotFound:
      return 404;
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      return 400;
    case Code::kTooLarge:
      return 413;
    case Code::kConflict:
    case Code::kAlreadyExists:
    case Code::kPreconditionFailed:
      return 409;
    case Code::kNoSpace:
    case Code::kUnavailable:
      return 503;
    case Code::kTimeout:
      return 408;
    default:
      return 500;
  }
}

void StatusError(http::Exchange& ex, const Status& status) {
  Error(ex, HttpStatusFor(status.code()), CodeName(status.code()), status.message());
}

// A positive count from the query (fallback when absent), capped at max;
// anything else is answered 400 here and gives nullopt.
std::optional<int> CountParam(http::Exchange& ex, std::string_view name, int fallback, int max) {
  auto text = QueryGet(ParseQuery(ex.head().query), name);
  if (!text) return fallback;
  auto value = ParseUint(*text);
  if (!value || *value == 0) {
    Error(ex, 400, "InvalidParameterValue",
          std::string(name) + " must be a positive number, got '" + std::string(*text) + "'");
    return std::nullopt;
  }
  return static_cast<int>(std::min<uint64_t>(*value, static_cast<uint64_t>(max)));
}

std::optional<std::string> MetadataValue(const store::ObjectMeta& meta, std::string_view name) {
  for (const auto& [k, v] : meta.user_metadata) {
    if (k == name) return v;
  }
  return std::nullopt;
}

// --- history -------------------------------------------------------------

bool RequireGet(http::Exchange& ex) {
  if (ex.head().method == "GET" || ex.head().method == "HEAD") return true;
  Error(ex, 405, "MethodNotAllowed", "read with GET");
  return false;
}

void History(const ApiContext& ctx, http::Exchange& ex) {
  if (!RequireGet(ex)) return;
  std::optional<int> asked = CountParam(ex, "seconds", kDefaultHistorySeconds, kMaxHistorySeconds);
  if (!asked) return;
  const int seconds = *asked;
  int64_t now = SystemClock::Instance().NowMillis();
  json series = json::object();
  for (const std::string& name : ctx.history->Names()) {
    json t = json::array(), v = json::array();
    for (const metrics::Sample& s : ctx.history->Since(name, now - int64_t{seconds} * 1000)) {
      t.push_back(s.time_ms);
      v.push_back(s.value);
    }
    series[name] = {{"t", std::move(t)}, {"v", std::move(v)}};
  }
  Reply(ex, 200, {{"now_ms", now}, {"seconds", seconds}, {"series", std::move(series)}});
}

// --- upload --------------------------------------------------------------

class ExchangeBody final : public store::ByteSource {
 public:
  explicit ExchangeBody(http::Exchange& ex) : ex_(ex) {}
  Result<size_t> Read(std::span<char> buffer) override { return ex_.ReadBody(buffer); }

 private:
  http::Exchange& ex_;
};

void Upload(const ApiContext& ctx, http::Exchange& ex) {
  const http::RequestHead& head = ex.head();
  if (head.method != "PUT") return Error(ex, 405, "MethodNotAllowed", "upload with PUT");
  auto key = PercentDecode(std::string_view(head.path).substr(kUploadPrefix.size()));
  if (!key || !store::IsValidObjectKey(*key)) {
    return Error(ex, 400, "InvalidKey", "the key must be 1..1024 bytes of UTF-8");
  }
  store::PutOptions options;
  options.content_type = std::string(head.headers.Get("content-type").value_or(""));
  options.content_length = head.content_length;
  store::Caller caller{"dashboard", head.remote_address, std::to_string(head.request_id)};
  ExchangeBody body(ex);
  // The store calls its event sink (notify) inside this commit: the upload
  // fires the bucket's notifications exactly like an S3 PutObject.
  auto meta = ctx.store->PutObject(ctx.input_bucket, *key, body, options, caller);
  if (!meta.ok()) return StatusError(ex, meta.status());
  Reply(ex, 200,
        {{"bucket", ctx.input_bucket},
         {"key", meta->key},
         {"etag", meta->etag},
         {"size", meta->size},
         {"last_modified_ms", meta->last_modified_ms}});
}

// --- gallery -------------------------------------------------------------

Result<std::vector<store::ObjectMeta>> ListAll(store::ObjectStore& store, const std::string& bucket,
                                               const std::string& prefix) {
  std::vector<store::ObjectMeta> all;
  store::ListRequest request;
  request.prefix = prefix;
  while (all.size() < static_cast<size_t>(kMaxGalleryScan)) {
    IMGBATCH_ASSIGN_OR_RETURN(store::ListResult page, store.ListObjects(bucket, request));
    for (auto& o : page.objects) all.push_back(std::move(o));
    if (!page.truncated) break;
    request.start_after = page.next_marker;
  }
  return all;
}

json ObjectJson(const std::string& bucket, const store::ObjectMeta& meta) {
  return {{"bucket", bucket},
          {"key", meta.key},
          {"etag", meta.etag},
          {"size", meta.size},
          {"content_type", meta.content_type},
          {"last_modified_ms", meta.last_modified_ms}};
}

json GalleryItem(const ApiContext& ctx, const store::ObjectMeta& listed) {
  auto thumb = ctx.store->HeadObject(ctx.output_bucket, listed.key);
  const store::ObjectMeta& meta = thumb.ok() ? *thumb : listed;
  std::string name = meta.key.substr(ctx.gallery_prefix.size());
  json item = {{"thumb", ObjectJson(ctx.output_bucket, meta)}};
  json outputs = json::array();
  for (const std::string& prefix : ctx.output_prefixes) {
    if (prefix == ctx.gallery_prefix) continue;
    if (auto other = ctx.store->HeadObject(ctx.output_bucket, prefix + name); other.ok()) {
      outputs.push_back(ObjectJson(ctx.output_bucket, *other));
    }
  }
  item["outputs"] = std::move(outputs);
  std::string source_key = name;
  if (auto encoded = MetadataValue(meta, kSourceKeyMetadata)) {
    source_key = PercentDecode(*encoded).value_or(name);
  }
  item["source_key"] = source_key;
  if (auto source = ctx.store->HeadObject(ctx.input_bucket, source_key); source.ok()) {
    item["source"] = ObjectJson(ctx.input_bucket, *source);
    // An output of an earlier version (the newer one failed, or is on its
    // way) says so; timing it against the newer upload would be nonsense.
    auto made_from = MetadataValue(meta, kSourceEtagMetadata);
    if (made_from && *made_from != source->etag) {
      item["outdated"] = true;
    } else {
      item["upload_to_output_ms"] = meta.last_modified_ms - source->last_modified_ms;
    }
  }
  if (auto ms = MetadataValue(meta, kProcessingMsMetadata)) {
    if (auto value = ParseUint(*ms)) item["processing_ms"] = *value;
  }
  return item;
}

void Gallery(const ApiContext& ctx, http::Exchange& ex) {
  if (!RequireGet(ex)) return;
  std::optional<int> asked = CountParam(ex, "max", kDefaultGalleryItems, kMaxGalleryItems);
  if (!asked) return;
  const int max = *asked;
  auto listed = ListAll(*ctx.store, ctx.output_bucket, ctx.gallery_prefix);
  if (!listed.ok()) return StatusError(ex, listed.status());
  std::vector<store::ObjectMeta>& all = *listed;
  // Newest first; ties (same millisecond) by key, so the order is stable.
  size_t n = std::min(all.size(), static_cast<size_t>(max));
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                    [](const store::ObjectMeta& a, const store::ObjectMeta& b) {
                      if (a.last_modified_ms != b.last_modified_ms) {
                        return a.last_modified_ms > b.last_modified_ms;
                      }
                      return a.key < b.key;
                    });
  json items = json::array();
  for (size_t i = 0; i < n; ++i) items.push_back(GalleryItem(ctx, all[i]));
  Reply(ex, 200,
        {{"bucket", ctx.output_bucket},
         {"prefix", ctx.gallery_prefix},
         {"total", all.size()},
         {"items", std::move(items)}});
}

// --- objects -------------------------------------------------------------

bool IsImageType(std::string_view type) {
  return type.starts_with("image/") && type.find("svg") == std::string_view::npos;
}

void Object(const ApiContext& ctx, http::Exchange& ex) {
  const http::RequestHead& head = ex.head();
  if (head.method != "GET" && head.method != "HEAD") {
    return Error(ex, 405, "MethodNotAllowed", "objects are read with GET");
  }
  std::string_view rest = std::string_view(head.path).substr(kObjectsPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return Error(ex, 404, "NotFound", "no key given");
  auto bucket = PercentDecode(rest.substr(0, slash));
  auto key = PercentDecode(rest.substr(slash + 1));
  if (!bucket || !key || (*bucket != ctx.input_bucket && *bucket != ctx.output_bucket)) {
    return Error(ex, 404, "NotFound", "only the pipeline's input and output buckets are shown");
  }
  store::Conditions conditions;
  if (auto inm = head.headers.Get("if-none-match")) conditions.if_none_match = std::string(*inm);
  auto data = ctx.store->GetObject(*bucket, *key, std::nullopt, conditions);
  http::Response r;
  r.headers.Set("Cache-Control", "private, no-cache");
  // Anyone with an S3 key can upload anything; served from our origin it
  // must never run as a page: no sniffing, a sandbox, and non-images as
  // downloads.
  r.headers.Set("X-Content-Type-Options", "nosniff");
  r.headers.Set("Content-Security-Policy", "default-src 'none'; sandbox");
  if (!data.ok()) {
    if (data.status().code() == Code::kNotModified) {
      r.status = 304;
      r.content_length = 0;
      return ex.Respond(std::move(r));
    }
    return StatusError(ex, data.status());
  }
  r.headers.Set("ETag", "\"" + data->meta.etag + "\"");
  if (IsImageType(data->meta.content_type)) {
    r.headers.Set("Content-Type", data->meta.content_type);
  } else {
    r.headers.Set("Content-Type", "application/octet-stream");
    r.headers.Set("Content-Disposition", "attachment");
  }
  if (head.method == "HEAD") {
    r.content_length = data->length;
  } else if (data->fd) {
    r.body = http::FileRange{data->fd, data->offset, data->length};
  } else {
    r.body = data->inline_bytes.substr(data->offset, data->length);
  }
  ex.Respond(std::move(r));
}

}  // namespace

bool HandleApi(const ApiContext& ctx, http::Exchange& ex) {
  std::string_view path = ex.head().path;
  if (path == kHistoryPath && ctx.history) {
    History(ctx, ex);
  } else if (path.starts_with(kUploadPrefix) && ctx.store) {
    Upload(ctx, ex);
  } else if (path == kGalleryPath && ctx.store) {
    Gallery(ctx, ex);
  } else if (path.starts_with(kObjectsPrefix) && ctx.store) {
    Object(ctx, ex);
  } else {
    return false;
  }
  return true;
}

}  // namespace imgbatch::dashboard
