// The store's lifecycle operations: the configuration kept per bucket (in
// bucket_configs, with an in-memory copy for the per-request
// x-amz-expiration answers) and ApplyLifecycle's pass over the buckets.
#include <algorithm>
#include <cctype>

#include "common/hashing.h"
#include "store/lifecycle.h"
#include "store/store_impl.h"

namespace imgbatch::store {
namespace {

constexpr char kLifecycleConfig[] = "lifecycle";  // bucket_configs name
// Objects read per listing and deleted per transaction by a pass.
constexpr int kExpiryPage = 500;

Status NoSuchLifecycleConfiguration() {
  return NotFound("The lifecycle configuration does not exist")
      .WithDetail("NoSuchLifecycleConfiguration");
}

bool ExpiresObjects(const LifecycleConfiguration& config) {
  return std::any_of(config.rules.begin(), config.rules.end(), [](const LifecycleRule& rule) {
    return rule.enabled && (rule.expiration_days || rule.expiration_date_ms);
  });
}

bool AbortsUploads(const LifecycleConfiguration& config) {
  return std::any_of(config.rules.begin(), config.rules.end(), [](const LifecycleRule& rule) {
    return rule.enabled && rule.abort_incomplete_days;
  });
}

// Lifecycle actions are S3's own, not a client's (the event records say so).
Caller LifecycleCaller() {
  std::string request_id = RandomHex(8);
  std::transform(request_id.begin(), request_id.end(), request_id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return Caller{"s3.amazonaws.com", "", request_id};
}

}  // namespace

Status StoreImpl::PutBucketLifecycle(const std::string& bucket, LifecycleConfiguration config) {
  AssignLifecycleRuleIds(config);
  IMGBATCH_RETURN_IF_ERROR(ValidateLifecycle(config));
  Status st = PutBucketConfig(bucket, kLifecycleConfig, EncodeLifecycle(config));
  ForgetLifecycle(bucket);
  return st;
}

Result<LifecycleConfiguration> StoreImpl::GetBucketLifecycle(const std::string& bucket) {
  Result<std::string> document = GetBucketConfig(bucket, kLifecycleConfig);
  if (!document.ok()) {
    if (IsAbsentBucketConfig(document.status())) return NoSuchLifecycleConfiguration();
    return document.status();
  }
  std::optional<LifecycleConfiguration> config = DecodeLifecycle(*document);
  if (!config) return Status(Code::kCorruption, "bad lifecycle configuration of " + bucket);
  return std::move(*config);
}

Status StoreImpl::DeleteBucketLifecycle(const std::string& bucket) {
  Status st = DeleteBucketConfig(bucket, kLifecycleConfig);
  ForgetLifecycle(bucket);
  return st;
}

void StoreImpl::ForgetLifecycle(const std::string& bucket) {
  std::lock_guard lock(lifecycle_mu_);
  lifecycle_cache_.erase(bucket);
  ++lifecycle_generation_;
}

std::shared_ptr<const LifecycleConfiguration> StoreImpl::CachedLifecycle(
    const std::string& bucket) {
  uint64_t generation;
  {
    std::lock_guard lock(lifecycle_mu_);
    if (auto it = lifecycle_cache_.find(bucket); it != lifecycle_cache_.end()) return it->second;
    generation = lifecycle_generation_;
  }
  Result<LifecycleConfiguration> loaded = GetBucketLifecycle(bucket);
  std::shared_ptr<const LifecycleConfiguration> config;
  if (loaded.ok()) {
    config = std::make_shared<const LifecycleConfiguration>(std::move(*loaded));
  } else if (loaded.status().detail() != "NoSuchLifecycleConfiguration") {
    return nullptr;  // not remembered: a missing bucket, or a read that failed
  }
  std::lock_guard lock(lifecycle_mu_);
  // A configuration put or deleted while this one was read must not be
  // covered by the older copy.
  if (generation == lifecycle_generation_) lifecycle_cache_[bucket] = config;
  return config;
}

std::optional<ScheduledAction> StoreImpl::ScheduledExpiration(const ObjectMeta& meta) {
  std::shared_ptr<const LifecycleConfiguration> config = CachedLifecycle(meta.bucket);
  if (!config) return std::nullopt;
  return ObjectExpiration(*config, meta);
}

std::optional<ScheduledAction> StoreImpl::ScheduledAbort(const std::string& bucket,
                                                         const std::string& key,
                                                         int64_t initiated_ms) {
  std::shared_ptr<const LifecycleConfiguration> config = CachedLifecycle(bucket);
  if (!config) return std::nullopt;
  return UploadAbort(*config, key, initiated_ms);
}

Result<LifecycleReport> StoreImpl::ApplyLifecycle(int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> configured;  // bucket, document
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
    configured.clear();
    IMGBATCH_ASSIGN_OR_RETURN(
        auto q, conn.Prepare("SELECT bucket, document FROM bucket_configs WHERE name=?"));
    q.Bind(1, std::string(kLifecycleConfig));
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::Ok();
      configured.emplace_back(q.ColumnText(0), q.ColumnText(1));
    }
  }));
  LifecycleReport report;
  for (const auto& [bucket, document] : configured) {
    std::optional<LifecycleConfiguration> config = DecodeLifecycle(document);
    if (!config) return Status(Code::kCorruption, "bad lifecycle configuration of " + bucket);
    if (ExpiresObjects(*config)) {
      IMGBATCH_ASSIGN_OR_RETURN(uint64_t expired, ExpireObjects(bucket, *config, now_ms));
      report.expired += expired;
    }
    if (AbortsUploads(*config)) {
      IMGBATCH_ASSIGN_OR_RETURN(uint64_t aborted, AbortUploads(bucket, *config, now_ms));
      report.aborted += aborted;
    }
  }
  return report;
}

