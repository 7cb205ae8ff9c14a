#include "store/object_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

#include "common/hashing.h"
#include "store/delimited_walk.h"
#include "store/store_impl.h"

namespace imgbatch::store {
namespace {

constexpr size_t kStreamChunk = 1 << 20;
constexpr int kOpenRetries = 8;  // a concurrent overwrite may unlink between read and open
constexpr char kBucketTagsConfig[] = "tags";  // bucket_configs name

std::shared_ptr<int> SharedFd(int fd) {
  return std::shared_ptr<int>(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
}

// Reads a row selected with kObjectColumns (plus inline_data at column 14 when
// with_data).
Result<StoredObject> RowToObject(const db::Statement& st, const std::string& bucket,
                                 bool with_data) {
  StoredObject obj;
  ObjectMeta& m = obj.meta;
  m.bucket = bucket;
  m.key = st.ColumnText(0);
  m.size = static_cast<uint64_t>(st.ColumnInt(1));
  m.etag = st.ColumnText(2);
  m.last_modified_ms = st.ColumnInt(3);
  m.sequence = static_cast<uint64_t>(st.ColumnInt(4));
  m.parts_count = static_cast<int>(st.ColumnInt(5));
  ReadChecksums(st, 6, m.checksums);
  m.checksums.composite = st.ColumnInt(11) != 0;
  std::optional<ObjectAttrs> attrs = DecodeAttrs(st.ColumnText(12));
  if (!attrs) return Status(Code::kCorruption, "bad attrs of object " + m.key);
  ApplyAttrs(*attrs, m);
  if (!st.ColumnIsNull(13)) obj.blob_id = st.ColumnText(13);
  if (with_data) obj.inline_bytes = st.ColumnText(14);
  return obj;
}

// A ByteSource over an object's stored bytes (for CopyObject).
class StoredBytesSource final : public ByteSource {
 public:
  explicit StoredBytesSource(const ObjectData& data) : data_(data) {}
  Result<size_t> Read(std::span<char> buffer) override {
    const uint64_t left = data_.length - position_;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
    if (n == 0) return size_t{0};
    if (!data_.fd) {
      std::memcpy(buffer.data(), data_.inline_bytes.data() + data_.offset + position_, n);
      position_ += n;
      return n;
    }
    while (true) {
      ssize_t got =
          ::pread(*data_.fd, buffer.data(), n, static_cast<off_t>(data_.offset + position_));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return IoError(std::string("read source blob: ") + std::strerror(errno));
      if (got == 0) return IoError("source blob shorter than its metadata");
      position_ += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
  }

 private:
  const ObjectData& data_;
  uint64_t position_ = 0;
};

// Replaces the parts recorded for a key: none for a plain object, so an
// overwrite never leaves a previous multipart object's boundaries behind.
Status RecordParts(db::Txn& txn, const std::string& bucket, const std::string& key,
                   std::span<const ObjectPart> parts) {
  IMGBATCH_ASSIGN_OR_RETURN(auto del,
                            txn.Prepare("DELETE FROM object_parts WHERE bucket=? AND key=?"));
  IMGBATCH_RETURN_IF_ERROR(del.Bind(1, bucket).Bind(2, key).Run());
  if (parts.empty()) return Status::Ok();
  std::vector<uint64_t> sizes;
  for (const ObjectPart& part : parts) sizes.push_back(part.size);
  IMGBATCH_ASSIGN_OR_RETURN(auto insert, txn.Prepare("INSERT INTO object_parts(bucket, key, sizes, "
                                                     "numbers_checksums) VALUES(?,?,?,?)"));
  return insert.Bind(1, bucket)
      .Bind(2, key)
      .BindBlob(3, EncodePartSizes(sizes))
      .BindBlob(4, EncodePartNumbersChecksums(parts))
      .Run();
}

// Empty when none are recorded (a multipart object completed before v3).
Result<std::vector<uint64_t>> LoadPartSizes(db::Conn& conn, const std::string& bucket,
                                            const std::string& key) {
  IMGBATCH_ASSIGN_OR_RETURN(
      auto q, conn.Prepare("SELECT sizes FROM object_parts WHERE bucket=? AND key=?"));
  q.Bind(1, bucket).Bind(2, key);
  IMGBATCH_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::vector<uint64_t>();
  std::optional<std::vector<uint64_t>> sizes = DecodePartSizes(q.ColumnText(0));
  if (!sizes) return Status(Code::kCorruption, "bad part sizes of " + key);
  return std::move(*sizes);
}

// The parts recorded for a key; see ObjectStore::ListObjectParts.
Result<std::vector<ObjectPart>> LoadParts(db::Conn& conn, const std::string& bucket,
                                          const std::string& key) {
  IMGBATCH_ASSIGN_OR_RETURN(
      auto q,
      conn.Prepare("SELECT sizes, numbers_checksums FROM object_parts WHERE bucket=? AND key=?"));
  q.Bind(1, bucket).Bind(2, key);
  IMGBATCH_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::vector<ObjectPart>();
  std::optional<std::vector<uint64_t>> sizes = DecodePartSizes(q.ColumnText(0));
  if (!sizes) return Status(Code::kCorruption, "bad part sizes of " + key);
  std::vector<ObjectPart> parts(sizes->size());
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].part_number = static_cast<int>(i + 1);
    parts[i].size = (*sizes)[i];
  }
  if (!q.ColumnIsNull(1) && !DecodePartNumbersChecksums(q.ColumnText(1), parts)) {
    return Status(Code::kCorruption, "bad part numbers or checksums of " + key);
  }
  return parts;
}

struct PartBytes {
  std::optional<ByteRange> range;  // unset: the whole object (or an empty part)
  uint64_t length = 0;
};

// Where part `number` (1-based) of an object lies.
Result<PartBytes> FindPart(const ObjectMeta& meta, const std::vector<uint64_t>& sizes, int number) {
  const auto not_satisfiable = [] {
    return Status(Code::kOutOfRange, "The requested partnumber is not satisfiable")
        .WithDetail("InvalidPartNumber");
  };
  if (meta.parts_count == 0) {  // a plain object is its own single part
    if (number != 1) return not_satisfiable();
    return PartBytes{std::nullopt, meta.size};
  }
  if (sizes.empty()) {
    return Status(Code::kUnsupported,
                  "The part boundaries of this object were not recorded (completed before the "
                  "store kept them); GET it by Range instead.")
        .WithDetail("NotImplemented");
  }
  if (static_cast<size_t>(number) > sizes.size()) return not_satisfiable();
  uint64_t first = 0;
  for (int i = 0; i + 1 < number; ++i) first += sizes[static_cast<size_t>(i)];
  const uint64_t length = sizes[static_cast<size_t>(number - 1)];
  if (length == 0) return PartBytes{std::nullopt, 0};
  return PartBytes{ByteRange{first, first + length - 1}, length};
}

}  // namespace

void ReadChecksums(const db::Statement& st, int first_column, Checksums& c) {
  std::optional<std::string>* fields[] = {&c.crc32, &c.crc32c, &c.sha1, &c.sha256, &c.crc64nvme};
  for (int i = 0; i < kChecksumColumns; ++i) {
    if (!st.ColumnIsNull(first_column + i)) *fields[i] = st.ColumnText(first_column + i);
  }
}

void BindChecksums(db::Statement& st, int first_index, const Checksums& c) {
  const std::optional<std::string>* fields[] = {&c.crc32, &c.crc32c, &c.sha1, &c.sha256,
                                                &c.crc64nvme};
  for (int i = 0; i < kChecksumColumns; ++i) {
    if (*fields[i]) {
      st.Bind(first_index + i, **fields[i]);
    } else {
      st.BindNull(first_index + i);
    }
  }
}

// ---- validation ----

Status ValidateBucketName(const std::string& bucket) {
  if (IsValidBucketName(bucket)) return Status::Ok();
  return InvalidArgument("The specified bucket is not valid.").WithDetail("InvalidBucketName");
}

Status ValidateKey(const std::string& key) {
  if (key.size() > kMaxKeyBytes) {
    return InvalidArgument("Your key is too long").WithDetail("KeyTooLongError");
  }
  if (!IsValidObjectKey(key)) {
    return InvalidArgument("Object key must be 1 to 1024 bytes of UTF-8 without NUL")
        .WithDetail("InvalidArgument");
  }
  return Status::Ok();
}

Status NoSuchBucket(const std::string& bucket) {
  return NotFound("The specified bucket does not exist: " + bucket).WithDetail("NoSuchBucket");
}

Status NoSuchKey(const std::string& key) {
  return NotFound("The specified key does not exist: " + key).WithDetail("NoSuchKey");
}

// ---- lifecycle ----

Result<std::unique_ptr<ObjectStore>> ObjectStore::Open(db::Database& db, StoreOptions options,
                                                       Clock& clock) {
  if (options.data_dir.empty()) return InvalidArgument("store data_dir is empty");
  auto store = std::make_unique<StoreImpl>(db, std::move(options), clock);
  IMGBATCH_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<ObjectStore>(std::move(store));
}

StoreImpl::StoreImpl(db::Database& db, StoreOptions options, Clock& clock)
    : db_(db),
      options_(std::move(options)),
      clock_(clock),
      blobs_(options_.data_dir + "/blobs", options_.free_space_reserve, options_.blob_write_hook) {}

Status StoreImpl::Init() {
  IMGBATCH_RETURN_IF_ERROR(db_.Migrate("store", StoreMigrations()));
  IMGBATCH_RETURN_IF_ERROR(blobs_.Init());
  // Orphans: blobs renamed into place whose commit never happened, and blobs
  // whose unlink after an overwrite/delete was cut short by a crash.
  auto removed = blobs_.CollectGarbage(
      [this](const std::vector<std::string>& ids) -> Result<std::vector<bool>> {
        std::vector<bool> referenced;
        IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
          referenced.clear();
          for (const std::string& id : ids) {
            IMGBATCH_ASSIGN_OR_RETURN(bool found, IsBlobReferenced(conn, id));
            referenced.push_back(found);
          }
          return Status::Ok();
        }));
        return referenced;
      });
  return removed.status();
}

