#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "server/data_dir.h"
#include "server/root_key.h"
#include "server/up.h"

namespace imgbatch::server {
namespace {

std::string TempDir() {
  std::string dir =
      std::filesystem::temp_directory_path() /
      ("imgbatch-server-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(DataDir, SecondOpenIsRefusedUntilTheFirstCloses) {
  std::string dir = TempDir();
  auto first = DataDir::Open(dir);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // flock locks belong to the open file description: a second open in the
  // same process conflicts just like another process would.
  auto second = DataDir::Open(dir);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kConflict);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
  first->reset();
  EXPECT_TRUE(DataDir::Open(dir).ok());
  std::filesystem::remove_all(dir);
}

TEST(RootKey, PrecedenceEnvironmentThenConfigThenFile) {
  std::string dir = TempDir();
  RootKeyInputs in;
  in.data_dir = dir;
  auto generated = ResolveRootKey(in);
  ASSERT_TRUE(generated.ok());
  EXPECT_EQ(generated->source, "generated");
  EXPECT_EQ(generated->access_key_id.size(), 20u);
  EXPECT_EQ(generated->access_key_id.rfind("AKIA", 0), 0u);
  EXPECT_EQ(generated->secret_access_key.size(), 40u);
  // Kept: the next start reads the same key back, and the file is private.
  auto again = ResolveRootKey(in);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->access_key_id, generated->access_key_id);
  EXPECT_EQ(again->source, "data directory");
  auto perms = std::filesystem::status(dir + "/root-key.json").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::group_read, std::filesystem::perms::none);

  in.from_config = RootKey{"AKIACONFIG", "config-secret", "config"};
  EXPECT_EQ(ResolveRootKey(in)->access_key_id, "AKIACONFIG");
  in.env_access_key_id = "AKIAENV";
  in.env_secret_access_key = "env-secret";
  EXPECT_EQ(ResolveRootKey(in)->access_key_id, "AKIAENV");
  in.env_secret_access_key.reset();
  EXPECT_EQ(ResolveRootKey(in).status().code(), Code::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

TEST(Up, ListenParsingAndSecurity) {
  EXPECT_EQ(ParseListen("127.0.0.1:4566")->port, 4566);
  EXPECT_EQ(ParseListen(":9000")->host, "127.0.0.1");
  EXPECT_EQ(ParseListen("[::1]:80")->host, "::1");
  EXPECT_FALSE(ParseListen("nonsense").ok());
  EXPECT_FALSE(ParseListen("127.0.0.1:99999").ok());

  UpOptions options;
  EXPECT_TRUE(CheckListenSecurity(options, *ParseListen("127.0.0.1:1")).ok());
  EXPECT_FALSE(CheckListenSecurity(options, *ParseListen("0.0.0.0:1")).ok());
  options.insecure = true;
  EXPECT_TRUE(CheckListenSecurity(options, *ParseListen("0.0.0.0:1")).ok());
  options.insecure = false;
  options.tls_cert = "cert.pem";
  EXPECT_FALSE(CheckListenSecurity(options, *ParseListen("0.0.0.0:1")).ok());  // key missing
  options.tls_key = "key.pem";
  EXPECT_TRUE(CheckListenSecurity(options, *ParseListen("0.0.0.0:1")).ok());
}

}  // namespace
}  // namespace imgbatch::server
