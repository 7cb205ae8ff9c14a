// Multipart uploads. Parts are always blob files (rows in `parts`). Complete
// assembles them into one new blob file (kernel copy, fsync, rename), so a
// multipart object is served like any other blob: one fd, sendfile(2). The
// part files are unlinked after the commit that consumed the upload.
#include <fcntl.h>
#include <unistd.h>

#include "common/hashing.h"
#include "store/delimited_walk.h"
#include "store/store_impl.h"

namespace imgbatch::store {
namespace {

constexpr int kMaxListParts = 1000;
constexpr int kMaxListUploads = 1000;

Status NoSuchUpload(const std::string& upload_id) {
  return NotFound("The specified upload does not exist: " + upload_id).WithDetail("NoSuchUpload");
}

// How long a completed upload id can be completed again (a client retrying
// after a lost response); S3 keeps answering such retries for a while too.
constexpr int64_t kRecompleteWindowMs = 24 * 3600 * 1000;

// Remembers a completed upload inside the transaction that commits it.
Status RecordCompletion(db::Txn& txn, const std::string& bucket, const std::string& key,
                        const std::string& upload_id, const std::string& etag, int64_t now_ms) {
  IMGBATCH_ASSIGN_OR_RETURN(auto prune,
                            txn.Prepare("DELETE FROM completed_uploads WHERE completed_ms < ?"));
  IMGBATCH_RETURN_IF_ERROR(prune.Bind(1, now_ms - kRecompleteWindowMs).Run());
  IMGBATCH_ASSIGN_OR_RETURN(
      auto q, txn.Prepare("INSERT OR REPLACE INTO completed_uploads(upload_id, bucket, key, etag, "
                          "completed_ms) VALUES(?,?,?,?,?)"));
  return q.Bind(1, upload_id).Bind(2, bucket).Bind(3, key).Bind(4, etag).Bind(5, now_ms).Run();
}

// The etag an upload completed with, if it completed recently at bucket/key.
Result<std::optional<std::string>> CompletedEtag(db::Conn& conn, const std::string& bucket,
                                                 const std::string& key,
                                                 const std::string& upload_id, int64_t now_ms) {
  IMGBATCH_ASSIGN_OR_RETURN(
      auto q, conn.Prepare("SELECT bucket, key, etag, completed_ms FROM completed_uploads "
                           "WHERE upload_id=?"));
  q.Bind(1, upload_id);
  IMGBATCH_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found || q.ColumnText(0) != bucket || q.ColumnText(1) != key ||
      q.ColumnInt(3) < now_ms - kRecompleteWindowMs) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(q.ColumnText(2));
}

// Loads an upload and checks it belongs to bucket/key.
Result<MultipartUpload> LoadUpload(db::Conn& conn, const std::string& bucket,
                                   const std::string& key, const std::string& upload_id) {
  IMGBATCH_ASSIGN_OR_RETURN(
      auto q, conn.Prepare("SELECT bucket, key, initiated_ms, checksum_algorithm, attrs, "
                           "full_object_checksum FROM uploads WHERE upload_id=?"));
  q.Bind(1, upload_id);
  IMGBATCH_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found || q.ColumnText(0) != bucket || q.ColumnText(1) != key) {
    return NoSuchUpload(upload_id);
  }
  MultipartUpload upload;
  upload.upload_id = upload_id;
  upload.bucket = bucket;
  upload.key = key;
  upload.initiated_ms = q.ColumnInt(2);
  upload.options.checksum_algorithm = static_cast<ChecksumAlgorithm>(q.ColumnInt(3));
  upload.options.full_object_checksum = q.ColumnInt(5) != 0;
  std::optional<ObjectAttrs> attrs = DecodeAttrs(q.ColumnText(4));
  if (!attrs) return Status(Code::kCorruption, "bad attrs of upload " + upload_id);
  ApplyAttrs(*attrs, upload.options);
  return upload;
}

struct StoredPart {
  PartInfo info;
  std::string blob_id;
};

