#include "common/strings.h"

#include <gtest/gtest.h>

namespace imgbatch {
namespace {

TEST(Strings, UriEncodeAsAws) {
  EXPECT_EQ(UriEncode("a b/c~d*e"), "a%20b%2Fc~d%2Ae");
  EXPECT_EQ(UriEncode("a b/c", /*encode_slash=*/false), "a%20b/c");
  EXPECT_EQ(UriEncode("\xc3\xa9"), "%C3%A9");
}

TEST(Strings, PercentDecode) {
  EXPECT_EQ(PercentDecode("a%20b+c").value(), "a b+c");
  EXPECT_EQ(PercentDecode("a%20b+c", true).value(), "a b c");
  EXPECT_EQ(PercentDecode("%2B", true).value(), "+");
  EXPECT_FALSE(PercentDecode("%").has_value());
  EXPECT_FALSE(PercentDecode("%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
}

TEST(Strings, FormEncodeLikeS3Events) {
  EXPECT_EQ(FormEncode("incoming/red flower.jpg"), "incoming/red+flower.jpg");
  EXPECT_EQ(FormEncode("a+b"), "a%2Bb");
  EXPECT_EQ(FormEncode("\xc3\xa9"), "%C3%A9");
}

TEST(Strings, ParseQuery) {
  auto q = ParseQuery("list-type=2&prefix=a%2Fb&uploads&x=");
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(QueryGet(q, "prefix").value(), "a/b");
  EXPECT_EQ(QueryGet(q, "uploads").value(), "");
  EXPECT_FALSE(QueryGet(q, "missing").has_value());
}

TEST(Strings, Dates) {
  auto t = ParseAmzDate("20150830T123600Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatAmzDate(*t), "20150830T123600Z");
  EXPECT_EQ(FormatHttpDate(*t), "Sun, 30 Aug 2015 12:36:00 GMT");
  EXPECT_EQ(ParseHttpDate("Sun, 30 Aug 2015 12:36:00 GMT").value(), *t);
  EXPECT_EQ(FormatIso8601Millis(*t + std::chrono::milliseconds(7)), "2015-08-30T12:36:00.007Z");
  EXPECT_EQ(ParseIso8601("2015-08-30T12:36:00.007Z").value(), *t + std::chrono::milliseconds(7));
  EXPECT_EQ(ParseIso8601("2015-08-30T12:36:00Z").value(), *t);
  EXPECT_FALSE(ParseAmzDate("2015-08-30").has_value());
  EXPECT_FALSE(ParseAmzDate("2015083OT123600Z").has_value());
  EXPECT_FALSE(ParseAmzDate("20150830T243600Z").has_value());
  EXPECT_FALSE(ParseAmzDate("20151330T123600Z").has_value());
  EXPECT_FALSE(ParseAmzDate("20150830T12360xZ").has_value());
  // strptime's ranges, normalised as timegm does: Feb 30 is Mar 2, second 60
  // the next minute's first.
  EXPECT_EQ(FormatAmzDate(*ParseAmzDate("20150230T000000Z")), "20150302T000000Z");
  EXPECT_EQ(FormatAmzDate(*ParseAmzDate("20150830T123560Z")), "20150830T123600Z");
  EXPECT_FALSE(ParseHttpDate("yesterday").has_value());
  // Dates a nanosecond clock cannot hold are refused, not overflowed
  // (UBSan caught the overflow under the credentials and event fuzzers).
  EXPECT_FALSE(ParseAmzDate("99991231T000000Z").has_value());
  EXPECT_FALSE(ParseAmzDate("10131128T060000Z").has_value());
  EXPECT_FALSE(ParseIso8601("1013-11-28T06:00:00Z").has_value());
  EXPECT_FALSE(ParseIso8601("7157-01-01T00:00:00.000Z").has_value());
  EXPECT_FALSE(ParseHttpDate("Fri, 31 Dec 9999 23:59:59 GMT").has_value());
  EXPECT_EQ(FormatAmzDate(*ParseAmzDate("22611231T000000Z")), "22611231T000000Z");
  EXPECT_EQ(FormatAmzDate(*ParseAmzDate("16790101T000000Z")), "16790101T000000Z");
}

TEST(Strings, XmlCharactersAreCountedAsCodePoints) {
  EXPECT_EQ(CountXmlCharacters(""), 0u);
  EXPECT_EQ(CountXmlCharacters("env"), 3u);
  EXPECT_EQ(CountXmlCharacters("\xe2\x82\xac\xf0\x9f\x98\x80!"), 3u);  // euro, emoji, !
  EXPECT_EQ(CountXmlCharacters("\xff"), std::nullopt);                 // not UTF-8
  EXPECT_EQ(CountXmlCharacters("a\x01"), std::nullopt);                // not in XML
  EXPECT_EQ(CountXmlCharacters("\xe2\x82"), std::nullopt);             // truncated
}

TEST(Strings, NonXmlCharactersAreReplaced) {
  EXPECT_EQ(ReplaceNonXmlCharacters("plain \xe2\x82\xac"), "plain \xe2\x82\xac");
  EXPECT_EQ(ReplaceNonXmlCharacters("a\xff"
                                    "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(ReplaceNonXmlCharacters("\x01"), "\xef\xbf\xbd");
  // A truncated sequence: each byte that starts no character is replaced.
  EXPECT_EQ(ReplaceNonXmlCharacters("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_TRUE(CountXmlCharacters(ReplaceNonXmlCharacters("x\xc0\xaf\x07\xed\xa0\x80")));
}

TEST(Strings, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain \x01 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

TEST(Strings, Numbers) {
  EXPECT_EQ(ParseUint("42").value(), 42u);
  EXPECT_FALSE(ParseUint("-1").has_value());
  EXPECT_FALSE(ParseUint("4x").has_value());
  EXPECT_EQ(ParseInt("-7").value(), -7);
}

}  // namespace
}  // namespace imgbatch
