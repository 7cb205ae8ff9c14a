#include "common/hashing.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <zlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <array>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace imgbatch {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// OpenSSL 3 looks an algorithm up (a global lock, a reference count) on
// every call that is given EVP_md5() & co.; fetched once, a call costs the
// hashing alone. SigV4 and the SQS MD5s hash several times per request.
const EVP_MD* FetchedOr(const char* name, const EVP_MD* legacy) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : legacy;  // kept for the process's lifetime
}
const EVP_MD* Md5Digest() {
  static const EVP_MD* md = FetchedOr("MD5", EVP_md5());
  return md;
}
const EVP_MD* Sha1Digest() {
  static const EVP_MD* md = FetchedOr("SHA1", EVP_sha1());
  return md;
}
const EVP_MD* Sha256Digest() {
  static const EVP_MD* md = FetchedOr("SHA256", EVP_sha256());
  return md;
}

const EVP_MD* DigestFor(HashKind kind) {
  switch (kind) {
    case HashKind::kMd5:
      return Md5Digest();
    case HashKind::kSha1:
      return Sha1Digest();
    case HashKind::kSha256:
      return Sha256Digest();
    default:
      return nullptr;
  }
}

// One keyed MAC context per thread (HMAC-SHA256, SipHash-2-4), its
// algorithm and parameters set once; a call with the key it already has only
// restarts it (HMAC() and friends would fetch the MAC and the digest every
// time).
class ThreadKeyedMac {
 public:
  // params: the MAC's settings (digest, output size), set once.
  ThreadKeyedMac(const char* name, const OSSL_PARAM* params) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, name, nullptr);
    if (mac == nullptr) return;
    ctx_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context holds its own reference
    if (ctx_ != nullptr && EVP_MAC_CTX_set_params(ctx_, params) != 1) {
      EVP_MAC_CTX_free(ctx_);
      ctx_ = nullptr;
    }
  }
  ~ThreadKeyedMac() {
    EVP_MAC_CTX_free(ctx_);
    OPENSSL_cleanse(key_.data(), key_.size());
  }
  ThreadKeyedMac(const ThreadKeyedMac&) = delete;
  ThreadKeyedMac& operator=(const ThreadKeyedMac&) = delete;

  // False when OpenSSL refused (the caller falls back or reports it).
  bool Run(std::string_view key, std::string_view data, unsigned char* out, size_t* len,
           size_t out_size) {
    if (ctx_ == nullptr) return false;
    if (!Key(key)) return false;
    return EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) ==
               1 &&
           EVP_MAC_final(ctx_, out, len, out_size) == 1;
  }

 private:
  // Keying OpenSSL 3's HMAC sets up three digest contexts (~20 allocations);
  // the same key again only restarts from the kept state (a null key).
  // A SigV4 verifier signs every request with the day's signing key.
  bool Key(std::string_view key) {
    if (keyed_ && key == key_) return EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1;
    keyed_ = false;
    // A null key would mean "keep the previous key": never pass one here.
    static const unsigned char kNoKey[1] = {0};
    const auto* k = key.empty() ? kNoKey : reinterpret_cast<const unsigned char*>(key.data());
    if (EVP_MAC_init(ctx_, k, key.size(), nullptr) != 1) return false;
    key_.assign(key);
    keyed_ = true;
    return true;
  }

  EVP_MAC_CTX* ctx_ = nullptr;
  std::string key_;  // what ctx_ is keyed with, when keyed_
  bool keyed_ = false;
};

ThreadKeyedMac& ThreadHmacSha256() {
  static char digest[] = "SHA256";
  static const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  thread_local ThreadKeyedMac mac("HMAC", params);
  return mac;
}

ThreadKeyedMac& ThreadSipHash24() {
  static size_t size = 8;  // SipHash-2-4 (OpenSSL's default is the 16-byte variant)
  static const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                                      OSSL_PARAM_construct_end()};
  thread_local ThreadKeyedMac mac("SIPHASH", params);
  return mac;
}

