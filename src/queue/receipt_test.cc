#include "queue/receipt.h"

#include <gtest/gtest.h>

#include <regex>
#include <vector>

#include "common/hashing.h"

namespace imgbatch::queue {
namespace {

const std::string kKey = "0123456789abcdef";
constexpr int64_t kLegacyBefore = 1'700'000'000'000;

std::string Raw(const std::string& handle) { return Base64Decode(handle).value_or("?"); }

TEST(ReceiptCodecTest, AHandleReadsBackAsTheReceiveItNames) {
  const ReceiptCodec codec(kKey, kLegacyBefore);
  const Receipt r{7, 123456, 3, 1'764'450'000'123, false};
  const std::string handle = codec.Encode(r);
  EXPECT_TRUE(
      std::regex_match(Raw(handle), std::regex("ib2:7:123456:3:1764450000123:[0-9a-f]{16}")))
      << Raw(handle);
  const auto back = codec.Decode(handle);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->queue_id, 7);
  EXPECT_EQ(back->seq, 123456);
  EXPECT_EQ(back->receive_count, 3);
  EXPECT_EQ(back->receive_ms, 1'764'450'000'123);
  EXPECT_FALSE(back->legacy);
  EXPECT_EQ(codec.legacy_before_ms(), kLegacyBefore);
}

// The same receive gives the same text (a retried FIFO receive attempt
// returns its handles again); any other receive another text.
TEST(ReceiptCodecTest, EachReceiveHasItsOwnText) {
  const ReceiptCodec codec(kKey, kLegacyBefore);
  const Receipt r{7, 100, 1, 5000, false};
  EXPECT_EQ(codec.Encode(r), codec.Encode(r));
  for (const Receipt& other : {Receipt{8, 100, 1, 5000, false}, Receipt{7, 101, 1, 5000, false},
                               Receipt{7, 100, 2, 5000, false}, Receipt{7, 100, 1, 5001, false}}) {
    EXPECT_NE(codec.Encode(other), codec.Encode(r));
  }
  EXPECT_NE(ReceiptCodec(std::string(16, 'x'), kLegacyBefore).Encode(r), codec.Encode(r));
}

// What a client cannot do without the key: make a handle for a message it
// knows only by id, or change the numbers of one it received.
TEST(ReceiptCodecTest, AHandleNotMadeWithTheKeyIsRefused) {
  const ReceiptCodec codec(kKey, kLegacyBefore);
  const std::string raw = Raw(codec.Encode(Receipt{7, 100, 1, 5000, false}));
  const std::string mac = raw.substr(raw.rfind(':') + 1);
  std::string flipped = raw;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  for (const std::string& forged : std::vector<std::string>{
           flipped, "ib2:7:101:1:5000:" + mac, "ib2:7:100:2:5000:" + mac, "ib2:7:100:1:5001:" + mac,
           "ib2:8:100:1:5000:" + mac, "ib2:7:100:1:5000:0000000000000000"}) {
    EXPECT_FALSE(codec.Decode(Base64Encode(forged)).has_value()) << forged;
  }
  EXPECT_FALSE(ReceiptCodec(std::string(16, 'x'), kLegacyBefore).Decode(Base64Encode(raw)));
  EXPECT_TRUE(codec.Decode(Base64Encode(raw)).has_value());
}

// Anything but the two shapes is refused, not half read.
TEST(ReceiptCodecTest, MalformedHandlesAreRefused) {
  const ReceiptCodec codec(kKey, kLegacyBefore);
  const std::string raw = Raw(codec.Encode(Receipt{7, 100, 1, 5000, false}));
  const std::string without_mac = raw.substr(0, raw.rfind(':'));
  for (const std::string& bad : std::vector<std::string>{
           "", "ib2:", without_mac, raw + ":00", raw + "0", raw.substr(0, raw.size() - 1),
           "ib3" + raw.substr(3), "ib1:7:100:0:0123456789abcdef", "ib1:7:100:1",
           "ib1:7:100:1:2:0123456789abcdef", "ib1:x:100:1:0123456789abcdef",
           "ib2:7:x:1:5000:" + raw.substr(raw.rfind(':') + 1)}) {
    EXPECT_FALSE(codec.Decode(Base64Encode(bad)).has_value()) << bad;
  }
  EXPECT_FALSE(codec.Decode("not base64!").has_value());
}

// Handles given before keying ("ib1", random digits in place of a MAC) still
// read, marked legacy: the engine lets them act only on receives before
// legacy_before_ms.
TEST(ReceiptCodecTest, UnkeyedHandlesReadAsLegacy) {
  const ReceiptCodec codec(kKey, kLegacyBefore);
  const auto legacy = codec.Decode(Base64Encode("ib1:7:100:2:0123456789abcdef"));
  ASSERT_TRUE(legacy.has_value());
  EXPECT_TRUE(legacy->legacy);
  EXPECT_EQ(legacy->queue_id, 7);
  EXPECT_EQ(legacy->seq, 100);
  EXPECT_EQ(legacy->receive_count, 2);
}

TEST(ReceiptCodecTest, TheKeyIsSixteenBytes) {
  EXPECT_THROW(ReceiptCodec(std::string(15, 'k'), 0), std::invalid_argument);
  EXPECT_NO_THROW(ReceiptCodec(std::string(16, 'k'), 0));
}

}  // namespace
}  // namespace imgbatch::queue
