#include "store/object_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "common/hashing.h"
#include "store/schema.h"
#include "store/store_test_util.h"

namespace imgbatch::store {
namespace {

using testing::FailingSource;
using testing::Pattern;
using testing::StoreFixture;
using testing::StringSource;

class ObjectStoreTest : public StoreFixture {
 protected:
  void SetUp() override {
    options_.inline_max_bytes = 1024;  // small, so tests reach the blob path cheaply
    options_.free_space_reserve = 1 << 20;
    StoreFixture::SetUp();
    ASSERT_TRUE(store_->CreateBucket("bkt", "").ok());
  }
};

// ---- buckets ----

TEST_F(ObjectStoreTest, BucketLifecycle) {
  EXPECT_EQ(store_->CreateBucket("bkt", "").detail(), "BucketAlreadyOwnedByYou");
  EXPECT_EQ(store_->CreateBucket("Bad_Name", "").detail(), "InvalidBucketName");
  ASSERT_TRUE(store_->CreateBucket("other", "eu-west-1").ok());
  auto info = store_->GetBucket("other");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->region, "eu-west-1");
  EXPECT_EQ(info->created_ms, clock_.NowMillis());
  EXPECT_EQ(store_->GetBucket("bkt")->region, "us-east-1");
  auto list = store_->ListBuckets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "bkt");
  EXPECT_EQ((*list)[1].name, "other");
  EXPECT_EQ(store_->GetBucket("missing").status().detail(), "NoSuchBucket");
  EXPECT_EQ(store_->DeleteBucket("missing").detail(), "NoSuchBucket");
  ASSERT_TRUE(store_->DeleteBucket("other").ok());
  EXPECT_EQ(store_->GetBucket("other").status().code(), Code::kNotFound);
}

TEST_F(ObjectStoreTest, DeleteBucketRefusesNonEmptyButNotOpenUploads) {
  ASSERT_TRUE(Put("bkt", "k", "v").ok());
  Status st = store_->DeleteBucket("bkt");
  EXPECT_EQ(st.code(), Code::kConflict);
  EXPECT_EQ(st.detail(), "BucketNotEmpty");
  ASSERT_TRUE(store_->DeleteObject("bkt", "k", {}).ok());
  auto upload = store_->CreateMultipartUpload("bkt", "mp", {});
  ASSERT_TRUE(upload.ok());
  StringSource part(Pattern(10));
  ASSERT_TRUE(store_->UploadPart("bkt", "mp", upload->upload_id, 1, part, {}).ok());
  ASSERT_EQ(BlobFilesOnDisk().size(), 1u);
  ASSERT_TRUE(store_->DeleteBucket("bkt").ok());
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  // Re-creating the bucket starts clean.
  ASSERT_TRUE(store_->CreateBucket("bkt", "").ok());
  EXPECT_TRUE(store_->ListMultipartUploads("bkt", {})->uploads.empty());
}

TEST_F(ObjectStoreTest, BucketConfigs) {
  EXPECT_EQ(store_->GetBucketConfig("bkt", "cors").status().code(), Code::kNotFound);
  ASSERT_TRUE(store_->PutBucketConfig("bkt", "cors", "<CORS/>").ok());
  ASSERT_TRUE(store_->PutBucketConfig("bkt", "cors", "<CORS>2</CORS>").ok());
  EXPECT_EQ(*store_->GetBucketConfig("bkt", "cors"), "<CORS>2</CORS>");
  ASSERT_TRUE(store_->DeleteBucketConfig("bkt", "cors").ok());
  EXPECT_EQ(store_->GetBucketConfig("bkt", "cors").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->PutBucketConfig("nope", "cors", "x").detail(), "NoSuchBucket");
  // Configs go with their bucket.
  ASSERT_TRUE(store_->PutBucketConfig("bkt", "notification", "<N/>").ok());
  ASSERT_TRUE(store_->DeleteBucket("bkt").ok());
  ASSERT_TRUE(store_->CreateBucket("bkt", "").ok());
  EXPECT_EQ(store_->GetBucketConfig("bkt", "notification").status().code(), Code::kNotFound);
}

TEST_F(ObjectStoreTest, BucketTagsAreReplacedWholeAndGoWithTheBucket) {
  EXPECT_TRUE(store_->GetBucketTags("bkt")->empty());
  ASSERT_TRUE(store_->PutBucketTags("bkt", {{"team", "imaging"}, {"cost", ""}}).ok());
  EXPECT_EQ(*store_->GetBucketTags("bkt"), (Tags{{"team", "imaging"}, {"cost", ""}}));
  ASSERT_TRUE(store_->PutBucketTags("bkt", {{"team", "infra"}}).ok());
  EXPECT_EQ(*store_->GetBucketTags("bkt"), (Tags{{"team", "infra"}}));
  // A refused set leaves the old one.
  EXPECT_EQ(store_->PutBucketTags("bkt", {{"aws:x", "y"}}).detail(), "InvalidTag");
  EXPECT_EQ(*store_->GetBucketTags("bkt"), (Tags{{"team", "infra"}}));
  Reopen();
  EXPECT_EQ(*store_->GetBucketTags("bkt"), (Tags{{"team", "infra"}}));
  ASSERT_TRUE(store_->PutBucketTags("bkt", {}).ok());
  EXPECT_TRUE(store_->GetBucketTags("bkt")->empty());
  EXPECT_EQ(store_->GetBucketTags("nope").status().detail(), "NoSuchBucket");
  EXPECT_EQ(store_->PutBucketTags("nope", {{"a", "b"}}).detail(), "NoSuchBucket");
  ASSERT_TRUE(store_->PutBucketTags("bkt", {{"a", "b"}}).ok());
  ASSERT_TRUE(store_->DeleteBucket("bkt").ok());
  ASSERT_TRUE(store_->CreateBucket("bkt", "").ok());
  EXPECT_TRUE(store_->GetBucketTags("bkt")->empty());
}

// ---- put / get ----