Result<uint64_t> StoreImpl::ExpireObjects(const std::string& bucket,
                                          const LifecycleConfiguration& config, int64_t now_ms) {
  uint64_t expired = 0;
  ListRequest page{.prefix = "", .delimiter = "", .start_after = "", .max_keys = kExpiryPage};
  while (true) {
    Result<ListResult> listed = ListObjects(bucket, page);
    if (!listed.ok() && listed.status().detail() == "NoSuchBucket") return expired;  // deleted
    IMGBATCH_RETURN_IF_ERROR(listed.status());
    std::vector<ObjectMeta> due;
    for (ObjectMeta& meta : listed->objects) {
      std::optional<ScheduledAction> expiry = ObjectExpiration(config, meta);
      if (expiry && expiry->time_ms <= now_ms) due.push_back(std::move(meta));
    }
    IMGBATCH_ASSIGN_OR_RETURN(uint64_t deleted, DeleteExpired(bucket, due));
    expired += deleted;
    if (!listed->truncated || listed->objects.empty()) return expired;
    page.start_after = listed->objects.back().key;
  }
}

// Deletes the objects that are still the ones read (same sequence), each with
// its lifecycle event, in one transaction.
Result<uint64_t> StoreImpl::DeleteExpired(const std::string& bucket,
                                          const std::vector<ObjectMeta>& due) {
  if (due.empty()) return uint64_t{0};
  uint64_t deleted = 0;
  std::vector<std::string> removed_blobs;
  const Caller caller = LifecycleCaller();
  Status st = db_.Write([&](db::Txn& txn) -> Status {
    deleted = 0;
    removed_blobs.clear();
    if (!BucketExists(txn, bucket).ok()) return Status::Ok();
    const int64_t now = clock_.NowMillis();
    for (const ObjectMeta& read : due) {
      IMGBATCH_ASSIGN_OR_RETURN(auto current, LoadObject(txn, bucket, read.key, false));
      if (!current || current->meta.sequence != read.sequence) continue;  // written since
      IMGBATCH_RETURN_IF_ERROR(
          RemoveObject(txn, current->meta, ObjectEventKind::kLifecycleExpiration, caller, now));
      if (current->blob_id) removed_blobs.push_back(*current->blob_id);
      ++deleted;
    }
    return Status::Ok();
  });
  IMGBATCH_RETURN_IF_ERROR(st);
  for (const std::string& id : removed_blobs) blobs_.Remove(id);
  return deleted;
}

Result<uint64_t> StoreImpl::AbortUploads(const std::string& bucket,
                                         const LifecycleConfiguration& config, int64_t now_ms) {
  uint64_t aborted = 0;
  ListUploadsRequest page;
  while (true) {
    Result<ListUploadsResult> listed = ListMultipartUploads(bucket, page);
    if (!listed.ok() && listed.status().detail() == "NoSuchBucket") return aborted;
    IMGBATCH_RETURN_IF_ERROR(listed.status());
    for (const MultipartUpload& upload : listed->uploads) {
      std::optional<ScheduledAction> abort = UploadAbort(config, upload.key, upload.initiated_ms);
      if (!abort || abort->time_ms > now_ms) continue;
      Status st = AbortMultipartUpload(bucket, upload.key, upload.upload_id);
      if (st.ok()) {
        ++aborted;
      } else if (st.detail() != "NoSuchUpload" && st.detail() != "NoSuchBucket") {
        return st;  // completed or aborted meanwhile: nothing to do
      }
    }
    if (!listed->truncated) return aborted;
    page.key_marker = listed->next_key_marker;
    page.upload_id_marker = listed->next_upload_id_marker;
  }
}

}  // namespace imgbatch::store
