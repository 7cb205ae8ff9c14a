// The store's SQLite schema (component "store" in schema_versions) and the
// compact encoding of per-object attributes (content headers, user
// metadata, tags) kept in one BLOB column. See docs/design/storage.md.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "db/database.h"
#include "store/object_store.h"

namespace imgbatch::store {

const std::vector<db::Migration>& StoreMigrations();

// Content headers, user metadata and tags of PutOptions/ObjectMeta.
struct ObjectAttrs {
  std::string content_type, content_encoding, content_disposition, content_language, cache_control,
      expires;
  std::vector<std::pair<std::string, std::string>> user_metadata;
  Tags tags;
};

std::string EncodeAttrs(const ObjectAttrs& attrs);
// nullopt when the bytes are not a valid encoding (corruption).
std::optional<ObjectAttrs> DecodeAttrs(std::string_view bytes);

// A bucket's tags (bucket_configs "tags"): the attrs' pair encoding.
std::string EncodeTags(const Tags& tags);
std::optional<Tags> DecodeTags(std::string_view bytes);

// A multipart object's part sizes (object_parts.sizes): varints in part order.
std::string EncodePartSizes(std::span<const uint64_t> sizes);
std::optional<std::vector<uint64_t>> DecodePartSizes(std::string_view bytes);
// Their numbers and checksums (object_parts.numbers_checksums, v6): per part
// a varint number and five strings (CRC32, CRC32C, SHA1, SHA256, CRC64NVME;
// empty when absent). Decode fills parts already sized from the sizes; false
// when the bytes do not describe exactly that many parts.
std::string EncodePartNumbersChecksums(std::span<const ObjectPart> parts);
bool DecodePartNumbersChecksums(std::string_view bytes, std::span<ObjectPart> parts);

ObjectAttrs AttrsOf(const PutOptions& options);
ObjectAttrs AttrsOf(const ObjectMeta& meta);
void ApplyAttrs(const ObjectAttrs& attrs, ObjectMeta& meta);
void ApplyAttrs(const ObjectAttrs& attrs, PutOptions& options);

}  // namespace imgbatch::store