Result<bool> StoreImpl::IsBlobReferenced(db::Conn& conn, const std::string& blob_id) {
  IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare("SELECT 1 FROM objects WHERE blob_id=?1 "
                                                 "UNION ALL SELECT 1 FROM parts WHERE blob_id=?1 "
                                                 "LIMIT 1"));
  q.Bind(1, blob_id);
  return q.Step();
}

void StoreImpl::RemoveIfUnreferenced(const std::string& blob_id) {
  bool referenced = true;  // when unsure, keep it: start-up collection will decide
  Status st = db_.Read([&](db::Conn& conn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(referenced, IsBlobReferenced(conn, blob_id));
    return Status::Ok();
  });
  if (st.ok() && !referenced) blobs_.Remove(blob_id);
}

// ---- shared helpers ----

Status StoreImpl::BucketExists(db::Conn& conn, const std::string& bucket) {
  IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare("SELECT 1 FROM buckets WHERE name=?"));
  q.Bind(1, bucket);
  IMGBATCH_ASSIGN_OR_RETURN(bool found, q.Step());
  return found ? Status::Ok() : NoSuchBucket(bucket);
}

Result<std::optional<StoredObject>> StoreImpl::LoadObject(db::Conn& conn, const std::string& bucket,
                                                          const std::string& key, bool with_data) {
  static const std::string kWithData = std::string("SELECT ") + kObjectColumns +
                                       ", inline_data FROM objects WHERE bucket=? AND key=?";
  static const std::string kMetaOnly =
      std::string("SELECT ") + kObjectColumns + " FROM objects WHERE bucket=? AND key=?";
  IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare(with_data ? kWithData : kMetaOnly));
  q.Bind(1, bucket).Bind(2, key);
  IMGBATCH_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::optional<StoredObject>();
  IMGBATCH_ASSIGN_OR_RETURN(StoredObject obj, RowToObject(q, bucket, with_data));
  return std::optional<StoredObject>(std::move(obj));
}

