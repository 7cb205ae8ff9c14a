#include <gtest/gtest.h>

#include "common/hashing.h"
#include "store/object_rules.h"
#include "store/object_store.h"
#include "store/store_test_util.h"

namespace imgbatch::store {
namespace {

using testing::Pattern;
using testing::StoreFixture;
using testing::StringSource;

constexpr uint64_t kFiveMiB = 5ull << 20;

class MultipartTest : public StoreFixture {
 protected:
  void SetUp() override {
    options_.free_space_reserve = 1 << 20;
    StoreFixture::SetUp();
    ASSERT_TRUE(store_->CreateBucket("bkt", "").ok());
  }

  std::string Begin(const std::string& key, PutOptions options = {}) {
    auto upload = store_->CreateMultipartUpload("bkt", key, options);
    EXPECT_TRUE(upload.ok()) << upload.status().ToString();
    return upload.ok() ? upload->upload_id : "";
  }

  Result<PartInfo> Part(const std::string& key, const std::string& id, int number,
                        const std::string& data, PutOptions options = {}) {
    StringSource source(data, 1 << 20);
    return store_->UploadPart("bkt", key, id, number, source, options);
  }

  Result<ObjectMeta> Complete(const std::string& key, const std::string& id,
                              std::vector<CompletedPart> parts) {
    return store_->CompleteMultipartUpload("bkt", key, id, parts, {"tester", "", ""});
  }
};

TEST_F(MultipartTest, CompleteProducesKnownEtagAndBytes) {
  PutOptions options;
  options.content_type = "video/mp4";
  options.user_metadata = {{"origin", "test"}};
  const std::string id = Begin("movie", options);
  const std::string p1(kFiveMiB, 'a');
  auto part1 = Part("movie", id, 1, p1);
  ASSERT_TRUE(part1.ok()) << part1.status().ToString();
  EXPECT_EQ(part1->etag, Md5Hex(p1));
  auto part2 = Part("movie", id, 2, "hello");
  ASSERT_TRUE(part2.ok());
  auto meta = Complete("movie", id, {{1, "\"" + part1->etag + "\"", {}}, {2, part2->etag, {}}});
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->etag, "7cbb08aa3c3309d6882c18fcecc4bee7-2");
  EXPECT_EQ(meta->parts_count, 2);
  EXPECT_EQ(meta->size, kFiveMiB + 5);
  EXPECT_EQ(meta->content_type, "video/mp4");
  auto got = store_->GetObject("bkt", "movie", std::nullopt, {});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Md5Hex(ReadAll(*got)), "fa01dc3471d797b839444a1bdfa87e51");
  auto tail = store_->GetObject("bkt", "movie", RangeRequest{{}, {}, 7}, {});
  EXPECT_EQ(ReadAll(*tail), "aahello");
  // Parts and upload are gone; only the assembled blob remains.
  EXPECT_EQ(BlobFilesOnDisk().size(), 1u);
  EXPECT_EQ(store_->ListParts("bkt", "movie", id, 0, 1000).status().detail(), "NoSuchUpload");
  auto events = sink_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, ObjectEventKind::kCompleteMultipartUpload);
  EXPECT_EQ(events[0].meta.etag, meta->etag);
}

TEST_F(MultipartTest, TheUploadsTagsGoToTheObject) {
  PutOptions options;
  options.tags = Tags{{"batch", "7"}};
  const std::string id = Begin("tagged", options);
  auto part = Part("tagged", id, 1, "only part");
  ASSERT_TRUE(part.ok());
  auto meta = Complete("tagged", id, {{1, part->etag, {}}});
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->tags, (Tags{{"batch", "7"}}));
  EXPECT_EQ(store_->HeadObject("bkt", "tagged")->tags, (Tags{{"batch", "7"}}));
}