TEST_F(ObjectStoreTest, InlineAndBlobObjectsRoundTrip) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{1024}, size_t{1025}, size_t{3 << 20}}) {
    const std::string key = "obj-" + std::to_string(size);
    const std::string data = Pattern(size, static_cast<unsigned>(size));
    PutOptions options;
    options.content_type = "image/jpeg";
    options.cache_control = "max-age=60";
    options.user_metadata = {{"Zeta", "z"}, {"alpha", "a"}};
    options.content_length = size;
    auto meta = Put("bkt", key, data, options);
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
    EXPECT_EQ(meta->etag, Md5Hex(data));
    EXPECT_EQ(meta->size, size);
    auto got = store_->GetObject("bkt", key, std::nullopt, {});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->fd != nullptr, size > 1024) << size;
    EXPECT_EQ(ReadAll(*got), data);
    EXPECT_EQ(got->meta.content_type, "image/jpeg");
    EXPECT_EQ(got->meta.cache_control, "max-age=60");
    using Pair = std::pair<std::string, std::string>;
    EXPECT_EQ(got->meta.user_metadata, (std::vector<Pair>{{"alpha", "a"}, {"zeta", "z"}}));
    EXPECT_EQ(got->meta.last_modified_ms, clock_.NowMillis());
  }
  EXPECT_EQ(BlobFilesOnDisk().size(), 2u);  // only the two objects above inline_max
}

TEST_F(ObjectStoreTest, DefaultContentTypeAndHead) {
  ASSERT_TRUE(Put("bkt", "k", "data").ok());
  auto head = store_->HeadObject("bkt", "k");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->content_type, "binary/octet-stream");
  EXPECT_EQ(head->size, 4u);
  EXPECT_EQ(store_->HeadObject("bkt", "nope").status().detail(), "NoSuchKey");
  EXPECT_EQ(store_->HeadObject("nobkt", "k").status().detail(), "NoSuchBucket");
  EXPECT_EQ(store_->GetObject("nobkt", "k", std::nullopt, {}).status().detail(), "NoSuchBucket");
  EXPECT_EQ(store_->GetObject("bkt", "nope", std::nullopt, {}).status().detail(), "NoSuchKey");
}

