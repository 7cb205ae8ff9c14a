// GetObjectAttributes through the handler.
#include <string>

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
  auto created = Call("POST", "/attrs/mpu?uploads");
  const std::string id =
      Xml(created->BodyText()).child("InitiateMultipartUploadResult").child_value("UploadId");
  const std::string first(5 << 20, 'a');
  auto p1 = Call("PUT", "/attrs/mpu?partNumber=1&uploadId=" + id, {}, first);
  auto p2 = Call("PUT", "/attrs/mpu?partNumber=2&uploadId=" + id, {}, "tail");
  auto done =
      Call("POST", "/attrs/mpu?uploadId=" + id, {},
           "<CompleteMultipartUpload><Part><ETag>" + Header(*p1, "ETag") +
               "</ETag><PartNumber>1</PartNumber></Part><Part><ETag>" + Header(*p2, "ETag") +
               "</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>");
  ASSERT_EQ(done->response().status, 200) << done->BodyText();
  auto doc = Xml(Attributes("mpu", "ObjectParts,ETag,Checksum")->BodyText());
  auto root = doc.child("GetObjectAttributesResponse");
  EXPECT_EQ(std::string(root.child("ObjectParts").child_value("PartsCount")), "2");
  EXPECT_TRUE(std::string(root.child_value("ETag")).ends_with("-2"));
  // The default CRC64NVME, combined from the parts: the whole object's.
  EXPECT_EQ(std::string(root.child("Checksum").child_value("ChecksumCRC64NVME")),
            Base64Encode(Crc64Bytes(Crc64Nvme(first + "tail"))));
  EXPECT_EQ(std::string(root.child("Checksum").child_value("ChecksumType")), "FULL_OBJECT");
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
