#include "store/object_rules.h"

#include <gtest/gtest.h>

namespace imgbatch::store {
namespace {

TEST(BucketNameTest, FollowsS3Rules) {
  for (const char* ok : {"abc", "my-bucket", "my.bucket.1", "a1b", "123",
                         "a23456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_TRUE(IsValidBucketName(ok)) << ok;
  }
  for (const char* bad :
       {"", "ab", "ABC", "my_bucket", "-abc", "abc-", ".abc", "abc.", "a..b", "a.-b", "a-.b",
        "192.168.1.1", "xn--abc", "sthree-abc", "abc-s3alias", "abc--ol-s3", "ui", "a b",
        "a234567890123456789012345678901234567890123456789012345678901234"}) {
    EXPECT_FALSE(IsValidBucketName(bad)) << bad;
  }
}

TEST(ObjectKeyTest, Utf8UpTo1024Bytes) {
  EXPECT_TRUE(IsValidObjectKey("a"));
  EXPECT_TRUE(IsValidObjectKey("../x"));
  EXPECT_TRUE(IsValidObjectKey("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_TRUE(IsValidObjectKey(std::string(1024, 'a')));
  EXPECT_FALSE(IsValidObjectKey(""));
  EXPECT_FALSE(IsValidObjectKey(std::string(1025, 'a')));
  EXPECT_FALSE(IsValidObjectKey(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidObjectKey("\xff"));
  EXPECT_FALSE(IsValidObjectKey("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidObjectKey("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidObjectKey("\xe2\x82"));          // truncated
  EXPECT_FALSE(IsValidObjectKey("\xf4\x90\x80\x80"));  // > U+10FFFF
}

TEST(EtagTest, Normalize) {
  EXPECT_EQ(NormalizeEtag("\"ABC\""), "abc");
  EXPECT_EQ(NormalizeEtag(" W/\"abc\" "), "abc");
  EXPECT_EQ(NormalizeEtag("abc-2"), "abc-2");
}

TEST(RangeTest, Resolve) {
  auto r = ResolveRange(RangeRequest{{}, {}, 3}, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->first, 0u);
  EXPECT_EQ((*r)->last, 1u);
  EXPECT_FALSE(ResolveRange(std::nullopt, 10)->has_value());
  EXPECT_EQ(ResolveRange(RangeRequest{10, {}, {}}, 10).status().code(), Code::kOutOfRange);
  EXPECT_EQ(ResolveRange(RangeRequest{{}, {}, 1}, 0).status().code(), Code::kOutOfRange);
}

TEST(DigestTest, ValidatesChecksumForm) {
  Checksums c;
  c.crc32 = "AAAAAA==";  // 4 bytes
  EXPECT_TRUE(ValidateChecksumValues(c).ok());
  c.crc32 = "AAAA";  // 3 bytes
  EXPECT_EQ(ValidateChecksumValues(c).detail(), "InvalidRequest");
  c = {};
  c.sha256 = "%%%";
  EXPECT_EQ(ValidateChecksumValues(c).message(),
            "Value for x-amz-checksum-sha256 header is invalid.");
}

TEST(MultipartEtagTest, KnownValue) {
  // Two parts "a" and "b": md5(md5("a") || md5("b")) + "-2".
  EXPECT_EQ(MultipartEtag({Md5Hex("a"), Md5Hex("b")}), Md5Hex(Md5("a") + Md5("b")) + "-2");
}

TEST(ObjectRules, TagRulesAreS3s) {
  auto detail = [](const Tags& tags) { return std::string(ValidateTags(tags).detail()); };
  EXPECT_TRUE(ValidateTags({}).ok());
  EXPECT_TRUE(ValidateTags({{std::string(128, 'k'), std::string(256, 'v')}}).ok());
  EXPECT_TRUE(
      ValidateTags({{"\xC3\xA9t\xC3\xA9", "caf\xC3\xA9"}, {"a_b.c:d/e", "f+g-h@i =j"}}).ok());
  EXPECT_TRUE(ValidateTags({{"empty", ""}}).ok());
  Tags ten, eleven;
  for (int i = 0; i < 11; ++i) (i < 10 ? ten : eleven).emplace_back("k" + std::to_string(i), "v");
  eleven.insert(eleven.begin(), ten.begin(), ten.end());
  EXPECT_TRUE(ValidateTags(ten).ok());
  EXPECT_EQ(detail(eleven), "BadRequest");
  EXPECT_EQ(detail({{std::string(129, 'k'), "v"}}), "InvalidTag");
  EXPECT_EQ(detail({{"k", std::string(257, 'v')}}), "InvalidTag");
  EXPECT_EQ(detail({{"", "v"}}), "InvalidTag");
  EXPECT_EQ(detail({{"aws:name", "v"}}), "InvalidTag");
  EXPECT_EQ(detail({{"a", "1"}, {"a", "2"}}), "InvalidTag");
  EXPECT_EQ(detail({{"k", "<script>"}}), "InvalidTag");
  EXPECT_EQ(detail({{"k", "\xC3"}}), "InvalidTag");          // not UTF-8
  EXPECT_EQ(detail({{"k", "\xEF\xBF\xBE"}}), "InvalidTag");  // U+FFFE: UTF-8, not XML
  // 128 characters of two bytes each are still 128 characters.
  std::string wide;
  for (int i = 0; i < 128; ++i) wide += "\xC3\xA9";
  EXPECT_TRUE(ValidateTags({{wide, "v"}}).ok());
  EXPECT_EQ(detail({{wide + "x", "v"}}), "InvalidTag");
}

TEST(ObjectRules, ABucketTakesFiftyTagsUnderTheSameRules) {
  auto detail = [](const Tags& tags) { return std::string(ValidateBucketTags(tags).detail()); };
  Tags fifty;
  for (int i = 0; i < 50; ++i) fifty.emplace_back("k" + std::to_string(i), "v");
  EXPECT_TRUE(ValidateBucketTags(fifty).ok());
  fifty.emplace_back("k50", "v");
  EXPECT_EQ(detail(fifty), "InvalidTag");
  EXPECT_EQ(detail({{"aws:name", "v"}}), "InvalidTag");
  EXPECT_EQ(detail({{"a", "1"}, {"a", "2"}}), "InvalidTag");
  EXPECT_EQ(detail({{"k", std::string(257, 'v')}}), "InvalidTag");
}

}  // namespace
}  // namespace imgbatch::store
