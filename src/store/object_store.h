// ObjectStore: the S3 engine — buckets, objects, multipart uploads, bucket
// configuration blobs. Knows nothing of HTTP, XML or SigV4: the s3 adapter
// parses the wire and calls one method here per operation.
//
// Storage: metadata in the one SQLite database (db::Database); object bytes
// inline in SQLite up to inline_max_bytes, otherwise in blob files written to a
// temp file, fsynced and renamed before the metadata commit. Every mutating
// call returns only once durable (group commit). Each object commit calls the
// ObjectEventSink inside the same transaction (notify adds its queue messages
// there), so an object never exists without its event.
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace imgbatch::db {
class Database;
class Conn;
using Txn = Conn;  // as in db/database.h (a forward "class Txn" would clash)
}  // namespace imgbatch::db

namespace imgbatch::store {

// Pull-style byte stream for request bodies (the adapter wraps the HTTP body,
// aws-chunked decoding included). Read returns 0 at the end.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Result<size_t> Read(std::span<char> buffer) = 0;
};

// Stored by number (uploads.checksum_algorithm): add at the end only.
enum class ChecksumAlgorithm { kNone, kCrc32, kCrc32c, kSha1, kSha256, kCrc64Nvme };

// Checksum values as AWS puts them on the wire: base64 of the raw digest.
struct Checksums {
  std::optional<std::string> crc32, crc32c, sha1, sha256, crc64nvme;
  // Multipart objects carry a composite checksum ("<b64>-<parts>"), except
  // FULL_OBJECT ones (CRC64NVME, or CRC32/CRC32C when asked for): S3 gives
  // those the whole object's CRC.
  bool composite = false;
};

// An object's tags (S3 object tagging): key/value pairs in the order given.
using Tags = std::vector<std::pair<std::string, std::string>>;

// S3 lifecycle configuration of a bucket (rules and timing: lifecycle.h).
// Which objects a rule applies to: every condition must hold.
struct LifecycleFilter {
  std::string prefix;
  Tags tags;  // the object has each of these, with the same value
  std::optional<uint64_t> size_greater_than;
  std::optional<uint64_t> size_less_than;
};

struct LifecycleRule {
  std::string id;  // unique in the configuration; made up when the client gives none
  bool enabled = true;
  // <Prefix> straight under <Rule> (the first lifecycle API) rather than a
  // <Filter>: kept so the configuration reads back in the form it was put.
  bool legacy_prefix = false;
  LifecycleFilter filter;
  std::optional<int> expiration_days;
  std::optional<int64_t> expiration_date_ms;  // a midnight UTC
  // Versioning actions. Buckets here are never versioned, so these are
  // stored and returned (S3 accepts them on any bucket) but never act.
  std::optional<bool> expired_object_delete_marker;
  std::optional<int> noncurrent_days;
  std::optional<int> newer_noncurrent_versions;
  std::optional<int> abort_incomplete_days;  // after CreateMultipartUpload
};

struct LifecycleConfiguration {
  std::vector<LifecycleRule> rules;
};

// When a lifecycle rule will act on an object or upload, and which rule.
struct ScheduledAction {
  int64_t time_ms = 0;
  std::string rule_id;
};

// What one ApplyLifecycle pass did.
struct LifecycleReport {
  uint64_t expired = 0;  // objects deleted
  uint64_t aborted = 0;  // multipart uploads aborted
};

struct ObjectMeta {
  std::string bucket;
  std::string key;
  uint64_t size = 0;
  std::string etag;  // no quotes: "<md5 hex>" or "<md5 hex>-<parts>"
  int64_t last_modified_ms = 0;
  std::string content_type;  // "binary/octet-stream" when the client gave none
  std::string content_encoding, content_disposition, content_language, cache_control, expires;
  // x-amz-meta-* with the prefix removed, names lower-cased, in sorted order.
  std::vector<std::pair<std::string, std::string>> user_metadata;
  Checksums checksums;
  Tags tags;
  int parts_count = 0;    // > 0 for multipart objects
  uint64_t sequence = 0;  // increases with every object write in the store
};

// Who caused a change, for event records and logs.
struct Caller {
  std::string principal;  // access key id or policy principal
  std::string source_ip;
  std::string request_id;
};

// Preconditions as S3 evaluates them (If-Match wins over
// If-Unmodified-Since; If-None-Match over If-Modified-Since).
struct Conditions {
  std::optional<std::string> if_match;       // etag (quotes optional) or "*"
  std::optional<std::string> if_none_match;  // etag or "*"
  std::optional<int64_t> if_modified_since_ms;
  std::optional<int64_t> if_unmodified_since_ms;
};

