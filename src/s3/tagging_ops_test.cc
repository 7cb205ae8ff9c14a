// Object and bucket tagging through the handler: the ?tagging operations,
// x-amz-tagging on PutObject, CopyObject and CreateMultipartUpload, and the
// tag rules.
#include <string>
#include <utility>
#include <vector>

#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

using TagList = std::vector<std::pair<std::string, std::string>>;

class TaggingOpsTest : public S3Fixture {
 protected:
  void SetUp() override { CreateBucket("tags"); }

  static http::Headers Tagging(const std::string& value) {
    http::Headers h;
    h.Add("x-amz-tagging", value);
    return h;
  }
  // Get(Object|Bucket)Tagging's pairs, in document order; "" is the bucket.
  TagList TagsOf(const std::string& key) {
    auto ex = Call("GET", (key.empty() ? "/tags" : "/tags/" + key) + "?tagging");
    EXPECT_EQ(ex->response().status, 200) << ex->BodyText();
    auto doc = Xml(ex->BodyText());
    TagList tags;
    for (auto tag : doc.child("Tagging").child("TagSet").children("Tag")) {
      tags.emplace_back(tag.child_value("Key"), tag.child_value("Value"));
    }
    return tags;
  }
  static std::string TaggingXml(const TagList& tags) {
    std::string xml = "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>";
    for (const auto& [key, value] : tags) {
      xml += "<Tag><Key>" + key + "</Key><Value>" + value + "</Value></Tag>";
    }
    return xml + "</TagSet></Tagging>";
  }
};

TEST_F(TaggingOpsTest, PutWithTaggingThenReadReplaceAndDelete) {
  Put("tags", "k", "body", Tagging("stage=raw&note=two%20words&empty="));
  EXPECT_EQ(TagsOf("k"), (TagList{{"stage", "raw"}, {"note", "two words"}, {"empty", ""}}));
  EXPECT_EQ(Header(*Call("HEAD", "/tags/k"), "x-amz-tagging-count"), "3");
  EXPECT_EQ(Header(*Call("GET", "/tags/k"), "x-amz-tagging-count"), "3");

  auto put = Call("PUT", "/tags/k?tagging", {}, TaggingXml({{"stage", "done"}}));
  EXPECT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(TagsOf("k"), (TagList{{"stage", "done"}}));
  EXPECT_EQ(Call("GET", "/tags/k")->BodyText(), "body");

  auto del = Call("DELETE", "/tags/k?tagging");
  EXPECT_EQ(del->response().status, 204);
  EXPECT_TRUE(TagsOf("k").empty());
  EXPECT_EQ(Header(*Call("HEAD", "/tags/k"), "x-amz-tagging-count"), "");
  EXPECT_EQ(ObjectCount("tags"), 1u);  // the object itself stays
}

TEST_F(TaggingOpsTest, MissingObjectsAndBadDocuments) {
  EXPECT_EQ(ErrorCode(*Call("GET", "/tags/none?tagging")), "NoSuchKey");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/none?tagging", {}, TaggingXml({{"a", "b"}}))),
            "NoSuchKey");
  EXPECT_EQ(ErrorCode(*Call("DELETE", "/tags/none?tagging")), "NoSuchKey");
  Put("tags", "k", "body");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/k?tagging", {}, "<Tagging><TagSet>")), "MalformedXML");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/k?tagging", {}, "<Tagging/>")), "MalformedXML");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/k?tagging", {},
                            "<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>")),
            "MalformedXML");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/k?tagging", {}, TaggingXml({{"k", "v&#1;"}}))),
            "MalformedXML");  // not XML text once decoded
}

TEST_F(TaggingOpsTest, BucketTagsAreReplacedWholeAndAbsentIsNoSuchTagSet) {
  auto none = Call("GET", "/tags?tagging");
  EXPECT_EQ(none->response().status, 404);
  EXPECT_EQ(ErrorCode(*none), "NoSuchTagSet");
  auto put = Call("PUT", "/tags?tagging", {}, TaggingXml({{"team", "imaging"}, {"cost", ""}}));
  EXPECT_EQ(put->response().status, 204) << put->BodyText();
  EXPECT_EQ(TagsOf(""), (TagList{{"team", "imaging"}, {"cost", ""}}));
  ASSERT_EQ(Call("PUT", "/tags?tagging", {}, TaggingXml({{"team", "infra"}}))->response().status,
            204);
  EXPECT_EQ(TagsOf(""), (TagList{{"team", "infra"}}));
  // Bucket tags are not object tags.
  Put("tags", "k", "body");
  EXPECT_TRUE(TagsOf("k").empty());

  EXPECT_EQ(Call("DELETE", "/tags?tagging")->response().status, 204);
  EXPECT_EQ(ErrorCode(*Call("GET", "/tags?tagging")), "NoSuchTagSet");
  EXPECT_EQ(Call("DELETE", "/tags?tagging")->response().status, 204);  // none left: still 204
  // An empty TagSet removes them too.
  ASSERT_EQ(Call("PUT", "/tags?tagging", {}, TaggingXml({{"a", "b"}}))->response().status, 204);
  ASSERT_EQ(Call("PUT", "/tags?tagging", {}, TaggingXml({}))->response().status, 204);
  EXPECT_EQ(ErrorCode(*Call("GET", "/tags?tagging")), "NoSuchTagSet");

  EXPECT_EQ(ErrorCode(*Call("GET", "/nobucket?tagging")), "NoSuchBucket");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/nobucket?tagging", {}, TaggingXml({{"a", "b"}}))),
            "NoSuchBucket");
  EXPECT_EQ(ErrorCode(*Call("DELETE", "/nobucket?tagging")), "NoSuchBucket");
}

