#include "queue/message.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <set>
#include <thread>

#include "common/hashing.h"

namespace imgbatch::queue {
namespace {

TEST(MessageTest, BodyMd5IsPlainMd5) {
  EXPECT_EQ(Md5OfBody("hello"), "5d41402abc4b2a76b9719d911017c592");
}

TEST(MessageTest, NoAttributesNoMd5) { EXPECT_EQ(Md5OfAttributes({}), ""); }
// Value computed with moto (moto.sqs.models.Message.attribute_md5), which
// implements the algorithm of the AWS SQS Developer Guide.

TEST(MessageTest, AttributeMd5MatchesAws) {
  MessageAttributes attrs;
  attrs["ErrorCode"] = {"String", "NotAnImage"};
  attrs["attempt"] = {"Number", "3"};
  attrs["blob"] = {"Binary", std::string("\x00\x01\xff", 3)};
  EXPECT_EQ(Md5OfAttributes(attrs), "29ccd92701ba833d83b82360ad8afa54");
}

TEST(MessageTest, AttributeEncodingRoundTrips) {
  MessageAttributes attrs;
  attrs["a"] = {"String.custom", "x"};
  attrs["b"] = {"Binary", std::string("\0\0", 2)};
  auto decoded = DecodeAttributes(EncodeAttributes(attrs));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, attrs);
  EXPECT_FALSE(DecodeAttributes(std::string("\0\0\0\x05"
                                            "ab",
                                            6))
                   .ok());
}

TEST(MessageTest, BodyCharacters) {
  EXPECT_TRUE(ValidateBody("plain \t\r\n text").ok());
  EXPECT_TRUE(ValidateBody("\xe2\x82\xac \xf0\x9f\x98\x80").ok());  // euro sign, emoji
  Status bad =
      ValidateBody(std::string("a\x01"
                               "b"));
  EXPECT_EQ(bad.detail(), "InvalidMessageContents");
  EXPECT_FALSE(ValidateBody("\xef\xbf\xbf").ok());  // U+FFFF
  EXPECT_FALSE(ValidateBody("\xed\xa0\x80").ok());  // surrogate U+D800
  EXPECT_FALSE(ValidateBody("\xc0\xaf").ok());      // overlong
  EXPECT_FALSE(ValidateBody("\xe2\x82").ok());      // truncated
  // After a run of printable ASCII (read a byte at a time) the check goes on.
  EXPECT_TRUE(ValidateBody(std::string(200, 'x') + "\x7f~ \xc3\xa9").ok());
  EXPECT_FALSE(ValidateBody(std::string(200, 'x') + "\x1f").ok());
  EXPECT_FALSE(ValidateBody(std::string(200, 'x') + "\x80").ok());  // stray continuation
  EXPECT_FALSE(ValidateBody(std::string(200, 'x') + std::string(1, '\0')).ok());
}

// The Developer Guide's Number: a decimal of up to 38 significant digits
// between 10^-128 and 10^+126 (leading and trailing zeroes trimmed).
TEST(MessageTest, NumberAttributesAreDecimalsOfAtMost38DigitsWithinSqsRange) {
  auto number = [](const std::string& v) {
    return ValidateAttributes({{"n", {"Number", v}}}).ok();
  };
  for (const char* ok : {"0", "-0", "+5", "5.", ".5", "-1.5e3", "1E+7", "1e-7", "007", "0.000",
                         "12345678901234567890123456789012345678",       // 38 digits
                         "1234567890123456789012345678901234567800000",  // trailing zeroes
                         "0.000000000012345678901234567890123456789012345678", "1e126", "9.99e126",
                         "1e-128", "100e124", "0.01e-126", "0e999999"}) {
    EXPECT_TRUE(number(ok)) << ok;
  }
  for (const char* bad : {"",
                          "abc",
                          "NaN",
                          "nan",
                          "inf",
                          "Infinity",
                          "-Infinity",
                          "0x10",
                          "0X1P3",
                          " 1",
                          "1 ",
                          "1,000",
                          "1e",
                          "1e+",
                          "e5",
                          ".",
                          "-",
                          "+-1",
                          "1..2",
                          "1.2.3",
                          "1e5.5",
                          "123456789012345678901234567890123456789",   // 39 digits
                          "1.00000000000000000000000000000000000001",  // 39 significant
                          "1e127",
                          "1000e124",
                          "1e-129",
                          "0.1e-128",
                          "1e99999999999999999999"}) {
    EXPECT_FALSE(number(bad)) << bad;
  }
  EXPECT_EQ(ValidateAttributes({{"n", {"Number", "NaN"}}}).detail(), "InvalidParameterValue");
}

TEST(MessageTest, AttributeRules) {
  EXPECT_TRUE(ValidateAttributes({{"ok.name-1_x", {"String", "v"}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{"AWS.thing", {"String", "v"}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{"a..b", {"String", "v"}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{".a", {"String", "v"}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{"a", {"Text", "v"}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{"a", {"String", ""}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{"a", {"Number", "abc"}}}).ok());
  EXPECT_TRUE(ValidateAttributes({{"a", {"Number.int", "-1.5e3"}}}).ok());
  // A custom type label is served back verbatim: Unicode text only.
  EXPECT_TRUE(ValidateAttributes({{"a", {"String.\xe2\x82\xac", "v"}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{"a", {"String.\xff", "v"}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{"a", {"String.\x01", "v"}}}).ok());
  // Names: Unicode letters and digits, as AWS takes them (validated against
  // it: "attr.1øßä" is a name, "§", "!", "(" and "?" are not), at most 256
  // characters (not bytes).
  EXPECT_TRUE(ValidateAttributes({{"attr.1\xc3\xb8\xc3\x9f\xc3\xa4", {"String", "v"}}}).ok());
  for (std::string bad : {"Invalid-\xc2\xa7-attr", "a!", "a(", "a?", "a\"", "a b", "a\xff"}) {
    EXPECT_EQ(ValidateAttributes({{bad, {"String", "v"}}}).detail(), "InvalidParameterValue")
        << bad;
  }
  std::string long_name;
  for (int i = 0; i < 256; ++i) long_name += "\xc3\xa4";
  EXPECT_TRUE(ValidateAttributes({{long_name, {"String", "v"}}}).ok());
  EXPECT_FALSE(ValidateAttributes({{long_name + "a", {"String", "v"}}}).ok());
  // A value that is not text is InvalidParameterValue (not the body's
  // InvalidMessageContents), as AWS answers.
  EXPECT_EQ(ValidateAttributes({{"a", {"String", "x\x08,\x0b"}}}).detail(),
            "InvalidParameterValue");
  MessageAttributes many;
  for (int i = 0; i < 11; ++i) many["a" + std::to_string(i)] = {"String", "v"};
  EXPECT_EQ(ValidateAttributes(many).detail(), "InvalidParameterValue");
}

TEST(MessageTest, MessageIdLooksLikeUuid) {
  std::string id = NewMessageId();
  ASSERT_EQ(id.size(), 36u);
  for (size_t dash : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[dash], '-') << id;
  EXPECT_EQ(id[14], '7') << id;                                          // version 7
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC variant
  EXPECT_NE(NewMessageId(), id);
}

// The id starts with the send time in Unix milliseconds, big-endian hex, so
// later ids sort after earlier ones (index locality) whatever their random
// part.
TEST(MessageTest, MessageIdStartsWithItsTimeInMilliseconds) {
  auto millis = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = millis();
  const std::string id = NewMessageId();
  const int64_t after = millis();
  const int64_t stamped = std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, after);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_LT(id, NewMessageId());
}

// Ids made for a row carry its seq (read back exactly, up to the largest
// allowed) and its send time, and are still UUIDs in text form; other ids
// (random version 4 or 7, anything else) carry none.
TEST(MessageTest, MessageIdForSeqCarriesTheSeqAndTheTime) {
  const int64_t sent_ms = 1'764'300'000'123;
  for (int64_t seq : {int64_t{0}, int64_t{1}, int64_t{4095}, int64_t{1} << 40,
                      int64_t{0x0123456789abcd}, kMaxMessageIdSeq}) {
    auto id = MessageIdForSeq(sent_ms, seq);
    ASSERT_TRUE(id.has_value()) << seq;
    ASSERT_EQ(id->size(), 36u);
    for (size_t dash : {8u, 13u, 18u, 23u}) EXPECT_EQ((*id)[dash], '-') << *id;
    EXPECT_EQ((*id)[14], '8') << *id;                                          // version 8
    EXPECT_NE(std::string("89ab").find((*id)[19]), std::string::npos) << *id;  // RFC variant
    EXPECT_EQ(std::stoll(id->substr(0, 8) + id->substr(9, 4), nullptr, 16), sent_ms);
    EXPECT_EQ(SeqOfMessageId(*id), std::optional<int64_t>(seq)) << *id;
  }
  EXPECT_FALSE(MessageIdForSeq(sent_ms, kMaxMessageIdSeq + 1).has_value());
  EXPECT_FALSE(MessageIdForSeq(sent_ms, -1).has_value());
  EXPECT_LT(*MessageIdForSeq(sent_ms, 7), *MessageIdForSeq(sent_ms + 1, 6));
  EXPECT_FALSE(SeqOfMessageId(NewMessageId()).has_value());  // version 7
  EXPECT_FALSE(SeqOfMessageId("3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e").has_value());
  EXPECT_FALSE(SeqOfMessageId("id-a").has_value());
  std::string upper = *MessageIdForSeq(sent_ms, 0xabcdef);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(SeqOfMessageId(upper).has_value());
  std::string bad_variant = *MessageIdForSeq(sent_ms, 5);
  bad_variant[19] = '4';
  EXPECT_FALSE(SeqOfMessageId(bad_variant).has_value());
}

TEST(MessageTest, PooledRandomBytesDiffer) {
  std::set<std::string> seen;
  // More than one pool refill.
  for (int i = 0; i < 1000; ++i) seen.insert(PooledRandomBytes(16));
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(PooledRandomBytes(8).size(), 8u);
  EXPECT_EQ(PooledRandomBytes(10000).size(), 10000u);
}

// A forked child must not repeat the ids its parent draws next.
TEST(MessageTest, ForkedChildDrawsFreshRandomBytes) {
  (void)PooledRandomBytes(16);  // the pool is filled
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string child = PooledRandomBytes(16);
    _exit(write(fds[1], child.data(), child.size()) == 16 ? 0 : 1);
  }
  close(fds[1]);
  const std::string parent = PooledRandomBytes(16);
  std::string child(16, '\0');
  ASSERT_EQ(read(fds[0], child.data(), child.size()), 16);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_NE(parent, child);
}

}  // namespace
}  // namespace imgbatch::queue