TEST_F(ObjectStoreTest, KeysAreNeverPaths) {
  const std::string keys[] = {
      "../../etc/passwd",    "/abs", "a//b", "..", "sp ace+plus", "\xe2\x9c\x93 utf8",
      std::string(1024, 'k')};
  for (const std::string& key : keys) {
    ASSERT_TRUE(Put("bkt", key, "v:" + key).ok()) << key;
    EXPECT_EQ(*Get("bkt", key), "v:" + key);
  }
  EXPECT_EQ(Put("bkt", std::string(1025, 'k'), "x").status().detail(), "KeyTooLongError");
  EXPECT_EQ(Put("bkt", "", "x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Put("bkt", std::string("a\0b", 3), "x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Put("bkt", "bad\xff", "x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Put("nobkt", "k", "x").status().detail(), "NoSuchBucket");
}

TEST_F(ObjectStoreTest, OverwriteRemovesOldBlobAfterCommit) {
  ASSERT_TRUE(Put("bkt", "k", Pattern(5000, 1)).ok());
  auto held = store_->GetObject("bkt", "k", std::nullopt, {});  // an in-flight GET
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(Put("bkt", "k", Pattern(6000, 2)).ok());
  EXPECT_EQ(BlobFilesOnDisk().size(), 1u);
  EXPECT_EQ(ReadAll(*held), Pattern(5000, 1));  // the old GET never tears
  EXPECT_EQ(*Get("bkt", "k"), Pattern(6000, 2));
  ASSERT_TRUE(Put("bkt", "k", "now inline").ok());
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  EXPECT_EQ(*Get("bkt", "k"), "now inline");
}

TEST_F(ObjectStoreTest, DeleteObject) {
  ASSERT_TRUE(Put("bkt", "blob", Pattern(4000)).ok());
  ASSERT_TRUE(Put("bkt", "small", "s").ok());
  EXPECT_TRUE(*store_->DeleteObject("bkt", "blob", {}));
  EXPECT_TRUE(*store_->DeleteObject("bkt", "small", {}));
  EXPECT_FALSE(*store_->DeleteObject("bkt", "small", {}));  // missing: success, false
  EXPECT_EQ(store_->DeleteObject("nobkt", "k", {}).status().detail(), "NoSuchBucket");
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  EXPECT_EQ(Get("bkt", "blob").status().detail(), "NoSuchKey");
}

TEST_F(ObjectStoreTest, DeleteObjectsInOneTransaction) {
  ASSERT_TRUE(Put("bkt", "a", "inline").ok());
  ASSERT_TRUE(Put("bkt", "b", Pattern(4000)).ok());
  ASSERT_TRUE(Put("bkt", "c", "inline").ok());
  sink_.FailNext();  // the event for "a" is refused: only "a" stays
  const uint64_t commits_before = db_->GetStats().commits;
  auto results = store_->DeleteObjects("bkt", {"a", "", "b", "missing", "c"}, {});
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  EXPECT_EQ(db_->GetStats().commits - commits_before, 1u);
  ASSERT_EQ(results->size(), 5u);
  EXPECT_EQ((*results)[0].status.code(), Code::kUnavailable);
  EXPECT_FALSE((*results)[0].existed);
  EXPECT_EQ((*results)[1].status.code(), Code::kInvalidArgument);
  EXPECT_TRUE((*results)[2].status.ok());
  EXPECT_TRUE((*results)[2].existed);
  EXPECT_TRUE((*results)[3].status.ok());
  EXPECT_FALSE((*results)[3].existed);
  EXPECT_TRUE((*results)[4].existed);
  EXPECT_EQ(*Get("bkt", "a"), "inline");
  EXPECT_EQ(Get("bkt", "b").status().code(), Code::kNotFound);
  EXPECT_EQ(Get("bkt", "c").status().code(), Code::kNotFound);
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  auto events = sink_.events();
  ASSERT_EQ(events.size(), 3u + 2u);  // three puts, two deletes
  EXPECT_EQ(events[3].meta.key, "b");
  EXPECT_EQ(events[4].meta.key, "c");
  EXPECT_LT(events[3].meta.sequence, events[4].meta.sequence);
  EXPECT_EQ(store_->DeleteObjects("nobkt", {"a"}, {}).status().detail(), "NoSuchBucket");
}

TEST_F(ObjectStoreTest, ContentMd5AndChecksumsAreVerified) {
  const std::string data = "hello world";
  PutOptions good;
  good.content_md5 = Md5(data);
  good.expected.crc32 = Base64Encode(Crc32Bytes(Crc32Update(0, data)));
  good.expected.sha256 = Base64Encode(Sha256(data));
  auto meta = Put("bkt", "ok", data, good);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->checksums.crc32, good.expected.crc32);
  EXPECT_EQ(meta->checksums.sha256, good.expected.sha256);
  EXPECT_EQ(store_->HeadObject("bkt", "ok")->checksums.crc32, good.expected.crc32);

  PutOptions bad_md5;
  bad_md5.content_md5 = Md5("other");
  Status st = Put("bkt", "x", data, bad_md5).status();
  EXPECT_EQ(st.detail(), "BadDigest");
  EXPECT_EQ(st.message(), "The Content-MD5 you specified did not match what we received.");

  PutOptions short_md5;
  short_md5.content_md5 = "abc";
  EXPECT_EQ(Put("bkt", "x", data, short_md5).status().detail(), "InvalidDigest");

  PutOptions bad_crc;
  bad_crc.expected.crc32 = Base64Encode(Crc32Bytes(12345));
  st = Put("bkt", "x", data, bad_crc).status();
  EXPECT_EQ(st.detail(), "BadDigest");
  EXPECT_EQ(st.message(), "The CRC32 you specified did not match the calculated checksum.");

  PutOptions malformed;
  malformed.expected.sha1 = "not base64 of 20 bytes";
  st = Put("bkt", "x", data, malformed).status();
  EXPECT_EQ(st.detail(), "InvalidRequest");
  EXPECT_EQ(st.message(), "Value for x-amz-checksum-sha1 header is invalid.");

  PutOptions computed;
  computed.checksum_algorithm = ChecksumAlgorithm::kCrc32c;
  meta = Put("bkt", "c", data, computed);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->checksums.crc32c, Base64Encode(Crc32Bytes(Crc32cUpdate(0, data))));
  EXPECT_EQ(Get("bkt", "x").status().code(), Code::kNotFound);  // no failed write landed
}

// What current AWS SDKs and the CLI send by default: x-amz-checksum-crc64nvme.
TEST_F(ObjectStoreTest, Crc64NvmeChecksumsAreVerifiedAndKept) {
  const std::string data = "hello world";
  PutOptions good;
  good.expected.crc64nvme = "jSnVw/bqjr4=";  // the AWS SDK for JavaScript's value
  auto meta = Put("bkt", "ok", data, good);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(store_->HeadObject("bkt", "ok")->checksums.crc64nvme, "jSnVw/bqjr4=");

  PutOptions bad;
  bad.expected.crc64nvme = Base64Encode(Crc64Bytes(Crc64Nvme("other")));
  Status st = Put("bkt", "x", data, bad).status();
  EXPECT_EQ(st.detail(), "BadDigest");
  EXPECT_EQ(st.message(), "The CRC64NVME you specified did not match the calculated checksum.");
  PutOptions malformed;
  malformed.expected.crc64nvme = Base64Encode("1234");  // 4 bytes, not 8
  EXPECT_EQ(Put("bkt", "x", data, malformed).status().detail(), "InvalidRequest");

  PutOptions computed;  // asked for by algorithm alone, on the blob path
  computed.checksum_algorithm = ChecksumAlgorithm::kCrc64Nvme;
  const std::string large = Pattern(5000);
  meta = Put("bkt", "blob", large, computed);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->checksums.crc64nvme, Base64Encode(Crc64Bytes(Crc64Nvme(large))));
  Reopen();
  EXPECT_EQ(store_->HeadObject("bkt", "blob")->checksums.crc64nvme, meta->checksums.crc64nvme);
}

// S3 gives every object uploaded without a checksum a CRC64NVME of its own
// (the default since 2025); one that came with a checksum, or a copy of one
// that has one, keeps just that algorithm.
TEST_F(ObjectStoreTest, ObjectsWithoutAChecksumGetADefaultCrc64Nvme) {
  const std::string small = "hello world";
  auto meta = Put("bkt", "inline", small);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->checksums.crc64nvme, "jSnVw/bqjr4=");
  EXPECT_FALSE(meta->checksums.composite);
  const std::string large = Pattern(200'000);
  PutOptions md5_only;  // Content-MD5 is not a checksum algorithm
  md5_only.content_md5 = Md5(large);
  meta = Put("bkt", "blob", large, md5_only);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->checksums.crc64nvme, Base64Encode(Crc64Bytes(Crc64Nvme(large))));
  Reopen();
  EXPECT_EQ(store_->HeadObject("bkt", "blob")->checksums.crc64nvme, meta->checksums.crc64nvme);

  PutOptions with_crc32;
  with_crc32.checksum_algorithm = ChecksumAlgorithm::kCrc32;
  meta = Put("bkt", "crc32", small, with_crc32);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_TRUE(meta->checksums.crc32.has_value());
  EXPECT_FALSE(meta->checksums.crc64nvme.has_value());
  auto copy = store_->CopyObject("bkt", "crc32", "bkt", "copy", {}, false, {}, {"t", "", ""});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->checksums.crc32, meta->checksums.crc32);
  EXPECT_FALSE(copy->checksums.crc64nvme.has_value());
}