TEST_F(TaggingOpsTest, BucketTagRules) {
  TagList fifty;
  for (int i = 0; i < 50; ++i) fifty.emplace_back("k" + std::to_string(i), "v");
  EXPECT_EQ(Call("PUT", "/tags?tagging", {}, TaggingXml(fifty))->response().status, 204);
  fifty.emplace_back("k50", "v");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags?tagging", {}, TaggingXml(fifty))), "InvalidTag");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags?tagging", {}, TaggingXml({{"aws:cost", "v"}}))),
            "InvalidTag");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags?tagging", {}, TaggingXml({{"a", "1"}, {"a", "2"}}))),
            "InvalidTag");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags?tagging", {}, "<Tagging><TagSet>")), "MalformedXML");
  fifty.pop_back();
  EXPECT_EQ(TagsOf("").size(), 50u);  // the refused sets changed nothing
  EXPECT_EQ(ErrorCode(*Call("POST", "/tags?tagging")), "NotImplemented");
}

// S3's rules, for the header and the document alike; a refused PutObject
// stores nothing.
TEST_F(TaggingOpsTest, TagRules) {
  const std::string long_key(129, 'k');
  const std::string long_value(257, 'v');
  std::string eleven;
  for (int i = 0; i < 11; ++i) eleven += (i ? "&k" : "k") + std::to_string(i) + "=v";
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"a=1&a=2", "InvalidTag"},
      {long_key + "=v", "InvalidTag"},
      {"k=" + long_value, "InvalidTag"},
      {"aws%3Aname=v", "InvalidTag"},
      {"=v", "InvalidTag"},
      {"k=%3Cscript%3E", "InvalidTag"},
      {eleven, "BadRequest"},
  };
  for (const auto& [header, code] : refused) {
    EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/refused", Tagging(header), "body")), code) << header;
  }
  EXPECT_EQ(ObjectCount("tags"), 0u);
  // At the limits, and letters of any script, are fine.
  const std::string fine = std::string(128, 'k') + "=" + std::string(256, 'v') +
                           "&%C3%A9t%C3%A9=caf%C3%A9&a_b.c%3Ad%2Fe=f%2Bg-h%40i";
  auto put = Call("PUT", "/tags/fine", Tagging(fine), "body");
  EXPECT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(TagsOf("fine").size(), 3u);
  EXPECT_EQ(TagsOf("fine")[1],
            (std::pair<std::string, std::string>{"\xC3\xA9t\xC3\xA9", "caf\xC3\xA9"}));
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/fine?tagging", {}, TaggingXml({{"x", "1"}, {"x", "2"}}))),
            "InvalidTag");
  EXPECT_EQ(TagsOf("fine").size(), 3u);
}

TEST_F(TaggingOpsTest, CopyKeepsOrReplacesTags) {
  Put("tags", "src", "body", Tagging("origin=upload"));
  http::Headers copy;
  copy.Add("x-amz-copy-source", "/tags/src");
  copy.Add("x-amz-metadata-directive", "REPLACE");  // the tags are kept all the same
  ASSERT_EQ(Call("PUT", "/tags/kept", copy)->response().status, 200);
  EXPECT_EQ(TagsOf("kept"), (TagList{{"origin", "upload"}}));

  http::Headers replace;
  replace.Add("x-amz-copy-source", "/tags/src");
  replace.Add("x-amz-tagging-directive", "REPLACE");
  replace.Add("x-amz-tagging", "origin=copy");
  ASSERT_EQ(Call("PUT", "/tags/replaced", replace)->response().status, 200);
  EXPECT_EQ(TagsOf("replaced"), (TagList{{"origin", "copy"}}));

  http::Headers cleared;
  cleared.Add("x-amz-copy-source", "/tags/src");
  cleared.Add("x-amz-tagging-directive", "REPLACE");
  ASSERT_EQ(Call("PUT", "/tags/cleared", cleared)->response().status, 200);
  EXPECT_TRUE(TagsOf("cleared").empty());

  http::Headers bad;
  bad.Add("x-amz-copy-source", "/tags/src");
  bad.Add("x-amz-tagging-directive", "MERGE");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/bad", bad)), "InvalidArgument");
}