struct PutOptions {
  std::string content_type, content_encoding, content_disposition, content_language, cache_control,
      expires;
  std::vector<std::pair<std::string, std::string>> user_metadata;
  std::optional<std::string> content_md5;  // raw 16 bytes (decoded Content-MD5)
  // Checksums the client sent (base64); verified against the bytes.
  Checksums expected;
  // Algorithm to compute and store even if no value was sent.
  ChecksumAlgorithm checksum_algorithm = ChecksumAlgorithm::kNone;
  // CreateMultipartUpload with CRC32 or CRC32C: the object's checksum is the
  // CRC of its whole body (x-amz-checksum-type FULL_OBJECT), not a composite
  // of the parts' CRCs. CRC64NVME uploads (and those without an algorithm,
  // which get CRC64NVME) are always so.
  bool full_object_checksum = false;
  std::optional<uint64_t> content_length;  // declared length, if known
  Conditions conditions;                   // conditional writes (If-None-Match: *)
  // The object's tags; for CopyObject, unset keeps the source's (S3's
  // x-amz-tagging-directive COPY), whatever happens to the metadata.
  std::optional<Tags> tags;
  // Written by a browser-based POST upload: its event is ObjectCreated:Post.
  bool posted = false;
};

struct ByteRange {  // resolved, inclusive [first, last]
  uint64_t first = 0;
  uint64_t last = 0;
};

// An object's bytes: inline data or a range of an open blob file. The fd is
// held open, so a concurrent overwrite or delete never tears a GET.
struct ObjectData {
  ObjectMeta meta;
  std::optional<ByteRange> range;  // set when a range was applied
  std::string inline_bytes;        // when the object is inline
  std::shared_ptr<int> fd;         // when the object is a blob file
  uint64_t offset = 0;             // into the file or inline_bytes
  uint64_t length = 0;             // bytes to send
};

struct RangeRequest {  // parsed "bytes=a-b", "bytes=a-", "bytes=-n"
  std::optional<uint64_t> first;
  std::optional<uint64_t> last;
  std::optional<uint64_t> suffix_length;
};

struct BucketInfo {
  std::string name;
  int64_t created_ms = 0;
  std::string region;
};

struct ListRequest {
  std::string prefix;
  std::string delimiter;
  std::string start_after;  // V2 start-after / continuation token / V1 marker: keys > this
  int max_keys = 1000;
};

struct ListResult {
  std::vector<ObjectMeta> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_marker;  // last key or common prefix returned, when truncated
};

struct MultipartUpload {
  std::string upload_id;
  std::string bucket;
  std::string key;
  int64_t initiated_ms = 0;
  PutOptions options;  // content type, metadata, checksum algorithm
};

struct PartInfo {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;  // md5 hex, no quotes
  int64_t last_modified_ms = 0;
  Checksums checksums;
};

// One part of a completed multipart object (GetObjectAttributes' ObjectParts).
struct ObjectPart {
  int part_number = 0;  // as uploaded: a completed object's parts may skip numbers
  uint64_t size = 0;
  Checksums checksums;  // the part's own, as UploadPart stored them
};

struct CompletedPart {
  int part_number = 0;
  std::string etag;  // as the client sent it (quotes stripped by the store)
  Checksums checksums;
};

struct ListUploadsRequest {
  std::string prefix;
  std::string key_marker;
  std::string upload_id_marker;
  int max_uploads = 1000;
  std::string delimiter;  // uploads whose key has it after prefix roll up into a common prefix
};

struct ListUploadsResult {
  std::vector<MultipartUpload> uploads;
  std::vector<std::string> common_prefixes;  // each counts as one entry against max_uploads
  bool truncated = false;
  std::string next_key_marker, next_upload_id_marker;
};

struct ListPartsResult {
  std::vector<PartInfo> parts;
  bool truncated = false;
  int next_part_number_marker = 0;
  // The upload's, as CreateMultipartUpload set them (ListParts reports them).
  ChecksumAlgorithm checksum_algorithm = ChecksumAlgorithm::kNone;
  bool full_object_checksum = false;
};

enum class ObjectEventKind {
  kPut,
  kPost,  // a browser-based POST upload (S3's ObjectCreated:Post)
  kCopy,
  kCompleteMultipartUpload,
  kDelete,
  kTaggingPut,           // PutObjectTags: the object's bytes and sequence are unchanged
  kTaggingDelete,        // DeleteObjectTags
  kLifecycleExpiration,  // ApplyLifecycle deleted the object (S3's LifecycleExpiration:Delete)
};

struct ObjectEvent {
  ObjectEventKind kind = ObjectEventKind::kPut;
  ObjectMeta meta;  // for kDelete: bucket, key, sequence (and the old etag/size)
  Caller caller;
  int64_t time_ms = 0;
};

