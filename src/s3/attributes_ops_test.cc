// GetObjectAttributes through the handler.
#include <string>
#include <utility>
#include <vector>

#include "common/hashing.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

class AttributesOpsTest : public S3Fixture {
 protected:
  void SetUp() override { CreateBucket("attrs"); }

  std::shared_ptr<http::FakeExchange> Attributes(const std::string& key, const std::string& names,
                                                 http::Headers headers = {}) {
    headers.Add("x-amz-object-attributes", names);
    return Call("GET", "/attrs/" + key + "?attributes", std::move(headers));
  }

  // Uploads the numbered parts (in order) and completes the upload.
  void CompleteUpload(const std::string& key, const http::Headers& create,
                      const std::vector<std::pair<int, std::string>>& parts) {
    auto created = Call("POST", "/attrs/" + key + "?uploads", create);
    const std::string id =
        Xml(created->BodyText()).child("InitiateMultipartUploadResult").child_value("UploadId");
    std::string complete = "<CompleteMultipartUpload>";
    for (const auto& [number, data] : parts) {
      const std::string n = std::to_string(number);
      auto part = Call("PUT", "/attrs/" + key + "?partNumber=" + n + "&uploadId=" + id, {}, data);
      ASSERT_EQ(part->response().status, 200) << part->BodyText();
      complete += "<Part><ETag>" + Header(*part, "ETag") + "</ETag><PartNumber>" + n +
                  "</PartNumber></Part>";
    }
    auto done = Call("POST", "/attrs/" + key + "?uploadId=" + id, {},
                     complete + "</CompleteMultipartUpload>");
    ASSERT_EQ(done->response().status, 200) << done->BodyText();
  }
};

TEST_F(AttributesOpsTest, GivesWhatIsAskedForOfAPlainObject) {
  http::Headers sha;
  sha.Add("x-amz-checksum-sha256", Base64Encode(Sha256("hello")));
  Put("attrs", "k", "hello", sha);
  auto all = Attributes("k", "ETag, Checksum,ObjectParts,StorageClass,ObjectSize");
  ASSERT_EQ(all->response().status, 200) << all->BodyText();
  EXPECT_FALSE(Header(*all, "Last-Modified").empty());
  auto doc = Xml(all->BodyText());  // kept: root points into it
  auto root = doc.child("GetObjectAttributesResponse");
  EXPECT_EQ(std::string(root.child_value("ETag")), Md5Hex("hello"));  // no quotes
  EXPECT_EQ(std::string(root.child("Checksum").child_value("ChecksumSHA256")),
            Base64Encode(Sha256("hello")));
  EXPECT_EQ(std::string(root.child("Checksum").child_value("ChecksumType")), "FULL_OBJECT");
  EXPECT_FALSE(root.child("ObjectParts"));  // not a multipart object
  EXPECT_EQ(std::string(root.child_value("StorageClass")), "STANDARD");
  EXPECT_EQ(std::string(root.child_value("ObjectSize")), "5");

  auto size_only = Xml(Attributes("k", "ObjectSize")->BodyText());
  auto only = size_only.child("GetObjectAttributesResponse");
  EXPECT_EQ(std::string(only.child_value("ObjectSize")), "5");
  EXPECT_FALSE(only.child("ETag"));
  EXPECT_FALSE(only.child("Checksum"));
}

TEST_F(AttributesOpsTest, AMultipartObjectGivesItsPartsCount) {
  const std::string first(5 << 20, 'a');
  CompleteUpload("mpu", {}, {{1, first}, {2, "tail"}});
  auto doc = Xml(Attributes("mpu", "ObjectParts,ETag,Checksum")->BodyText());
  auto root = doc.child("GetObjectAttributesResponse");
  EXPECT_EQ(std::string(root.child("ObjectParts").child_value("PartsCount")), "2");
  EXPECT_TRUE(std::string(root.child_value("ETag")).ends_with("-2"));
  // The default CRC64NVME, combined from the parts: the whole object's.
  EXPECT_EQ(std::string(root.child("Checksum").child_value("ChecksumCRC64NVME")),
            Base64Encode(Crc64Bytes(Crc64Nvme(first + "tail"))));
  EXPECT_EQ(std::string(root.child("Checksum").child_value("ChecksumType")), "FULL_OBJECT");
  // ...and each part's own, since the object has a checksum.
  auto parts = root.child("ObjectParts");
  EXPECT_EQ(std::string(parts.child_value("IsTruncated")), "false");
  EXPECT_EQ(std::string(parts.child_value("MaxParts")), "1000");
  EXPECT_EQ(std::string(parts.child_value("NextPartNumberMarker")), "2");
  std::vector<std::string> crcs;
  for (auto part : parts.children("Part")) crcs.push_back(part.child_value("ChecksumCRC64NVME"));
  EXPECT_EQ(crcs, (std::vector<std::string>{Base64Encode(Crc64Bytes(Crc64Nvme(first))),
                                            Base64Encode(Crc64Bytes(Crc64Nvme("tail")))}));
}