TEST_F(TaggingOpsTest, MultipartUploadsCarryTheirTags) {
  auto created = Call("POST", "/tags/mpu?uploads", Tagging("batch=7"));
  ASSERT_EQ(created->response().status, 200);
  const std::string id =
      Xml(created->BodyText()).child("InitiateMultipartUploadResult").child_value("UploadId");
  auto part = Call("PUT", "/tags/mpu?partNumber=1&uploadId=" + id, {}, "only part");
  const std::string etag = Header(*part, "ETag");
  auto done = Call("POST", "/tags/mpu?uploadId=" + id, {},
                   "<CompleteMultipartUpload><Part><ETag>" + etag +
                       "</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>");
  ASSERT_EQ(done->response().status, 200) << done->BodyText();
  EXPECT_EQ(TagsOf("mpu"), (TagList{{"batch", "7"}}));
  EXPECT_EQ(ErrorCode(*Call("POST", "/tags/bad?uploads", Tagging("aws:x=1"))), "InvalidTag");
}

TEST_F(TaggingOpsTest, KeysNeedTheTaggingActions) {
  Put("tags", "k", "body");
  http::Headers as_reader;
  as_reader.Add("Authorization", "fake reader");
  auth_->Grant("reader", "s3:GetObject", "arn:aws:s3:::tags/*");
  EXPECT_EQ(ErrorCode(*Call("GET", "/tags/k?tagging", as_reader)), "AccessDenied");
  auth_->Grant("reader", "s3:GetObjectTagging", "arn:aws:s3:::tags/*");
  EXPECT_EQ(Call("GET", "/tags/k?tagging", as_reader)->response().status, 200);
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/k?tagging", as_reader, TaggingXml({{"a", "b"}}))),
            "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("DELETE", "/tags/k?tagging", as_reader)), "AccessDenied");

  // A write that sets tags needs s3:PutObjectTagging too; one without does not.
  http::Headers as_writer;
  as_writer.Add("Authorization", "fake writer");
  auth_->Grant("writer", "s3:PutObject", "arn:aws:s3:::tags/*");
  http::Headers tagged_writer = as_writer;
  tagged_writer.Add("x-amz-tagging", "a=b");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/w", tagged_writer, "body")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("POST", "/tags/w?uploads", tagged_writer)), "AccessDenied");
  EXPECT_EQ(Call("PUT", "/tags/w", as_writer, "body")->response().status, 200);
  auth_->Grant("writer", "s3:PutObjectTagging", "arn:aws:s3:::tags/*");
  EXPECT_EQ(Call("PUT", "/tags/w", tagged_writer, "body")->response().status, 200);

  // A copy that keeps the source's tags needs s3:GetObjectTagging on it
  // when it has some; an untagged source needs nothing more.
  auth_->Grant("writer", "s3:GetObject", "arn:aws:s3:::tags/*");
  http::Headers copy_tagged = as_writer;
  copy_tagged.Add("x-amz-copy-source", "/tags/w");  // tagged a=b
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags/copy", copy_tagged)), "AccessDenied");
  http::Headers copy_plain = as_writer;
  copy_plain.Add("x-amz-copy-source", "/tags/k");  // no tags
  EXPECT_EQ(Call("PUT", "/tags/copy", copy_plain)->response().status, 200);
  auth_->Grant("writer", "s3:GetObjectTagging", "arn:aws:s3:::tags/*");
  EXPECT_EQ(Call("PUT", "/tags/copy", copy_tagged)->response().status, 200);
}

// DeleteBucketTagging has no action of its own: it is s3:PutBucketTagging.
TEST_F(TaggingOpsTest, BucketTaggingNeedsTheBucketTaggingActions) {
  ASSERT_EQ(Call("PUT", "/tags?tagging", {}, TaggingXml({{"a", "b"}}))->response().status, 204);
  http::Headers as_user;
  as_user.Add("Authorization", "fake user");
  auth_->Grant("user", "s3:GetObjectTagging", "arn:aws:s3:::tags/*");
  auth_->Grant("user", "s3:PutObjectTagging", "arn:aws:s3:::tags/*");
  EXPECT_EQ(ErrorCode(*Call("GET", "/tags?tagging", as_user)), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("DELETE", "/tags?tagging", as_user)), "AccessDenied");
  auth_->Grant("user", "s3:GetBucketTagging", "arn:aws:s3:::tags");
  EXPECT_EQ(Call("GET", "/tags?tagging", as_user)->response().status, 200);
  EXPECT_EQ(ErrorCode(*Call("PUT", "/tags?tagging", as_user, TaggingXml({{"c", "d"}}))),
            "AccessDenied");
  auth_->Grant("user", "s3:PutBucketTagging", "arn:aws:s3:::tags");
  EXPECT_EQ(Call("PUT", "/tags?tagging", as_user, TaggingXml({{"c", "d"}}))->response().status,
            204);
  EXPECT_EQ(Call("DELETE", "/tags?tagging", as_user)->response().status, 204);
}

}  // namespace
}  // namespace imgbatch::s3::testing
