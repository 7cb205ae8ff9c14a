#include "store/object_rules.h"

#include <array>
#include <cctype>

#include "common/strings.h"

namespace imgbatch::store {
namespace {

// S3's tag limits (the S3 user guide's object tagging page).
constexpr size_t kMaxObjectTags = 10;
constexpr size_t kMaxBucketTags = 50;
constexpr size_t kMaxTagKeyChars = 128;
constexpr size_t kMaxTagValueChars = 256;

// A key or value of at most max_chars characters (code points, as S3 counts
// them) of letters and digits in any script, white space, and _ . : / = + -
// @ (what AWS's tagging services accept). Past ASCII, any XML character is
// taken as a letter: tags are served back in XML (GetObjectTagging), which
// carries nothing else (U+FFFE, for one, is UTF-8 but would come back as
// U+FFFD).
bool IsTagText(std::string_view s, size_t max_chars) {
  const std::optional<size_t> chars = CountXmlCharacters(s);
  if (!chars || *chars > max_chars) return false;
  constexpr std::string_view kPunctuation = "_.:/=+-@";
  for (unsigned char c : s) {
    const bool allowed = c >= 0x80 || std::isalnum(c) || c == ' ' || c == '\t' ||
                         kPunctuation.find(static_cast<char>(c)) != std::string_view::npos;
    if (!allowed) return false;
  }
  return true;
}

Status InvalidTag(const std::string& message) {
  return InvalidArgument(message).WithDetail("InvalidTag");
}

int64_t WholeSeconds(int64_t ms) { return ms - (ms % 1000 + 1000) % 1000; }

bool EtagMatches(std::string_view condition, const std::string& etag) {
  for (std::string_view candidate : Split(condition, ',')) {
    std::string normalized = NormalizeEtag(candidate);
    if (normalized == "*" || normalized == etag) return true;
  }
  return false;
}

bool IsIpv4Like(std::string_view name) {
  std::vector<std::string_view> parts = Split(name, '.');
  if (parts.size() != 4) return false;
  for (std::string_view p : parts) {
    if (p.empty() || p.size() > 3) return false;
    for (char c : p) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  return true;
}

HashKind KindOf(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return HashKind::kCrc32;
    case ChecksumAlgorithm::kCrc32c:
      return HashKind::kCrc32c;
    case ChecksumAlgorithm::kSha1:
      return HashKind::kSha1;
    case ChecksumAlgorithm::kSha256:
      return HashKind::kSha256;
    case ChecksumAlgorithm::kCrc64Nvme:
      return HashKind::kCrc64Nvme;
    case ChecksumAlgorithm::kNone:
      break;
  }
  return HashKind::kMd5;
}

struct AlgorithmInfo {
  ChecksumAlgorithm algorithm;
  const char* wire_name;  // as in x-amz-checksum-<name> and error messages
  size_t digest_bytes;
};
constexpr std::array<AlgorithmInfo, 5> kAlgorithms = {{
    {ChecksumAlgorithm::kCrc32, "crc32", 4},
    {ChecksumAlgorithm::kCrc32c, "crc32c", 4},
    {ChecksumAlgorithm::kSha1, "sha1", 20},
    {ChecksumAlgorithm::kSha256, "sha256", 32},
    {ChecksumAlgorithm::kCrc64Nvme, "crc64nvme", 8},
}};

std::string ToUpperAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool IsValidBucketName(std::string_view name) {
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return false;
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  if (name.find("..") != std::string_view::npos) return false;
  if (name.find(".-") != std::string_view::npos || name.find("-.") != std::string_view::npos) {
    return false;
  }
  if (IsIpv4Like(name)) return false;
  for (std::string_view prefix : {"xn--", "sthree-", "amzn-s3-demo-"}) {
    if (name.substr(0, prefix.size()) == prefix) return false;
  }
  for (std::string_view suffix : {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}) {
    if (name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      return false;
    }
  }
  return true;
}

bool IsValidObjectKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  // NUL cannot be carried by S3's XML listings; refuse it cleanly.
  if (key.find('\0') != std::string_view::npos) return false;
  return IsValidUtf8(key);
}

namespace {

Status ValidateTagText(const Tags& tags) {
  for (size_t i = 0; i < tags.size(); ++i) {
    const auto& [key, value] = tags[i];
    if (key.empty() || !IsTagText(key, kMaxTagKeyChars)) {
      return InvalidTag("The TagKey you have provided is invalid");
    }
    if (!IsTagText(value, kMaxTagValueChars)) {
      return InvalidTag("The TagValue you have provided is invalid");
    }
    if (key.starts_with("aws:")) return InvalidTag("Your TagKey cannot be prefixed with aws:");
    for (size_t j = 0; j < i; ++j) {
      if (tags[j].first == key) return InvalidTag("Cannot provide multiple Tags with the same key");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateTags(const Tags& tags) {
  if (tags.size() > kMaxObjectTags) {
    return InvalidArgument("Object tags cannot be greater than 10").WithDetail("BadRequest");
  }
  return ValidateTagText(tags);
}

Status ValidateBucketTags(const Tags& tags) {
  if (tags.size() > kMaxBucketTags) return InvalidTag("Bucket tag count cannot be greater than 50");
  return ValidateTagText(tags);
}

std::string NormalizeEtag(std::string_view etag) {
  std::string_view e = Trim(etag);
  if (e.substr(0, 2) == "W/") e.remove_prefix(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return ToLower(e);
}

Status CheckReadConditions(const Conditions& c, const ObjectMeta& meta) {
  const int64_t modified = WholeSeconds(meta.last_modified_ms);
  if (c.if_match) {
    if (!EtagMatches(*c.if_match, meta.etag)) {
      return Status(Code::kPreconditionFailed, "If-Match failed").WithDetail("PreconditionFailed");
    }
  } else if (c.if_unmodified_since_ms && modified > *c.if_unmodified_since_ms) {
    return Status(Code::kPreconditionFailed, "If-Unmodified-Since failed")
        .WithDetail("PreconditionFailed");
  }
  if (c.if_none_match) {
    if (EtagMatches(*c.if_none_match, meta.etag)) {
      return Status(Code::kNotModified, "If-None-Match matched").WithDetail("NotModified");
    }
  } else if (c.if_modified_since_ms && modified <= *c.if_modified_since_ms) {
    return Status(Code::kNotModified, "not modified since").WithDetail("NotModified");
  }
  return Status::Ok();
}

Status CheckCopySourceConditions(const Conditions& c, const ObjectMeta& meta) {
  Status st = CheckReadConditions(c, meta);
  if (st.code() == Code::kNotModified) {
    return Status(Code::kPreconditionFailed, "copy source " + st.message())
        .WithDetail("PreconditionFailed");
  }
  return st;
}

Status CheckWriteConditions(const Conditions& c, const std::optional<ObjectMeta>& current) {
  if (c.if_none_match && current && EtagMatches(*c.if_none_match, current->etag)) {
    return Status(Code::kPreconditionFailed, "object exists (If-None-Match)")
        .WithDetail("PreconditionFailed");
  }
  if (c.if_match) {
    if (!current) return NotFound("no such key (If-Match)").WithDetail("NoSuchKey");
    if (!EtagMatches(*c.if_match, current->etag)) {
      return Status(Code::kPreconditionFailed, "If-Match failed").WithDetail("PreconditionFailed");
    }
  }
  return Status::Ok();
}

Result<std::optional<ByteRange>> ResolveRange(const std::optional<RangeRequest>& range,
                                              uint64_t size) {
  if (!range) return std::optional<ByteRange>();
  auto unsatisfiable = [] {
    return Status(Code::kOutOfRange, "The requested range is not satisfiable")
        .WithDetail("InvalidRange");
  };
  if (range->suffix_length) {
    if (*range->suffix_length == 0 || size == 0) return unsatisfiable();
    const uint64_t n = std::min(*range->suffix_length, size);
    return std::optional<ByteRange>(ByteRange{size - n, size - 1});
  }
  if (!range->first) return std::optional<ByteRange>();  // malformed: ignore
  const uint64_t first = *range->first;
  if (range->last && *range->last < first) return std::optional<ByteRange>();  // malformed
  if (first >= size) return unsatisfiable();
  const uint64_t last = range->last ? std::min(*range->last, size - 1) : size - 1;
  return std::optional<ByteRange>(ByteRange{first, last});
}

std::string MultipartEtag(const std::vector<std::string>& part_md5_hex) {
  std::string concat;
  for (const std::string& hex : part_md5_hex) concat += HexDecode(hex).value_or("");
  return Md5Hex(concat) + "-" + std::to_string(part_md5_hex.size());
}

BodyDigests::BodyDigests(const Checksums& expected, ChecksumAlgorithm algorithm) {
  hashers_.emplace_back(HashKind::kMd5);
  AddAlgorithmsOf(expected);
  if (algorithm != ChecksumAlgorithm::kNone) Add(KindOf(algorithm));
}

void BodyDigests::AddAlgorithmsOf(const Checksums& checksums) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (ChecksumOf(checksums, info.algorithm)) Add(KindOf(info.algorithm));
  }
}

void BodyDigests::AddDefaultChecksumIfNone() {
  if (hashers_.size() == 1) Add(HashKind::kCrc64Nvme);  // MD5 alone so far
}

void BodyDigests::Add(HashKind kind) {
  for (const Hasher& h : hashers_) {
    if (h.kind() == kind) return;
  }
  hashers_.emplace_back(kind);
}

void BodyDigests::Update(std::string_view bytes) {
  for (Hasher& h : hashers_) h.Update(bytes);
}

void BodyDigests::Finish() {
  for (Hasher& h : hashers_) {
    std::string raw = h.Finish();
    switch (h.kind()) {
      case HashKind::kMd5:
        md5_raw_ = std::move(raw);
        break;
      case HashKind::kCrc32:
        computed_.crc32 = Base64Encode(raw);
        break;
      case HashKind::kCrc32c:
        computed_.crc32c = Base64Encode(raw);
        break;
      case HashKind::kSha1:
        computed_.sha1 = Base64Encode(raw);
        break;
      case HashKind::kSha256:
        computed_.sha256 = Base64Encode(raw);
        break;
      case HashKind::kCrc64Nvme:
        computed_.crc64nvme = Base64Encode(raw);
        break;
    }
  }
}

Status ValidateChecksumValues(const Checksums& expected) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    std::optional<std::string> value = ChecksumOf(expected, info.algorithm);
    if (!value) continue;
    std::optional<std::string> raw = Base64Decode(*value);
    if (!raw || raw->size() != info.digest_bytes) {
      return InvalidArgument(std::string("Value for x-amz-checksum-") + info.wire_name +
                             " header is invalid.")
          .WithDetail("InvalidRequest");
    }
  }
  return Status::Ok();
}

Status VerifyDigests(const PutOptions& options, const BodyDigests& digests) {
  if (options.content_md5 && *options.content_md5 != digests.md5_raw()) {
    return InvalidArgument("The Content-MD5 you specified did not match what we received.")
        .WithDetail("BadDigest");
  }
  for (const AlgorithmInfo& info : kAlgorithms) {
    std::optional<std::string> expected = ChecksumOf(options.expected, info.algorithm);
    if (!expected) continue;
    std::optional<std::string> computed = ChecksumOf(digests.checksums(), info.algorithm);
    // Compare raw bytes: base64 padding variants must not matter.
    if (!computed || Base64Decode(*expected) != Base64Decode(*computed)) {
      return ChecksumMismatch(info.algorithm);
    }
  }
  return Status::Ok();
}

Status ChecksumMismatch(ChecksumAlgorithm algorithm) {
  std::string name;
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (info.algorithm == algorithm) name = ToUpperAscii(info.wire_name);
  }
  return InvalidArgument("The " + name + " you specified did not match the calculated checksum.")
      .WithDetail("BadDigest");
}

std::optional<std::string> CompositeChecksum(ChecksumAlgorithm algorithm,
                                             const std::vector<Checksums>& parts) {
  if (algorithm == ChecksumAlgorithm::kNone || algorithm == ChecksumAlgorithm::kCrc64Nvme) {
    return std::nullopt;
  }
  Hasher hasher(KindOf(algorithm));
  for (const Checksums& part : parts) {
    std::optional<std::string> value = ChecksumOf(part, algorithm);
    if (!value) return std::nullopt;
    std::optional<std::string> raw = Base64Decode(*value);
    if (!raw) return std::nullopt;
    hasher.Update(*raw);
  }
  return Base64Encode(hasher.Finish()) + "-" + std::to_string(parts.size());
}

std::optional<std::string> FullObjectCrc(ChecksumAlgorithm algorithm,
                                         const std::vector<Checksums>& parts,
                                         const std::vector<uint64_t>& sizes) {
  const bool is_crc = algorithm == ChecksumAlgorithm::kCrc32 ||
                      algorithm == ChecksumAlgorithm::kCrc32c ||
                      algorithm == ChecksumAlgorithm::kCrc64Nvme;
  if (!is_crc || parts.empty() || parts.size() != sizes.size()) return std::nullopt;
  uint64_t whole = 0;  // the CRC of no bytes
  for (size_t i = 0; i < parts.size(); ++i) {
    std::optional<std::string> value = ChecksumOf(parts[i], algorithm);
    std::optional<std::string> raw = value ? Base64Decode(*value) : std::nullopt;
    if (!raw) return std::nullopt;
    if (algorithm == ChecksumAlgorithm::kCrc64Nvme) {
      std::optional<uint64_t> part = Crc64FromBytes(*raw);
      if (!part) return std::nullopt;
      whole = Crc64NvmeCombine(whole, *part, sizes[i]);
      continue;
    }
    std::optional<uint32_t> part = Crc32FromBytes(*raw);
    if (!part) return std::nullopt;
    const auto crc = static_cast<uint32_t>(whole);
    whole = algorithm == ChecksumAlgorithm::kCrc32 ? Crc32Combine(crc, *part, sizes[i])
                                                   : Crc32cCombine(crc, *part, sizes[i]);
  }
  return Base64Encode(algorithm == ChecksumAlgorithm::kCrc64Nvme
                          ? Crc64Bytes(whole)
                          : Crc32Bytes(static_cast<uint32_t>(whole)));
}

std::optional<std::string> ChecksumOf(const Checksums& c, ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return c.crc32;
    case ChecksumAlgorithm::kCrc32c:
      return c.crc32c;
    case ChecksumAlgorithm::kSha1:
      return c.sha1;
    case ChecksumAlgorithm::kSha256:
      return c.sha256;
    case ChecksumAlgorithm::kCrc64Nvme:
      return c.crc64nvme;
    case ChecksumAlgorithm::kNone:
      break;
  }
  return std::nullopt;
}

std::optional<std::string>* MutableChecksumOf(Checksums& c, ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return &c.crc32;
    case ChecksumAlgorithm::kCrc32c:
      return &c.crc32c;
    case ChecksumAlgorithm::kSha1:
      return &c.sha1;
    case ChecksumAlgorithm::kSha256:
      return &c.sha256;
    case ChecksumAlgorithm::kCrc64Nvme:
      return &c.crc64nvme;
    case ChecksumAlgorithm::kNone:
      break;
  }
  return nullptr;
}

}  // namespace imgbatch::store