Result<std::vector<StoredPart>> LoadParts(db::Conn& conn, const std::string& upload_id,
                                          int after_part, int limit) {
  IMGBATCH_ASSIGN_OR_RETURN(
      auto q, conn.Prepare("SELECT part_number, size, etag, last_modified_ms, crc32, crc32c, "
                           "sha1, sha256, crc64nvme, blob_id FROM parts WHERE upload_id=? AND "
                           "part_number>? ORDER BY part_number LIMIT ?"));
  q.Bind(1, upload_id).Bind(2, int64_t{after_part}).Bind(3, int64_t{limit});
  std::vector<StoredPart> parts;
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    StoredPart p;
    p.info.part_number = static_cast<int>(q.ColumnInt(0));
    p.info.size = static_cast<uint64_t>(q.ColumnInt(1));
    p.info.etag = q.ColumnText(2);
    p.info.last_modified_ms = q.ColumnInt(3);
    ReadChecksums(q, 4, p.info.checksums);
    p.blob_id = q.ColumnText(4 + kChecksumColumns);
    parts.push_back(std::move(p));
  }
  return parts;
}

// Deletes an upload's rows; returns the part blobs to unlink after commit.
Result<std::vector<std::string>> DeleteUploadRows(db::Txn& txn, const std::string& upload_id) {
  IMGBATCH_ASSIGN_OR_RETURN(auto parts, LoadParts(txn, upload_id, 0, kMaxPartNumber + 1));
  std::vector<std::string> blobs;
  for (const StoredPart& p : parts) blobs.push_back(p.blob_id);
  for (const char* sql :
       {"DELETE FROM parts WHERE upload_id=?", "DELETE FROM uploads WHERE upload_id=?"}) {
    IMGBATCH_ASSIGN_OR_RETURN(auto del, txn.Prepare(sql));
    IMGBATCH_RETURN_IF_ERROR(del.Bind(1, upload_id).Run());
  }
  return blobs;
}

Status CheckPartNumber(int part_number) {
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
        .WithDetail("InvalidArgument");
  }
  return Status::Ok();
}

}  // namespace

Result<MultipartUpload> StoreImpl::CreateMultipartUpload(const std::string& bucket,
                                                         const std::string& key,
                                                         const PutOptions& options) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  IMGBATCH_RETURN_IF_ERROR(ValidateKey(key));
  if (options.tags) IMGBATCH_RETURN_IF_ERROR(ValidateTags(*options.tags));
  MultipartUpload upload;
  upload.upload_id = RandomHex(24);
  upload.bucket = bucket;
  upload.key = key;
  upload.initiated_ms = clock().NowMillis();
  upload.options = options;
  ApplyAttrs(AttrsOf(options), upload.options);
  IMGBATCH_RETURN_IF_ERROR(db().Write([&](db::Txn& txn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(
        auto q, txn.Prepare("INSERT INTO uploads(upload_id, bucket, key, initiated_ms, "
                            "checksum_algorithm, attrs, full_object_checksum) "
                            "VALUES(?,?,?,?,?,?,?)"));
    return q.Bind(1, upload.upload_id)
        .Bind(2, bucket)
        .Bind(3, key)
        .Bind(4, upload.initiated_ms)
        .Bind(5, static_cast<int64_t>(options.checksum_algorithm))
        .BindBlob(6, EncodeAttrs(AttrsOf(options)))
        .Bind(7, int64_t{options.full_object_checksum})
        .Run();
  }));
  return upload;
}