TEST_F(MultipartTest, CompositeChecksum) {
  PutOptions options;
  options.checksum_algorithm = ChecksumAlgorithm::kCrc32;
  const std::string id = Begin("k", options);
  const std::string p1(kFiveMiB, 'a');
  auto part1 = Part("k", id, 1, p1);
  ASSERT_TRUE(part1.ok());
  EXPECT_EQ(part1->checksums.crc32, Base64Encode(Crc32Bytes(Crc32Update(0, p1))));
  PutOptions part_options;
  part_options.expected.crc32 = Base64Encode(Crc32Bytes(Crc32Update(0, "hello")));
  auto part2 = Part("k", id, 2, "hello", part_options);
  ASSERT_TRUE(part2.ok()) << part2.status().ToString();
  part_options.expected.crc32 = Base64Encode(Crc32Bytes(1));
  EXPECT_EQ(Part("k", id, 3, "hello", part_options).status().detail(), "BadDigest");
  auto meta = Complete("k", id, {{1, part1->etag, {part1->checksums}}, {2, part2->etag, {}}});
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->checksums.crc32, "QaduHg==-2");
  EXPECT_TRUE(meta->checksums.composite);
  EXPECT_TRUE(store_->HeadObject("bkt", "k")->checksums.composite);
}

// The whole-object checksum a client sends with Complete must equal the
// composite; a mismatch is BadDigest and leaves the upload in place.
TEST_F(MultipartTest, CompleteVerifiesExpectedCompositeChecksum) {
  PutOptions options;
  options.checksum_algorithm = ChecksumAlgorithm::kSha256;
  const std::string id = Begin("k", options);
  auto part = Part("k", id, 1, "hello");
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  const std::vector<CompletedPart> parts{{1, part->etag, {}}};
  const std::string composite = Base64Encode(Sha256(*Base64Decode(*part->checksums.sha256))) + "-1";
  Checksums bad;
  bad.sha256 = "bad";
  auto refused = store_->CompleteMultipartUpload("bkt", "k", id, parts, {"t", "", ""}, bad);
  EXPECT_EQ(refused.status().detail(), "BadDigest");
  EXPECT_EQ(store_->HeadObject("bkt", "k").status().code(), Code::kNotFound);

  Checksums good;
  good.sha256 = composite;
  auto meta = store_->CompleteMultipartUpload("bkt", "k", id, parts, {"t", "", ""}, good);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->checksums.sha256, composite);
}

// CRC64NVME uploads get the whole object's CRC (FULL_OBJECT), combined from
// the parts' CRCs; a client's whole-object CRC64NVME must match it.
TEST_F(MultipartTest, Crc64NvmeUploadsGetTheWholeObjectsCrc) {
  PutOptions options;
  options.checksum_algorithm = ChecksumAlgorithm::kCrc64Nvme;
  const std::string id = Begin("k", options);
  const std::string p1 = Pattern(kFiveMiB + 3);
  const std::string p2 = "the last part";
  auto part1 = Part("k", id, 1, p1);
  ASSERT_TRUE(part1.ok()) << part1.status().ToString();
  EXPECT_EQ(part1->checksums.crc64nvme, Base64Encode(Crc64Bytes(Crc64Nvme(p1))));
  PutOptions part_options;
  part_options.expected.crc64nvme = Base64Encode(Crc64Bytes(Crc64Nvme("not the part")));
  EXPECT_EQ(Part("k", id, 2, p2, part_options).status().detail(), "BadDigest");
  part_options.expected.crc64nvme = Base64Encode(Crc64Bytes(Crc64Nvme(p2)));
  auto part2 = Part("k", id, 2, p2, part_options);
  ASSERT_TRUE(part2.ok()) << part2.status().ToString();
  const std::vector<CompletedPart> parts{{1, part1->etag, {part1->checksums}},
                                         {2, part2->etag, {part2->checksums}}};
  const std::string whole = Base64Encode(Crc64Bytes(Crc64Nvme(p1 + p2)));

  Checksums bad;
  bad.crc64nvme = Base64Encode(Crc64Bytes(Crc64Nvme(p1)));
  auto refused = store_->CompleteMultipartUpload("bkt", "k", id, parts, {"t", "", ""}, bad);
  EXPECT_EQ(refused.status().detail(), "BadDigest");
  EXPECT_EQ(store_->HeadObject("bkt", "k").status().code(), Code::kNotFound);

  Checksums good;
  good.crc64nvme = whole;
  auto meta = store_->CompleteMultipartUpload("bkt", "k", id, parts, {"t", "", ""}, good);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->checksums.crc64nvme, whole);
  EXPECT_FALSE(meta->checksums.composite);
  auto head = store_->HeadObject("bkt", "k");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->checksums.crc64nvme, whole);
  EXPECT_FALSE(head->checksums.composite);
}