// GetBucketConfig's answer for a bucket that exists but has no document of
// that name (a missing bucket is kNotFound "NoSuchBucket").
inline bool IsAbsentBucketConfig(const Status& status) {
  return status.code() == Code::kNotFound && status.detail() != "NoSuchBucket";
}

// Implemented outside the store (notify). Called inside the object's commit
// transaction; a non-ok Status aborts the whole write.
class ObjectEventSink {
 public:
  virtual ~ObjectEventSink() = default;
  virtual Status OnObjectEvent(db::Txn& txn, const ObjectEvent& event) = 0;
};

struct StoreOptions {
  std::string data_dir;                        // blobs under data_dir/blobs
  uint64_t inline_max_bytes = 64 * 1024;       // larger objects become blob files
  uint64_t free_space_reserve = 256ull << 20;  // refuse writes below this much free disk
  uint64_t max_object_bytes = 5ull << 40;      // 5 TiB, as S3
  std::string default_region = "us-east-1";
  // Fault injection for tests: called before each chunk written to a blob
  // file with the bytes written so far; a non-ok Status (e.g. kNoSpace) fails
  // that write as if the disk had returned it.
  std::function<Status(uint64_t written)> blob_write_hook;
};

class ObjectStore {
 public:
  static Result<std::unique_ptr<ObjectStore>> Open(db::Database& db, StoreOptions options,
                                                   Clock& clock = SystemClock::Instance());
  virtual ~ObjectStore() = default;

  // The sink must outlive the store; set before serving requests.
  virtual void SetEventSink(ObjectEventSink* sink) = 0;

  // Buckets. Names are validated as S3 does (kInvalidArgument, detail
  // "InvalidBucketName"). Create of an existing bucket: kAlreadyExists
  // (detail "BucketAlreadyOwnedByYou"). Delete of a non-empty bucket:
  // kConflict ("BucketNotEmpty"). Missing bucket: kNotFound ("NoSuchBucket").
  virtual Status CreateBucket(const std::string& name, const std::string& region) = 0;
  virtual Status DeleteBucket(const std::string& name) = 0;
  virtual Result<BucketInfo> GetBucket(const std::string& name) = 0;
  virtual Result<std::vector<BucketInfo>> ListBuckets() = 0;

  // Opaque per-bucket configuration documents (CORS XML, notification
  // config), by name. Get of an absent one: kNotFound.
  virtual Status PutBucketConfig(const std::string& bucket, const std::string& name,
                                 const std::string& document) = 0;
  virtual Result<std::string> GetBucketConfig(const std::string& bucket,
                                              const std::string& name) = 0;
  virtual Status DeleteBucketConfig(const std::string& bucket, const std::string& name) = 0;
  // The bucket's tags (ValidateBucketTags' rules). Put replaces them; an
  // empty set removes them. A bucket without tags has an empty set.
  virtual Status PutBucketTags(const std::string& bucket, const Tags& tags) = 0;
  virtual Result<Tags> GetBucketTags(const std::string& bucket) = 0;
  // The bucket's lifecycle configuration. Put validates it (lifecycle.h,
  // ValidateLifecycle), gives rules without an ID one, and replaces the
  // previous one. Get of a bucket without one: kNotFound
  // ("NoSuchLifecycleConfiguration"). Delete of none succeeds.
  virtual Status PutBucketLifecycle(const std::string& bucket, LifecycleConfiguration config) = 0;
  virtual Result<LifecycleConfiguration> GetBucketLifecycle(const std::string& bucket) = 0;
  virtual Status DeleteBucketLifecycle(const std::string& bucket) = 0;
  // When the bucket's lifecycle rules expire this object (x-amz-expiration),
  // or abort an upload of `key` initiated then (x-amz-abort-date); nullopt
  // when no enabled rule does. Answered from memory after the first call.
  virtual std::optional<ScheduledAction> ScheduledExpiration(const ObjectMeta& meta) = 0;
  virtual std::optional<ScheduledAction> ScheduledAbort(const std::string& bucket,
                                                        const std::string& key,
                                                        int64_t initiated_ms) = 0;
  // One lifecycle pass over every bucket with a configuration, as of now_ms:
  // deletes the current objects whose expiry time has come (the sink gets
  // kLifecycleExpiration, by caller "s3.amazonaws.com"; an object written
  // again since it was read is left for the next pass) and aborts the
  // incomplete multipart uploads whose abort time has come.
  virtual Result<LifecycleReport> ApplyLifecycle(int64_t now_ms) = 0;