Result<PartInfo> StoreImpl::UploadPart(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id, int part_number,
                                       ByteSource& body, const PutOptions& part_options) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  IMGBATCH_RETURN_IF_ERROR(ValidateKey(key));
  IMGBATCH_RETURN_IF_ERROR(CheckPartNumber(part_number));
  MultipartUpload upload;
  IMGBATCH_RETURN_IF_ERROR(db().Read([&](db::Conn& conn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(upload, LoadUpload(conn, bucket, key, upload_id));
    return Status::Ok();
  }));
  PutOptions options = part_options;
  if (options.checksum_algorithm == ChecksumAlgorithm::kNone) {
    options.checksum_algorithm = upload.options.checksum_algorithm;
  }
  IMGBATCH_ASSIGN_OR_RETURN(IngestedBody ingested, Ingest(body, options, kMaxPartBytes, false));

  PartInfo info;
  info.part_number = part_number;
  info.size = ingested.size;
  info.etag = ingested.md5_hex;
  info.checksums = ingested.checksums;
  std::optional<std::string> replaced_blob;
  Status st = db().Write([&](db::Txn& txn) -> Status {
    replaced_blob.reset();
    IMGBATCH_ASSIGN_OR_RETURN(auto current, LoadUpload(txn, bucket, key, upload_id));
    (void)current;
    IMGBATCH_ASSIGN_OR_RETURN(
        auto old, txn.Prepare("SELECT blob_id FROM parts WHERE upload_id=? AND part_number=?"));
    old.Bind(1, upload_id).Bind(2, int64_t{part_number});
    IMGBATCH_ASSIGN_OR_RETURN(bool had_part, old.Step());
    if (had_part) replaced_blob = old.ColumnText(0);
    info.last_modified_ms = clock().NowMillis();
    IMGBATCH_ASSIGN_OR_RETURN(
        auto upsert, txn.Prepare("INSERT OR REPLACE INTO parts(upload_id, part_number, size, etag, "
                                 "last_modified_ms, crc32, crc32c, sha1, sha256, crc64nvme, "
                                 "blob_id) VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
    upsert.Bind(1, upload_id).Bind(2, int64_t{part_number});
    upsert.Bind(3, static_cast<int64_t>(info.size)).Bind(4, info.etag);
    upsert.Bind(5, info.last_modified_ms);
    BindChecksums(upsert, 6, info.checksums);
    upsert.Bind(6 + kChecksumColumns, ingested.blob_id);
    return upsert.Run();
  });
  if (!st.ok()) {
    RemoveIfUnreferenced(ingested.blob_id);
    return st;
  }
  if (replaced_blob) blobs().Remove(*replaced_blob);
  return info;
}

// The algorithm whose whole-body CRC (FULL_OBJECT) an upload's object gets,
// or kNone for a composite: CRC64NVME uploads and those without an algorithm
// (their parts carry the default CRC64NVME) always, CRC32 and CRC32C when
// asked for at creation.
static ChecksumAlgorithm FullObjectAlgorithmOf(const PutOptions& upload) {
  switch (upload.checksum_algorithm) {
    case ChecksumAlgorithm::kNone:
    case ChecksumAlgorithm::kCrc64Nvme:
      return ChecksumAlgorithm::kCrc64Nvme;
    case ChecksumAlgorithm::kCrc32:
    case ChecksumAlgorithm::kCrc32c:
      return upload.full_object_checksum ? upload.checksum_algorithm : ChecksumAlgorithm::kNone;
    default:
      return ChecksumAlgorithm::kNone;
  }
}

// The client's whole-object checksums (CompleteMultipartUpload's
// x-amz-checksum-*) against what the chosen parts make: AWS answers BadDigest
// when they differ. A composite may come with or without its "-<parts>"
// suffix; a CRC without one may also be the CRC of the whole body (what a
// FULL_OBJECT upload stores, and what SDKs compute), which the parts' CRCs
// and sizes give without reading them. A CRC64NVME is always the whole
// body's.
static Status VerifyWholeObjectChecksums(const std::vector<Checksums>& part_checksums,
                                         const std::vector<uint64_t>& part_sizes,
                                         const Checksums& expected) {
  for (ChecksumAlgorithm algorithm : kChecksumAlgorithms) {
    std::optional<std::string> given = ChecksumOf(expected, algorithm);
    if (!given) continue;
    if (std::optional<std::string> whole = FullObjectCrc(algorithm, part_checksums, part_sizes);
        whole && Base64Decode(*given) == Base64Decode(*whole)) {
      continue;
    }
    if (std::optional<std::string> composite = CompositeChecksum(algorithm, part_checksums)) {
      const std::string bare = composite->substr(0, composite->rfind('-'));
      if (*given == *composite || *given == bare) continue;
    }
    return ChecksumMismatch(algorithm);
  }
  return Status::Ok();
}

Result<ObjectMeta> StoreImpl::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    const std::vector<CompletedPart>& parts, const Caller& caller, const Checksums& expected) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  IMGBATCH_RETURN_IF_ERROR(ValidateKey(key));
  if (parts.empty()) {
    return InvalidArgument("You must specify at least one part").WithDetail("MalformedXML");
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    IMGBATCH_RETURN_IF_ERROR(CheckPartNumber(parts[i].part_number));
    if (i > 0 && parts[i].part_number <= parts[i - 1].part_number) {
      return InvalidArgument("The list of parts was not in ascending order.")
          .WithDetail("InvalidPartOrder");
    }
  }
  MultipartUpload upload;
  std::vector<StoredPart> stored;
  std::optional<std::string> completed_etag;
  const int64_t now_ms = clock().NowMillis();
  IMGBATCH_RETURN_IF_ERROR(db().Read([&](db::Conn& conn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
    Result<MultipartUpload> loaded = LoadUpload(conn, bucket, key, upload_id);
    if (!loaded.ok() && loaded.status().detail() == "NoSuchUpload") {
      IMGBATCH_ASSIGN_OR_RETURN(completed_etag,
                                CompletedEtag(conn, bucket, key, upload_id, now_ms));
      if (completed_etag) return Status::Ok();
    }
    IMGBATCH_ASSIGN_OR_RETURN(upload, std::move(loaded));
    IMGBATCH_ASSIGN_OR_RETURN(stored, LoadParts(conn, upload_id, 0, kMaxPartNumber + 1));
    return Status::Ok();
  }));
  if (completed_etag) {
    // A retry of a Complete that succeeded: the same answer while the object
    // it made is still the current one.
    Result<ObjectMeta> current = HeadObject(bucket, key);
    if (current.ok() && current->etag == *completed_etag) return current;
    return NoSuchUpload(upload_id);
  }

  // Match the client's list against the stored parts.
  std::vector<const StoredPart*> chosen;
  size_t next = 0;
  for (const CompletedPart& wanted : parts) {
    while (next < stored.size() && stored[next].info.part_number < wanted.part_number) ++next;
    const bool found = next < stored.size() && stored[next].info.part_number == wanted.part_number;
    const auto invalid_part = [&] {
      return InvalidArgument(
                 "One or more of the specified parts could not be found. The part "
                 "may not have been uploaded, or the specified entity tag may not "
                 "match the part's entity tag.")
          .WithDetail("InvalidPart");
    };
    if (!found || NormalizeEtag(wanted.etag) != stored[next].info.etag) return invalid_part();
    for (ChecksumAlgorithm a : kChecksumAlgorithms) {
      std::optional<std::string> given = ChecksumOf(wanted.checksums, a);
      if (given && ChecksumOf(stored[next].info.checksums, a) != given) return invalid_part();
    }
    chosen.push_back(&stored[next]);
  }
  uint64_t total = 0;
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (i + 1 < chosen.size() && chosen[i]->info.size < kMinPartBytes) {
      return InvalidArgument("Your proposed upload is smaller than the minimum allowed size")
          .WithDetail("EntityTooSmall");
    }
    total += chosen[i]->info.size;
  }
  if (total > options().max_object_bytes) {
    return Status(Code::kTooLarge, "Your proposed upload exceeds the maximum allowed size")
        .WithDetail("EntityTooLarge");
  }

  // What the object keeps of its parts, and what its ETag and checksums are
  // combined from.
  std::vector<std::string> part_md5s;
  std::vector<Checksums> part_checksums;
  std::vector<uint64_t> part_sizes;
  std::vector<ObjectPart> object_parts;
  for (const StoredPart* part : chosen) {
    part_md5s.push_back(part->info.etag);
    part_sizes.push_back(part->info.size);
    part_checksums.push_back(part->info.checksums);
    object_parts.push_back({part->info.part_number, part->info.size, part->info.checksums});
  }
  IMGBATCH_RETURN_IF_ERROR(VerifyWholeObjectChecksums(part_checksums, part_sizes, expected));

  // Assemble the object's blob from the part files.
  IMGBATCH_RETURN_IF_ERROR(blobs().CheckFreeSpace(total));
  IMGBATCH_ASSIGN_OR_RETURN(auto writer, blobs().NewWriter());
  for (const StoredPart* part : chosen) {
    Result<int> fd = blobs().OpenForRead(part->blob_id);
    if (!fd.ok() && fd.status().code() == Code::kNotFound) {
      // Replaced by a concurrent UploadPart of the same number.
      return InvalidArgument("part " + std::to_string(part->info.part_number) + " changed")
          .WithDetail("InvalidPart");
    }
    IMGBATCH_RETURN_IF_ERROR(fd.status());
    Status copied = writer->AppendFile(*fd, 0, part->info.size);
    ::close(*fd);
    IMGBATCH_RETURN_IF_ERROR(copied);
  }
  IngestedBody body;
  body.is_inline = false;
  body.size = total;
  IMGBATCH_ASSIGN_OR_RETURN(body.blob_id, writer->Publish());
  body.md5_hex = MultipartEtag(part_md5s);  // CommitObject uses it as the ETag
  // A FULL_OBJECT upload's parts carry that CRC (the upload's algorithm or,
  // without one, the default CRC64NVME): the object gets the CRC of its
  // whole body, combined from them, as S3 gives it. Parts stored before
  // there was a default, or sent with a checksum of their own, leave it
  // without.
  const ChecksumAlgorithm full_object = FullObjectAlgorithmOf(upload.options);
  if (full_object != ChecksumAlgorithm::kNone) {
    *MutableChecksumOf(body.checksums, full_object) =
        FullObjectCrc(full_object, part_checksums, part_sizes);
  } else if (std::optional<std::string> composite =
                 CompositeChecksum(upload.options.checksum_algorithm, part_checksums)) {
    *MutableChecksumOf(body.checksums, upload.options.checksum_algorithm) = *composite;
  }

  std::vector<std::string> consumed_blobs;
  auto consume_upload = [&](db::Txn& txn) -> Status {
    // A concurrent Complete or Abort may have won: then this one fails.
    IMGBATCH_ASSIGN_OR_RETURN(auto still_there, LoadUpload(txn, bucket, key, upload_id));
    (void)still_there;
    IMGBATCH_ASSIGN_OR_RETURN(consumed_blobs, DeleteUploadRows(txn, upload_id));
    return RecordCompletion(txn, bucket, key, upload_id, body.md5_hex, now_ms);
  };
  const bool composite =
      full_object == ChecksumAlgorithm::kNone && (body.checksums.crc32 || body.checksums.crc32c ||
                                                  body.checksums.sha1 || body.checksums.sha256);
  IMGBATCH_ASSIGN_OR_RETURN(
      ObjectMeta meta,
      CommitObject(bucket, key, body, AttrsOf(upload.options), composite, object_parts,
                   ObjectEventKind::kCompleteMultipartUpload, {}, caller, consume_upload));
  for (const std::string& id : consumed_blobs) blobs().Remove(id);
  return meta;
}