// An upload created without an algorithm gets, like a PutObject without one,
// S3's default: each part's CRC64NVME and the whole object's, combined from
// them. A part sent with a checksum of its own has no CRC64NVME, so the
// object it ends up in has no whole-object one either.
TEST_F(MultipartTest, UploadsWithoutAnAlgorithmGetTheDefaultWholeObjectCrc64Nvme) {
  const std::string p1 = Pattern(kFiveMiB + 7);
  const std::string p2 = "the last part";
  const std::string id = Begin("k");
  auto part1 = Part("k", id, 1, p1);
  ASSERT_TRUE(part1.ok()) << part1.status().ToString();
  EXPECT_EQ(part1->checksums.crc64nvme, Base64Encode(Crc64Bytes(Crc64Nvme(p1))));
  auto part2 = Part("k", id, 2, p2);
  ASSERT_TRUE(part2.ok()) << part2.status().ToString();
  auto meta = Complete("k", id, {{1, part1->etag, {}}, {2, part2->etag, {}}});
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->checksums.crc64nvme, Base64Encode(Crc64Bytes(Crc64Nvme(p1 + p2))));
  EXPECT_FALSE(meta->checksums.composite);

  const std::string other = Begin("mixed");
  part1 = Part("mixed", other, 1, p1);
  ASSERT_TRUE(part1.ok()) << part1.status().ToString();
  PutOptions own_checksum;
  own_checksum.expected.crc32 = Base64Encode(Crc32Bytes(Crc32Update(0, p2)));
  part2 = Part("mixed", other, 2, p2, own_checksum);
  ASSERT_TRUE(part2.ok()) << part2.status().ToString();
  EXPECT_FALSE(part2->checksums.crc64nvme.has_value());
  meta = Complete("mixed", other, {{1, part1->etag, {}}, {2, part2->etag, {}}});
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_FALSE(meta->checksums.crc64nvme.has_value());
}

// CRC32 and CRC32C uploads created FULL_OBJECT get the CRC of the whole body,
// combined from the parts' CRCs; a client's whole-object value must match
// it. Composite ones keep "<b64>-N", and a whole-body CRC sent for them is
// checked against the whole body too.
TEST_F(MultipartTest, FullObjectCrc32AndCrc32cUploads) {
  const std::string p1 = Pattern(kFiveMiB + 11);
  const std::string p2 = "the last part";
  const std::string body = p1 + p2;
  struct Case {
    ChecksumAlgorithm algorithm;
    std::string whole;
    std::optional<std::string> Checksums::*field;
  };
  for (const Case& c :
       {Case{ChecksumAlgorithm::kCrc32, Base64Encode(Crc32Bytes(Crc32Update(0, body))),
             &Checksums::crc32},
        Case{ChecksumAlgorithm::kCrc32c, Base64Encode(Crc32Bytes(Crc32cUpdate(0, body))),
             &Checksums::crc32c}}) {
    PutOptions options;
    options.checksum_algorithm = c.algorithm;
    options.full_object_checksum = true;
    const std::string id = Begin("k", options);
    auto part1 = Part("k", id, 1, p1);
    auto part2 = Part("k", id, 2, p2);
    ASSERT_TRUE(part1.ok() && part2.ok());
    const std::vector<CompletedPart> parts{{1, part1->etag, {}}, {2, part2->etag, {}}};
    Checksums bad;
    bad.*c.field = Base64Encode(Crc32Bytes(1234));
    EXPECT_EQ(store_->CompleteMultipartUpload("bkt", "k", id, parts, {"t", "", ""}, bad)
                  .status()
                  .detail(),
              "BadDigest");
    Checksums good;
    good.*c.field = c.whole;
    auto meta = store_->CompleteMultipartUpload("bkt", "k", id, parts, {"t", "", ""}, good);
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
    EXPECT_EQ(meta->checksums.*c.field, c.whole);
    EXPECT_FALSE(meta->checksums.composite);
    EXPECT_FALSE(store_->HeadObject("bkt", "k")->checksums.composite);
  }

  PutOptions composite;
  composite.checksum_algorithm = ChecksumAlgorithm::kCrc32;
  const std::string id = Begin("c", composite);
  auto part1 = Part("c", id, 1, p1);
  auto part2 = Part("c", id, 2, p2);
  ASSERT_TRUE(part1.ok() && part2.ok());
  const std::vector<CompletedPart> parts{{1, part1->etag, {}}, {2, part2->etag, {}}};
  Checksums wrong_whole;
  wrong_whole.crc32 = Base64Encode(Crc32Bytes(Crc32Update(0, p1)));
  EXPECT_EQ(store_->CompleteMultipartUpload("bkt", "c", id, parts, {"t", "", ""}, wrong_whole)
                .status()
                .detail(),
            "BadDigest");
  Checksums whole;
  whole.crc32 = Base64Encode(Crc32Bytes(Crc32Update(0, body)));
  auto meta = store_->CompleteMultipartUpload("bkt", "c", id, parts, {"t", "", ""}, whole);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_TRUE(meta->checksums.composite);
  EXPECT_EQ(meta->checksums.crc32->substr(meta->checksums.crc32->size() - 2), "-2");
}

