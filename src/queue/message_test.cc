#include "queue/message.h"

#include <gtest/gtest.h>

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
  MessageAttributes many;
  for (int i = 0; i < 11; ++i) many["a" + std::to_string(i)] = {"String", "v"};
  EXPECT_EQ(ValidateAttributes(many).detail(), "InvalidParameterValue");
}

TEST(MessageTest, MessageIdLooksLikeUuid) {
  std::string id = NewMessageId();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(NewMessageId(), id);
}

}  // namespace
}  // namespace imgbatch::queue