Result<uint64_t> StoreImpl::NextSequence(db::Txn& txn) {
  IMGBATCH_ASSIGN_OR_RETURN(
      auto q, txn.Prepare("UPDATE store_sequence SET value=value+1 WHERE id=1 RETURNING value"));
  IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Status(Code::kCorruption, "store_sequence row missing");
  const auto value = static_cast<uint64_t>(q.ColumnInt(0));
  IMGBATCH_RETURN_IF_ERROR(q.Run());  // finish the statement
  return value;
}

Status StoreImpl::RemoveObject(db::Txn& txn, const ObjectMeta& current, ObjectEventKind kind,
                               const Caller& caller, int64_t now_ms) {
  for (const char* sql : {"DELETE FROM objects WHERE bucket=? AND key=?",
                          "DELETE FROM object_parts WHERE bucket=? AND key=?"}) {
    IMGBATCH_ASSIGN_OR_RETURN(auto del, txn.Prepare(sql));
    IMGBATCH_RETURN_IF_ERROR(del.Bind(1, current.bucket).Bind(2, current.key).Run());
  }
  ObjectMeta removed = current;
  IMGBATCH_ASSIGN_OR_RETURN(removed.sequence, NextSequence(txn));
  return EmitEvent(txn, kind, removed, caller, now_ms);
}

Status StoreImpl::EmitEvent(db::Txn& txn, ObjectEventKind kind, const ObjectMeta& meta,
                            const Caller& caller, int64_t now_ms) {
  ObjectEventSink* sink = sink_.load();
  if (sink == nullptr) return Status::Ok();
  ObjectEvent event{kind, meta, caller, now_ms};
  return sink->OnObjectEvent(txn, event);
}

