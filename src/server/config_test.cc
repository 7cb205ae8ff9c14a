#include "server/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace imgbatch::server {
namespace {

std::string ExampleConfig() {
  const char* root = std::getenv("IMGBATCH_SOURCE_DIR");
  std::ifstream in(std::string(root ? root : ".") + "/examples/imgbatch.toml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Config, SeedDefaults) {
  Config c = SeedDefaults();
  EXPECT_EQ(c.buckets, (std::vector<std::string>{"input", "output"}));
  ASSERT_EQ(c.queues.size(), 2u);
  EXPECT_EQ(c.queues[0].name, "batch-queue");
  EXPECT_EQ(c.queues[0].visibility_timeout, 120);
  EXPECT_EQ(c.queues[0].dead_letter_queue, "batch-dlq");
  EXPECT_EQ(c.queues[0].max_receive_count, 5);
  EXPECT_EQ(c.notifications.size(), 18u);  // 9 suffixes, lower and upper case
  EXPECT_EQ(c.notifications[0].suffix, ".jpg");
  EXPECT_EQ(c.outputs[0].width, 1024);
  EXPECT_EQ(c.outputs[0].quality, 100);
  EXPECT_EQ(c.outputs[1].width, 192);
  EXPECT_EQ(c.outputs[1].quality, 75);
  EXPECT_EQ(c.alarms[0].threshold, 5);
  EXPECT_EQ(c.scaling.target_backlog_per_worker, 5);
  EXPECT_EQ(c.workers.min, 0);
  EXPECT_EQ(c.workers.nice, 10);
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(Config, TheExampleFileParsesToTheSeedDefaults) {
  std::string text = ExampleConfig();
  ASSERT_FALSE(text.empty()) << "examples/imgbatch.toml not found (IMGBATCH_SOURCE_DIR)";
  auto c = ParseConfig(text, "imgbatch.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Config seed = SeedDefaults();
  EXPECT_EQ(c->buckets, seed.buckets);
  EXPECT_EQ(c->notifications.size(), seed.notifications.size());
  for (size_t i = 0; i < seed.notifications.size(); ++i) {
    EXPECT_EQ(c->notifications[i].suffix, seed.notifications[i].suffix);
  }
  EXPECT_EQ(c->outputs.size(), 2u);
  EXPECT_EQ(c->queues[0].visibility_timeout, 120);
  EXPECT_EQ(c->limits.max_image_pixels, 100'000'000u);
  EXPECT_EQ(c->limits.max_messages_in_flight, 120'000);
  EXPECT_EQ(c->limits.max_messages_in_flight_fifo, 20'000);
  EXPECT_EQ(c->limits.fifo_calls_per_second, 300);
  EXPECT_EQ(c->workers.nice, seed.workers.nice);
  EXPECT_EQ(c->lifecycle.interval_seconds, seed.lifecycle.interval_seconds);
}

TEST(Config, ErrorsNameFileLineAndReason) {
  auto syntax = ParseConfig("buckets = [\"a\"\n[workers\n", "bad.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().message().rfind("bad.toml:", 0), 0u) << syntax.status().message();

  auto type = ParseConfig("[workers]\nmin = \"two\"\n", "t.toml");
  ASSERT_FALSE(type.ok());
  EXPECT_NE(type.status().message().find("t.toml:2:"), std::string::npos)
      << type.status().message();
  EXPECT_NE(type.status().message().find("integer"), std::string::npos);

  auto no_flight = ParseConfig("[limits]\nmax_messages_in_flight = 0\n", "t.toml");
  ASSERT_FALSE(no_flight.ok());
  EXPECT_NE(no_flight.status().message().find("t.toml:2:"), std::string::npos)
      << no_flight.status().message();
  EXPECT_NE(no_flight.status().message().find("at least 1"), std::string::npos);
  auto negative_rate = ParseConfig("[limits]\nfifo_calls_per_second = -1\n", "t.toml");
  ASSERT_FALSE(negative_rate.ok());
  EXPECT_NE(negative_rate.status().message().find("must not be negative"), std::string::npos)
      << negative_rate.status().message();

  auto no_interval = ParseConfig("[lifecycle]\ninterval_seconds = 0\n", "t.toml");
  ASSERT_FALSE(no_interval.ok());
  EXPECT_NE(no_interval.status().message().find("t.toml:2:"), std::string::npos)
      << no_interval.status().message();

  auto too_nice = ParseConfig("[workers]\nnice = 20\n", "t.toml");
  ASSERT_FALSE(too_nice.ok());
  EXPECT_NE(too_nice.status().message().find("t.toml:2:"), std::string::npos)
      << too_nice.status().message();
  EXPECT_NE(too_nice.status().message().find("0..19"), std::string::npos);
  auto not_nice = ParseConfig("[workers]\nnice = 0\n", "t.toml");
  ASSERT_TRUE(not_nice.ok()) << not_nice.status().ToString();
  EXPECT_EQ(not_nice->workers.nice, 0);

  auto typo = ParseConfig("[workers]\nmaxx = 3\n", "t.toml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown key 'maxx'"), std::string::npos);

  auto bad_format = ParseConfig(
      "[[outputs]]\nname = \"x\"\nwidth = 10\nheight = 10\nformat = \"bmp\"\n", "o.toml");
  ASSERT_FALSE(bad_format.ok());
  EXPECT_NE(bad_format.status().message().find("o.toml:5:"), std::string::npos)
      << bad_format.status().message();
}

TEST(Config, CrossReferencesAndRecursiveTriggersRefused) {
  auto unknown_queue =
      ParseConfig("[[notifications]]\nbucket = \"input\"\nqueue = \"nope\"\n", "c.toml");
  ASSERT_FALSE(unknown_queue.ok());
  EXPECT_NE(unknown_queue.status().message().find("unknown queue 'nope'"), std::string::npos);

  // Outputs into the input bucket, whose notification matches everything.
  auto recursive = ParseConfig("[workers]\noutput_bucket = \"input\"\n", "r.toml");
  ASSERT_FALSE(recursive.ok());
  EXPECT_NE(recursive.status().message().find("recursive"), std::string::npos);

  // The same, but the notification only watches incoming/: fine.
  auto scoped = ParseConfig(
      "[workers]\noutput_bucket = \"input\"\n[[notifications]]\nbucket = \"input\"\n"
      "queue = \"batch-queue\"\nprefix = \"incoming/\"\nsuffix = \".jpg\"\n",
      "s.toml");
  EXPECT_TRUE(scoped.ok()) << scoped.status().ToString();
}

TEST(Config, BucketPoliciesQueuePoliciesAndLifecycleRules) {
  auto c = ParseConfig(R"(
[[bucket_policies]]
bucket = "input"
policy = '{"Statement": []}'

[[queues]]
name = "batch-queue"
policy = '{"Statement": []}'

[lifecycle]
interval_seconds = 60
[[lifecycle.rules]]
bucket = "input"
id = "expire"
prefix = "tmp/"
expiration_days = 30
[[lifecycle.rules]]
bucket = "output"
abort_incomplete_multipart_upload_days = 7
)",
                       "p.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->bucket_policies.size(), 1u);
  EXPECT_EQ(c->bucket_policies[0].bucket, "input");
  EXPECT_EQ(c->bucket_policies[0].policy_json, R"({"Statement": []})");
  ASSERT_EQ(c->queues.size(), 1u);
  EXPECT_EQ(c->queues[0].policy_json, R"({"Statement": []})");
  ASSERT_EQ(c->lifecycle.rules.size(), 2u);
  EXPECT_EQ(c->lifecycle.rules[0].id, "expire");
  EXPECT_EQ(c->lifecycle.rules[0].prefix, "tmp/");
  EXPECT_EQ(c->lifecycle.rules[0].expiration_days, 30);
  EXPECT_EQ(c->lifecycle.rules[0].abort_incomplete_days, std::nullopt);
  EXPECT_EQ(c->lifecycle.rules[1].bucket, "output");
  EXPECT_EQ(c->lifecycle.rules[1].expiration_days, std::nullopt);
  EXPECT_EQ(c->lifecycle.rules[1].abort_incomplete_days, 7);
  EXPECT_TRUE(SeedDefaults().bucket_policies.empty());
  EXPECT_TRUE(SeedDefaults().lifecycle.rules.empty());
}

TEST(Config, BucketPoliciesAndLifecycleRulesRefusedWhenIncomplete) {
  auto message = [](const std::string& text) {
    auto c = ParseConfig(text, "e.toml");
    return c.ok() ? std::string("accepted") : c.status().message();
  };
  EXPECT_NE(message("[[bucket_policies]]\nbucket = \"input\"\n").find("needs bucket and policy"),
            std::string::npos);
  EXPECT_NE(message("[[bucket_policies]]\nbucket = \"nope\"\npolicy = \"{}\"\n")
                .find("unknown bucket 'nope'"),
            std::string::npos);
  EXPECT_NE(message("[[bucket_policies]]\nbucket = \"input\"\npolicy = \"{}\"\n"
                    "[[bucket_policies]]\nbucket = \"input\"\npolicy = \"{}\"\n")
                .find("two policies"),
            std::string::npos);
  EXPECT_NE(message("[[bucket_policies]]\nbucket = \"input\"\npolicy = \"{}\"\nid = 1\n")
                .find("unknown key 'id'"),
            std::string::npos);
  EXPECT_NE(message("[[lifecycle.rules]]\nbucket = \"input\"\n").find("needs expiration_days"),
            std::string::npos);
  EXPECT_NE(
      message("[[lifecycle.rules]]\nbucket = \"input\"\nexpiration_days = 0\n").find("e.toml:3:"),
      std::string::npos);
  EXPECT_NE(message("[[lifecycle.rules]]\nexpiration_days = 1\n").find("needs a bucket"),
            std::string::npos);
  EXPECT_NE(message("[[lifecycle.rules]]\nbucket = \"nope\"\nexpiration_days = 1\n")
                .find("lifecycle rule on unknown bucket 'nope'"),
            std::string::npos);
  EXPECT_NE(message("[[lifecycle.rules]]\nbucket = \"input\"\nexpiration_days = 1\n"
                    "transition_days = 3\n")
                .find("unknown key 'transition_days'"),
            std::string::npos);
}

}  // namespace
}  // namespace imgbatch::server
