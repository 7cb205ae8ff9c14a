#include "client/ini.h"

#include <gtest/gtest.h>

namespace imgbatch::client {
namespace {

TEST(IniTest, ParsesSectionsKeysAndComments) {
  auto ini = IniFile::Parse(
      "# comment\n"
      "[default]\n"
      "aws_access_key_id = AKIDDEFAULT\r\n"
      "aws_secret_access_key=secret/with=equals\n"
      "; another comment\n"
      "\n"
      "[profile work]\n"
      "region = eu-west-1  # inline comment\n"
      "s3 =\n"
      "  addressing_style = path\n"
      "  max_concurrent_requests = 4\n"
      "output = json\n");
  ASSERT_TRUE(ini.ok()) << ini.status().ToString();
  EXPECT_EQ(ini->Get("default", "aws_access_key_id"), "AKIDDEFAULT");
  EXPECT_EQ(ini->Get("default", "aws_secret_access_key"), "secret/with=equals");
  EXPECT_EQ(ini->Get("profile work", "region"), "eu-west-1");
  EXPECT_EQ(ini->Get("profile work", "s3.addressing_style"), "path");
  EXPECT_EQ(ini->Get("profile work", "s3.max_concurrent_requests"), "4");
  EXPECT_EQ(ini->Get("profile work", "output"), "json");
  EXPECT_EQ(ini->Get("profile work", "missing"), std::nullopt);
  EXPECT_EQ(ini->Get("nosuch", "region"), std::nullopt);
}

TEST(IniTest, ValueWithHashNotPrecededBySpaceIsKept) {
  auto ini = IniFile::Parse("[a]\nkey = abc#def\n");
  ASSERT_TRUE(ini.ok());
  EXPECT_EQ(ini->Get("a", "key"), "abc#def");
}

TEST(IniTest, RejectsMalformedLines) {
  EXPECT_FALSE(IniFile::Parse("[default\nkey = v\n").ok());
  EXPECT_FALSE(IniFile::Parse("key = before section\n").ok());
  EXPECT_FALSE(IniFile::Parse("[a]\njust words\n").ok());
  EXPECT_FALSE(IniFile::Parse("[a]\n= no key\n").ok());
}

TEST(IniTest, EmptyAndBinaryInputDoNotCrash) {
  EXPECT_TRUE(IniFile::Parse("").ok());
  EXPECT_TRUE(IniFile::Parse("\n\n  \n").ok());
  std::string binary("[a]\n\0\xff=\x01\n", 10);
  (void)IniFile::Parse(binary).ok();
}

}  // namespace
}  // namespace imgbatch::client