Result<IngestedBody> StoreImpl::Ingest(ByteSource& body, const PutOptions& options,
                                       uint64_t max_bytes, bool allow_inline,
                                       const Checksums* also_compute) {
  IMGBATCH_RETURN_IF_ERROR(ValidateChecksumValues(options.expected));
  if (options.content_md5 && options.content_md5->size() != 16) {
    return InvalidArgument("The Content-MD5 you specified was invalid.")
        .WithDetail("InvalidDigest");
  }
  const std::optional<uint64_t> declared = options.content_length;
  if (declared && *declared > max_bytes) {
    return Status(Code::kTooLarge, "Your proposed upload exceeds the maximum allowed size")
        .WithDetail("EntityTooLarge");
  }
  IMGBATCH_RETURN_IF_ERROR(blobs_.CheckFreeSpace(declared.value_or(0)));

  BodyDigests digests(options.expected, options.checksum_algorithm);
  if (also_compute != nullptr) digests.AddAlgorithmsOf(*also_compute);
  digests.AddDefaultChecksumIfNone();
  const uint64_t inline_max = allow_inline ? options_.inline_max_bytes : 0;
  // Small declared bodies get a buffer just big enough to notice extra bytes.
  const size_t chunk =
      declared && *declared < kStreamChunk ? static_cast<size_t>(*declared) + 1 : kStreamChunk;
  std::string buffer(chunk, '\0');
  IngestedBody out;
  std::unique_ptr<BlobWriter> writer;
  uint64_t total = 0;
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(size_t n, body.Read(std::span<char>(buffer.data(), buffer.size())));
    if (n == 0) break;
    total += n;
    if (total > max_bytes) {
      return Status(Code::kTooLarge, "Your proposed upload exceeds the maximum allowed size")
          .WithDetail("EntityTooLarge");
    }
    if (declared && total > *declared) {
      return InvalidArgument("The request body is longer than its declared Content-Length")
          .WithDetail("InvalidRequest");
    }
    std::string_view bytes(buffer.data(), n);
    digests.Update(bytes);
    if (!writer && total <= inline_max) {
      out.inline_bytes.append(bytes);
      continue;
    }
    if (!writer) {  // outgrew inline: spill what we have into a blob file
      IMGBATCH_ASSIGN_OR_RETURN(writer, blobs_.NewWriter());
      IMGBATCH_RETURN_IF_ERROR(writer->Append(out.inline_bytes));
      out.inline_bytes.clear();
      out.inline_bytes.shrink_to_fit();
    }
    IMGBATCH_RETURN_IF_ERROR(writer->Append(bytes));
  }
  if (declared && total < *declared) {
    return InvalidArgument(
               "You did not provide the number of bytes specified by the Content-Length HTTP "
               "header.")
        .WithDetail("IncompleteBody");
  }
  digests.Finish();
  IMGBATCH_RETURN_IF_ERROR(VerifyDigests(options, digests));
  out.size = total;
  out.md5_hex = HexEncode(digests.md5_raw());
  out.checksums = digests.checksums();
  if (!allow_inline && !writer) {  // parts are always files, even empty ones
    IMGBATCH_ASSIGN_OR_RETURN(writer, blobs_.NewWriter());
    IMGBATCH_RETURN_IF_ERROR(writer->Append(out.inline_bytes));
    out.inline_bytes.clear();
  }
  if (writer) {
    out.is_inline = false;
    IMGBATCH_ASSIGN_OR_RETURN(out.blob_id, writer->Publish());
  } else {
    IMGBATCH_RETURN_IF_ERROR(blobs_.CheckFreeSpace(total));
  }
  return out;
}

Result<ObjectMeta> StoreImpl::CommitObject(const std::string& bucket, const std::string& key,
                                           const IngestedBody& body, const ObjectAttrs& attrs,
                                           bool checksum_composite,
                                           std::span<const ObjectPart> parts, ObjectEventKind kind,
                                           const Conditions& conditions, const Caller& caller,
                                           const std::function<Status(db::Txn&)>& in_txn) {
  ObjectMeta meta;
  meta.bucket = bucket;
  meta.key = key;
  meta.size = body.size;
  meta.etag = body.md5_hex;
  meta.checksums = body.checksums;
  meta.checksums.composite = checksum_composite;
  const int parts_count = static_cast<int>(parts.size());
  meta.parts_count = parts_count;
  ApplyAttrs(attrs, meta);
  const std::string encoded_attrs = EncodeAttrs(attrs);
  std::optional<std::string> replaced_blob;

  Status st = db_.Write([&](db::Txn& txn) -> Status {
    replaced_blob.reset();
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, bucket));
    if (in_txn) IMGBATCH_RETURN_IF_ERROR(in_txn(txn));
    IMGBATCH_ASSIGN_OR_RETURN(auto current, LoadObject(txn, bucket, key, false));
    std::optional<ObjectMeta> current_meta;
    if (current) current_meta = current->meta;
    IMGBATCH_RETURN_IF_ERROR(CheckWriteConditions(conditions, current_meta));
    IMGBATCH_ASSIGN_OR_RETURN(meta.sequence, NextSequence(txn));
    meta.last_modified_ms = clock_.NowMillis();
    IMGBATCH_ASSIGN_OR_RETURN(
        auto upsert,
        txn.Prepare("INSERT INTO objects(bucket, key, size, etag, last_modified_ms, sequence, "
                    "parts_count, crc32, crc32c, sha1, sha256, crc64nvme, checksum_composite, "
                    "attrs, blob_id, inline_data) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,"
                    "?13,?14,?15,?16) ON CONFLICT(bucket, key) DO UPDATE SET size=?3, etag=?4, "
                    "last_modified_ms=?5, sequence=?6, parts_count=?7, crc32=?8, crc32c=?9, "
                    "sha1=?10, sha256=?11, crc64nvme=?12, checksum_composite=?13, attrs=?14, "
                    "blob_id=?15, inline_data=?16"));
    upsert.Bind(1, bucket).Bind(2, key).Bind(3, static_cast<int64_t>(meta.size));
    upsert.Bind(4, meta.etag).Bind(5, meta.last_modified_ms);
    upsert.Bind(6, static_cast<int64_t>(meta.sequence)).Bind(7, int64_t{parts_count});
    BindChecksums(upsert, 8, meta.checksums);
    upsert.Bind(13, int64_t{checksum_composite ? 1 : 0}).BindBlob(14, encoded_attrs);
    if (body.is_inline) {
      upsert.BindNull(15).BindBlob(16, body.inline_bytes);
    } else {
      upsert.Bind(15, body.blob_id).BindNull(16);
    }
    IMGBATCH_RETURN_IF_ERROR(upsert.Run());
    IMGBATCH_RETURN_IF_ERROR(RecordParts(txn, bucket, key, parts));
    IMGBATCH_RETURN_IF_ERROR(EmitEvent(txn, kind, meta, caller, meta.last_modified_ms));
    if (current && current->blob_id) replaced_blob = current->blob_id;
    return Status::Ok();
  });
  if (!st.ok()) {
    if (!body.is_inline) RemoveIfUnreferenced(body.blob_id);
    return st;
  }
  // Only now, with the new row durable, may the old bytes go. Readers that
  // still hold the old blob open keep reading it (unlink keeps open files).
  if (replaced_blob) blobs_.Remove(*replaced_blob);
  return meta;
}

