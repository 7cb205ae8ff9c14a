// The x-amz-checksum-* algorithms with every name the wire gives them: one
// row each, so that headers, trailers, XML elements, listings and messages
// all read the same table (a new algorithm is one row).
// Constants and pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/hashing.h"
#include "common/strings.h"
#include "store/object_store.h"

namespace imgbatch::s3 {

struct ChecksumField {
  store::ChecksumAlgorithm algorithm;
  const char* name;         // CRC32: x-amz-checksum-algorithm, listings, messages
  std::string_view header;  // x-amz-checksum-crc32 (also the trailer's name)
  const char* element;      // ChecksumCRC32
  size_t digest_bytes;
  std::optional<std::string> store::Checksums::*value;
  HashKind hash;
};

inline constexpr std::array<ChecksumField, 5> kChecksumFields = {{
    {store::ChecksumAlgorithm::kCrc32, "CRC32", "x-amz-checksum-crc32", "ChecksumCRC32", 4,
     &store::Checksums::crc32, HashKind::kCrc32},
    {store::ChecksumAlgorithm::kCrc32c, "CRC32C", "x-amz-checksum-crc32c", "ChecksumCRC32C", 4,
     &store::Checksums::crc32c, HashKind::kCrc32c},
    {store::ChecksumAlgorithm::kSha1, "SHA1", "x-amz-checksum-sha1", "ChecksumSHA1", 20,
     &store::Checksums::sha1, HashKind::kSha1},
    {store::ChecksumAlgorithm::kSha256, "SHA256", "x-amz-checksum-sha256", "ChecksumSHA256", 32,
     &store::Checksums::sha256, HashKind::kSha256},
    {store::ChecksumAlgorithm::kCrc64Nvme, "CRC64NVME", "x-amz-checksum-crc64nvme",
     "ChecksumCRC64NVME", 8, &store::Checksums::crc64nvme, HashKind::kCrc64Nvme},
}};

// The row of an algorithm; nullptr for kNone.
inline const ChecksumField* FieldOf(store::ChecksumAlgorithm algorithm) {
  for (const ChecksumField& field : kChecksumFields) {
    if (field.algorithm == algorithm) return &field;
  }
  return nullptr;
}

// Checksum algorithm names as on the wire ("CRC32", "crc32", ...).
inline std::optional<store::ChecksumAlgorithm> ParseChecksumAlgorithm(std::string_view name) {
  for (const ChecksumField& field : kChecksumFields) {
    if (IEquals(name, field.name)) return field.algorithm;
  }
  return std::nullopt;
}

// "CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"; "" for kNone.
inline const char* ChecksumAlgorithmName(store::ChecksumAlgorithm algorithm) {
  const ChecksumField* field = FieldOf(algorithm);
  return field != nullptr ? field->name : "";
}

// x-amz-checksum-type / <ChecksumType>: the CRC of the whole body, or a
// multipart object's hash of its parts' checksums.
inline const char* ChecksumTypeName(bool full_object) {
  return full_object ? "FULL_OBJECT" : "COMPOSITE";
}

inline bool HasAnyChecksum(const store::Checksums& checksums) {
  for (const ChecksumField& field : kChecksumFields) {
    if (checksums.*field.value) return true;
  }
  return false;
}

// SHA-256 for kNone.
inline HashKind HashKindFor(store::ChecksumAlgorithm algorithm) {
  const ChecksumField* field = FieldOf(algorithm);
  return field != nullptr ? field->hash : HashKind::kSha256;
}

}  // namespace imgbatch::s3