// One digest context per thread, re-initialised per call: EVP_Digest
// allocates, sets up and frees a context every time, which was most of the
// cost of hashing a small SQS message body (two MD5s per message).
class ThreadDigestCtx {
 public:
  ThreadDigestCtx() : ctx_(EVP_MD_CTX_new()) {}
  ~ThreadDigestCtx() { EVP_MD_CTX_free(ctx_); }
  ThreadDigestCtx(const ThreadDigestCtx&) = delete;
  ThreadDigestCtx& operator=(const ThreadDigestCtx&) = delete;
  EVP_MD_CTX* get() { return ctx_; }

 private:
  EVP_MD_CTX* ctx_;
};

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  thread_local ThreadDigestCtx ctx;
  if (ctx.get() == nullptr || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) {
    EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

// A reflected CRC (CRC32C, CRC64NVME) read eight bytes per step
// ("slicing-by-8", Intel's method): table k holds each byte's contribution k
// bytes before the end of an eight-byte word, so one step is eight lookups
// and no dependency from byte to byte: ~4x the byte-at-a-time loop it
// replaced (~330 MB/s; bench/checksums). It computes CRC32C and CRC64NVME
// where x86-64's instructions for them are missing, and on every machine
// below 64 bytes and for the last bytes (see Crc32cByInstruction,
// Crc64NvmeFold). Sixteen bytes per step measured no faster for CRC64NVME
// (its 32 KiB of tables crowd the L1 cache). No Debian library computes
// either CRC fast (zlib has CRC-32 only; Boost.CRC is a byte-at-a-time
// table).
template <typename Crc, Crc kReflectedPolynomial>
class SlicedCrc {
 public:
  SlicedCrc() {
    for (uint32_t b = 0; b < 256; ++b) {
      Crc c = b;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kReflectedPolynomial : c >> 1;
      tables_[0][b] = c;
    }
    for (size_t k = 1; k < 8; ++k) {
      for (size_t b = 0; b < 256; ++b) {
        const Crc previous = tables_[k - 1][b];
        tables_[k][b] = (previous >> 8) ^ tables_[0][previous & 0xff];
      }
    }
  }

  // The register after `data`, without pre- or post-inversion.
  Crc Run(Crc crc, std::string_view data) const {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    size_t n = data.size();
    if constexpr (std::endian::native == std::endian::little) {
      for (; n >= 8; p += 8, n -= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        word ^= crc;  // the register overlays the word's first bytes
        crc = tables_[7][word & 0xff] ^ tables_[6][(word >> 8) & 0xff] ^
              tables_[5][(word >> 16) & 0xff] ^ tables_[4][(word >> 24) & 0xff] ^
              tables_[3][(word >> 32) & 0xff] ^ tables_[2][(word >> 40) & 0xff] ^
              tables_[1][(word >> 48) & 0xff] ^ tables_[0][word >> 56];
      }
    }
    for (; n > 0; ++p, --n) crc = tables_[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return crc;
  }

 private:
  std::array<std::array<Crc, 256>, 8> tables_{};
};

// The polynomials in their reflected form (the top bit is x^0): CRC32C's
// 0x1EDC6F41 and CRC64NVME's 0xAD93D23594C93659.
constexpr uint32_t kCrc32cReflected = 0x82F63B78u;
constexpr uint64_t kCrc64NvmeReflected = 0x9A6C9329AC4BC9B5ULL;

// A CRC as the big-endian bytes AWS base64-encodes in x-amz-checksum-*, and
// back (nullopt unless exactly that many bytes).
template <typename Crc>
std::string BigEndianBytes(Crc crc) {
  std::string out(sizeof(Crc), '\0');
  for (size_t i = sizeof(Crc); i-- > 0; crc >>= 8) out[i] = static_cast<char>(crc & 0xff);
  return out;
}
template <typename Crc>
std::optional<Crc> FromBigEndianBytes(std::string_view bytes) {
  if (bytes.size() != sizeof(Crc)) return std::nullopt;
  Crc crc = 0;
  for (unsigned char b : bytes) crc = static_cast<Crc>(crc << 8 | b);
  return crc;
}

// Polynomial arithmetic modulo a reflected CRC's polynomial (the top bit is
// x^0), as zlib's crc32_combine does it for CRC-32: what combines two pieces'
// CRCs (CRC64NVME, CRC32C) and gives the folding its constants.
template <typename Crc, Crc kReflectedPolynomial>
class CrcAlgebra {
 public:
  static constexpr Crc kOne = Crc{1} << (sizeof(Crc) * 8 - 1);  // the polynomial 1

  static Crc MultiplyModP(Crc a, Crc b) {
    Crc product = 0;
    for (Crc m = kOne; m != 0; m >>= 1) {
      if (a & m) product ^= b;
      b = (b & 1) ? (b >> 1) ^ kReflectedPolynomial : b >> 1;
    }
    return product;
  }

  // x^(n * 2^k) mod P. The table of x^(2^k) has 64 entries, so k + log2(n)
  // stays inside it for any length below 2^60 bytes (n counts bytes, k = 3).
  static Crc XToTheNTimes2ToTheK(uint64_t n, unsigned k) {
    static const std::array<Crc, 64> kPowers = [] {
      std::array<Crc, 64> table{};
      Crc p = kOne >> 1;  // x^1
      for (Crc& entry : table) {
        entry = p;
        p = MultiplyModP(p, p);
      }
      return table;
    }();
    Crc p = kOne;
    for (; n != 0; n >>= 1, ++k) {
      if (n & 1) p = MultiplyModP(kPowers[k & 63], p);
    }
    return p;
  }

  // Appending length_b bytes multiplies A's CRC by x^(8 * length_b); the
  // all-ones pre- and post-conditioning cancel out as they do for CRC-32.
  static Crc Combine(Crc crc_a, Crc crc_b, uint64_t length_b) {
    return MultiplyModP(XToTheNTimes2ToTheK(length_b, 3), crc_a) ^ crc_b;
  }
};

using Crc64NvmeAlgebra = CrcAlgebra<uint64_t, kCrc64NvmeReflected>;
using Crc32cAlgebra = CrcAlgebra<uint32_t, kCrc32cReflected>;

using Crc64NvmeTables = SlicedCrc<uint64_t, kCrc64NvmeReflected>;

#if defined(__x86_64__)
// CRC64NVME's register over `blocks` sixteen-byte blocks by carry-less
// multiplication (PCLMULQDQ), Intel's "folding": a 128-bit accumulator A
// (bit j the coefficient of x^(127-j)) moves past the next block B as
// A * x^128 + B, which modulo P is lo(A) * (x^192 mod P) + hi(A) * (x^128 mod
// P) + B: two 64x64-bit products, each fitting 128 bits. A reflected
// product lands one bit short, hence x^191 and x^127 as the constants. What
// is left, A itself, is reduced by the table (A's CRC is the message's).
// ~5x the table on this machine (bench/checksums): the AWS CLI v2 sends a
// CRC64NVME with every upload and the store gives one to every upload that
// has none, so it is on every PUT's path, where it should cost little beside
// the ETag's MD5.
__attribute__((target("pclmul"))) uint64_t Crc64NvmeFold(uint64_t reg, const char* bytes,
                                                         size_t blocks,
                                                         const Crc64NvmeTables& tables) {
  static const __m128i kPowers =
      _mm_set_epi64x(static_cast<long long>(Crc64NvmeAlgebra::XToTheNTimes2ToTheK(127, 0)),
                     static_cast<long long>(Crc64NvmeAlgebra::XToTheNTimes2ToTheK(191, 0)));
  const auto* block = reinterpret_cast<const __m128i*>(bytes);
  // The register overlays the message's first eight bytes, as in the table.
  __m128i acc =
      _mm_xor_si128(_mm_loadu_si128(block), _mm_cvtsi64_si128(static_cast<long long>(reg)));
  for (size_t i = 1; i < blocks; ++i) {
    const __m128i moved = _mm_xor_si128(_mm_clmulepi64_si128(acc, kPowers, 0x00),
                                        _mm_clmulepi64_si128(acc, kPowers, 0x11));
    acc = _mm_xor_si128(moved, _mm_loadu_si128(block + i));
  }
  char folded[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(folded), acc);
  return tables.Run(0, std::string_view(folded, sizeof folded));
}
#endif

#if defined(__x86_64__)
// CRC32C's register over `words` eight-byte words by SSE4.2's crc32
// instruction, which computes exactly this polynomial (Castagnoli; chosen for
// iSCSI, which is why x86 has it): one word per instruction, ~5x the table
// (bench/checksums). One dependent chain; three interleaved chains combined
// by Crc32cAlgebra would be faster still, for a CRC only some clients ask for.
__attribute__((target("sse4.2"))) uint32_t Crc32cByInstruction(uint32_t reg, const char* bytes,
                                                               size_t words) {
  uint64_t crc = reg;
  for (size_t i = 0; i < words; ++i) {
    uint64_t word;
    std::memcpy(&word, bytes + 8 * i, 8);
    crc = _mm_crc32_u64(crc, word);
  }
  return static_cast<uint32_t>(crc);
}
#endif

// CRC64NVME with AWS's conditioning (initial value and final xor all ones),
// continued from `crc`, a previous result (0 to start).
uint64_t Crc64NvmeUpdate(uint64_t crc, std::string_view data) {
  static const Crc64NvmeTables tables;
  uint64_t reg = ~crc;
#if defined(__x86_64__)
  // Below a few blocks the table is as fast and needs no set-up.
  constexpr size_t kFoldFromBytes = 64;
  static const bool has_clmul = __builtin_cpu_supports("pclmul");
  if (has_clmul && data.size() >= kFoldFromBytes) {
    const size_t blocks = data.size() / 16;
    reg = Crc64NvmeFold(reg, data.data(), blocks, tables);
    data.remove_prefix(blocks * 16);
  }
#endif
  return ~tables.Run(reg, data);
}

}  // namespace

uint64_t Crc64Nvme(std::string_view data) { return Crc64NvmeUpdate(0, data); }

uint64_t Crc64NvmeCombine(uint64_t crc_a, uint64_t crc_b, uint64_t length_b) {
  return Crc64NvmeAlgebra::Combine(crc_a, crc_b, length_b);
}

std::string Crc64Bytes(uint64_t crc) { return BigEndianBytes(crc); }

std::optional<uint64_t> Crc64FromBytes(std::string_view bytes) {
  return FromBigEndianBytes<uint64_t>(bytes);
}

std::string HexEncode(std::string_view bytes) {
  // Sized once and written through a pointer: push_back's capacity check per
  // digit made this ~4x slower (every SigV4 hash and SQS MD5 goes through it).
  std::string out(bytes.size() * 2, '\0');
  char* digit = out.data();
  for (unsigned char b : bytes) {
    *digit++ = kHexDigits[b >> 4];
    *digit++ = kHexDigits[b & 15];
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock keeps the padding bytes as zeros; drop them.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string Md5(std::string_view d) { return Digest(Md5Digest(), d); }
std::string Sha1(std::string_view d) { return Digest(Sha1Digest(), d); }
std::string Sha256(std::string_view d) { return Digest(Sha256Digest(), d); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  if (ThreadHmacSha256().Run(key, data, out, &mac_len, sizeof out)) {
    return std::string(reinterpret_cast<char*>(out), mac_len);
  }
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

uint64_t SipHash24(std::string_view key, std::string_view data) {
  if (key.size() != 16) throw std::invalid_argument("SipHash24: the key is not 16 bytes");
  unsigned char out[8];
  size_t len = 0;
  if (!ThreadSipHash24().Run(key, data, out, &len, sizeof out) || len != sizeof out) {
    throw std::runtime_error("SipHash24: OpenSSL's SIPHASH failed");
  }
  uint64_t value = 0;  // the reference implementation's output is little-endian
  for (int i = 7; i >= 0; --i) value = value << 8 | out[i];
  return value;
}

uint32_t Crc32Update(uint32_t crc, std::string_view data) {
  // zlib takes uInt lengths; feed large buffers in slices.
  while (!data.empty()) {
    size_t n = std::min<size_t>(data.size(), 1u << 30);
    crc = static_cast<uint32_t>(
        crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n)));
    data.remove_prefix(n);
  }
  return crc;
}

uint32_t Crc32cUpdate(uint32_t crc, std::string_view data) {
  static const SlicedCrc<uint32_t, kCrc32cReflected> tables;
  uint32_t reg = ~crc;
#if defined(__x86_64__)
  // Below this the table is as fast; it also keeps the table's path tested
  // on machines that have the instruction (short bodies and every tail).
  constexpr size_t kInstructionFromBytes = 64;
  static const bool has_sse42 = __builtin_cpu_supports("sse4.2");
  if (has_sse42 && data.size() >= kInstructionFromBytes) {
    const size_t words = data.size() / 8;
    reg = Crc32cByInstruction(reg, data.data(), words);
    data.remove_prefix(words * 8);
  }
#endif
  return ~tables.Run(reg, data);
}

uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  // z_off_t is 64 bits wide on the LP64 targets we build for.
  static_assert(sizeof(z_off_t) >= 8);
  return static_cast<uint32_t>(crc32_combine(crc_a, crc_b, static_cast<z_off_t>(length_b)));
}

uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  return Crc32cAlgebra::Combine(crc_a, crc_b, length_b);
}