// ---- buckets ----

Status StoreImpl::CreateBucket(const std::string& name, const std::string& region) {
  IMGBATCH_RETURN_IF_ERROR(ValidateBucketName(name));
  const std::string effective_region = region.empty() ? options_.default_region : region;
  const int64_t now = clock_.NowMillis();
  return db_.Write([&](db::Txn& txn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(
        auto q, txn.Prepare("INSERT INTO buckets(name, region, created_ms) VALUES(?,?,?) "
                            "ON CONFLICT(name) DO NOTHING"));
    IMGBATCH_RETURN_IF_ERROR(q.Bind(1, name).Bind(2, effective_region).Bind(3, now).Run());
    if (q.changes() == 0) {
      return AlreadyExists(
                 "Your previous request to create the named bucket succeeded and you "
                 "already own it.")
          .WithDetail("BucketAlreadyOwnedByYou");
    }
    return Status::Ok();
  });
}

Status StoreImpl::DeleteBucket(const std::string& name) {
  IMGBATCH_RETURN_IF_ERROR(ValidateBucketName(name));
  std::vector<std::string> part_blobs;
  Status st = db_.Write([&](db::Txn& txn) -> Status {
    part_blobs.clear();
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, name));
    IMGBATCH_ASSIGN_OR_RETURN(auto any,
                              txn.Prepare("SELECT 1 FROM objects WHERE bucket=? LIMIT 1"));
    any.Bind(1, name);
    IMGBATCH_ASSIGN_OR_RETURN(bool has_objects, any.Step());
    if (has_objects) {
      return Conflict("The bucket you tried to delete is not empty").WithDetail("BucketNotEmpty");
    }
    // Multipart uploads in progress do not keep a bucket alive on S3 (only
    // objects do); they are aborted with it.
    IMGBATCH_ASSIGN_OR_RETURN(auto blobs,
                              txn.Prepare("SELECT p.blob_id FROM parts p JOIN uploads u "
                                          "ON p.upload_id=u.upload_id WHERE u.bucket=?"));
    blobs.Bind(1, name);
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(bool row, blobs.Step());
      if (!row) break;
      part_blobs.push_back(blobs.ColumnText(0));
    }
    for (const char* sql :
         {"DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket=?)",
          "DELETE FROM uploads WHERE bucket=?", "DELETE FROM buckets WHERE name=?"}) {
      IMGBATCH_ASSIGN_OR_RETURN(auto del, txn.Prepare(sql));
      IMGBATCH_RETURN_IF_ERROR(del.Bind(1, name).Run());
    }
    return Status::Ok();
  });
  if (st.ok()) {
    for (const std::string& id : part_blobs) blobs_.Remove(id);
    ForgetLifecycle(name);  // its configuration went with it (ON DELETE CASCADE)
  }
  return st;
}

Result<BucketInfo> StoreImpl::GetBucket(const std::string& name) {
  if (!IsValidBucketName(name)) return NoSuchBucket(name);
  BucketInfo info;
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(auto q,
                              conn.Prepare("SELECT region, created_ms FROM buckets WHERE name=?"));
    q.Bind(1, name);
    IMGBATCH_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return NoSuchBucket(name);
    info = BucketInfo{name, q.ColumnInt(1), q.ColumnText(0)};
    return Status::Ok();
  }));
  return info;
}

Result<std::vector<BucketInfo>> StoreImpl::ListBuckets() {
  std::vector<BucketInfo> buckets;
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
    buckets.clear();
    IMGBATCH_ASSIGN_OR_RETURN(
        auto q, conn.Prepare("SELECT name, region, created_ms FROM buckets ORDER BY name"));
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::Ok();
      buckets.push_back(BucketInfo{q.ColumnText(0), q.ColumnInt(2), q.ColumnText(1)});
    }
  }));
  return buckets;
}

Status StoreImpl::PutBucketConfig(const std::string& bucket, const std::string& name,
                                  const std::string& document) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  return db_.Write([&](db::Txn& txn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(
        auto q, txn.Prepare("INSERT INTO bucket_configs(bucket, name, document) VALUES(?1,?2,?3) "
                            "ON CONFLICT(bucket, name) DO UPDATE SET document=?3"));
    return q.Bind(1, bucket).Bind(2, name).BindBlob(3, document).Run();
  });
}

