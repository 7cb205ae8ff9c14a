// ListObjects V1/V2 and ListObjectVersions: shapes, pagination, delimiter,
// encoding-type=url.
#include "common/hashing.h"
#include "common/strings.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

class ListOpsTest : public S3Fixture {
 protected:
  void SetUp() override {
    CreateBucket("lst");
    for (const char* key : {"a.txt", "dir/1", "dir/2", "dir/sub/3", "e f+g", "z"}) {
      Put("lst", key, key);
    }
  }
  static std::vector<std::string> Values(const pugi::xml_node& root, const char* element,
                                         const char* child) {
    std::vector<std::string> out;
    for (auto n : root.children(element)) out.push_back(n.child_value(child));
    return out;
  }
};

TEST_F(ListOpsTest, V2Shape) {
  auto ex = Call("GET", "/lst?list-type=2&fetch-owner=true");
  ASSERT_EQ(ex->response().status, 200);
  auto doc = Xml(ex->BodyText());
  auto root = doc.child("ListBucketResult");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  EXPECT_EQ(std::string(root.child_value("Name")), "lst");
  EXPECT_EQ(std::string(root.child_value("KeyCount")), "6");
  EXPECT_EQ(std::string(root.child_value("MaxKeys")), "1000");
  EXPECT_EQ(std::string(root.child_value("IsTruncated")), "false");
  EXPECT_FALSE(root.child("NextContinuationToken"));
  auto first = root.child("Contents");
  EXPECT_EQ(std::string(first.child_value("Key")), "a.txt");
  EXPECT_EQ(std::string(first.child_value("ETag")), "\"" + Md5Hex("a.txt") + "\"");
  EXPECT_EQ(std::string(first.child_value("Size")), "5");
  EXPECT_EQ(std::string(first.child_value("StorageClass")), "STANDARD");
  EXPECT_TRUE(first.child("Owner").child("ID"));
  EXPECT_EQ(std::string(first.child_value("LastModified")).size(), 24u);
  // Whole seconds, as HEAD's Last-Modified has them.
  EXPECT_TRUE(std::string(first.child_value("LastModified")).ends_with(".000Z"));
  // Without fetch-owner, V2 has no Owner.
  auto plain = Xml(Call("GET", "/lst?list-type=2")->BodyText());
  EXPECT_FALSE(plain.child("ListBucketResult").child("Contents").child("Owner"));
}

TEST_F(ListOpsTest, V2PaginatesWithDelimiter) {
  std::vector<std::string> keys, prefixes;
  std::string token;
  int pages = 0;
  while (true) {
    std::string target = "/lst?list-type=2&delimiter=%2F&max-keys=2";
    if (!token.empty()) target += "&continuation-token=" + UriEncode(token);
    auto doc = Xml(Call("GET", target)->BodyText());
    auto root = doc.child("ListBucketResult");
    ++pages;
    for (auto& k : Values(root, "Contents", "Key")) keys.push_back(k);
    for (auto& p : Values(root, "CommonPrefixes", "Prefix")) prefixes.push_back(p);
    EXPECT_EQ(std::string(root.child_value("Delimiter")), "/");
    if (std::string(root.child_value("IsTruncated")) != "true") break;
    token = root.child_value("NextContinuationToken");
    ASSERT_FALSE(token.empty());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"a.txt", "e f+g", "z"}));
  EXPECT_EQ(prefixes, (std::vector<std::string>{"dir/"}));
  EXPECT_EQ(pages, 2);
}

TEST_F(ListOpsTest, V2PrefixStartAfterAndNestedDelimiter) {
  auto doc = Xml(Call("GET", "/lst?list-type=2&prefix=dir%2F&delimiter=%2F")->BodyText());
  auto root = doc.child("ListBucketResult");
  EXPECT_EQ(Values(root, "Contents", "Key"), (std::vector<std::string>{"dir/1", "dir/2"}));
  EXPECT_EQ(Values(root, "CommonPrefixes", "Prefix"), (std::vector<std::string>{"dir/sub/"}));
  EXPECT_EQ(std::string(root.child_value("Prefix")), "dir/");
  auto after = Xml(Call("GET", "/lst?list-type=2&start-after=dir%2Fsub%2F3")->BodyText());
  auto aroot = after.child("ListBucketResult");
  EXPECT_EQ(Values(aroot, "Contents", "Key"), (std::vector<std::string>{"e f+g", "z"}));
  EXPECT_EQ(std::string(aroot.child_value("StartAfter")), "dir/sub/3");
}

TEST_F(ListOpsTest, EncodingTypeUrlEncodesKeysAndPrefixes) {
  auto doc = Xml(Call("GET", "/lst?list-type=2&encoding-type=url&prefix=e%20")->BodyText());
  auto root = doc.child("ListBucketResult");
  EXPECT_EQ(std::string(root.child_value("EncodingType")), "url");
  EXPECT_EQ(std::string(root.child_value("Prefix")), "e%20");
  EXPECT_EQ(Values(root, "Contents", "Key"), (std::vector<std::string>{"e%20f%2Bg"}));
  auto v1 = Xml(Call("GET", "/lst?encoding-type=url&delimiter=%2F&prefix=dir%2F")->BodyText());
  EXPECT_EQ(Values(v1.child("ListBucketResult"), "CommonPrefixes", "Prefix"),
            (std::vector<std::string>{"dir/sub/"}));
  EXPECT_EQ(ErrorCode(*Call("GET", "/lst?list-type=2&encoding-type=base64")), "InvalidArgument");
}