// A retried Complete (its response lost) succeeds again with the same
// object, as on S3; once the key is overwritten it is NoSuchUpload.
TEST_F(MultipartTest, RetriedCompleteAnswersTheSameObject) {
  const std::string id = Begin("k");
  auto part = Part("k", id, 1, "abc");
  ASSERT_TRUE(part.ok());
  auto first = Complete("k", id, {{1, part->etag, {}}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto again = Complete("k", id, {{1, part->etag, {}}});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->etag, first->etag);
  EXPECT_EQ(again->size, 3u);
  EXPECT_EQ(Complete("other", id, {{1, part->etag, {}}}).status().detail(), "NoSuchUpload");

  StringSource replacement("new", 1 << 20);
  ASSERT_TRUE(store_->PutObject("bkt", "k", replacement, {}, {"tester", "", ""}).ok());
  EXPECT_EQ(Complete("k", id, {{1, part->etag, {}}}).status().detail(), "NoSuchUpload");
}

TEST_F(MultipartTest, CompleteValidatesParts) {
  const std::string id = Begin("k");
  auto small1 = Part("k", id, 1, "tiny");
  auto small2 = Part("k", id, 2, "tiny2");
  ASSERT_TRUE(small1.ok() && small2.ok());
  EXPECT_EQ(Complete("k", id, {}).status().detail(), "MalformedXML");
  EXPECT_EQ(Complete("k", id, {{2, small2->etag, {}}, {1, small1->etag, {}}}).status().detail(),
            "InvalidPartOrder");
  EXPECT_EQ(Complete("k", id, {{1, small1->etag, {}}, {1, small1->etag, {}}}).status().detail(),
            "InvalidPartOrder");
  EXPECT_EQ(Complete("k", id, {{1, Md5Hex("wrong"), {}}}).status().detail(), "InvalidPart");
  EXPECT_EQ(Complete("k", id, {{3, small1->etag, {}}}).status().detail(), "InvalidPart");
  EXPECT_EQ(Complete("k", id, {{1, small1->etag, {}}, {2, small2->etag, {}}}).status().detail(),
            "EntityTooSmall");
  EXPECT_EQ(Complete("k", "nope", {{1, small1->etag, {}}}).status().detail(), "NoSuchUpload");
  EXPECT_EQ(Complete("other", id, {{1, small1->etag, {}}}).status().detail(), "NoSuchUpload");
  // A single small part is fine (the last part may be any size), and a
  // subset of the uploaded parts may be completed.
  auto meta = Complete("k", id, {{2, small2->etag, {}}});
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(*Get("bkt", "k"), "tiny2");
  EXPECT_EQ(meta->etag, MultipartEtag({Md5Hex("tiny2")}));
  EXPECT_EQ(BlobFilesOnDisk().size(), 1u);  // the unused part 1 went too
}

TEST_F(MultipartTest, PartNumbersAndReuploads) {
  const std::string id = Begin("k");
  EXPECT_EQ(Part("k", id, 0, "x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Part("k", id, 10001, "x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Part("k", "nope", 1, "x").status().detail(), "NoSuchUpload");
  ASSERT_TRUE(Part("k", id, 3, "first").ok());
  auto again = Part("k", id, 3, "second");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(BlobFilesOnDisk().size(), 1u);  // the replaced part file is gone
  auto meta = Complete("k", id, {{3, again->etag, {}}});
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(*Get("bkt", "k"), "second");
}

TEST_F(MultipartTest, ListPartsPaginates) {
  const std::string id = Begin("k");
  for (int n = 1; n <= 5; ++n) ASSERT_TRUE(Part("k", id, n * 2, std::string(n, 'p')).ok());
  auto page = store_->ListParts("bkt", "k", id, 0, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->parts.size(), 2u);
  EXPECT_EQ(page->parts[0].part_number, 2);
  EXPECT_EQ(page->parts[1].size, 2u);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_part_number_marker, 4);
  auto rest = store_->ListParts("bkt", "k", id, page->next_part_number_marker, 1000);
  ASSERT_EQ(rest->parts.size(), 3u);
  EXPECT_FALSE(rest->truncated);
  EXPECT_EQ(rest->parts.back().etag, Md5Hex("ppppp"));
}

TEST_F(MultipartTest, ListUploadsAndAbort) {
  std::vector<std::string> ids = {Begin("a/1"), Begin("a/2"), Begin("a/2"), Begin("b")};
  auto all = store_->ListMultipartUploads("bkt", {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->uploads.size(), 4u);
  EXPECT_EQ(all->uploads[0].key, "a/1");
  auto prefixed = store_->ListMultipartUploads("bkt", {"a/", "", "", 1000, ""});
  EXPECT_EQ(prefixed->uploads.size(), 3u);
  auto page = store_->ListMultipartUploads("bkt", {"", "", "", 2, ""});
  ASSERT_EQ(page->uploads.size(), 2u);
  EXPECT_TRUE(page->truncated);
  auto next = store_->ListMultipartUploads(
      "bkt", {"", page->next_key_marker, page->next_upload_id_marker, 1000, ""});
  ASSERT_EQ(next->uploads.size(), 2u);
  EXPECT_EQ(next->uploads[1].key, "b");
  EXPECT_FALSE(next->truncated);
  auto after_key = store_->ListMultipartUploads("bkt", {"", "a/2", "", 1000, ""});
  ASSERT_EQ(after_key->uploads.size(), 1u);

  ASSERT_TRUE(Part("b", ids[3], 1, Pattern(1000)).ok());
  ASSERT_TRUE(Part("b", ids[3], 2, Pattern(1000)).ok());
  EXPECT_EQ(BlobFilesOnDisk().size(), 2u);
  EXPECT_EQ(store_->AbortMultipartUpload("bkt", "a/1", ids[3]).detail(), "NoSuchUpload");
  ASSERT_TRUE(store_->AbortMultipartUpload("bkt", "b", ids[3]).ok());
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  EXPECT_EQ(store_->AbortMultipartUpload("bkt", "b", ids[3]).detail(), "NoSuchUpload");
  EXPECT_EQ(store_->ListMultipartUploads("bkt", {})->uploads.size(), 3u);
  EXPECT_EQ(store_->ListMultipartUploads("nobkt", {}).status().detail(), "NoSuchBucket");
}

// With a delimiter, uploads under one prefix roll up into a common prefix that
// counts once against max-uploads, and paging resumes after it.
TEST_F(MultipartTest, ListUploadsRollsUpCommonPrefixesAcrossPages) {
  for (const char* key : {"a/1", "a/2", "b", "c/x/1", "c/y", "d"}) Begin(key);
  ListUploadsRequest request;
  request.delimiter = "/";
  auto all = store_->ListMultipartUploads("bkt", request);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->common_prefixes, (std::vector<std::string>{"a/", "c/"}));
  ASSERT_EQ(all->uploads.size(), 2u);
  EXPECT_EQ(all->uploads[0].key, "b");
  EXPECT_EQ(all->uploads[1].key, "d");
  EXPECT_FALSE(all->truncated);

  std::vector<std::string> entries;
  request.max_uploads = 1;
  for (int page = 0; page < 10; ++page) {
    auto listed = store_->ListMultipartUploads("bkt", request);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->uploads.size() + listed->common_prefixes.size(), 1u);
    entries.push_back(listed->uploads.empty() ? listed->common_prefixes[0]
                                              : listed->uploads[0].key);
    if (!listed->truncated) break;
    request.key_marker = listed->next_key_marker;
    request.upload_id_marker = listed->next_upload_id_marker;
  }
  EXPECT_EQ(entries, (std::vector<std::string>{"a/", "b", "c/", "d"}));

  request = {};
  request.prefix = "c/";
  request.delimiter = "/";
  auto nested = store_->ListMultipartUploads("bkt", request);
  EXPECT_EQ(nested->common_prefixes, (std::vector<std::string>{"c/x/"}));
  ASSERT_EQ(nested->uploads.size(), 1u);
  EXPECT_EQ(nested->uploads[0].key, "c/y");
}