Result<std::string> StoreImpl::GetBucketConfig(const std::string& bucket, const std::string& name) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  std::string document;
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(
        auto q, conn.Prepare("SELECT document FROM bucket_configs WHERE bucket=? AND name=?"));
    q.Bind(1, bucket).Bind(2, name);
    IMGBATCH_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return NotFound("no " + name + " configuration on bucket " + bucket);
    document = q.ColumnText(0);
    return Status::Ok();
  }));
  return document;
}

Status StoreImpl::DeleteBucketConfig(const std::string& bucket, const std::string& name) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  return db_.Write([&](db::Txn& txn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(auto q,
                              txn.Prepare("DELETE FROM bucket_configs WHERE bucket=? AND name=?"));
    return q.Bind(1, bucket).Bind(2, name).Run();
  });
}

Status StoreImpl::PutBucketTags(const std::string& bucket, const Tags& tags) {
  IMGBATCH_RETURN_IF_ERROR(ValidateBucketTags(tags));
  if (tags.empty()) return DeleteBucketConfig(bucket, kBucketTagsConfig);
  return PutBucketConfig(bucket, kBucketTagsConfig, EncodeTags(tags));
}

Result<Tags> StoreImpl::GetBucketTags(const std::string& bucket) {
  Result<std::string> encoded = GetBucketConfig(bucket, kBucketTagsConfig);
  if (!encoded.ok()) {
    if (IsAbsentBucketConfig(encoded.status())) return Tags{};
    return encoded.status();
  }
  std::optional<Tags> tags = DecodeTags(*encoded);
  if (!tags) return Status(Code::kCorruption, "bad tags of bucket " + bucket);
  return std::move(*tags);
}

// ---- objects ----

Result<ObjectMeta> StoreImpl::PutObject(const std::string& bucket, const std::string& key,
                                        ByteSource& body, const PutOptions& options,
                                        const Caller& caller) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  IMGBATCH_RETURN_IF_ERROR(ValidateKey(key));
  if (options.tags) IMGBATCH_RETURN_IF_ERROR(ValidateTags(*options.tags));
  // Refuse before streaming a large body to nowhere (re-checked at commit).
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) { return BucketExists(conn, bucket); }));
  // One PUT carries at most 5 GiB on S3; larger objects need multipart.
  const uint64_t max_bytes = std::min(options_.max_object_bytes, kMaxSinglePutBytes);
  IMGBATCH_ASSIGN_OR_RETURN(IngestedBody ingested, Ingest(body, options, max_bytes, true));
  return CommitObject(bucket, key, ingested, AttrsOf(options), false, {},
                      options.posted ? ObjectEventKind::kPost : ObjectEventKind::kPut,
                      options.conditions, caller);
}

Result<ObjectData> StoreImpl::GetObject(const std::string& bucket, const std::string& key,
                                        const std::optional<RangeRequest>& range,
                                        const Conditions& conditions) {
  return ReadObject(bucket, key, range, 0, conditions);
}

Result<ObjectData> StoreImpl::GetObjectPart(const std::string& bucket, const std::string& key,
                                            int part_number, const Conditions& conditions) {
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
        .WithDetail("InvalidArgument");
  }
  return ReadObject(bucket, key, std::nullopt, part_number, conditions);
}

Result<ObjectData> StoreImpl::ReadObject(const std::string& bucket, const std::string& key,
                                         const std::optional<RangeRequest>& range, int part_number,
                                         const Conditions& conditions) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  if (!IsValidObjectKey(key)) return NoSuchKey(key);
  for (int attempt = 0;; ++attempt) {
    StoredObject obj;
    std::vector<uint64_t> part_sizes;
    IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(auto loaded, LoadObject(conn, bucket, key, true));
      if (!loaded) {
        IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
        return NoSuchKey(key);
      }
      obj = std::move(*loaded);
      if (part_number > 0 && obj.meta.parts_count > 0) {
        IMGBATCH_ASSIGN_OR_RETURN(part_sizes, LoadPartSizes(conn, bucket, key));
      }
      return Status::Ok();
    }));
    IMGBATCH_RETURN_IF_ERROR(CheckReadConditions(conditions, obj.meta));
    std::optional<ByteRange> resolved;
    uint64_t length = obj.meta.size;
    if (part_number > 0) {
      IMGBATCH_ASSIGN_OR_RETURN(PartBytes part, FindPart(obj.meta, part_sizes, part_number));
      resolved = part.range;
      length = part.length;
    } else {
      IMGBATCH_ASSIGN_OR_RETURN(resolved, ResolveRange(range, obj.meta.size));
      if (resolved) length = resolved->last - resolved->first + 1;
    }
    ObjectData data;
    data.range = resolved;
    data.offset = resolved ? resolved->first : 0;
    data.length = length;
    if (obj.blob_id) {
      Result<int> fd = blobs_.OpenForRead(*obj.blob_id);
      if (!fd.ok()) {
        // Overwritten or deleted between our read and the open: read again.
        if (fd.status().code() == Code::kNotFound && attempt < kOpenRetries) continue;
        return fd.status().code() == Code::kNotFound
                   ? Status(Code::kCorruption, "blob of " + key + " is missing")
                   : fd.status();
      }
      data.fd = SharedFd(*fd);
    } else {
      data.inline_bytes = std::move(obj.inline_bytes);
    }
    data.meta = std::move(obj.meta);
    return data;
  }
}

