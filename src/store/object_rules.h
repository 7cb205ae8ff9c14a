// Pure S3 rules the object store applies: preconditions, ranges, ETags,
// checksum verification, upload limits. No I/O; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/hashing.h"
#include "common/status.h"
#include "store/object_store.h"

namespace imgbatch::store {

constexpr uint64_t kMinPartBytes = 5ull << 20;       // all parts but the last
constexpr uint64_t kMaxPartBytes = 5ull << 30;       // S3's part size limit
constexpr uint64_t kMaxSinglePutBytes = 5ull << 30;  // PutObject / CopyObject, as S3
constexpr int kMaxPartNumber = 10000;
constexpr int kMaxListKeys = 1000;
constexpr size_t kMaxKeyBytes = 1024;

// S3's tag rules: keys 1-128 and values 0-256 characters of letters (any
// script), digits, white space and _ . : / = + - @, no "aws:" keys, keys
// unique (kInvalidArgument "InvalidTag"). An object has at most 10 tags
// (kInvalidArgument "BadRequest"), a bucket at most 50 ("InvalidTag").
Status ValidateTags(const Tags& tags);
Status ValidateBucketTags(const Tags& tags);

// Strips surrounding quotes (and a weak "W/" prefix) from a client ETag.
std::string NormalizeEtag(std::string_view etag);

// GET/HEAD preconditions, as S3 evaluates them: If-Match (else
// If-Unmodified-Since) failing -> kPreconditionFailed; then If-None-Match
// (else If-Modified-Since) -> kNotModified. Times compare at whole seconds,
// as HTTP dates carry no milliseconds.
Status CheckReadConditions(const Conditions& c, const ObjectMeta& meta);
// x-amz-copy-source-if-*: every failure is kPreconditionFailed.
Status CheckCopySourceConditions(const Conditions& c, const ObjectMeta& meta);
// Conditional writes (If-None-Match: *, If-Match: etag) against the current
// object, if any.
Status CheckWriteConditions(const Conditions& c, const std::optional<ObjectMeta>& current);

// Resolves a Range against the object size. nullopt = serve the whole object
// (no range, or a syntactically invalid one, which HTTP says to ignore).
// Unsatisfiable -> kOutOfRange ("InvalidRange").
Result<std::optional<ByteRange>> ResolveRange(const std::optional<RangeRequest>& range,
                                              uint64_t size);

// ETag of a multipart object: md5(concat of the parts' raw md5s) hex + "-N".
std::string MultipartEtag(const std::vector<std::string>& part_md5_hex);

// The hashers a write needs: MD5 always, plus every checksum algorithm that
// was requested or whose value the client sent.
class BodyDigests {
 public:
  BodyDigests(const Checksums& expected, ChecksumAlgorithm algorithm);
  // For copies: compute the algorithms the source had.
  void AddAlgorithmsOf(const Checksums& checksums);
  // A body that came with no checksum and asked for none gets a CRC64NVME
  // all the same, as on S3 since 2025: every object (and every part of an
  // upload created without an algorithm) can then be checked end to end by
  // clients that ask for it (x-amz-checksum-mode: ENABLED).
  void AddDefaultChecksumIfNone();
  void Update(std::string_view bytes);
  // Finishes the hashers; then md5_raw() and checksums() are valid.
  void Finish();
  const std::string& md5_raw() const { return md5_raw_; }
  const Checksums& checksums() const { return computed_; }

 private:
  void Add(HashKind kind);
  std::vector<Hasher> hashers_;
  std::string md5_raw_;
  Checksums computed_;
};

// Validates the form of the checksum values a client sent (before reading
// the body): InvalidRequest "Value for x-amz-checksum-crc32 header is
// invalid." as AWS answers.
Status ValidateChecksumValues(const Checksums& expected);
// Compares Content-MD5 and expected checksums with the computed ones:
// BadDigest ("The Content-MD5 you specified did not match what we
// received." / "The CRC32 you specified did not match the calculated
// checksum."), as AWS answers.
Status VerifyDigests(const PutOptions& options, const BodyDigests& digests);
// BadDigest "The CRC32 you specified did not match the calculated checksum."
Status ChecksumMismatch(ChecksumAlgorithm algorithm);

// Composite checksum of a multipart upload: base64(hash(concat raw part
// checksums)) + "-N". nullopt when any part lacks the algorithm.
// (Not for CRC64NVME, whose multipart checksum is always FullObjectCrc.)
std::optional<std::string> CompositeChecksum(ChecksumAlgorithm algorithm,
                                             const std::vector<Checksums>& parts);
// The CRC (CRC32, CRC32C or CRC64NVME) of the parts' bytes end to end,
// combined from each part's CRC and size without reading the bytes: a
// FULL_OBJECT checksum. nullopt for other algorithms or when any part lacks
// one.
std::optional<std::string> FullObjectCrc(ChecksumAlgorithm algorithm,
                                         const std::vector<Checksums>& parts,
                                         const std::vector<uint64_t>& sizes);
// Every checksum S3 has, in the order the part encoding of schema v6 stores
// them (EncodePartNumbersChecksums): append only.
inline constexpr std::array<ChecksumAlgorithm, 5> kChecksumAlgorithms = {
    ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kSha1,
    ChecksumAlgorithm::kSha256, ChecksumAlgorithm::kCrc64Nvme};
std::optional<std::string> ChecksumOf(const Checksums& c, ChecksumAlgorithm algorithm);
// nullptr for kNone.
std::optional<std::string>* MutableChecksumOf(Checksums& c, ChecksumAlgorithm algorithm);

}  // namespace imgbatch::store
