// Digests, checksums and encodings used across modules (S3 ETags, SigV4,
// SQS MD5s, x-amz-checksum-*). OpenSSL for the cryptographic ones, zlib for
// CRC32, a table for CRC32C, Boost.CRC for CRC64NVME. Streaming hashers are
// not thread-safe; the free functions are.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace imgbatch {

std::string HexEncode(std::string_view bytes);  // lower case
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// Raw (binary) digests.
std::string Md5(std::string_view data);
std::string Sha1(std::string_view data);
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
// SipHash-2-4 (64-bit output) under a 16-byte key: a MAC for short values
// that a server hands out and checks itself (receipt handles), ~0.07 us.
// Throws std::invalid_argument for another key size.
uint64_t SipHash24(std::string_view key, std::string_view data);
inline std::string Md5Hex(std::string_view d) { return HexEncode(Md5(d)); }
inline std::string Sha256Hex(std::string_view d) { return HexEncode(Sha256(d)); }

uint32_t Crc32Update(uint32_t crc, std::string_view data);   // zlib's CRC-32
uint32_t Crc32cUpdate(uint32_t crc, std::string_view data);  // Castagnoli
// The CRC of A followed by B from the CRCs of A and B and B's length, without
// the bytes (how a FULL_OBJECT multipart upload gets its whole-object CRC from
// its parts'); O(log length). Crc32Combine is zlib's.
uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);
// CRC as the 4 big-endian bytes AWS base64-encodes in x-amz-checksum-crc32(c).
std::string Crc32Bytes(uint32_t crc);
std::optional<uint32_t> Crc32FromBytes(std::string_view bytes);

// CRC-64/NVME (S3's CRC64NVME: reflected polynomial 0xAD93D23594C93659, all
// bits set before and after), the checksum that current AWS SDKs and the CLI
// send by default.
uint64_t Crc64Nvme(std::string_view data);
// The CRC64NVME of A followed by B from the CRCs of A and B and B's length,
// without the bytes (how a multipart object gets its whole-object CRC from
// its parts'); O(log length).
uint64_t Crc64NvmeCombine(uint64_t crc_a, uint64_t crc_b, uint64_t length_b);
// As the 8 big-endian bytes AWS base64-encodes in x-amz-checksum-crc64nvme.
std::string Crc64Bytes(uint64_t crc);
std::optional<uint64_t> Crc64FromBytes(std::string_view bytes);

enum class HashKind { kMd5, kSha1, kSha256, kCrc32, kCrc32c, kCrc64Nvme };
// Streaming hash over any of the kinds; Finish() returns raw digest bytes
// (CRCs as 4 or 8 big-endian bytes).
class Hasher {
 public:
  explicit Hasher(HashKind kind);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void Update(std::string_view data);
  std::string Finish();
  HashKind kind() const { return kind_; }

 private:
  struct Impl;
  HashKind kind_;
  std::unique_ptr<Impl> impl_;
};

// Compares secrets (signatures, tokens) in time independent of where they
// differ (CRYPTO_memcmp); a length mismatch still spends one comparison.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Cryptographically random bytes (OpenSSL RAND_bytes).
std::string RandomBytes(size_t n);
// Random id of n bytes, hex encoded.
std::string RandomHex(size_t n);

}  // namespace imgbatch