// A store at schema version 3 (before CRC64NVME), written row by row; the
// test opens the store itself, which runs migration 4 over it.
class StoreUpgradeTest : public StoreFixture {
 protected:
  void SetUp() override {
    db::Options db_options;
    db_options.path = dir_.path() + "/meta.db";
    auto db = db::Database::Open(db_options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    std::vector<db::Migration> before_crc64;
    for (const db::Migration& step : StoreMigrations()) {
      if (step.version <= 3) before_crc64.push_back(step);
    }
    ASSERT_TRUE((*db)->Migrate("store", before_crc64).ok());
    ObjectAttrs attrs;
    attrs.content_type = "text/plain";
    attrs.user_metadata = {{"origin", "v3"}};
    Status written = (*db)->Write([&](db::Txn& txn) -> Status {
      IMGBATCH_RETURN_IF_ERROR(txn.Exec("INSERT INTO buckets VALUES('bkt', 'us-east-1', 1)"));
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement insert,
          txn.Prepare("INSERT INTO objects(bucket, key, size, etag, last_modified_ms, sequence, "
                      "crc32, checksum_composite, attrs, inline_data) "
                      "VALUES('bkt', 'old', 5, ?1, 1000, 1, ?2, 0, ?3, ?4)"));
      insert.Bind(1, Md5Hex("hello")).Bind(2, Base64Encode(Crc32Bytes(Crc32Update(0, "hello"))));
      IMGBATCH_RETURN_IF_ERROR(insert.BindBlob(3, EncodeAttrs(attrs)).BindBlob(4, "hello").Run());
      return txn.Exec("UPDATE store_sequence SET value = 1");
    });
    ASSERT_TRUE(written.ok()) << written.ToString();
  }
};

TEST_F(StoreUpgradeTest, ObjectsStoredBeforeCrc64NvmeKeepTheirBytesAndMetadata) {
  Open();
  auto head = store_->HeadObject("bkt", "old");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->etag, Md5Hex("hello"));
  EXPECT_EQ(head->checksums.crc32, Base64Encode(Crc32Bytes(Crc32Update(0, "hello"))));
  EXPECT_FALSE(head->checksums.crc64nvme.has_value());
  EXPECT_EQ(head->content_type, "text/plain");
  EXPECT_EQ(head->user_metadata,
            (std::vector<std::pair<std::string, std::string>>{{"origin", "v3"}}));
  auto got = store_->GetObject("bkt", "old", std::nullopt, {});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(ReadAll(*got), "hello");
  // The rebuilt table's key index still makes a put of the same key an overwrite.
  PutOptions options;
  options.checksum_algorithm = ChecksumAlgorithm::kCrc64Nvme;
  ASSERT_TRUE(Put("bkt", "old", "hello again", options).ok());
  auto listed = store_->ListObjects("bkt", {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->objects.size(), 1u);
  EXPECT_EQ(listed->objects[0].checksums.crc64nvme,
            Base64Encode(Crc64Bytes(Crc64Nvme("hello again"))));
}

TEST_F(ObjectStoreTest, BadDigestOnBlobLeavesNoFile) {
  PutOptions bad;
  bad.content_md5 = Md5("other");
  EXPECT_EQ(Put("bkt", "x", Pattern(100000), bad).status().detail(), "BadDigest");
  EXPECT_TRUE(BlobFilesOnDisk().empty());
}

TEST_F(ObjectStoreTest, DeclaredLengthMustMatch) {
  PutOptions options;
  options.content_length = 100;
  EXPECT_EQ(Put("bkt", "k", Pattern(50), options).status().detail(), "IncompleteBody");
  EXPECT_EQ(Put("bkt", "k", Pattern(5000), options).status().code(), Code::kInvalidArgument);
  options.content_length = 5000;
  EXPECT_EQ(Put("bkt", "k", Pattern(4000), options).status().detail(), "IncompleteBody");
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  EXPECT_EQ(Get("bkt", "k").status().code(), Code::kNotFound);
}

