// Internal: the ObjectStore implementation shared by object_store.cc (buckets,
// objects, listing) and multipart_ops.cc. Not part of the module's API.
//
// Write protocol (see docs/design/storage.md): bytes first (inline in memory,
// or a blob file fsynced and renamed into place), then one db::Write that
// checks preconditions, upserts the metadata row, bumps the store sequence and
// calls the ObjectEventSink; blobs no longer referenced are unlinked only
// after that commit. Thread-safety: as ObjectStore (all methods concurrent).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "db/database.h"
#include "store/blob_files.h"
#include "store/object_rules.h"
#include "store/object_store.h"
#include "store/schema.h"

namespace imgbatch::store {

// A request body taken in: inline bytes or a published blob file.
struct IngestedBody {
  bool is_inline = true;
  std::string inline_bytes;
  std::string blob_id;  // set when !is_inline
  uint64_t size = 0;
  std::string md5_hex;
  Checksums checksums;  // computed (base64)
};

// The row of an object as stored (meta plus where its bytes are).
struct StoredObject {
  ObjectMeta meta;
  std::optional<std::string> blob_id;
  std::string inline_bytes;  // only when read with data
};

// The checksum columns (crc32, crc32c, sha1, sha256, crc64nvme), in this
// order wherever objects or parts select or bind them.
inline constexpr int kChecksumColumns = 5;
void ReadChecksums(const db::Statement& st, int first_column, Checksums& c);
void BindChecksums(db::Statement& st, int first_index, const Checksums& c);

// Columns every object query selects, in StoredObject order.
inline constexpr const char* kObjectColumns =
    "key, size, etag, last_modified_ms, sequence, parts_count, crc32, crc32c, sha1, sha256, "
    "crc64nvme, checksum_composite, attrs, blob_id";

class StoreImpl final : public ObjectStore {
 public:
  StoreImpl(db::Database& db, StoreOptions options, Clock& clock);

  Status Init();

  void SetEventSink(ObjectEventSink* sink) override { sink_.store(sink); }

  Status CreateBucket(const std::string& name, const std::string& region) override;
  Status DeleteBucket(const std::string& name) override;
  Result<BucketInfo> GetBucket(const std::string& name) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;
  Status PutBucketConfig(const std::string& bucket, const std::string& name,
                         const std::string& document) override;
  Result<std::string> GetBucketConfig(const std::string& bucket, const std::string& name) override;
  Status DeleteBucketConfig(const std::string& bucket, const std::string& name) override;
  Status PutBucketTags(const std::string& bucket, const Tags& tags) override;
  Result<Tags> GetBucketTags(const std::string& bucket) override;
  Status PutBucketLifecycle(const std::string& bucket, LifecycleConfiguration config) override;
  Result<LifecycleConfiguration> GetBucketLifecycle(const std::string& bucket) override;
  Status DeleteBucketLifecycle(const std::string& bucket) override;
  std::optional<ScheduledAction> ScheduledExpiration(const ObjectMeta& meta) override;
  std::optional<ScheduledAction> ScheduledAbort(const std::string& bucket, const std::string& key,
                                                int64_t initiated_ms) override;
  Result<LifecycleReport> ApplyLifecycle(int64_t now_ms) override;

  Result<ObjectMeta> PutObject(const std::string& bucket, const std::string& key, ByteSource& body,
                               const PutOptions& options, const Caller& caller) override;
  Result<ObjectData> GetObject(const std::string& bucket, const std::string& key,
                               const std::optional<RangeRequest>& range,
                               const Conditions& conditions) override;
  Result<ObjectData> GetObjectPart(const std::string& bucket, const std::string& key,
                                   int part_number, const Conditions& conditions) override;
  Result<ObjectMeta> HeadObject(const std::string& bucket, const std::string& key) override;
  Result<bool> DeleteObject(const std::string& bucket, const std::string& key,
                            const Caller& caller) override;
  Result<std::vector<DeleteResult>> DeleteObjects(const std::string& bucket,
                                                  const std::vector<std::string>& keys,
                                                  const Caller& caller) override;
  Result<ObjectMeta> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                const std::string& dst_bucket, const std::string& dst_key,
                                const Conditions& source_conditions, bool replace_metadata,
                                const PutOptions& new_options, const Caller& caller) override;
  Result<ListResult> ListObjects(const std::string& bucket, const ListRequest& request) override;
  Status PutObjectTags(const std::string& bucket, const std::string& key, const Tags& tags,
                       const Caller& caller) override;
  Status DeleteObjectTags(const std::string& bucket, const std::string& key,
                          const Caller& caller) override;
  Result<std::vector<ObjectPart>> ListObjectParts(const std::string& bucket,
                                                  const std::string& key) override;