// Parts keep the numbers they were uploaded with, and page as ListParts does.
TEST_F(AttributesOpsTest, PartsAreListedWithTheirChecksumsAndPaged) {
  http::Headers sha;
  sha.Add("x-amz-checksum-algorithm", "SHA256");
  const std::string a(5 << 20, 'a'), b(5 << 20, 'b');
  CompleteUpload("three", sha, {{1, a}, {3, b}, {7, "end"}});
  const auto listed = [&](http::Headers headers) {
    auto ex = Attributes("three", "ObjectParts", std::move(headers));
    EXPECT_EQ(ex->response().status, 200) << ex->BodyText();
    return ex->BodyText();
  };
  auto doc = Xml(listed({}));
  auto parts = doc.child("GetObjectAttributesResponse").child("ObjectParts");
  EXPECT_EQ(std::string(parts.child_value("PartsCount")), "3");
  std::vector<std::string> numbers, sizes, sums;
  for (auto part : parts.children("Part")) {
    numbers.push_back(part.child_value("PartNumber"));
    sizes.push_back(part.child_value("Size"));
    sums.push_back(part.child_value("ChecksumSHA256"));
  }
  EXPECT_EQ(numbers, (std::vector<std::string>{"1", "3", "7"}));
  EXPECT_EQ(sizes,
            (std::vector<std::string>{std::to_string(a.size()), std::to_string(b.size()), "3"}));
  EXPECT_EQ(sums, (std::vector<std::string>{Base64Encode(Sha256(a)), Base64Encode(Sha256(b)),
                                            Base64Encode(Sha256("end"))}));

  http::Headers page;
  page.Add("x-amz-max-parts", "1");
  page.Add("x-amz-part-number-marker", "1");
  auto paged_doc = Xml(listed(page));
  auto paged = paged_doc.child("GetObjectAttributesResponse").child("ObjectParts");
  EXPECT_EQ(std::string(paged.child_value("PartNumberMarker")), "1");
  EXPECT_EQ(std::string(paged.child_value("MaxParts")), "1");
  EXPECT_EQ(std::string(paged.child_value("IsTruncated")), "true");
  EXPECT_EQ(std::string(paged.child_value("NextPartNumberMarker")), "3");
  EXPECT_EQ(std::string(paged.child("Part").child_value("PartNumber")), "3");
  EXPECT_FALSE(paged.child("Part").next_sibling("Part"));

  http::Headers past;
  past.Add("x-amz-part-number-marker", "7");
  auto past_doc = Xml(listed(past));
  auto none = past_doc.child("GetObjectAttributesResponse").child("ObjectParts");
  EXPECT_FALSE(none.child("Part"));
  EXPECT_EQ(std::string(none.child_value("IsTruncated")), "false");
  EXPECT_EQ(std::string(none.child_value("PartsCount")), "3");
}

TEST_F(AttributesOpsTest, RefusesWhatS3Refuses) {
  Put("attrs", "k", "hello");
  EXPECT_EQ(ErrorCode(*Call("GET", "/attrs/k?attributes")), "InvalidArgument");  // no header
  EXPECT_EQ(ErrorCode(*Attributes("k", "")), "InvalidArgument");
  EXPECT_EQ(ErrorCode(*Attributes("k", "ETag,Owner")), "InvalidArgument");
  http::Headers bad_max;
  bad_max.Add("x-amz-max-parts", "many");
  EXPECT_EQ(ErrorCode(*Attributes("k", "ObjectParts", bad_max)), "InvalidArgument");
  EXPECT_EQ(ErrorCode(*Attributes("missing", "ETag")), "NoSuchKey");
  EXPECT_EQ(ErrorCode(*Call("GET", "/attrs/k?attributes&versionId=v1",
                            [] {
                              http::Headers h;
                              h.Add("x-amz-object-attributes", "ETag");
                              return h;
                            }())),
            "InvalidArgument");
  // S3 wants s3:GetObjectAttributes besides s3:GetObject.
  auth_->Grant("reader", "s3:GetObject", "arn:aws:s3:::attrs/*");
  http::Headers as_reader;
  as_reader.Add("Authorization", "fake reader");
  EXPECT_EQ(ErrorCode(*Attributes("k", "ETag", as_reader)), "AccessDenied");
  auth_->Grant("reader", "s3:GetObjectAttributes", "arn:aws:s3:::attrs/*");
  EXPECT_EQ(Attributes("k", "ETag", as_reader)->response().status, 200);
}

}  // namespace
}  // namespace imgbatch::s3::testing
