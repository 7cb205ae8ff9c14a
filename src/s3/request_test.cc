// Addressing, operation selection and IAM permissions (pure functions).
#include "s3/request.h"

#include <gtest/gtest.h>

#include "http/testing.h"
#include "s3/request_xml.h"

namespace imgbatch::s3 {
namespace {

Result<S3Request> Parse(const std::string& method, const std::string& target,
                        const std::string& host = "localhost:4566", http::Headers headers = {}) {
  static std::vector<std::unique_ptr<http::FakeExchange>> keep;  // heads must outlive requests
  headers.Add("Host", host);
  keep.push_back(std::make_unique<http::FakeExchange>(method, target, std::move(headers)));
  return ParseRequest(keep.back()->head(), "localhost");
}

TEST(RequestTest, PathStyleDecodesBucketAndKey) {
  auto r = Parse("GET", "/bkt/dir/a%20b%2Bc//x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bucket, "bkt");
  EXPECT_EQ(r->key, "dir/a b+c//x");
  EXPECT_FALSE(r->virtual_host);
  EXPECT_EQ(r->op, Op::kGetObject);
  EXPECT_EQ(r->Resource(), "/bkt/dir/a b+c//x");
}

TEST(RequestTest, VirtualHostStyle) {
  auto r = Parse("PUT", "/k", "my.bucket.localhost:4566");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bucket, "my.bucket");
  EXPECT_EQ(r->key, "k");
  EXPECT_TRUE(r->virtual_host);
  auto root = Parse("GET", "/", "bkt.localhost");
  EXPECT_EQ(root->op, Op::kListObjectsV1);
  auto plain = Parse("GET", "/", "localhost");
  EXPECT_EQ(plain->op, Op::kListBuckets);
  auto ip = Parse("GET", "/b/k", "127.0.0.1:4566");
  EXPECT_EQ(ip->bucket, "b");
}

TEST(RequestTest, OperationSelection) {
  struct Case {
    const char* method;
    const char* target;
    Op op;
  };
  http::Headers copy;
  copy.Add("x-amz-copy-source", "/a/b");
  for (const Case& c : {
           Case{"GET", "/", Op::kListBuckets},
           Case{"PUT", "/b", Op::kCreateBucket},
           Case{"DELETE", "/b", Op::kDeleteBucket},
           Case{"HEAD", "/b", Op::kHeadBucket},
           Case{"GET", "/b?location", Op::kGetBucketLocation},
           Case{"GET", "/b?versioning", Op::kGetBucketVersioning},
           Case{"GET", "/b?versions", Op::kListObjectVersions},
           Case{"PUT", "/b?cors", Op::kPutBucketCors},
           Case{"GET", "/b?cors", Op::kGetBucketCors},
           Case{"DELETE", "/b?cors", Op::kDeleteBucketCors},
           Case{"OPTIONS", "/b/k", Op::kPreflight},
           Case{"GET", "/b", Op::kListObjectsV1},
           Case{"GET", "/b?list-type=2", Op::kListObjectsV2},
           Case{"POST", "/b?delete", Op::kDeleteObjects},
           Case{"PUT", "/b/k", Op::kPutObject},
           Case{"PUT", "/b/k?x-id=PutObject", Op::kPutObject},
           Case{"GET", "/b/k", Op::kGetObject},
           Case{"HEAD", "/b/k", Op::kHeadObject},
           Case{"DELETE", "/b/k", Op::kDeleteObject},
           Case{"POST", "/b/k?uploads", Op::kCreateMultipartUpload},
           Case{"PUT", "/b/k?partNumber=1&uploadId=u", Op::kUploadPart},
           Case{"POST", "/b/k?uploadId=u", Op::kCompleteMultipartUpload},
           Case{"DELETE", "/b/k?uploadId=u", Op::kAbortMultipartUpload},
           Case{"GET", "/b/k?uploadId=u", Op::kListParts},
           Case{"GET", "/b?uploads", Op::kListMultipartUploads},
           Case{"GET", "/b?acl", Op::kGetBucketUnconfigured},
           Case{"GET", "/b?website", Op::kGetBucketUnconfigured},
           Case{"GET", "/b?policy", Op::kGetBucketPolicy},
           Case{"PUT", "/b?policy", Op::kPutBucketPolicy},
           Case{"GET", "/b?policyStatus", Op::kGetBucketPolicyStatus},
           Case{"PUT", "/b?policyStatus", Op::kNotImplemented},
           Case{"PUT", "/b/k?policy", Op::kNotImplemented},
           Case{"GET", "/b/k?acl", Op::kGetObjectAcl},
           Case{"PUT", "/b?acl", Op::kPutBucketAcl},
           Case{"PUT", "/b/k?acl", Op::kPutObjectAcl},
           Case{"DELETE", "/b?acl", Op::kNotImplemented},
           Case{"POST", "/b/k?acl", Op::kNotImplemented},
           Case{"DELETE", "/b?policy", Op::kDeleteBucketPolicy},
           Case{"GET", "/b?inventory", Op::kNotImplemented},
           Case{"GET", "/?acl", Op::kNotImplemented},
           Case{"PUT", "/b/k?tagging", Op::kPutObjectTagging},
           Case{"GET", "/b/k?tagging", Op::kGetObjectTagging},
           Case{"DELETE", "/b/k?tagging", Op::kDeleteObjectTagging},
           Case{"POST", "/b/k?tagging", Op::kNotImplemented},
           Case{"GET", "/b?tagging", Op::kGetBucketTagging},
           Case{"PUT", "/b?tagging", Op::kPutBucketTagging},
           Case{"DELETE", "/b?tagging", Op::kDeleteBucketTagging},
           Case{"POST", "/b?tagging", Op::kNotImplemented},
           Case{"GET", "/?tagging", Op::kNotImplemented},
           Case{"GET", "/b/k?attributes", Op::kGetObjectAttributes},
           Case{"HEAD", "/b/k?attributes", Op::kNotImplemented},
           Case{"GET", "/b?attributes", Op::kNotImplemented},
           Case{"GET", "/b?notification", Op::kGetBucketNotification},
           Case{"PUT", "/b?notification", Op::kPutBucketNotification},
           Case{"DELETE", "/b?notification", Op::kNotImplemented},
           Case{"PUT", "/b/k?notification", Op::kNotImplemented},
           Case{"POST", "/b/k", Op::kMethodNotAllowed},
           Case{"PATCH", "/b/k", Op::kMethodNotAllowed},
       }) {
    auto r = Parse(c.method, c.target);
    ASSERT_TRUE(r.ok()) << c.target;
    EXPECT_EQ(r->op, c.op) << c.method << " " << c.target << " got " << OpName(r->op);
  }
  EXPECT_EQ(Parse("PUT", "/b/k", "localhost", copy)->op, Op::kCopyObject);
  EXPECT_EQ(Parse("PUT", "/b/k?partNumber=2&uploadId=u", "localhost", copy)->op,
            Op::kUploadPartCopy);
}

TEST(RequestTest, PermissionsUseIamActionsAndArns) {
  auto get = Parse("GET", "/b/dir/k");
  Permission p = RequiredPermission(*get);
  EXPECT_EQ(p.action, "s3:GetObject");
  EXPECT_EQ(p.resource, "arn:aws:s3:::b/dir/k");
  EXPECT_EQ(RequiredPermission(*Parse("HEAD", "/b/k")).action, "s3:GetObject");
  EXPECT_EQ(RequiredPermission(*Parse("HEAD", "/b")).action, "s3:ListBucket");
  EXPECT_EQ(RequiredPermission(*Parse("GET", "/b?list-type=2")).resource, "arn:aws:s3:::b");
  EXPECT_EQ(RequiredPermission(*Parse("GET", "/")).action, "s3:ListAllMyBuckets");
  EXPECT_EQ(RequiredPermission(*Parse("PUT", "/b/k?partNumber=1&uploadId=u")).action,
            "s3:PutObject");
  EXPECT_EQ(RequiredPermission(*Parse("DELETE", "/b/k?uploadId=u")).action,
            "s3:AbortMultipartUpload");
  EXPECT_EQ(RequiredPermission(*Parse("PUT", "/b")).action, "s3:CreateBucket");
}

TEST(RequestTest, MalformedEscapeIsInvalidUri) {
  auto r = Parse("GET", "/b/%G1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().detail(), "InvalidURI");
}

TEST(RequestXmlTest, CompleteMultipartUpload) {
  auto parts = ParseCompleteMultipartUpload(
      "<CompleteMultipartUpload><Part><PartNumber> 1 </PartNumber><ETag>\"abc\"</ETag>"
      "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].part_number, 1);
  EXPECT_EQ((*parts)[0].etag, "\"abc\"");
  EXPECT_EQ((*parts)[0].checksums.crc32, "AAAAAA==");
  auto out_of_range = ParseCompleteMultipartUpload(
      "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>x</ETag></Part>"
      "</CompleteMultipartUpload>");
  EXPECT_EQ(out_of_range.status().detail(), "InvalidArgument");
  EXPECT_EQ(ParseCompleteMultipartUpload("<Other/>").status().detail(), "MalformedXML");
}

TEST(RequestXmlTest, DeleteKeepsKeysExactly) {
  auto request = ParseDeleteObjects(
      "<Delete><Quiet>false</Quiet><Object><Key> spaced </Key></Object>"
      "<Object><Key>a&amp;b</Key><VersionId>null</VersionId></Object></Delete>",
      1000);
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  EXPECT_FALSE(request->quiet);
  EXPECT_EQ(request->keys, (std::vector<std::string>{" spaced ", "a&b"}));
  EXPECT_EQ(
      ParseDeleteObjects("<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>", 1000)
          .status()
          .detail(),
      "MalformedXML");
  EXPECT_EQ(ParseDeleteObjects("<!DOCTYPE x [<!ENTITY e \"x\">]><Delete>&e;</Delete>", 1000)
                .status()
                .detail(),
            "MalformedXML");
}

TEST(S3Arns, PathIsWhatFollowsThePrefix) {
  EXPECT_EQ(S3ArnPath(ObjectArn("b", "k/x")), "b/k/x");
  EXPECT_EQ(S3ArnPath(BucketArn("b")), "b");
  EXPECT_EQ(S3ArnPath("arn:aws:sqs:us-east-1:000000000000:q"), std::nullopt);
}

}  // namespace
}  // namespace imgbatch::s3