  Result<MultipartUpload> CreateMultipartUpload(const std::string& bucket, const std::string& key,
                                                const PutOptions& options) override;
  Result<PartInfo> UploadPart(const std::string& bucket, const std::string& key,
                              const std::string& upload_id, int part_number, ByteSource& body,
                              const PutOptions& part_options) override;
  Result<ObjectMeta> CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id,
                                             const std::vector<CompletedPart>& parts,
                                             const Caller& caller,
                                             const Checksums& expected) override;
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id) override;
  Result<ListPartsResult> ListParts(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id, int part_number_marker,
                                    int max_parts) override;
  Result<ListUploadsResult> ListMultipartUploads(const std::string& bucket,
                                                 const ListUploadsRequest& request) override;

  // ---- shared helpers ----

  // Streams a body in: inline when it fits inline_max_bytes (and allow_inline),
  // else into a published blob. Verifies length, Content-MD5 and checksums.
  Result<IngestedBody> Ingest(ByteSource& body, const PutOptions& options, uint64_t max_bytes,
                              bool allow_inline, const Checksums* also_compute = nullptr);

  // Commits an object row for an ingested body (conditions checked, sequence
  // bumped, event emitted in the same transaction); parts (non-empty for a
  // multipart object) replace any recorded for the key. in_txn runs first
  // inside the transaction (multipart uses it to consume the upload). Unlinks
  // the replaced blob after the commit, or the new one if the commit failed.
  Result<ObjectMeta> CommitObject(const std::string& bucket, const std::string& key,
                                  const IngestedBody& body, const ObjectAttrs& attrs,
                                  bool checksum_composite, std::span<const ObjectPart> parts,
                                  ObjectEventKind kind, const Conditions& conditions,
                                  const Caller& caller,
                                  const std::function<Status(db::Txn&)>& in_txn = nullptr);

  // Unlinks a blob unless a committed row still references it (used after a
  // failed commit, whose outcome may be uncertain).
  void RemoveIfUnreferenced(const std::string& blob_id);
  Result<bool> IsBlobReferenced(db::Conn& conn, const std::string& blob_id);

  static Status BucketExists(db::Conn& conn, const std::string& bucket);
  static Result<std::optional<StoredObject>> LoadObject(db::Conn& conn, const std::string& bucket,
                                                        const std::string& key, bool with_data);
  static Result<uint64_t> NextSequence(db::Txn& txn);
  // Removes a current object (its row and recorded parts), moves the store's
  // sequence on and emits `kind` for it, in the caller's transaction. Its
  // blob, if any, is the caller's to unlink after the commit.
  Status RemoveObject(db::Txn& txn, const ObjectMeta& current, ObjectEventKind kind,
                      const Caller& caller, int64_t now_ms);
  // The tags of the current object, replaced in place; `kind` is the event.
  Status ReplaceTags(const std::string& bucket, const std::string& key, const Tags& tags,
                     ObjectEventKind kind, const Caller& caller);
  Status EmitEvent(db::Txn& txn, ObjectEventKind kind, const ObjectMeta& meta, const Caller& caller,
                   int64_t now_ms);

  // GetObject and GetObjectPart: part_number 0 means "use range".
  Result<ObjectData> ReadObject(const std::string& bucket, const std::string& key,
                                const std::optional<RangeRequest>& range, int part_number,
                                const Conditions& conditions);

  BlobFiles& blobs() { return blobs_; }
  const StoreOptions& options() const { return options_; }
  db::Database& db() { return db_; }
  Clock& clock() { return clock_; }

 private:
  // Lifecycle (lifecycle_ops.cc). The cache holds each bucket's configuration
  // (null: none) as last read; Put/Delete forget it and bump the generation,
  // so a read that raced with them is not remembered.
  std::shared_ptr<const LifecycleConfiguration> CachedLifecycle(const std::string& bucket);
  void ForgetLifecycle(const std::string& bucket);
  Result<uint64_t> ExpireObjects(const std::string& bucket, const LifecycleConfiguration& config,
                                 int64_t now_ms);
  Result<uint64_t> DeleteExpired(const std::string& bucket, const std::vector<ObjectMeta>& due);
  Result<uint64_t> AbortUploads(const std::string& bucket, const LifecycleConfiguration& config,
                                int64_t now_ms);

  db::Database& db_;
  StoreOptions options_;
  Clock& clock_;
  BlobFiles blobs_;
  std::atomic<ObjectEventSink*> sink_{nullptr};
  std::mutex lifecycle_mu_;
  std::unordered_map<std::string, std::shared_ptr<const LifecycleConfiguration>> lifecycle_cache_;
  uint64_t lifecycle_generation_ = 0;
};

// Validation shared by the operations (S3 error details included).
Status ValidateBucketName(const std::string& bucket);
Status ValidateKey(const std::string& key);
Status NoSuchBucket(const std::string& bucket);
Status NoSuchKey(const std::string& key);

}  // namespace imgbatch::store