TEST_F(ListOpsTest, MaxKeysValidation) {
  auto negative = Call("GET", "/lst?list-type=2&max-keys=-1");
  EXPECT_EQ(negative->response().status, 400);
  EXPECT_EQ(ErrorCode(*negative), "InvalidArgument");
  EXPECT_EQ(ErrorCode(*Call("GET", "/lst?max-keys=ten")), "InvalidArgument");
  auto capped = Xml(Call("GET", "/lst?list-type=2&max-keys=5000")->BodyText());
  EXPECT_EQ(std::string(capped.child("ListBucketResult").child_value("MaxKeys")), "1000");
  auto zero = Xml(Call("GET", "/lst?list-type=2&max-keys=0")->BodyText());
  EXPECT_EQ(std::string(zero.child("ListBucketResult").child_value("KeyCount")), "0");
}

TEST_F(ListOpsTest, BadContinuationTokenIsInvalidArgument) {
  EXPECT_EQ(ErrorCode(*Call("GET", "/lst?list-type=2&continuation-token=%21%21")),
            "InvalidArgument");
}

// An empty continuation-token lists from the start and is echoed; an empty
// delimiter is no delimiter and is left out of the response (both V1 and V2).
TEST_F(ListOpsTest, EmptyTokenAndEmptyDelimiter) {
  auto v2 = Call("GET", "/lst?list-type=2&continuation-token=&delimiter=");
  ASSERT_EQ(v2->response().status, 200) << v2->BodyText();
  auto doc = Xml(v2->BodyText());
  auto root = doc.child("ListBucketResult");
  ASSERT_TRUE(root.child("ContinuationToken"));
  EXPECT_EQ(std::string(root.child_value("ContinuationToken")), "");
  EXPECT_FALSE(root.child("Delimiter"));
  EXPECT_EQ(Values(root, "Contents", "Key").size(), 6u);

  auto v1 = Call("GET", "/lst?delimiter=");
  auto v1_doc = Xml(v1->BodyText());
  EXPECT_FALSE(v1_doc.child("ListBucketResult").child("Delimiter"));
  EXPECT_TRUE(v1_doc.child("ListBucketResult").child("Contents"));
}

TEST_F(ListOpsTest, V1MarkersAndNextMarkerOnlyWithDelimiter) {
  auto doc = Xml(Call("GET", "/lst?max-keys=2")->BodyText());
  auto root = doc.child("ListBucketResult");
  EXPECT_EQ(std::string(root.child_value("IsTruncated")), "true");
  EXPECT_FALSE(root.child("NextMarker"));
  EXPECT_TRUE(root.child("Marker"));
  EXPECT_TRUE(root.child("Contents").child("Owner"));
  EXPECT_EQ(Values(root, "Contents", "Key"), (std::vector<std::string>{"a.txt", "dir/1"}));
  auto next = Xml(Call("GET", "/lst?max-keys=2&marker=dir%2F1")->BodyText());
  EXPECT_EQ(Values(next.child("ListBucketResult"), "Contents", "Key"),
            (std::vector<std::string>{"dir/2", "dir/sub/3"}));

  std::vector<std::string> entries;
  std::string marker;
  for (int page = 0; page < 10; ++page) {
    auto d =
        Xml(Call("GET", "/lst?delimiter=%2F&max-keys=1&marker=" + UriEncode(marker))->BodyText());
    auto r = d.child("ListBucketResult");
    for (auto& k : Values(r, "Contents", "Key")) entries.push_back(k);
    for (auto& p : Values(r, "CommonPrefixes", "Prefix")) entries.push_back(p);
    if (std::string(r.child_value("IsTruncated")) != "true") break;
    marker = r.child_value("NextMarker");
    ASSERT_FALSE(marker.empty());
  }
  EXPECT_EQ(entries, (std::vector<std::string>{"a.txt", "dir/", "e f+g", "z"}));
}

TEST_F(ListOpsTest, ObjectVersionsForAnUnversionedBucket) {
  auto ex = Call("GET", "/lst?versions&prefix=dir%2F&max-keys=2");
  ASSERT_EQ(ex->response().status, 200);
  auto doc = Xml(ex->BodyText());
  auto root = doc.child("ListVersionsResult");
  ASSERT_TRUE(root);
  EXPECT_EQ(Values(root, "Version", "Key"), (std::vector<std::string>{"dir/1", "dir/2"}));
  EXPECT_EQ(Values(root, "Version", "VersionId"), (std::vector<std::string>{"null", "null"}));
  EXPECT_EQ(Values(root, "Version", "IsLatest"), (std::vector<std::string>{"true", "true"}));
  EXPECT_EQ(std::string(root.child_value("IsTruncated")), "true");
  EXPECT_EQ(std::string(root.child_value("NextKeyMarker")), "dir/2");
  auto rest = Xml(Call("GET", "/lst?versions&prefix=dir%2F&key-marker=dir%2F2")->BodyText());
  EXPECT_EQ(Values(rest.child("ListVersionsResult"), "Version", "Key"),
            (std::vector<std::string>{"dir/sub/3"}));
}

TEST_F(ListOpsTest, MissingBucket) {
  auto ex = Call("GET", "/nothere?list-type=2");
  EXPECT_EQ(ex->response().status, 404);
  EXPECT_EQ(ErrorCode(*ex), "NoSuchBucket");
}

}  // namespace
}  // namespace imgbatch::s3::testing