Result<ObjectMeta> StoreImpl::HeadObject(const std::string& bucket, const std::string& key) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  if (!IsValidObjectKey(key)) return NoSuchKey(key);
  ObjectMeta meta;
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(auto loaded, LoadObject(conn, bucket, key, false));
    if (!loaded) {
      IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
      return NoSuchKey(key);
    }
    meta = std::move(loaded->meta);
    return Status::Ok();
  }));
  return meta;
}

Result<bool> StoreImpl::DeleteObject(const std::string& bucket, const std::string& key,
                                     const Caller& caller) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  IMGBATCH_RETURN_IF_ERROR(ValidateKey(key));
  std::optional<std::string> removed_blob;
  bool existed = false;
  IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
    removed_blob.reset();
    existed = false;
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(auto current, LoadObject(txn, bucket, key, false));
    if (!current) return Status::Ok();
    IMGBATCH_RETURN_IF_ERROR(
        RemoveObject(txn, current->meta, ObjectEventKind::kDelete, caller, clock_.NowMillis()));
    existed = true;
    removed_blob = current->blob_id;
    return Status::Ok();
  }));
  if (removed_blob) blobs_.Remove(*removed_blob);
  return existed;
}

Result<std::vector<ObjectStore::DeleteResult>> ObjectStore::DeleteObjects(
    const std::string& bucket, const std::vector<std::string>& keys, const Caller& caller) {
  std::vector<DeleteResult> results;
  for (const std::string& key : keys) {
    Result<bool> deleted = DeleteObject(bucket, key, caller);
    if (!deleted.ok() && deleted.status().detail() == "NoSuchBucket") return deleted.status();
    results.push_back({key, deleted.status(), deleted.ok() && *deleted});
  }
  return results;
}

Result<std::vector<ObjectStore::DeleteResult>> StoreImpl::DeleteObjects(
    const std::string& bucket, const std::vector<std::string>& keys, const Caller& caller) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  std::vector<DeleteResult> results;
  std::vector<std::string> removed_blobs;
  IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
    results.clear();
    removed_blobs.clear();
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, bucket));
    const int64_t now = clock_.NowMillis();
    for (const std::string& key : keys) {
      DeleteResult& result = results.emplace_back(DeleteResult{key, ValidateKey(key), false});
      if (!result.status.ok()) continue;
      // Each key in its own savepoint: one refused event undoes only its key.
      IMGBATCH_RETURN_IF_ERROR(txn.Exec("SAVEPOINT delete_key"));
      std::optional<std::string> blob;
      result.status = [&]() -> Status {
        IMGBATCH_ASSIGN_OR_RETURN(auto current, LoadObject(txn, bucket, key, false));
        if (!current) return Status::Ok();
        IMGBATCH_RETURN_IF_ERROR(
            RemoveObject(txn, current->meta, ObjectEventKind::kDelete, caller, now));
        result.existed = true;
        blob = current->blob_id;
        return Status::Ok();
      }();
      if (!result.status.ok()) {
        result.existed = false;
        IMGBATCH_RETURN_IF_ERROR(txn.Exec("ROLLBACK TO delete_key"));
      } else if (blob) {
        removed_blobs.push_back(*blob);
      }
      IMGBATCH_RETURN_IF_ERROR(txn.Exec("RELEASE delete_key"));
    }
    return Status::Ok();
  }));
  for (const std::string& id : removed_blobs) blobs_.Remove(id);
  return results;
}

Result<ObjectMeta> StoreImpl::CopyObject(const std::string& src_bucket, const std::string& src_key,
                                         const std::string& dst_bucket, const std::string& dst_key,
                                         const Conditions& source_conditions, bool replace_metadata,
                                         const PutOptions& new_options, const Caller& caller) {
  if (!IsValidBucketName(dst_bucket)) return NoSuchBucket(dst_bucket);
  IMGBATCH_RETURN_IF_ERROR(ValidateKey(dst_key));
  if (new_options.tags) IMGBATCH_RETURN_IF_ERROR(ValidateTags(*new_options.tags));
  if (src_bucket == dst_bucket && src_key == dst_key && !replace_metadata) {
    return InvalidArgument(
               "This copy request is illegal because it is trying to copy an object to itself "
               "without changing the object's metadata, storage class, website redirect location "
               "or encryption attributes.")
        .WithDetail("InvalidRequest");
  }
  IMGBATCH_RETURN_IF_ERROR(
      db_.Read([&](db::Conn& conn) { return BucketExists(conn, dst_bucket); }));
  // Holding the source open: its bytes stay readable even if it is replaced
  // while we copy.
  IMGBATCH_ASSIGN_OR_RETURN(ObjectData source, GetObject(src_bucket, src_key, std::nullopt, {}));
  IMGBATCH_RETURN_IF_ERROR(CheckCopySourceConditions(source_conditions, source.meta));
  if (source.meta.size > kMaxSinglePutBytes) {
    return InvalidArgument(
               "The specified copy source is larger than the maximum allowable size for a copy "
               "source: 5368709120")
        .WithDetail("InvalidRequest");
  }

  PutOptions options;
  ApplyAttrs(replace_metadata ? AttrsOf(new_options) : AttrsOf(source.meta), options);
  options.tags = new_options.tags ? *new_options.tags : source.meta.tags;
  options.checksum_algorithm = new_options.checksum_algorithm;
  options.content_length = source.meta.size;
  options.conditions = new_options.conditions;
  // Checksums the source carried are recomputed over the copied bytes (a
  // composite multipart checksum becomes a full-object one).
  StoredBytesSource bytes(source);
  IMGBATCH_ASSIGN_OR_RETURN(IngestedBody ingested, Ingest(bytes, options, options_.max_object_bytes,
                                                          true, &source.meta.checksums));
  return CommitObject(dst_bucket, dst_key, ingested, AttrsOf(options), false, {},
                      ObjectEventKind::kCopy, options.conditions, caller);
}

