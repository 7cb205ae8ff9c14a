#include "store/schema.h"

#include <algorithm>

#include "store/object_rules.h"

namespace imgbatch::store {
namespace {

// Version 1. Keys are TEXT compared with the BINARY collation (memcmp), which
// is S3's order: UTF-8 byte order. inline_data is the last column so list and
// HEAD queries never read its overflow pages.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE buckets(
  name TEXT PRIMARY KEY,
  region TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE bucket_configs(
  bucket TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
  name TEXT NOT NULL,
  document BLOB NOT NULL,
  PRIMARY KEY(bucket, name)
);
CREATE TABLE objects(
  id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL REFERENCES buckets(name),
  key TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  parts_count INTEGER NOT NULL DEFAULT 0,
  crc32 TEXT, crc32c TEXT, sha1 TEXT, sha256 TEXT,
  checksum_composite INTEGER NOT NULL DEFAULT 0,
  attrs BLOB NOT NULL,
  blob_id TEXT,
  inline_data BLOB
);
CREATE UNIQUE INDEX objects_by_key ON objects(bucket, key);
CREATE INDEX objects_by_blob ON objects(blob_id) WHERE blob_id IS NOT NULL;
CREATE TABLE uploads(
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL REFERENCES buckets(name),
  key TEXT NOT NULL,
  initiated_ms INTEGER NOT NULL,
  checksum_algorithm INTEGER NOT NULL,
  attrs BLOB NOT NULL
);
CREATE INDEX uploads_by_key ON uploads(bucket, key, upload_id);
CREATE TABLE parts(
  upload_id TEXT NOT NULL REFERENCES uploads(upload_id),
  part_number INTEGER NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  crc32 TEXT, crc32c TEXT, sha1 TEXT, sha256 TEXT,
  blob_id TEXT NOT NULL,
  PRIMARY KEY(upload_id, part_number)
);
CREATE INDEX parts_by_blob ON parts(blob_id);
CREATE TABLE store_sequence(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO store_sequence(id, value) VALUES(1, 0);
)sql";

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

bool GetVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool GetString(std::string_view& in, std::string& s) {
  uint64_t n = 0;
  if (!GetVarint(in, n) || n > in.size()) return false;
  s.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

constexpr uint64_t kAttrsFormat = 1;

// v2: uploads completed recently, so that a retried CompleteMultipartUpload
// (the response lost to a timeout) succeeds again as on S3 instead of
// answering NoSuchUpload. Rows older than a day are pruned on each completion.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE completed_uploads(
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  etag TEXT NOT NULL,
  completed_ms INTEGER NOT NULL
);
CREATE INDEX completed_uploads_by_time ON completed_uploads(completed_ms);
)sql";

// v3: the part sizes of an object made by CompleteMultipartUpload, in part
// order, so that GET/HEAD ?partNumber=N can serve part N's byte range.
// Keyed by (bucket, key) like the object row; every object write and delete
// replaces or removes it in the same transaction. Objects completed before v3
// have none (their parts_count is still known).
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE object_parts(
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  sizes BLOB NOT NULL,
  PRIMARY KEY(bucket, key)
);
)sql";

// v4: CRC64NVME checksums (x-amz-checksum-crc64nvme, what current SDKs and
// the CLI send by default). The objects table is rebuilt so that the new
// column sits beside the other checksums, ahead of inline_data: a column
// added at the end would make every HEAD and list read an inline object's
// overflow pages to reach it. One pass over the rows at the first start.
// Nothing references objects, so foreign keys need no care.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE objects_v4(
  id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL REFERENCES buckets(name),
  key TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  parts_count INTEGER NOT NULL DEFAULT 0,
  crc32 TEXT, crc32c TEXT, sha1 TEXT, sha256 TEXT, crc64nvme TEXT,
  checksum_composite INTEGER NOT NULL DEFAULT 0,
  attrs BLOB NOT NULL,
  blob_id TEXT,
  inline_data BLOB
);
INSERT INTO objects_v4(id, bucket, key, size, etag, last_modified_ms, sequence, parts_count,
                       crc32, crc32c, sha1, sha256, checksum_composite, attrs, blob_id,
                       inline_data)
  SELECT id, bucket, key, size, etag, last_modified_ms, sequence, parts_count, crc32, crc32c,
         sha1, sha256, checksum_composite, attrs, blob_id, inline_data FROM objects;
DROP TABLE objects;
ALTER TABLE objects_v4 RENAME TO objects;
CREATE UNIQUE INDEX objects_by_key ON objects(bucket, key);
CREATE INDEX objects_by_blob ON objects(blob_id) WHERE blob_id IS NOT NULL;
ALTER TABLE parts ADD COLUMN crc64nvme TEXT;
)sql";

// v5: a CRC32 or CRC32C upload may ask for a FULL_OBJECT checksum
// (PutOptions::full_object_checksum). Earlier uploads are composite, as they
// were created.
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE uploads ADD COLUMN full_object_checksum INTEGER NOT NULL DEFAULT 0;
)sql";

// v6: a completed object's part numbers and checksums (GetObjectAttributes
// lists them), beside the sizes v3 kept. NULL for objects completed before.
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE object_parts ADD COLUMN numbers_checksums BLOB;
)sql";

}  // namespace

const std::vector<db::Migration>& StoreMigrations() {
  static const std::vector<db::Migration> kSteps = {{1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3},
                                                    {4, kSchemaV4}, {5, kSchemaV5}, {6, kSchemaV6}};
  return kSteps;
}

