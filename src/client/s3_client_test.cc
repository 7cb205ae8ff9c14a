#include "client/s3_client.h"

#include <gtest/gtest.h>

#include "client/testing/moto_fixture.h"
#include "common/hashing.h"

namespace imgbatch::client {
namespace {

class S3ClientTest : public testing::MotoTest {
 protected:
  void SetUp() override {
    MotoTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(clients_->CreateBucket("input").ok());
  }
  S3Client& s3() { return *clients_->s3; }
};

TEST_F(S3ClientTest, PutGetHeadDeleteRoundTrip) {
  PutObjectOptions options;
  options.content_type = "image/jpeg";
  options.metadata["source-etag"] = "abc123";
  std::string body = "\xff\xd8 not really a jpeg \x00\x01";
  auto etag = s3().PutObject("input", "dir/red flower+1.jpg", body, options);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(*etag, Md5Hex(body));

  auto head = s3().HeadObject("input", "dir/red flower+1.jpg");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->etag, *etag);
  EXPECT_EQ(head->content_type, "image/jpeg");
  EXPECT_EQ(head->size, body.size());
  EXPECT_EQ(head->metadata["source-etag"], "abc123");

  auto get = s3().GetObject("input", "dir/red flower+1.jpg");
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->body, body);
  EXPECT_EQ(get->info.etag, *etag);
  EXPECT_EQ(get->info.metadata["source-etag"], "abc123");

  ASSERT_TRUE(s3().DeleteObject("input", "dir/red flower+1.jpg").ok());
  auto gone = s3().HeadObject("input", "dir/red flower+1.jpg");
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
}

TEST_F(S3ClientTest, IfMatchMismatchIsPreconditionFailed) {
  auto etag = s3().PutObject("input", "a.jpg", "v1");
  ASSERT_TRUE(etag.ok());
  GetObjectOptions current{*etag};
  EXPECT_TRUE(s3().GetObject("input", "a.jpg", current).ok());
  ASSERT_TRUE(s3().PutObject("input", "a.jpg", "v2").ok());
  auto stale = s3().GetObject("input", "a.jpg", current);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kPreconditionFailed) << stale.status().ToString();
}

TEST_F(S3ClientTest, ConditionalPutsCreateOnlyOrOverwriteOnlyAVersion) {
  PutObjectOptions create_only;
  create_only.if_none_match = true;
  auto first = s3().PutObject("input", "out.jpg", "v1", create_only);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(s3().PutObject("input", "out.jpg", "v1-again", create_only).status().code(),
            Code::kPreconditionFailed);

  PutObjectOptions over_first;
  over_first.if_match = *first;
  auto second = s3().PutObject("input", "out.jpg", "v2", over_first);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  // The version it was conditioned on is gone now.
  EXPECT_EQ(s3().PutObject("input", "out.jpg", "v3", over_first).status().code(),
            Code::kPreconditionFailed);
  EXPECT_EQ(s3().GetObject("input", "out.jpg")->body, "v2");
}

TEST_F(S3ClientTest, MissingObjectAndBucketAreNotFound) {
  auto missing = s3().GetObject("input", "nope.jpg");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().detail(), "NoSuchKey");
  auto no_bucket = s3().GetObject("no-such-bucket", "x.jpg");
  EXPECT_EQ(no_bucket.status().code(), Code::kNotFound);
  EXPECT_EQ(no_bucket.status().detail(), "NoSuchBucket");
}

TEST_F(S3ClientTest, UnicodeAndReservedCharactersInKeys) {
  for (std::string key : {"café/ü.jpg", "50%.jpg", "a+b (1)!.jpg", "deep/a/b/c/d.png"}) {
    ASSERT_TRUE(s3().PutObject("input", key, "data:" + key).ok()) << key;
    auto get = s3().GetObject("input", key);
    ASSERT_TRUE(get.ok()) << key << ": " << get.status().ToString();
    EXPECT_EQ(get->body, "data:" + key);
  }
}

TEST_F(S3ClientTest, ConnectionRefusedIsUnavailable) {
  testing::TestClients dead("http://127.0.0.1:" + std::to_string(testing::FreePort()));
  auto result = dead.s3->HeadObject("input", "a.jpg");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace imgbatch::client