Status StoreImpl::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  IMGBATCH_RETURN_IF_ERROR(ValidateKey(key));
  std::vector<std::string> part_blobs;
  IMGBATCH_RETURN_IF_ERROR(db().Write([&](db::Txn& txn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(auto upload, LoadUpload(txn, bucket, key, upload_id));
    (void)upload;
    IMGBATCH_ASSIGN_OR_RETURN(part_blobs, DeleteUploadRows(txn, upload_id));
    return Status::Ok();
  }));
  for (const std::string& id : part_blobs) blobs().Remove(id);
  return Status::Ok();
}

Result<ListPartsResult> StoreImpl::ListParts(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id, int part_number_marker,
                                             int max_parts) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  IMGBATCH_RETURN_IF_ERROR(ValidateKey(key));
  if (max_parts < 0 || part_number_marker < 0) {
    return InvalidArgument("max-parts and part-number-marker must be non-negative")
        .WithDetail("InvalidArgument");
  }
  const int limit = std::min(max_parts, kMaxListParts);
  ListPartsResult result;
  IMGBATCH_RETURN_IF_ERROR(db().Read([&](db::Conn& conn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(auto upload, LoadUpload(conn, bucket, key, upload_id));
    result.checksum_algorithm = upload.options.checksum_algorithm;
    result.full_object_checksum = upload.options.full_object_checksum;
    IMGBATCH_ASSIGN_OR_RETURN(auto parts,
                              LoadParts(conn, upload_id, part_number_marker, limit + 1));
    result.truncated = parts.size() > static_cast<size_t>(limit);
    if (result.truncated) parts.resize(static_cast<size_t>(limit));
    for (StoredPart& p : parts) result.parts.push_back(std::move(p.info));
    if (!result.parts.empty()) result.next_part_number_marker = result.parts.back().part_number;
    return Status::Ok();
  }));
  return result;
}