TEST_F(ObjectStoreTest, SourceErrorsPropagateAndCleanUp) {
  FailingSource source(200000);
  auto meta = store_->PutObject("bkt", "k", source, {}, {});
  EXPECT_EQ(meta.status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(BlobFilesOnDisk().empty());
}

TEST_F(ObjectStoreTest, SinglePutIsLimitedTo5GiB) {
  PutOptions declared;
  declared.content_length = (5ull << 30) + 1;
  EXPECT_EQ(Put("bkt", "k", "", declared).status().detail(), "EntityTooLarge");
}

TEST_F(ObjectStoreTest, MaxObjectSizeIsEnforced) {
  Close();
  options_.max_object_bytes = 3000;
  Open();
  PutOptions declared;
  declared.content_length = 3001;
  EXPECT_EQ(Put("bkt", "k", Pattern(3001), declared).status().detail(), "EntityTooLarge");
  EXPECT_EQ(Put("bkt", "k", Pattern(3001)).status().detail(), "EntityTooLarge");
  EXPECT_TRUE(Put("bkt", "k", Pattern(3000)).ok());
  EXPECT_EQ(BlobFilesOnDisk().size(), 1u);
}

TEST_F(ObjectStoreTest, ConditionalWrites) {
  PutOptions if_absent;
  if_absent.conditions.if_none_match = "*";
  ASSERT_TRUE(Put("bkt", "k", "one", if_absent).ok());
  EXPECT_EQ(Put("bkt", "k", "two", if_absent).status().code(), Code::kPreconditionFailed);
  PutOptions if_match;
  if_match.conditions.if_match = "\"" + Md5Hex("one") + "\"";
  ASSERT_TRUE(Put("bkt", "k", "two", if_match).ok());
  EXPECT_EQ(Put("bkt", "k", "three", if_match).status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(Put("bkt", "absent", "x", if_match).status().code(), Code::kNotFound);
  EXPECT_EQ(*Get("bkt", "k"), "two");
}

// ---- ranges and conditions ----

TEST_F(ObjectStoreTest, RangesOnInlineAndBlobObjects) {
  for (size_t size : {size_t{100}, size_t{10000}}) {
    const std::string data = Pattern(size);
    ASSERT_TRUE(Put("bkt", "r", data).ok());
    struct Case {
      RangeRequest request;
      uint64_t first, last;
    };
    const Case cases[] = {
        {{0, 9, {}}, 0, 9},
        {{10, {}, {}}, 10, size - 1},
        {{{}, {}, 5}, size - 5, size - 1},
        {{{}, {}, size * 2}, 0, size - 1},
        {{5, size * 3, {}}, 5, size - 1},
        {{size - 1, size - 1, {}}, size - 1, size - 1},
    };
    for (const Case& c : cases) {
      auto got = store_->GetObject("bkt", "r", c.request, {});
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_TRUE(got->range.has_value());
      EXPECT_EQ(got->range->first, c.first);
      EXPECT_EQ(got->range->last, c.last);
      EXPECT_EQ(ReadAll(*got), data.substr(c.first, c.last - c.first + 1));
    }
    for (RangeRequest bad : {RangeRequest{size, {}, {}}, RangeRequest{size + 5, size + 9, {}},
                             RangeRequest{{}, {}, 0}}) {
      auto got = store_->GetObject("bkt", "r", bad, {});
      EXPECT_EQ(got.status().code(), Code::kOutOfRange);
      EXPECT_EQ(got.status().detail(), "InvalidRange");
    }
    // first > last is syntactically invalid: the range is ignored.
    auto whole = store_->GetObject("bkt", "r", RangeRequest{9, 3, {}}, {});
    ASSERT_TRUE(whole.ok());
    EXPECT_FALSE(whole->range.has_value());
    EXPECT_EQ(whole->length, size);
  }
  ASSERT_TRUE(Put("bkt", "empty", "").ok());
  EXPECT_EQ(store_->GetObject("bkt", "empty", RangeRequest{0, {}, {}}, {}).status().code(),
            Code::kOutOfRange);
}

TEST_F(ObjectStoreTest, ConditionsMatrix) {
  const int64_t t0 = clock_.NowMillis() + 500;  // not on a whole second
  clock_.SetMillis(t0);
  ASSERT_TRUE(Put("bkt", "c", "body").ok());
  const std::string etag = Md5Hex("body");
  const int64_t before = t0 - 10'000, after = t0 + 10'000;
  const int64_t same_second = t0 - 500;  // the Last-Modified header's value
  struct Case {
    Conditions c;
    Code expected;
  };
  const Case cases[] = {
      {{}, Code::kOk},
      {{etag, {}, {}, {}}, Code::kOk},
      {{"\"" + etag + "\"", {}, {}, {}}, Code::kOk},
      {{"*", {}, {}, {}}, Code::kOk},
      {{"\"other\", \"" + etag + "\"", {}, {}, {}}, Code::kOk},
      {{"other", {}, {}, {}}, Code::kPreconditionFailed},
      {{{}, etag, {}, {}}, Code::kNotModified},
      {{{}, "*", {}, {}}, Code::kNotModified},
      {{{}, "other", {}, {}}, Code::kOk},
      {{{}, {}, before, {}}, Code::kOk},
      {{{}, {}, same_second, {}}, Code::kNotModified},
      {{{}, {}, after, {}}, Code::kNotModified},
      {{{}, {}, {}, after}, Code::kOk},
      {{{}, {}, {}, same_second}, Code::kOk},
      {{{}, {}, {}, before}, Code::kPreconditionFailed},
      // If-Match true wins over a failing If-Unmodified-Since.
      {{etag, {}, {}, before}, Code::kOk},
      // If-None-Match false wins over a "not modified" If-Modified-Since.
      {{{}, "other", after, {}}, Code::kOk},
      // 412 beats 304.
      {{"other", etag, {}, {}}, Code::kPreconditionFailed},
      {{{}, etag, {}, before}, Code::kPreconditionFailed},
  };
  int i = 0;
  for (const Case& c : cases) {
    auto got = store_->GetObject("bkt", "c", std::nullopt, c.c);
    EXPECT_EQ(got.status().code(), c.expected) << "case " << i << ": " << got.status().ToString();
    ++i;
  }
  // Conditions are checked before the range.
  Conditions not_modified{{}, etag, {}, {}};
  EXPECT_EQ(store_->GetObject("bkt", "c", RangeRequest{100, {}, {}}, not_modified).status().code(),
            Code::kNotModified);
}

// ---- copy ----

TEST_F(ObjectStoreTest, CopyKeepsOrReplacesMetadata) {
  PutOptions options;
  options.content_type = "text/plain";
  options.user_metadata = {{"a", "1"}};
  options.checksum_algorithm = ChecksumAlgorithm::kSha256;
  const std::string data = Pattern(5000);
  ASSERT_TRUE(Put("bkt", "src", data, options).ok());
  ASSERT_TRUE(store_->CreateBucket("dst", "").ok());

  auto copy = store_->CopyObject("bkt", "src", "dst", "copy", {}, false, {}, {});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->etag, Md5Hex(data));
  EXPECT_EQ(copy->content_type, "text/plain");
  EXPECT_EQ(copy->user_metadata.size(), 1u);
  EXPECT_EQ(copy->checksums.sha256, Base64Encode(Sha256(data)));
  EXPECT_EQ(*Get("dst", "copy"), data);

  PutOptions replacement;
  replacement.content_type = "image/png";
  copy = store_->CopyObject("bkt", "src", "dst", "copy2", {}, true, replacement, {});
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(copy->content_type, "image/png");
  EXPECT_TRUE(copy->user_metadata.empty());
  EXPECT_EQ(BlobFilesOnDisk().size(), 3u);  // copies own their bytes

  // Deleting the source leaves the copy intact.
  ASSERT_TRUE(store_->DeleteObject("bkt", "src", {}).ok());
  EXPECT_EQ(*Get("dst", "copy"), data);
}

// Tags are appended to the attributes' encoding only when there are some: an
// untagged object's bytes are what they were before tags, and stay readable.
TEST(AttrsEncoding, TagsFollowTheMetadataOnlyWhenPresent) {
  ObjectAttrs plain;
  plain.content_type = "image/jpeg";
  plain.user_metadata = {{"a", "1"}};
  ObjectAttrs tagged = plain;
  tagged.tags = {{"k", "v"}, {"empty", ""}};
  const std::string plain_bytes = EncodeAttrs(plain);
  const std::string tagged_bytes = EncodeAttrs(tagged);
  EXPECT_EQ(tagged_bytes.substr(0, plain_bytes.size()), plain_bytes);
  ASSERT_TRUE(DecodeAttrs(plain_bytes).has_value());
  EXPECT_TRUE(DecodeAttrs(plain_bytes)->tags.empty());
  ASSERT_TRUE(DecodeAttrs(tagged_bytes).has_value());
  EXPECT_EQ(DecodeAttrs(tagged_bytes)->tags, tagged.tags);
  EXPECT_EQ(DecodeAttrs(tagged_bytes)->user_metadata, plain.user_metadata);
  EXPECT_FALSE(DecodeAttrs(tagged_bytes.substr(0, tagged_bytes.size() - 1)).has_value());
  EXPECT_FALSE(DecodeAttrs(tagged_bytes + "x").has_value());
}

// Tags are kept with the object: set by the put, replaced or removed alone
// (the bytes, ETag, Last-Modified and sequence stay), kept or replaced by a
// copy whatever happens to the metadata, and gone with the object.
TEST_F(ObjectStoreTest, TagsFollowTheObject) {
  PutOptions options;
  options.user_metadata = {{"a", "1"}};
  options.tags = Tags{{"stage", "raw"}, {"owner", "me"}};
  ASSERT_TRUE(Put("bkt", "k", "bytes", options).ok());
  auto head = store_->HeadObject("bkt", "k");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->tags, (Tags{{"stage", "raw"}, {"owner", "me"}}));

  ASSERT_TRUE(store_->PutObjectTags("bkt", "k", {{"stage", "done"}}, {}).ok());
  auto retagged = store_->HeadObject("bkt", "k");
  ASSERT_TRUE(retagged.ok());
  EXPECT_EQ(retagged->tags, (Tags{{"stage", "done"}}));
  EXPECT_EQ(retagged->etag, head->etag);
  EXPECT_EQ(retagged->last_modified_ms, head->last_modified_ms);
  EXPECT_EQ(retagged->sequence, head->sequence);
  EXPECT_EQ(retagged->user_metadata, head->user_metadata);
  EXPECT_EQ(*Get("bkt", "k"), "bytes");

  // COPY of the tags (unset) with the metadata replaced, then REPLACE.
  PutOptions replacement;
  replacement.content_type = "text/plain";
  auto copy = store_->CopyObject("bkt", "k", "bkt", "copy", {}, true, replacement, {});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->tags, (Tags{{"stage", "done"}}));
  EXPECT_TRUE(copy->user_metadata.empty());
  replacement.tags = Tags{{"copied", "yes"}};
  copy = store_->CopyObject("bkt", "k", "bkt", "copy", {}, false, replacement, {});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->tags, (Tags{{"copied", "yes"}}));
  EXPECT_EQ(copy->user_metadata, head->user_metadata);

  ASSERT_TRUE(store_->DeleteObjectTags("bkt", "k", {}).ok());
  EXPECT_TRUE(store_->HeadObject("bkt", "k")->tags.empty());
  ASSERT_TRUE(Put("bkt", "copy", "new").ok());  // an overwrite without tags has none
  EXPECT_TRUE(store_->HeadObject("bkt", "copy")->tags.empty());
  EXPECT_EQ(store_->PutObjectTags("bkt", "missing", {{"a", "b"}}, {}).detail(), "NoSuchKey");
  EXPECT_EQ(store_->PutObjectTags("nobucket", "k", {{"a", "b"}}, {}).detail(), "NoSuchBucket");
}