std::string Crc32Bytes(uint32_t crc) { return BigEndianBytes(crc); }

std::optional<uint32_t> Crc32FromBytes(std::string_view bytes) {
  return FromBigEndianBytes<uint32_t>(bytes);
}

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  uint32_t crc = 0;
  uint64_t crc64 = 0;
  ~Impl() {
    if (ctx) EVP_MD_CTX_free(ctx);
  }
};

Hasher::Hasher(HashKind kind) : kind_(kind), impl_(std::make_unique<Impl>()) {
  if (const EVP_MD* md = DigestFor(kind)) {
    impl_->ctx = EVP_MD_CTX_new();
    if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, md, nullptr) != 1) {
      throw std::bad_alloc();
    }
  }
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::Update(std::string_view data) {
  switch (kind_) {
    case HashKind::kCrc32:
      impl_->crc = Crc32Update(impl_->crc, data);
      break;
    case HashKind::kCrc32c:
      impl_->crc = Crc32cUpdate(impl_->crc, data);
      break;
    case HashKind::kCrc64Nvme:
      impl_->crc64 = Crc64NvmeUpdate(impl_->crc64, data);
      break;
    default:
      EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
  }
}

std::string Hasher::Finish() {
  if (kind_ == HashKind::kCrc32 || kind_ == HashKind::kCrc32c) return Crc32Bytes(impl_->crc);
  if (kind_ == HashKind::kCrc64Nvme) return Crc64Bytes(impl_->crc64);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string RandomHex(size_t n) { return HexEncode(RandomBytes(n)); }

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    // Still spend the comparison so timing does not reveal much more than
    // the length (which is public: tokens have one fixed length).
    CRYPTO_memcmp(a.data(), a.data(), a.size());
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace imgbatch