TEST_F(MultipartTest, CompleteOverwritesExistingObject) {
  ASSERT_TRUE(Put("bkt", "k", Pattern(200000)).ok());
  const std::string id = Begin("k");
  auto part = Part("k", id, 1, "new");
  ASSERT_TRUE(Complete("k", id, {{1, part->etag, {}}}).ok());
  EXPECT_EQ(*Get("bkt", "k"), "new");
  EXPECT_EQ(BlobFilesOnDisk().size(), 1u);
}

TEST_F(MultipartTest, CopyOfMultipartObjectGetsPlainEtag) {
  const std::string id = Begin("k");
  auto part = Part("k", id, 1, "content");
  ASSERT_TRUE(Complete("k", id, {{1, part->etag, {}}}).ok());
  auto copy = store_->CopyObject("bkt", "k", "bkt", "copy", {}, false, {}, {});
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(copy->etag, Md5Hex("content"));
  EXPECT_EQ(copy->parts_count, 0);
}

// Part boundaries are recorded at completion (schema v3) and serve
// GetObjectPart after a restart.
TEST_F(MultipartTest, PartSizesSurviveReopen) {
  const std::string id = Begin("three");
  const std::string p1(kFiveMiB, 'a'), p2(kFiveMiB, 'b');
  auto part1 = Part("three", id, 1, p1);
  auto part2 = Part("three", id, 2, p2);
  auto part3 = Part("three", id, 3, "end");
  ASSERT_TRUE(part1.ok() && part2.ok() && part3.ok());
  auto meta =
      Complete("three", id, {{1, part1->etag, {}}, {2, part2->etag, {}}, {3, part3->etag, {}}});
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  Reopen();

  auto second = store_->GetObjectPart("bkt", "three", 2, {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(second->range.has_value());
  EXPECT_EQ(second->range->first, kFiveMiB);
  EXPECT_EQ(second->range->last, 2 * kFiveMiB - 1);
  EXPECT_EQ(second->meta.etag, meta->etag);
  EXPECT_EQ(second->meta.parts_count, 3);
  EXPECT_TRUE(ReadAll(*second) == p2);
  auto third = store_->GetObjectPart("bkt", "three", 3, {});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(ReadAll(*third), "end");
  EXPECT_EQ(store_->GetObjectPart("bkt", "three", 4, {}).status().detail(), "InvalidPartNumber");
  EXPECT_EQ(store_->GetObjectPart("bkt", "three", 0, {}).status().detail(), "InvalidArgument");
  Conditions stale;
  stale.if_match = "0123";
  EXPECT_EQ(store_->GetObjectPart("bkt", "three", 1, stale).status().code(),
            Code::kPreconditionFailed);
}

TEST_F(MultipartTest, OverwriteAndDeleteDropPartSizes) {
  const auto recorded = [&] {
    int64_t rows = -1;
    EXPECT_TRUE(db_->Read([&](db::Conn& conn) -> Status {
                     IMGBATCH_ASSIGN_OR_RETURN(auto q,
                                               conn.Prepare("SELECT COUNT(*) FROM object_parts"));
                     IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
                     if (row) rows = q.ColumnInt(0);
                     return Status::Ok();
                   })
                    .ok());
    return rows;
  };
  const auto complete_two_parts = [&](const std::string& key) {
    const std::string id = Begin(key);
    auto part1 = Part(key, id, 1, std::string(kFiveMiB, 'x'));
    auto part2 = Part(key, id, 2, "y");
    ASSERT_TRUE(part1.ok() && part2.ok());
    ASSERT_TRUE(Complete(key, id, {{1, part1->etag, {}}, {2, part2->etag, {}}}).ok());
  };
  complete_two_parts("k");
  EXPECT_EQ(recorded(), 1);
  ASSERT_TRUE(Put("bkt", "k", "plain").ok());
  EXPECT_EQ(recorded(), 0);
  // Now a plain object: one part, the whole object.
  auto whole = store_->GetObjectPart("bkt", "k", 1, {});
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(whole->range.has_value());
  EXPECT_EQ(ReadAll(*whole), "plain");
  EXPECT_EQ(store_->GetObjectPart("bkt", "k", 2, {}).status().detail(), "InvalidPartNumber");

  complete_two_parts("k");
  ASSERT_TRUE(store_->DeleteObject("bkt", "k", {}).ok());
  EXPECT_EQ(recorded(), 0);
  complete_two_parts("k");
  ASSERT_TRUE(store_->DeleteObjects("bkt", {"k"}, {}).ok());
  EXPECT_EQ(recorded(), 0);
  EXPECT_EQ(store_->GetObjectPart("bkt", "k", 1, {}).status().detail(), "NoSuchKey");
}

// GetObjectAttributes' ObjectParts: each part's number as uploaded (parts
// may skip numbers), size and checksum, until the key is overwritten.
TEST_F(MultipartTest, ListObjectPartsGivesNumbersSizesAndChecksums) {
  PutOptions options;
  options.checksum_algorithm = ChecksumAlgorithm::kSha256;
  const std::string id = Begin("k", options);
  auto first = Part("k", id, 2, std::string(kFiveMiB, 'a'));
  auto last = Part("k", id, 5, "tail");
  ASSERT_TRUE(first.ok() && last.ok());
  ASSERT_TRUE(Complete("k", id, {{2, first->etag, {}}, {5, last->etag, {}}}).ok());
  auto parts = store_->ListObjectParts("bkt", "k");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].part_number, 2);
  EXPECT_EQ((*parts)[0].size, kFiveMiB);
  EXPECT_EQ((*parts)[0].checksums.sha256, first->checksums.sha256);
  EXPECT_EQ((*parts)[1].part_number, 5);
  EXPECT_EQ((*parts)[1].size, 4u);
  EXPECT_EQ((*parts)[1].checksums.sha256, Base64Encode(Sha256("tail")));
  EXPECT_FALSE((*parts)[1].checksums.crc64nvme.has_value());
  Reopen();
  EXPECT_EQ(store_->ListObjectParts("bkt", "k")->size(), 2u);

  // Completed before v6: numbered in order, without checksums.
  ASSERT_TRUE(db_->Write([](db::Txn& txn) {
                   return txn.Exec("UPDATE object_parts SET numbers_checksums = NULL");
                 })
                  .ok());
  parts = store_->ListObjectParts("bkt", "k");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[1].part_number, 2);
  EXPECT_EQ((*parts)[1].size, 4u);
  EXPECT_FALSE((*parts)[1].checksums.sha256.has_value());

  ASSERT_TRUE(Put("bkt", "k", "plain").ok());
  EXPECT_TRUE(store_->ListObjectParts("bkt", "k")->empty());
  EXPECT_EQ(store_->ListObjectParts("bkt", "missing").status().detail(), "NoSuchKey");
  EXPECT_EQ(store_->ListObjectParts("nobucket", "k").status().detail(), "NoSuchBucket");
}

// A multipart object completed before v3 has no recorded sizes: refused
// clearly rather than answered with wrong bytes.
TEST_F(MultipartTest, PartOfObjectWithoutRecordedSizesIsNotImplemented) {
  const std::string id = Begin("old");
  auto part = Part("old", id, 1, "only");
  ASSERT_TRUE(part.ok());
  ASSERT_TRUE(Complete("old", id, {{1, part->etag, {}}}).ok());
  ASSERT_TRUE(db_->Write([](db::Txn& txn) { return txn.Exec("DELETE FROM object_parts"); }).ok());
  auto got = store_->GetObjectPart("bkt", "old", 1, {});
  EXPECT_EQ(got.status().code(), Code::kUnsupported);
  EXPECT_EQ(got.status().detail(), "NotImplemented");
}

}  // namespace
}  // namespace imgbatch::store