TEST_F(ObjectStoreTest, CopyErrors) {
  ASSERT_TRUE(Put("bkt", "src", "bytes").ok());
  Status st = store_->CopyObject("bkt", "src", "bkt", "src", {}, false, {}, {}).status();
  EXPECT_EQ(st.detail(), "InvalidRequest");
  PutOptions replacement;
  replacement.content_type = "x/y";
  EXPECT_TRUE(store_->CopyObject("bkt", "src", "bkt", "src", {}, true, replacement, {}).ok());
  EXPECT_EQ(store_->HeadObject("bkt", "src")->content_type, "x/y");
  EXPECT_EQ(store_->CopyObject("bkt", "nope", "bkt", "d", {}, false, {}, {}).status().detail(),
            "NoSuchKey");
  EXPECT_EQ(store_->CopyObject("bkt", "src", "nobkt", "d", {}, false, {}, {}).status().detail(),
            "NoSuchBucket");
  Conditions none_match{{}, Md5Hex("bytes"), {}, {}};
  EXPECT_EQ(store_->CopyObject("bkt", "src", "bkt", "d", none_match, false, {}, {}).status().code(),
            Code::kPreconditionFailed);
  Conditions match{Md5Hex("bytes"), {}, {}, {}};
  EXPECT_TRUE(store_->CopyObject("bkt", "src", "bkt", "d", match, false, {}, {}).ok());
}

// ---- events ----

TEST_F(ObjectStoreTest, EventsCarryKindsAndIncreasingSequences) {
  ASSERT_TRUE(Put("bkt", "a", "1").ok());
  ASSERT_TRUE(store_->CopyObject("bkt", "a", "bkt", "b", {}, false, {}, {}).ok());
  ASSERT_TRUE(store_->DeleteObject("bkt", "a", {}).ok());
  ASSERT_TRUE(store_->DeleteObject("bkt", "a", {}).ok());  // absent: no event
  auto events = sink_.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, ObjectEventKind::kPut);
  EXPECT_EQ(events[0].caller.principal, "tester");
  EXPECT_EQ(events[0].meta.etag, Md5Hex("1"));
  EXPECT_EQ(events[1].kind, ObjectEventKind::kCopy);
  EXPECT_EQ(events[1].meta.key, "b");
  EXPECT_EQ(events[2].kind, ObjectEventKind::kDelete);
  EXPECT_EQ(events[2].meta.key, "a");
  EXPECT_EQ(events[2].meta.size, 1u);
  EXPECT_LT(events[0].meta.sequence, events[1].meta.sequence);
  EXPECT_LT(events[1].meta.sequence, events[2].meta.sequence);
  // Sequences keep increasing across a restart.
  Reopen();
  auto meta = Put("bkt", "c", "x");
  ASSERT_TRUE(meta.ok());
  EXPECT_GT(meta->sequence, events[2].meta.sequence);
}