Status StoreImpl::PutObjectTags(const std::string& bucket, const std::string& key, const Tags& tags,
                                const Caller& caller) {
  IMGBATCH_RETURN_IF_ERROR(ValidateTags(tags));
  return ReplaceTags(bucket, key, tags, ObjectEventKind::kTaggingPut, caller);
}

Status StoreImpl::DeleteObjectTags(const std::string& bucket, const std::string& key,
                                   const Caller& caller) {
  return ReplaceTags(bucket, key, {}, ObjectEventKind::kTaggingDelete, caller);
}

Status StoreImpl::ReplaceTags(const std::string& bucket, const std::string& key, const Tags& tags,
                              ObjectEventKind kind, const Caller& caller) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  if (!IsValidObjectKey(key)) return NoSuchKey(key);
  return db_.Write([&](db::Txn& txn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(BucketExists(txn, bucket));
    IMGBATCH_ASSIGN_OR_RETURN(auto current, LoadObject(txn, bucket, key, false));
    if (!current) return NoSuchKey(key);
    ObjectAttrs attrs = AttrsOf(current->meta);
    attrs.tags = tags;
    IMGBATCH_ASSIGN_OR_RETURN(auto update,
                              txn.Prepare("UPDATE objects SET attrs=? WHERE bucket=? AND key=?"));
    IMGBATCH_RETURN_IF_ERROR(
        update.BindBlob(1, EncodeAttrs(attrs)).Bind(2, bucket).Bind(3, key).Run());
    ApplyAttrs(attrs, current->meta);
    return EmitEvent(txn, kind, current->meta, caller, clock_.NowMillis());
  });
}

Result<std::vector<ObjectPart>> StoreImpl::ListObjectParts(const std::string& bucket,
                                                           const std::string& key) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  if (!IsValidObjectKey(key)) return NoSuchKey(key);
  std::vector<ObjectPart> parts;
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(auto loaded, LoadObject(conn, bucket, key, false));
    if (!loaded) {
      IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
      return NoSuchKey(key);
    }
    if (loaded->meta.parts_count == 0) return Status::Ok();
    IMGBATCH_ASSIGN_OR_RETURN(parts, LoadParts(conn, bucket, key));
    return Status::Ok();
  }));
  return parts;
}

Result<ListResult> StoreImpl::ListObjects(const std::string& bucket, const ListRequest& request) {
  if (!IsValidBucketName(bucket)) return NoSuchBucket(bucket);
  if (request.max_keys < 0) {
    return InvalidArgument("max-keys must be non-negative").WithDetail("InvalidArgument");
  }
  const int max_keys = std::min(request.max_keys, kMaxListKeys);
  ListResult result;
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
    result = ListResult();
    IMGBATCH_RETURN_IF_ERROR(BucketExists(conn, bucket));
    if (max_keys == 0) return Status::Ok();
    struct Source {
      db::Conn& conn;
      const std::string& bucket;
      const std::string& prefix;
      ListResult& result;
      std::string cursor;  // keys > this
      Result<db::Statement> Query(int batch) {
        static const std::string kQuery = std::string("SELECT ") + kObjectColumns +
                                          " FROM objects WHERE bucket=?1 AND key>?2 AND key>=?3 "
                                          "ORDER BY key LIMIT ?4";
        IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare(kQuery));
        q.Bind(1, bucket).Bind(2, cursor).Bind(3, prefix).Bind(4, int64_t{batch});
        return q;
      }
      std::string Key(const db::Statement& q) { return q.ColumnText(0); }
      Status Take(db::Statement& q, std::string key) {
        IMGBATCH_ASSIGN_OR_RETURN(StoredObject obj, RowToObject(q, bucket, false));
        result.next_marker = key;
        cursor = std::move(key);
        result.objects.push_back(std::move(obj.meta));
        return Status::Ok();
      }
      void SeekPast(std::string key) { cursor = std::move(key); }
      void AddCommonPrefix(std::string common) {
        result.next_marker = common;
        result.common_prefixes.push_back(std::move(common));
      }
    } source{conn, bucket, request.prefix, result, request.start_after};
    IMGBATCH_RETURN_IF_ERROR(WalkDelimited(request.prefix, request.delimiter, request.start_after,
                                           max_keys, source, result.truncated));
    if (!result.truncated) result.next_marker.clear();
    return Status::Ok();
  }));
  return result;
}

}  // namespace imgbatch::store
