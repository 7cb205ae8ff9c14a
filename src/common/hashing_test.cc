#include "common/hashing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <random>
#include <thread>

namespace imgbatch {
namespace {

TEST(Hashing, KnownDigests) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Hashing, HmacRfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// The per-thread HMAC context is re-keyed on every call: an empty key must
// not reuse the previous call's key, and results must not depend on order.
TEST(Hashing, HmacRekeysEveryCall) {
  const std::string with_key = HexEncode(HmacSha256("Jefe", "what do ya want for nothing?"));
  const std::string empty_key = HexEncode(HmacSha256("", ""));
  EXPECT_EQ(empty_key, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")), with_key);
  std::string threaded;
  std::thread([&] { threaded = HexEncode(HmacSha256("", "")); }).join();
  EXPECT_EQ(threaded, empty_key);
}

// A key used again restarts from the kept keyed state: it must give what a
// fresh keying gives, whatever data the previous call hashed.
TEST(Hashing, HmacWithTheSameKeyAgainMatchesAFreshKeying) {
  const std::string key(20, '\x0b');  // RFC 4231 test case 1
  const std::string kCase1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  EXPECT_EQ(HexEncode(HmacSha256(key, "Hi There")), kCase1);
  const std::string other_data = HexEncode(HmacSha256(key, "what do ya want for nothing?"));
  EXPECT_EQ(HexEncode(HmacSha256(key, "Hi There")), kCase1);
  EXPECT_NE(HexEncode(HmacSha256(key.substr(0, 19), "Hi There")), kCase1);
  EXPECT_EQ(HexEncode(HmacSha256(key, "Hi There")), kCase1);
  std::string fresh;
  std::thread([&] { fresh = HexEncode(HmacSha256(key, "what do ya want for nothing?")); }).join();
  EXPECT_EQ(other_data, fresh);
}

// SipHash-2-4's reference vectors (the paper's appendix and vectors.h of
// the reference code): key 00..0f, message 00..(n-1). Each call after the
// first restarts the kept keyed context, so order and a key changed in
// between must not matter; an HMAC on the same thread must not disturb it.
TEST(Hashing, SipHash24MatchesTheReferenceVectors) {
  std::string key, message;
  for (int i = 0; i < 16; ++i) key.push_back(static_cast<char>(i));
  for (int i = 0; i < 63; ++i) message.push_back(static_cast<char>(i));
  EXPECT_EQ(SipHash24(key, message.substr(0, 15)), 0xa129ca6149be45e5u);
  EXPECT_EQ(SipHash24(key, ""), 0x726fdb47dd0e0e31u);
  EXPECT_EQ(SipHash24(key, message), 0x958a324ceb064572u);
  const std::string other_key(16, 'k');
  const uint64_t other = SipHash24(other_key, message.substr(0, 15));
  EXPECT_NE(other, 0xa129ca6149be45e5u);
  EXPECT_FALSE(HmacSha256("Jefe", "x").empty());
  EXPECT_EQ(SipHash24(key, message.substr(0, 15)), 0xa129ca6149be45e5u);
  uint64_t threaded = 0;
  std::thread([&] { threaded = SipHash24(other_key, message.substr(0, 15)); }).join();
  EXPECT_EQ(threaded, other);
  EXPECT_THROW(SipHash24(key.substr(0, 15), "x"), std::invalid_argument);
}

TEST(Hashing, CrcsMatchPublishedCheckValues) {
  // The standard check value for "123456789".
  EXPECT_EQ(Crc32Update(0, "123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32cUpdate(0, "123456789"), 0xE3069283u);
  // AWS's x-amz-checksum-crc32 of "hello world" (boto3 computes the same).
  EXPECT_EQ(Base64Encode(Crc32Bytes(Crc32Update(0, "hello world"))), "DUoRhQ==");
  EXPECT_EQ(Crc64Nvme("123456789"), 0xAE8B14860A799888u);
  EXPECT_EQ(Crc64Nvme(""), 0u);
  // The AWS SDK for JavaScript's x-amz-checksum-crc64nvme of "hello world".
  EXPECT_EQ(Base64Encode(Crc64Bytes(Crc64Nvme("hello world"))), "jSnVw/bqjr4=");
  EXPECT_EQ(Crc64FromBytes(Crc64Bytes(0x0123456789ABCDEFu)), 0x0123456789ABCDEFu);
  EXPECT_FALSE(Crc64FromBytes("1234567").has_value());
  EXPECT_EQ(Crc32FromBytes(Crc32Bytes(0x01234567u)), 0x01234567u);
  EXPECT_FALSE(Crc32FromBytes("123").has_value());
}

TEST(Hashing, Crc64NvmeOfTwoPiecesCombinesFromTheirCrcs) {
  std::string bytes;
  for (int i = 0; i < 70'000; ++i) bytes.push_back(static_cast<char>((i * 7919) >> 3));
  const uint64_t whole = Crc64Nvme(bytes);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{8}, size_t{4096}, size_t{65'537}, bytes.size()}) {
    const std::string_view a = std::string_view(bytes).substr(0, cut);
    const std::string_view b = std::string_view(bytes).substr(cut);
    EXPECT_EQ(Crc64NvmeCombine(Crc64Nvme(a), Crc64Nvme(b), b.size()), whole) << "cut at " << cut;
  }
  // Three pieces, combined left to right as a multipart upload's parts are.
  const uint64_t ab = Crc64NvmeCombine(Crc64Nvme(std::string_view(bytes).substr(0, 100)),
                                       Crc64Nvme(std::string_view(bytes).substr(100, 900)), 900);
  const std::string_view c = std::string_view(bytes).substr(1000);
  EXPECT_EQ(Crc64NvmeCombine(ab, Crc64Nvme(c), c.size()), whole);
}

// CRC32 (zlib's combine) and CRC32C (ours) join like CRC64NVME: what a
// FULL_OBJECT multipart upload of either gets its whole-object CRC from.
TEST(Hashing, Crc32AndCrc32cOfTwoPiecesCombineFromTheirCrcs) {
  std::string bytes;
  for (int i = 0; i < 70'000; ++i) bytes.push_back(static_cast<char>((i * 7919) >> 3));
  const uint32_t whole32 = Crc32Update(0, bytes);
  const uint32_t whole32c = Crc32cUpdate(0, bytes);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{8}, size_t{4096}, size_t{65'537}, bytes.size()}) {
    const std::string_view a = std::string_view(bytes).substr(0, cut);
    const std::string_view b = std::string_view(bytes).substr(cut);
    EXPECT_EQ(Crc32Combine(Crc32Update(0, a), Crc32Update(0, b), b.size()), whole32) << cut;
    EXPECT_EQ(Crc32cCombine(Crc32cUpdate(0, a), Crc32cUpdate(0, b), b.size()), whole32c) << cut;
  }
}

// CRC32C and CRC64NVME read eight bytes per step, and CRC64NVME folds
// sixteen-byte blocks by carry-less multiplication from 64 bytes on (x86-64);
// Boost.CRC's byte-at-a-time engine is the reference. Every length up to 80
// at every alignment covers each loop's entry and tail, and a long buffer
// cut at random places checks that a CRC continues across Hasher updates of
// any size.
TEST(Hashing, CrcsMatchBoostAtEveryLengthAndAlignment) {
  using BoostCrc32c = boost::crc_optimal<32, 0x1EDC6F41u, ~0u, ~0u, true, true>;
  using BoostCrc64Nvme = boost::crc_optimal<64, 0xAD93D23594C93659ULL, ~0ULL, ~0ULL, true, true>;
  std::mt19937_64 random(20261130);
  std::string bytes(100'000, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t length = 0; length <= 80; ++length) {
      const std::string_view piece = std::string_view(bytes).substr(offset, length);
      BoostCrc32c crc32c;
      crc32c.process_bytes(piece.data(), piece.size());
      BoostCrc64Nvme crc64;
      crc64.process_bytes(piece.data(), piece.size());
      ASSERT_EQ(Crc32cUpdate(0, piece), crc32c.checksum()) << offset << "+" << length;
      ASSERT_EQ(Crc64Nvme(piece), crc64.checksum()) << offset << "+" << length;
    }
  }
  BoostCrc32c whole32c;
  whole32c.process_bytes(bytes.data(), bytes.size());
  BoostCrc64Nvme whole64;
  whole64.process_bytes(bytes.data(), bytes.size());
  Hasher crc32c(HashKind::kCrc32c), crc64(HashKind::kCrc64Nvme);
  for (std::string_view rest = bytes; !rest.empty();) {
    const size_t n = std::min<size_t>(rest.size(), random() % 5000);
    crc32c.Update(rest.substr(0, n));
    crc64.Update(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  EXPECT_EQ(crc32c.Finish(), Crc32Bytes(whole32c.checksum()));
  EXPECT_EQ(crc64.Finish(), Crc64Bytes(whole64.checksum()));
}

TEST(Hashing, StreamingEqualsOneShot) {
  for (HashKind kind : {HashKind::kMd5, HashKind::kSha1, HashKind::kSha256, HashKind::kCrc32,
                        HashKind::kCrc32c, HashKind::kCrc64Nvme}) {
    Hasher a(kind), b(kind);
    a.Update("hello ");
    a.Update("world");
    b.Update("hello world");
    EXPECT_EQ(a.Finish(), b.Finish());
  }
}

TEST(Hashing, Base64RoundTripAndRejects) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto enc = Base64Encode(s);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("ab!=").has_value());
}

TEST(Hashing, HexRoundTrip) {
  EXPECT_EQ(HexDecode("00ff10").value(), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(HexDecode("0g").has_value());
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_EQ(RandomHex(16).size(), 32u);
}

TEST(ConstantTimeEquals, ComparesWholeValues) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace imgbatch