TEST_F(ObjectStoreTest, SinkFailureAbortsTheWrite) {
  sink_.FailNext();
  EXPECT_EQ(Put("bkt", "k", Pattern(5000)).status().code(), Code::kUnavailable);
  EXPECT_EQ(Get("bkt", "k").status().code(), Code::kNotFound);
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  ASSERT_TRUE(Put("bkt", "k", "v").ok());
  sink_.FailNext();
  EXPECT_FALSE(store_->DeleteObject("bkt", "k", {}).ok());
  EXPECT_EQ(*Get("bkt", "k"), "v");
}

TEST_F(ObjectStoreTest, CommitFailureLeavesNoObjectAndNoBlob) {
  db_->FailCommitAfter(1);
  EXPECT_EQ(Put("bkt", "k", Pattern(5000)).status().code(), Code::kIoError);
  EXPECT_EQ(Get("bkt", "k").status().code(), Code::kNotFound);
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  EXPECT_TRUE(Put("bkt", "k", Pattern(5000)).ok());
}

// ---- listing ----

class ListTest : public ObjectStoreTest {
 protected:
  std::vector<std::string> Keys(const ListResult& r) {
    std::vector<std::string> keys;
    for (const auto& o : r.objects) keys.push_back(o.key);
    return keys;
  }
};

TEST_F(ListTest, PrefixDelimiterAndMarkers) {
  for (const char* key : {"a.txt", "dir/1", "dir/2", "dir/sub/3", "dir2/x", "e", "photos/2024/a",
                          "photos/2024/b", "photos/2025/c", "z"}) {
    ASSERT_TRUE(Put("bkt", key, "v").ok());
  }
  auto all = store_->ListObjects("bkt", {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->objects.size(), 10u);
  EXPECT_FALSE(all->truncated);

  auto top = store_->ListObjects("bkt", {"", "/", "", 1000});
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(Keys(*top), (std::vector<std::string>{"a.txt", "e", "z"}));
  EXPECT_EQ(top->common_prefixes, (std::vector<std::string>{"dir/", "dir2/", "photos/"}));

  auto photos = store_->ListObjects("bkt", {"photos/", "/", "", 1000});
  EXPECT_TRUE(Keys(*photos).empty());
  EXPECT_EQ(photos->common_prefixes, (std::vector<std::string>{"photos/2024/", "photos/2025/"}));

  auto dir = store_->ListObjects("bkt", {"dir/", "/", "", 1000});
  EXPECT_EQ(Keys(*dir), (std::vector<std::string>{"dir/1", "dir/2"}));
  EXPECT_EQ(dir->common_prefixes, (std::vector<std::string>{"dir/sub/"}));

  // Common prefixes count against max_keys.
  auto page = store_->ListObjects("bkt", {"", "/", "", 2});
  EXPECT_EQ(Keys(*page), (std::vector<std::string>{"a.txt"}));
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"dir/"}));
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_marker, "dir/");
  // Continuing after a common prefix does not repeat it.
  auto page2 = store_->ListObjects("bkt", {"", "/", page->next_marker, 2});
  EXPECT_EQ(Keys(*page2), (std::vector<std::string>{"e"}));
  EXPECT_EQ(page2->common_prefixes, (std::vector<std::string>{"dir2/"}));
  EXPECT_TRUE(page2->truncated);
  EXPECT_EQ(page2->next_marker, "e");
  auto page3 = store_->ListObjects("bkt", {"", "/", page2->next_marker, 2});
  EXPECT_EQ(Keys(*page3), (std::vector<std::string>{"z"}));
  EXPECT_EQ(page3->common_prefixes, (std::vector<std::string>{"photos/"}));
  EXPECT_FALSE(page3->truncated);
  EXPECT_TRUE(page3->next_marker.empty());
  // A marker inside a folder: the folder is not listed again.
  auto inside = store_->ListObjects("bkt", {"", "/", "dir/1", 1000});
  EXPECT_EQ(inside->common_prefixes, (std::vector<std::string>{"dir2/", "photos/"}));

  auto after = store_->ListObjects("bkt", {"dir", "", "dir/2", 1000});
  EXPECT_EQ(Keys(*after), (std::vector<std::string>{"dir/sub/3", "dir2/x"}));

  auto exact = store_->ListObjects("bkt", {"", "", "", 10});
  EXPECT_FALSE(exact->truncated);  // exactly max_keys entries: not truncated

  auto zero = store_->ListObjects("bkt", {"", "", "", 0});
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(zero->objects.empty());
  EXPECT_FALSE(zero->truncated);

  EXPECT_EQ(store_->ListObjects("bkt", {"", "", "", -1}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->ListObjects("nobkt", {}).status().detail(), "NoSuchBucket");
  // A multi-character delimiter.
  auto multi = store_->ListObjects("bkt", {"photos", "/2", "", 1000});
  EXPECT_EQ(multi->common_prefixes, (std::vector<std::string>{"photos/2"}));
}

