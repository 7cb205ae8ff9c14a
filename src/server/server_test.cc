#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "server/bootstrap.h"
#include "server/config.h"
#include "server/control_loop.h"
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

TEST(UnseenSamples, NothingDroppedWhenTheFileWasRewrittenBetweenReads) {
  uint64_t seen = 0;
  EXPECT_EQ(UnseenSamples({10, 11}, 2, seen), (std::vector<double>{10, 11}));
  EXPECT_EQ(seen, 2u);
  // Two writes happened before the next read: both writes' samples arrive.
  EXPECT_EQ(UnseenSamples({10, 11, 12, 13, 14}, 5, seen), (std::vector<double>{12, 13, 14}));
  EXPECT_TRUE(UnseenSamples({10, 11, 12, 13, 14}, 5, seen).empty());  // read again: nothing new
  // The ring dropped its oldest values: only what is new is taken.
  EXPECT_EQ(UnseenSamples({13, 14, 15, 16}, 7, seen), (std::vector<double>{15, 16}));
  // More new values than the ring holds: all the ring has.
  EXPECT_EQ(UnseenSamples({20, 21}, 12, seen), (std::vector<double>{20, 21}));
  // A new process in the same slot counts from zero again.
  EXPECT_EQ(UnseenSamples({1}, 1, seen), (std::vector<double>{1}));
}

TEST(RecursionGuard, RefusesOnlyOutputsFedBackToTheWorkersQueue) {
  Config config = SeedDefaults();
  notify::RecursionGuard guard = MakeRecursionGuard(config);
  auto watching = [](const std::string& queue, const std::string& prefix) {
    notify::NotificationConfiguration n;
    n.queues.push_back(
        {"id", "arn:aws:sqs:us-east-1:000000000000:" + queue, {"s3:ObjectCreated:*"}, prefix, ""});
    return n;
  };
  Status loop = guard("output", watching("batch-queue", ""));
  EXPECT_EQ(loop.code(), Code::kInvalidArgument);
  EXPECT_NE(loop.message().find("re-trigger"), std::string::npos) << loop.message();
  EXPECT_FALSE(guard("output", watching("batch-queue", "thumbs/")).ok());
  EXPECT_TRUE(guard("output", watching("batch-queue", "other/")).ok());  // no output goes there
  EXPECT_TRUE(guard("output", watching("outputs-done", "")).ok());       // someone else's queue
  EXPECT_TRUE(guard("output", watching("batch-queue-2", "")).ok());
  EXPECT_TRUE(guard("input", watching("batch-queue", "")).ok());
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