namespace {

// Columns: upload_id, key, initiated_ms, checksum_algorithm, attrs, full_object_checksum.
MultipartUpload RowToUpload(db::Statement& q, const std::string& bucket, std::string key) {
  MultipartUpload u;
  u.upload_id = q.ColumnText(0);
  u.bucket = bucket;
  u.key = std::move(key);
  u.initiated_ms = q.ColumnInt(2);
  u.options.checksum_algorithm = static_cast<ChecksumAlgorithm>(q.ColumnInt(3));
  u.options.full_object_checksum = q.ColumnInt(5) != 0;
  if (std::optional<ObjectAttrs> attrs = DecodeAttrs(q.ColumnText(4)))
    ApplyAttrs(*attrs, u.options);
  return u;
}

}  // namespace

Result<ListUploadsResult> StoreImpl::ListMultipartUploads(const std::string& bucket,
                                                          const ListUploadsRequest& request) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  if (request.max_uploads < 0) {
    return InvalidArgument("max-uploads must be non-negative").WithDetail("InvalidArgument");
  }
  const int limit = std::min(request.max_uploads, kMaxListUploads);
  ListUploadsResult result;
  IMGBATCH_RETURN_IF_ERROR(db().Read([&](db::Conn& conn) -> Status {
    result = ListUploadsResult();
    IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
    struct Source {
      db::Conn& conn;
      const std::string& bucket;
      const std::string& prefix;
      ListUploadsResult& result;
      std::string key_cursor, upload_id_cursor;
      // Order: key, then upload id. With only a key marker, S3 lists keys
      // after it; with an upload id marker too, later uploads of the marker
      // key first.
      Result<db::Statement> Query(int batch) {
        IMGBATCH_ASSIGN_OR_RETURN(
            auto q, conn.Prepare("SELECT upload_id, key, initiated_ms, checksum_algorithm, attrs, "
                                 "full_object_checksum FROM uploads WHERE bucket=?1 AND key>=?2 "
                                 "AND (key>?3 OR (key=?3 AND ?4<>'' AND upload_id>?4)) "
                                 "ORDER BY key, upload_id LIMIT ?5"));
        q.Bind(1, bucket).Bind(2, prefix).Bind(3, key_cursor).Bind(4, upload_id_cursor);
        q.Bind(5, int64_t{batch});
        return q;
      }
      std::string Key(const db::Statement& q) { return q.ColumnText(1); }
      Status Take(db::Statement& q, std::string key) {
        MultipartUpload upload = RowToUpload(q, bucket, std::move(key));
        key_cursor = result.next_key_marker = upload.key;
        upload_id_cursor = result.next_upload_id_marker = upload.upload_id;
        result.uploads.push_back(std::move(upload));
        return Status::Ok();
      }
      void SeekPast(std::string key) {
        key_cursor = std::move(key);
        upload_id_cursor.clear();
      }
      void AddCommonPrefix(std::string common) {
        result.next_key_marker = common;
        result.next_upload_id_marker.clear();
        result.common_prefixes.push_back(std::move(common));
      }
    } source{conn, bucket, request.prefix, result, request.key_marker, request.upload_id_marker};
    IMGBATCH_RETURN_IF_ERROR(WalkDelimited(request.prefix, request.delimiter, request.key_marker,
                                           limit, source, result.truncated));
    if (!result.truncated) {
      result.next_key_marker.clear();
      result.next_upload_id_marker.clear();
    }
    return Status::Ok();
  }));
  return result;
}

}  // namespace imgbatch::store