TEST_F(ListTest, PaginatesThousandsOfKeysWithAndWithoutDelimiter) {
  // 3000 keys: 30 folders x 100 files, written in concurrent batches.
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 15; ++t) {
    writers.emplace_back([&, t] {
      for (int folder = t; folder < 30; folder += 15) {
        for (int file = 0; file < 100; ++file) {
          char key[64];
          std::snprintf(key, sizeof key, "f%02d/%03d", folder, file);
          if (!Put("bkt", key, "x").ok()) ++failures;
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_EQ(failures.load(), 0);

  std::vector<std::string> seen;
  std::string marker;
  int pages = 0;
  while (true) {
    auto page = store_->ListObjects("bkt", {"", "", marker, 1000});
    ASSERT_TRUE(page.ok());
    for (auto& o : page->objects) seen.push_back(o.key);
    ++pages;
    if (!page->truncated) break;
    marker = page->next_marker;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 3000u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());

  std::vector<std::string> prefixes;
  marker.clear();
  while (true) {
    auto page = store_->ListObjects("bkt", {"", "/", marker, 7});
    ASSERT_TRUE(page.ok());
    EXPECT_TRUE(page->objects.empty());
    prefixes.insert(prefixes.end(), page->common_prefixes.begin(), page->common_prefixes.end());
    if (!page->truncated) break;
    marker = page->next_marker;
  }
  ASSERT_EQ(prefixes.size(), 30u);
  EXPECT_EQ(prefixes.front(), "f00/");
  EXPECT_EQ(prefixes.back(), "f29/");

  auto one_folder = store_->ListObjects("bkt", {"f07/", "/", "f07/049", 1000});
  ASSERT_EQ(one_folder->objects.size(), 50u);
  EXPECT_EQ(one_folder->objects.front().key, "f07/050");
}

// ---- orphans and disk space ----

TEST_F(ObjectStoreTest, OrphansAndTempFilesAreCollectedAtOpen) {
  ASSERT_TRUE(Put("bkt", "kept", Pattern(5000)).ok());
  auto upload = store_->CreateMultipartUpload("bkt", "mp", {});
  StringSource part(Pattern(3000));
  ASSERT_TRUE(store_->UploadPart("bkt", "mp", upload->upload_id, 1, part, {}).ok());
  ASSERT_EQ(BlobFilesOnDisk().size(), 2u);
  // What a crash leaves: a renamed blob never committed, a half-written temp
  // file, and a file that is not ours at all.
  const std::string orphan = dir_.path() + "/blobs/ab/ab" + std::string(30, '0');
  const std::string temp = dir_.path() + "/blobs/tmp/0123456789abcdef0123456789abcdef";
  const std::string foreign = dir_.path() + "/blobs/ab/README";
  std::filesystem::create_directories(dir_.path() + "/blobs/ab");
  for (const std::string& path : {orphan, temp, foreign}) std::ofstream(path) << "junk";
  Reopen();
  std::vector<std::string> files = BlobFilesOnDisk();
  EXPECT_EQ(files.size(), 3u);  // kept object, the part, and the foreign file
  EXPECT_FALSE(std::filesystem::exists(orphan));
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_TRUE(std::filesystem::exists(foreign));
  EXPECT_EQ(*Get("bkt", "kept"), Pattern(5000));
  EXPECT_EQ(store_->ListParts("bkt", "mp", upload->upload_id, 0, 1000)->parts.size(), 1u);
}

TEST_F(ObjectStoreTest, FreeSpaceReserveRefusesWritesCleanly) {
  ASSERT_TRUE(Put("bkt", "before", Pattern(5000)).ok());
  Close();
  options_.free_space_reserve = ~uint64_t{0} / 2;  // more than any disk has
  Open();
  for (size_t size : {size_t{10}, size_t{50000}}) {
    Status st = Put("bkt", "k", Pattern(size)).status();
    EXPECT_EQ(st.code(), Code::kNoSpace) << size;
    EXPECT_EQ(st.detail(), "InsufficientStorage");
  }
  auto upload = store_->CreateMultipartUpload("bkt", "mp", {});
  ASSERT_TRUE(upload.ok());
  StringSource part(Pattern(100));
  EXPECT_EQ(store_->UploadPart("bkt", "mp", upload->upload_id, 1, part, {}).status().code(),
            Code::kNoSpace);
  // Reads and deletes keep working; nothing was left behind.
  EXPECT_EQ(*Get("bkt", "before"), Pattern(5000));
  EXPECT_EQ(BlobFilesOnDisk().size(), 1u);
  EXPECT_EQ(Get("bkt", "k").status().code(), Code::kNotFound);
  Close();
  options_.free_space_reserve = 1 << 20;
  Open();
  EXPECT_TRUE(Put("bkt", "k", Pattern(50000)).ok());
  ASSERT_TRUE(store_->DeleteObject("bkt", "before", {}).ok());
}

TEST_F(ObjectStoreTest, DiskFullMidWriteCleansTempFile) {
  Close();
  std::atomic<bool> disk_full{true};
  options_.blob_write_hook = [&](uint64_t written) -> Status {
    if (disk_full && written >= 100000) {
      return Status(Code::kNoSpace, "injected ENOSPC").WithDetail("InsufficientStorage");
    }
    return Status::Ok();
  };
  Open();
  Status st = Put("bkt", "big", Pattern(300000)).status();
  EXPECT_EQ(st.code(), Code::kNoSpace);
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/blobs/tmp"));
  EXPECT_EQ(Get("bkt", "big").status().code(), Code::kNotFound);
  disk_full = false;
  ASSERT_TRUE(Put("bkt", "big", Pattern(300000)).ok());
  EXPECT_EQ(*Get("bkt", "big"), Pattern(300000));
}

TEST_F(ObjectStoreTest, ConcurrentOverwritesAndReadsNeverTear) {
  // Every version of the key is a full Pattern(size, version) blob; readers
  // must always see one complete version.
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::vector<std::string> versions;
  for (unsigned v = 0; v < 4; ++v) versions.push_back(Pattern(4096 + v, v));
  ASSERT_TRUE(Put("bkt", "hot", versions[0]).ok());
  std::thread writer([&] {
    for (int i = 0; i < 60; ++i) (void)Put("bkt", "hot", versions[static_cast<size_t>(i) % 4]);
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        auto got = Get("bkt", "hot");
        if (!got.ok() || std::find(versions.begin(), versions.end(), *got) == versions.end()) {
          ++torn;
        }
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(BlobFilesOnDisk().size(), 1u);
}

}  // namespace
}  // namespace imgbatch::store