  // Objects. Missing key: kNotFound ("NoSuchKey"). Digest mismatch:
  // kInvalidArgument ("BadDigest" / "XAmzContentChecksumMismatch"). Body
  // shorter than content_length: kInvalidArgument ("IncompleteBody").
  virtual Result<ObjectMeta> PutObject(const std::string& bucket, const std::string& key,
                                       ByteSource& body, const PutOptions& options,
                                       const Caller& caller) = 0;
  // Conditions failing: kPreconditionFailed or kNotModified. Unsatisfiable
  // range: kOutOfRange ("InvalidRange").
  virtual Result<ObjectData> GetObject(const std::string& bucket, const std::string& key,
                                       const std::optional<RangeRequest>& range,
                                       const Conditions& conditions) = 0;
  // One part of an object, as S3's GET/HEAD ?partNumber=N (1-based, in the
  // order of the completed upload): range is that part's bytes. An object not
  // made by multipart upload has one part, the whole object (range unset).
  // A number past the last part: kOutOfRange ("InvalidPartNumber"). A
  // multipart object completed before the store kept part sizes (schema v3):
  // kUnsupported ("NotImplemented").
  virtual Result<ObjectData> GetObjectPart(const std::string& bucket, const std::string& key,
                                           int part_number, const Conditions& conditions) = 0;
  virtual Result<ObjectMeta> HeadObject(const std::string& bucket, const std::string& key) = 0;
  // Deleting a missing key succeeds (S3 semantics); returns whether it existed.
  virtual Result<bool> DeleteObject(const std::string& bucket, const std::string& key,
                                    const Caller& caller) = 0;
  // S3 DeleteObjects: several keys of one bucket in one transaction (one
  // fsync for all). Per-key failures (bad key, event sink refusal) are
  // reported per entry; a missing bucket fails the call. The default
  // implementation loops over DeleteObject.
  struct DeleteResult {
    std::string key;
    Status status;
    bool existed = false;
  };
  virtual Result<std::vector<DeleteResult>> DeleteObjects(const std::string& bucket,
                                                          const std::vector<std::string>& keys,
                                                          const Caller& caller);
  // Copy; when replace_metadata is false the source's metadata is kept.
  virtual Result<ObjectMeta> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                        const std::string& dst_bucket, const std::string& dst_key,
                                        const Conditions& source_conditions, bool replace_metadata,
                                        const PutOptions& new_options, const Caller& caller) = 0;
  virtual Result<ListResult> ListObjects(const std::string& bucket, const ListRequest& request) = 0;
  // Replaces the current object's tags (empty removes them), or removes
  // them. The object's bytes, ETag, Last-Modified and sequence stay as they
  // are, as on S3; the sink gets kTaggingPut / kTaggingDelete. Missing key:
  // kNotFound ("NoSuchKey").
  virtual Status PutObjectTags(const std::string& bucket, const std::string& key, const Tags& tags,
                               const Caller& caller) = 0;
  virtual Status DeleteObjectTags(const std::string& bucket, const std::string& key,
                                  const Caller& caller) = 0;
  // The current object's parts in order: empty for an object not uploaded in
  // parts. Objects completed before store schema v6 kept only their part
  // sizes: their parts come numbered 1..N, without checksums. Missing key:
  // kNotFound ("NoSuchKey").
  virtual Result<std::vector<ObjectPart>> ListObjectParts(const std::string& bucket,
                                                          const std::string& key) = 0;

  // Multipart. Unknown upload: kNotFound ("NoSuchUpload"). Complete checks
  // ascending part order ("InvalidPartOrder"), etags ("InvalidPart") and the
  // 5 MiB minimum for all but the last part ("EntityTooSmall").
  virtual Result<MultipartUpload> CreateMultipartUpload(const std::string& bucket,
                                                        const std::string& key,
                                                        const PutOptions& options) = 0;
  virtual Result<PartInfo> UploadPart(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id, int part_number,
                                      ByteSource& body, const PutOptions& part_options) = 0;
  // `expected` holds whole-object checksums the client sent with the request
  // (x-amz-checksum-*): each must equal the composite computed from the
  // parts, or for CRC64NVME the whole object's CRC combined from the parts'
  // ("BadDigest" otherwise), checked before anything is written.
  virtual Result<ObjectMeta> CompleteMultipartUpload(const std::string& bucket,
                                                     const std::string& key,
                                                     const std::string& upload_id,
                                                     const std::vector<CompletedPart>& parts,
                                                     const Caller& caller,
                                                     const Checksums& expected = {}) = 0;
  virtual Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) = 0;
  virtual Result<ListPartsResult> ListParts(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id, int part_number_marker,
                                            int max_parts) = 0;
  virtual Result<ListUploadsResult> ListMultipartUploads(const std::string& bucket,
                                                         const ListUploadsRequest& request) = 0;
};

// S3's bucket naming rules (3-63 chars, lower case, digits, '.', '-', ...).
bool IsValidBucketName(std::string_view name);
// Keys: 1..1024 bytes of valid UTF-8.
bool IsValidObjectKey(std::string_view key);

}  // namespace imgbatch::store