// A count, then each pair's two strings.
void PutPairs(std::string& out, const std::vector<std::pair<std::string, std::string>>& pairs) {
  PutVarint(out, pairs.size());
  for (const auto& [name, value] : pairs) {
    PutString(out, name);
    PutString(out, value);
  }
}

bool GetPairs(std::string_view& in, std::vector<std::pair<std::string, std::string>>& pairs) {
  uint64_t count = 0;
  if (!GetVarint(in, count) || count > in.size()) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string name, value;
    if (!GetString(in, name) || !GetString(in, value)) return false;
    pairs.emplace_back(std::move(name), std::move(value));
  }
  return true;
}

std::string EncodeTags(const Tags& tags) {
  std::string out;
  PutPairs(out, tags);
  return out;
}

std::optional<Tags> DecodeTags(std::string_view bytes) {
  Tags tags;
  if (!GetPairs(bytes, tags) || !bytes.empty()) return std::nullopt;
  return tags;
}

std::string EncodeAttrs(const ObjectAttrs& a) {
  std::string out;
  PutVarint(out, kAttrsFormat);
  for (const std::string* s : {&a.content_type, &a.content_encoding, &a.content_disposition,
                               &a.content_language, &a.cache_control, &a.expires}) {
    PutString(out, *s);
  }
  PutPairs(out, a.user_metadata);
  // Tags follow only when there are some, so an untagged object's encoding
  // is what it was before objects had tags.
  if (!a.tags.empty()) PutPairs(out, a.tags);
  return out;
}

std::optional<ObjectAttrs> DecodeAttrs(std::string_view in) {
  ObjectAttrs a;
  uint64_t format = 0;
  if (!GetVarint(in, format) || format != kAttrsFormat) return std::nullopt;
  for (std::string* s : {&a.content_type, &a.content_encoding, &a.content_disposition,
                         &a.content_language, &a.cache_control, &a.expires}) {
    if (!GetString(in, *s)) return std::nullopt;
  }
  if (!GetPairs(in, a.user_metadata)) return std::nullopt;
  if (!in.empty() && !GetPairs(in, a.tags)) return std::nullopt;
  if (!in.empty()) return std::nullopt;
  return a;
}

std::string EncodePartSizes(std::span<const uint64_t> sizes) {
  std::string out;
  for (uint64_t size : sizes) PutVarint(out, size);
  return out;
}

std::optional<std::vector<uint64_t>> DecodePartSizes(std::string_view in) {
  std::vector<uint64_t> sizes;
  while (!in.empty()) {
    uint64_t size = 0;
    if (!GetVarint(in, size)) return std::nullopt;
    sizes.push_back(size);
  }
  return sizes;
}

std::string EncodePartNumbersChecksums(std::span<const ObjectPart> parts) {
  std::string out;
  for (const ObjectPart& part : parts) {
    PutVarint(out, static_cast<uint64_t>(part.part_number));
    for (ChecksumAlgorithm algorithm : kChecksumAlgorithms) {
      PutString(out, ChecksumOf(part.checksums, algorithm).value_or(""));
    }
  }
  return out;
}

bool DecodePartNumbersChecksums(std::string_view in, std::span<ObjectPart> parts) {
  for (ObjectPart& part : parts) {
    uint64_t number = 0;
    if (!GetVarint(in, number) || number == 0 || number > kMaxPartNumber) return false;
    part.part_number = static_cast<int>(number);
    for (ChecksumAlgorithm algorithm : kChecksumAlgorithms) {
      std::string value;
      if (!GetString(in, value)) return false;
      if (!value.empty()) *MutableChecksumOf(part.checksums, algorithm) = std::move(value);
    }
  }
  return in.empty();
}

ObjectAttrs AttrsOf(const PutOptions& o) {
  ObjectAttrs a{o.content_type,     o.content_encoding,     o.content_disposition,
                o.content_language, o.cache_control,        o.expires,
                o.user_metadata,    o.tags.value_or(Tags{})};
  if (a.content_type.empty()) a.content_type = "binary/octet-stream";  // as S3
  // Names lower-cased and sorted, as ObjectMeta promises.
  for (auto& [name, value] : a.user_metadata) {
    for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  std::stable_sort(a.user_metadata.begin(), a.user_metadata.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  return a;
}

ObjectAttrs AttrsOf(const ObjectMeta& m) {
  return ObjectAttrs{m.content_type,  m.content_encoding, m.content_disposition, m.content_language,
                     m.cache_control, m.expires,          m.user_metadata,       m.tags};
}

void ApplyAttrs(const ObjectAttrs& a, ObjectMeta& m) {
  m.content_type = a.content_type;
  m.content_encoding = a.content_encoding;
  m.content_disposition = a.content_disposition;
  m.content_language = a.content_language;
  m.cache_control = a.cache_control;
  m.expires = a.expires;
  m.user_metadata = a.user_metadata;
  m.tags = a.tags;
}

void ApplyAttrs(const ObjectAttrs& a, PutOptions& o) {
  o.content_type = a.content_type;
  o.content_encoding = a.content_encoding;
  o.content_disposition = a.content_disposition;
  o.content_language = a.content_language;
  o.cache_control = a.cache_control;
  o.expires = a.expires;
  o.user_metadata = a.user_metadata;
  o.tags = a.tags;
}

}  // namespace imgbatch::store
