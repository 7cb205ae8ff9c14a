// Object operations through the handler: Put/Get/Head/Delete, DeleteObjects,
// CopyObject, ranges and conditions, checksums and body verification.
#include <limits>

#include "common/hashing.h"
#include "common/strings.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

class ObjectOpsTest : public S3Fixture {
 protected:
  void SetUp() override { CreateBucket("bkt"); }

  static http::Headers With(std::initializer_list<std::pair<const char*, std::string>> fields) {
    http::Headers headers;
    for (const auto& [name, value] : fields) headers.Add(name, value);
    return headers;
  }
  static std::string Crc32B64(const std::string& data) {
    return Base64Encode(Crc32Bytes(Crc32Update(0, data)));
  }
};

TEST_F(ObjectOpsTest, PutStoresHeadersAndReturnsQuotedEtag) {
  auto put = Call("PUT", "/bkt/dir/photo.jpg",
                  With({{"Content-Type", "image/jpeg"},
                        {"Cache-Control", "max-age=60"},
                        {"Content-Disposition", "inline"},
                        {"Content-Encoding", "gzip"},
                        {"Expires", "Thu, 01 Dec 2030 16:00:00 GMT"},
                        {"x-amz-meta-Camera", "X100"},
                        {"x-amz-meta-a", "1"}}),
                  "jpegbytes");
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(Header(*put, "ETag"), "\"" + Md5Hex("jpegbytes") + "\"");

  auto get = Call("GET", "/bkt/dir/photo.jpg");
  ASSERT_EQ(get->response().status, 200);
  EXPECT_EQ(get->BodyText(), "jpegbytes");
  EXPECT_EQ(Header(*get, "Content-Type"), "image/jpeg");
  EXPECT_EQ(Header(*get, "Cache-Control"), "max-age=60");
  EXPECT_EQ(Header(*get, "Content-Disposition"), "inline");
  EXPECT_EQ(Header(*get, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(*get, "Expires"), "Thu, 01 Dec 2030 16:00:00 GMT");
  EXPECT_EQ(Header(*get, "x-amz-meta-camera"), "X100");
  EXPECT_EQ(Header(*get, "x-amz-meta-a"), "1");
  EXPECT_EQ(Header(*get, "Accept-Ranges"), "bytes");
  EXPECT_EQ(Header(*get, "ETag"), "\"" + Md5Hex("jpegbytes") + "\"");
  EXPECT_TRUE(ParseHttpDate(Header(*get, "Last-Modified")).has_value());
}

// A full disk (the store's free-space reserve reached) is a retryable 503
// with a clear message, not a non-AWS code; nothing is committed.
// A client that names the bucket's expected owner is refused a bucket of
// another account: every bucket here is context_.account_id's.
TEST_F(ObjectOpsTest, ExpectedBucketOwnerMustBeTheAccount) {
  const std::string account = context_.account_id;
  auto put = Call("PUT", "/bkt/k", With({{"x-amz-expected-bucket-owner", account}}), "body");
  EXPECT_EQ(put->response().status, 200) << put->BodyText();
  auto other = Call("PUT", "/bkt/k2", With({{"x-amz-expected-bucket-owner", "111122223333"}}), "x");
  EXPECT_EQ(other->response().status, 403);
  EXPECT_EQ(ErrorCode(*other), "AccessDenied");
  EXPECT_EQ(ObjectCount("bkt"), 1u);
  EXPECT_EQ(ErrorCode(*Call("GET", "/bkt/k", With({{"x-amz-expected-bucket-owner", "1"}}))),
            "AccessDenied");
  auto copy = Call("PUT", "/bkt/copy",
                   With({{"x-amz-copy-source", "/bkt/k"},
                         {"x-amz-source-expected-bucket-owner", "111122223333"}}));
  EXPECT_EQ(ErrorCode(*copy), "AccessDenied");
  auto copied = Call("PUT", "/bkt/copy",
                     With({{"x-amz-copy-source", "/bkt/k"},
                           {"x-amz-source-expected-bucket-owner", account},
                           {"x-amz-expected-bucket-owner", account}}));
  EXPECT_EQ(copied->response().status, 200) << copied->BodyText();
}

TEST_F(ObjectOpsTest, FullDiskAnswersServiceUnavailable) {
  CreateBucket("full");
  store::StoreOptions options;
  options.data_dir = dir_.path();
  options.free_space_reserve = std::numeric_limits<uint64_t>::max() / 2;  // never enough
  auto full = store::ObjectStore::Open(*db_, options, clock_);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  S3Context full_context(**full, auth_);
  handler_ = MakeS3Handler(full_context);
  auto ex = Call("PUT", "/full/big", {}, std::string(100 * 1024, 'x'));  // a blob, not inline
  EXPECT_EQ(ex->response().status, 503);
  EXPECT_EQ(ErrorCode(*ex), "ServiceUnavailable");
  EXPECT_NE(ex->BodyText().find("disk is full"), std::string::npos) << ex->BodyText();
  handler_ = MakeS3Handler(context_);
  EXPECT_EQ(ObjectCount("full"), 0u);
}

// User metadata: at most 2 KB of keys (without x-amz-meta-) and values.
TEST_F(ObjectOpsTest, UserMetadataOverTwoKilobytesIsMetadataTooLarge) {
  // "k" + 2047 bytes: exactly 2,048.
  auto at_limit =
      Call("PUT", "/bkt/meta-ok", With({{"x-amz-meta-k", std::string(2047, 'v')}}), "x");
  EXPECT_EQ(at_limit->response().status, 200) << at_limit->BodyText();
  auto over = Call(
      "PUT", "/bkt/meta-big",
      With({{"x-amz-meta-k", std::string(1024, 'v')}, {"x-amz-meta-j", std::string(1024, 'v')}}),
      "x");
  EXPECT_EQ(over->response().status, 400);
  EXPECT_NE(over->BodyText().find("<Code>MetadataTooLarge</Code>"), std::string::npos)
      << over->BodyText();
  EXPECT_EQ(Call("HEAD", "/bkt/meta-big")->response().status, 404);
}

TEST_F(ObjectOpsTest, DefaultContentTypeIsBinaryOctetStream) {
  Put("bkt", "plain", "x");
  EXPECT_EQ(Header(*Call("GET", "/bkt/plain"), "Content-Type"), "binary/octet-stream");
}

TEST_F(ObjectOpsTest, ContentMd5IsVerified) {
  auto bad_base64 = Call("PUT", "/bkt/k", With({{"Content-MD5", "not base64!"}}), "data");
  EXPECT_EQ(bad_base64->response().status, 400);
  EXPECT_EQ(ErrorCode(*bad_base64), "InvalidDigest");
  auto wrong = Call("PUT", "/bkt/k", With({{"Content-MD5", Base64Encode(Md5("other"))}}), "data");
  EXPECT_EQ(ErrorCode(*wrong), "BadDigest");
  auto right = Call("PUT", "/bkt/k", With({{"Content-MD5", Base64Encode(Md5("data"))}}), "data");
  EXPECT_EQ(right->response().status, 200);
  EXPECT_EQ(ObjectCount("bkt"), 1u);
}

TEST_F(ObjectOpsTest, ChecksumHeadersAreVerifiedStoredAndReturnedWhenAsked) {
  auto bad = Call("PUT", "/bkt/c", With({{"x-amz-checksum-crc32", "AAAA"}}), "data");
  EXPECT_EQ(ErrorCode(*bad), "InvalidRequest");
  auto wrong = Call("PUT", "/bkt/c", With({{"x-amz-checksum-crc32", Crc32B64("nope")}}), "data");
  EXPECT_EQ(ErrorCode(*wrong), "BadDigest");
  auto put = Call(
      "PUT", "/bkt/c",
      With({{"x-amz-checksum-crc32", Crc32B64("data")}, {"x-amz-sdk-checksum-algorithm", "CRC32"}}),
      "data");
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(Header(*put, "x-amz-checksum-crc32"), Crc32B64("data"));

  EXPECT_EQ(Header(*Call("GET", "/bkt/c"), "x-amz-checksum-crc32"), "");
  auto with_mode = Call("GET", "/bkt/c", With({{"x-amz-checksum-mode", "ENABLED"}}));
  EXPECT_EQ(Header(*with_mode, "x-amz-checksum-crc32"), Crc32B64("data"));
  EXPECT_EQ(Header(*with_mode, "x-amz-checksum-type"), "FULL_OBJECT");
  auto head = Call("HEAD", "/bkt/c", With({{"x-amz-checksum-mode", "ENABLED"}}));
  EXPECT_EQ(Header(*head, "x-amz-checksum-crc32"), Crc32B64("data"));
}

// x-amz-checksum-crc64nvme: what current AWS SDKs and the CLI send by
// default, in a header and in an aws-chunked trailer.
TEST_F(ObjectOpsTest, Crc64NvmeChecksumsAreVerifiedStoredAndReturned) {
  const auto crc64 = [](std::string_view d) { return Base64Encode(Crc64Bytes(Crc64Nvme(d))); };
  auto wrong = Call("PUT", "/bkt/c", With({{"x-amz-checksum-crc64nvme", crc64("nope")}}), "data");
  EXPECT_EQ(ErrorCode(*wrong), "BadDigest");
  auto put = Call("PUT", "/bkt/c",
                  With({{"x-amz-checksum-crc64nvme", crc64("data")},
                        {"x-amz-sdk-checksum-algorithm", "CRC64NVME"}}),
                  "data");
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(Header(*put, "x-amz-checksum-crc64nvme"), crc64("data"));
  auto head = Call("HEAD", "/bkt/c", With({{"x-amz-checksum-mode", "ENABLED"}}));
  EXPECT_EQ(Header(*head, "x-amz-checksum-crc64nvme"), crc64("data"));
  EXPECT_EQ(Header(*head, "x-amz-checksum-type"), "FULL_OBJECT");

  std::string data(20000, 'z');
  auto chunked = With({{"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
                       {"Content-Encoding", "aws-chunked"},
                       {"x-amz-trailer", "x-amz-checksum-crc64nvme"},
                       {"x-amz-decoded-content-length", std::to_string(data.size())}});
  auto trailed = Call("PUT", "/bkt/chunked", chunked,
                      AwsChunked(data, 8192, {{"x-amz-checksum-crc64nvme", crc64(data)}}));
  ASSERT_EQ(trailed->response().status, 200) << trailed->BodyText();
  EXPECT_EQ(Header(*Call("GET", "/bkt/chunked", With({{"x-amz-checksum-mode", "ENABLED"}})),
                   "x-amz-checksum-crc64nvme"),
            crc64(data));
  auto bad_trailer = Call("PUT", "/bkt/chunked2", chunked,
                          AwsChunked(data, 8192, {{"x-amz-checksum-crc64nvme", crc64("other")}}));
  EXPECT_EQ(ErrorCode(*bad_trailer), "BadDigest");
}

TEST_F(ObjectOpsTest, ChecksumAlgorithmAloneIsComputedAndStored) {
  auto put = Call("PUT", "/bkt/s", With({{"x-amz-checksum-algorithm", "SHA256"}}), "data");
  ASSERT_EQ(put->response().status, 200);
  EXPECT_EQ(Header(*put, "x-amz-checksum-sha256"), Base64Encode(Sha256("data")));
  EXPECT_EQ(ErrorCode(*Call("PUT", "/bkt/s", With({{"x-amz-checksum-algorithm", "MD4"}}), "d")),
            "InvalidRequest");
}

TEST_F(ObjectOpsTest, SignedPayloadHashIsVerifiedAtTheEnd) {
  auto wrong =
      Call("PUT", "/bkt/signed", With({{"x-amz-content-sha256", Sha256Hex("other")}}), "payload");
  EXPECT_EQ(wrong->response().status, 400);
  EXPECT_EQ(ErrorCode(*wrong), "XAmzContentSHA256Mismatch");
  EXPECT_EQ(ObjectCount("bkt"), 0u);
  EXPECT_EQ(Call("GET", "/bkt/signed")->response().status, 404);
  auto right =
      Call("PUT", "/bkt/signed", With({{"x-amz-content-sha256", Sha256Hex("payload")}}), "payload");
  EXPECT_EQ(right->response().status, 200);
  // XML bodies are verified the same way.
  auto cors = Call("PUT", "/bkt?cors", With({{"x-amz-content-sha256", Sha256Hex("x")}}),
                   "<CORSConfiguration/>");
  EXPECT_EQ(ErrorCode(*cors), "XAmzContentSHA256Mismatch");
}

TEST_F(ObjectOpsTest, AwsChunkedTrailerChecksumIsVerifiedAndFramingStripped) {
  std::string data(20000, 'z');
  std::string framed = AwsChunked(data, 8192, {{"x-amz-checksum-crc32", Crc32B64(data)}});
  auto headers = With({{"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
                       {"Content-Encoding", "aws-chunked"},
                       {"x-amz-trailer", "x-amz-checksum-crc32"},
                       {"x-amz-decoded-content-length", std::to_string(data.size())}});
  auto put = Call("PUT", "/bkt/chunked", headers, framed);
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(Header(*put, "x-amz-checksum-crc32"), Crc32B64(data));
  auto get = Call("GET", "/bkt/chunked", With({{"x-amz-checksum-mode", "ENABLED"}}));
  EXPECT_EQ(get->BodyText(), data);
  EXPECT_EQ(Header(*get, "Content-Encoding"), "");
  EXPECT_EQ(Header(*get, "x-amz-checksum-crc32"), Crc32B64(data));

  std::string bad = AwsChunked(data, 8192, {{"x-amz-checksum-crc32", Crc32B64("other")}});
  auto mismatch = Call("PUT", "/bkt/chunked2", headers, bad);
  EXPECT_EQ(mismatch->response().status, 400);
  EXPECT_EQ(ErrorCode(*mismatch), "BadDigest");
  std::string missing = AwsChunked(data, 8192, {});
  EXPECT_EQ(ErrorCode(*Call("PUT", "/bkt/chunked3", headers, missing)), "MalformedTrailerError");
  EXPECT_EQ(ObjectCount("bkt"), 1u);
}

TEST_F(ObjectOpsTest, AwsChunkedKeepsOtherContentEncodings) {
  std::string framed = AwsChunked("abc", 2, {});
  auto put = Call("PUT", "/bkt/gz",
                  With({{"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
                        {"Content-Encoding", "aws-chunked,gzip"},
                        {"x-amz-decoded-content-length", "3"}}),
                  framed);
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_EQ(Header(*Call("GET", "/bkt/gz"), "Content-Encoding"), "gzip");

  // Without aws-chunked the value is stored as written.
  ASSERT_EQ(
      Call("PUT", "/bkt/dg", With({{"Content-Encoding", "deflate, gzip"}}), "x")->response().status,
      200);
  EXPECT_EQ(Header(*Call("HEAD", "/bkt/dg"), "Content-Encoding"), "deflate, gzip");
}

TEST_F(ObjectOpsTest, MissingContentLengthIs411) {
  auto ex = std::make_shared<http::FakeExchange>("PUT", "/bkt/nolen",
                                                 With({{"Authorization", "fake root"}}), "x");
  ex->mutable_head().content_length.reset();
  handler_(ex);
  ASSERT_TRUE(ex->Wait());
  EXPECT_EQ(ex->response().status, 411);
  EXPECT_EQ(ErrorCode(*ex), "MissingContentLength");
}

TEST_F(ObjectOpsTest, KeyTooLong) {
  std::string key(1025, 'k');
  auto ex = Call("PUT", "/bkt/" + key, {}, "x");
  EXPECT_EQ(ex->response().status, 400);
  EXPECT_EQ(ErrorCode(*ex), "KeyTooLongError");
  Put("bkt", std::string(1024, 'k'), "x");
}

TEST_F(ObjectOpsTest, IfNoneMatchStarRefusesOverwrite) {
  Put("bkt", "once", "1");
  auto ex = Call("PUT", "/bkt/once", With({{"If-None-Match", "*"}}), "2");
  EXPECT_EQ(ex->response().status, 412);
  EXPECT_EQ(ErrorCode(*ex), "PreconditionFailed");
  EXPECT_EQ(Call("GET", "/bkt/once")->BodyText(), "1");
}

TEST_F(ObjectOpsTest, RangeMatrix) {
  Put("bkt", "r", "0123456789");
  struct Case {
    const char* range;
    int status;
    const char* body;
    const char* content_range;
  };
  for (const Case& c :
       {Case{"bytes=0-4", 206, "01234", "bytes 0-4/10"},
        Case{"bytes=5-", 206, "56789", "bytes 5-9/10"},
        Case{"bytes=-3", 206, "789", "bytes 7-9/10"},
        Case{"bytes=8-100", 206, "89", "bytes 8-9/10"}, Case{"bytes=abc", 200, "0123456789", ""},
        Case{"bytes=0-1,3-4", 200, "0123456789", ""}}) {
    auto ex = Call("GET", "/bkt/r", With({{"Range", c.range}}));
    EXPECT_EQ(ex->response().status, c.status) << c.range;
    EXPECT_EQ(ex->BodyText(), c.body) << c.range;
    EXPECT_EQ(Header(*ex, "Content-Range"), c.content_range) << c.range;
  }
  auto beyond = Call("GET", "/bkt/r", With({{"Range", "bytes=10-"}}));
  EXPECT_EQ(beyond->response().status, 416);
  EXPECT_EQ(ErrorCode(*beyond), "InvalidRange");
  EXPECT_EQ(Header(*beyond, "Content-Range"), "bytes */10");
  auto head = Call("HEAD", "/bkt/r", With({{"Range", "bytes=2-3"}}));
  EXPECT_EQ(head->response().status, 206);
  EXPECT_EQ(head->response().content_length, 2u);
}

TEST_F(ObjectOpsTest, ConditionalGetMatrix) {
  Put("bkt", "c", "content");
  std::string etag = "\"" + Md5Hex("content") + "\"";
  std::string past = "Sat, 01 Jan 2000 00:00:00 GMT";
  std::string future = "Fri, 01 Jan 2100 00:00:00 GMT";
  struct Case {
    std::vector<std::pair<const char*, std::string>> headers;
    int status;
  };
  std::vector<Case> cases = {
      {{{"If-Match", etag}}, 200},
      {{{"If-Match", "\"other\""}}, 412},
      {{{"If-None-Match", etag}}, 304},
      {{{"If-None-Match", "\"other\""}}, 200},
      {{{"If-Modified-Since", future}}, 304},
      {{{"If-Modified-Since", past}}, 200},
      {{{"If-Unmodified-Since", past}}, 412},
      {{{"If-Unmodified-Since", future}}, 200},
      // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
      {{{"If-Match", etag}, {"If-Unmodified-Since", past}}, 200},
      {{{"If-None-Match", "\"other\""}, {"If-Modified-Since", future}}, 200},
      {{{"If-Modified-Since", "not a date"}}, 200},
  };
  for (const Case& c : cases) {
    http::Headers headers;
    for (const auto& [n, v] : c.headers) headers.Add(n, v);
    auto ex = Call("GET", "/bkt/c", headers);
    EXPECT_EQ(ex->response().status, c.status) << c.headers[0].first << ": " << c.headers[0].second;
    if (c.status == 304) {
      EXPECT_EQ(ex->BodyText(), "");
      EXPECT_EQ(Header(*ex, "ETag"), etag);
    }
    if (c.status == 412) {
      EXPECT_EQ(ErrorCode(*ex), "PreconditionFailed");
    }
  }
}

TEST_F(ObjectOpsTest, ResponseOverrideParameters) {
  Put("bkt", "o", "x");
  auto ex = Call("GET",
                 "/bkt/o?response-content-type=text%2Fplain&response-content-disposition="
                 "attachment%3B%20filename%3D%22a.txt%22&response-cache-control=no-cache");
  EXPECT_EQ(Header(*ex, "Content-Type"), "text/plain");
  EXPECT_EQ(Header(*ex, "Content-Disposition"), "attachment; filename=\"a.txt\"");
  EXPECT_EQ(Header(*ex, "Cache-Control"), "no-cache");
}

TEST_F(ObjectOpsTest, HeadHasHeadersButNoBody) {
  Put("bkt", "h", "hello", With({{"x-amz-meta-k", "v"}}));
  auto ex = Call("HEAD", "/bkt/h");
  EXPECT_EQ(ex->response().status, 200);
  EXPECT_EQ(ex->BodyText(), "");
  EXPECT_EQ(ex->response().content_length, 5u);
  EXPECT_EQ(Header(*ex, "x-amz-meta-k"), "v");
  auto missing = Call("HEAD", "/bkt/none");
  EXPECT_EQ(missing->response().status, 404);
  EXPECT_EQ(missing->BodyText(), "");
}

TEST_F(ObjectOpsTest, MissingKeyIsNoSuchKeyOnlyWithListBucket) {
  auto root = Call("GET", "/bkt/missing");
  EXPECT_EQ(root->response().status, 404);
  EXPECT_EQ(ErrorCode(*root), "NoSuchKey");
  auth_->Grant("getter", "s3:GetObject", "arn:aws:s3:::bkt/*");
  key_ = "getter";
  auto denied = Call("GET", "/bkt/missing");
  EXPECT_EQ(denied->response().status, 403);
  EXPECT_EQ(ErrorCode(*denied), "AccessDenied");
  auth_->Grant("getter", "s3:ListBucket", "arn:aws:s3:::bkt");
  EXPECT_EQ(ErrorCode(*Call("GET", "/bkt/missing")), "NoSuchKey");
  EXPECT_EQ(Call("HEAD", "/bkt/missing")->response().status, 404);
}

TEST_F(ObjectOpsTest, GetMissingBucketIsNoSuchBucket) {
  EXPECT_EQ(ErrorCode(*Call("GET", "/nobucket/k")), "NoSuchBucket");
}

TEST_F(ObjectOpsTest, DeleteObjectIs204EvenWhenMissing) {
  Put("bkt", "d", "x");
  EXPECT_EQ(Call("DELETE", "/bkt/d")->response().status, 204);
  EXPECT_EQ(Call("DELETE", "/bkt/d")->response().status, 204);
  EXPECT_EQ(Call("GET", "/bkt/d")->response().status, 404);
}

std::string DeleteXml(const std::vector<std::string>& keys, bool quiet) {
  std::string xml = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  if (quiet) xml += "<Quiet>true</Quiet>";
  for (const auto& k : keys) xml += "<Object><Key>" + k + "</Key></Object>";
  return xml + "</Delete>";
}

TEST_F(ObjectOpsTest, DeleteObjectsVerboseAndQuiet) {
  Put("bkt", "a", "1");
  Put("bkt", "b", "2");
  std::string xml = DeleteXml({"a", "b", "never"}, false);
  auto ex = Call("POST", "/bkt?delete", With({{"Content-MD5", Base64Encode(Md5(xml))}}), xml);
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  auto doc = Xml(ex->BodyText());
  auto root = doc.child("DeleteResult");
  ASSERT_TRUE(root);
  std::vector<std::string> deleted;
  for (auto d : root.children("Deleted")) deleted.push_back(d.child_value("Key"));
  EXPECT_EQ(deleted, (std::vector<std::string>{"a", "b", "never"}));
  EXPECT_FALSE(root.child("Error"));
  EXPECT_EQ(Call("GET", "/bkt/a")->response().status, 404);

  Put("bkt", "c", "3");
  std::string quiet = DeleteXml({"c"}, true);
  auto q = Call("POST", "/bkt?delete", With({{"x-amz-checksum-crc32", Crc32B64(quiet)}}), quiet);
  ASSERT_EQ(q->response().status, 200) << q->BodyText();
  auto qdoc = Xml(q->BodyText());
  EXPECT_FALSE(qdoc.child("DeleteResult").first_child());
  EXPECT_EQ(Call("GET", "/bkt/c")->response().status, 404);
}

TEST_F(ObjectOpsTest, DeleteObjectsNeedsAMatchingDigest) {
  std::string xml = DeleteXml({"a"}, false);
  auto none = Call("POST", "/bkt?delete", {}, xml);
  EXPECT_EQ(none->response().status, 400);
  EXPECT_EQ(ErrorCode(*none), "InvalidRequest");
  auto wrong = Call("POST", "/bkt?delete", With({{"Content-MD5", Base64Encode(Md5("x"))}}), xml);
  EXPECT_EQ(ErrorCode(*wrong), "BadDigest");
  auto crc = Call("POST", "/bkt?delete", With({{"x-amz-checksum-crc32", Crc32B64("x")}}), xml);
  EXPECT_EQ(ErrorCode(*crc), "BadDigest");
  std::string bad = "<Delete><Object></Object></Delete>";
  auto malformed =
      Call("POST", "/bkt?delete", With({{"Content-MD5", Base64Encode(Md5(bad))}}), bad);
  EXPECT_EQ(ErrorCode(*malformed), "MalformedXML");
}

TEST_F(ObjectOpsTest, DeleteObjectsTakesACrc64Nvme) {
  const auto crc64 = [](std::string_view d) { return Base64Encode(Crc64Bytes(Crc64Nvme(d))); };
  Put("bkt", "c", "3");
  std::string xml = DeleteXml({"c"}, true);
  auto mismatch =
      Call("POST", "/bkt?delete", With({{"x-amz-checksum-crc64nvme", crc64("x")}}), xml);
  EXPECT_EQ(ErrorCode(*mismatch), "BadDigest");
  auto deleted = Call("POST", "/bkt?delete", With({{"x-amz-checksum-crc64nvme", crc64(xml)}}), xml);
  ASSERT_EQ(deleted->response().status, 200) << deleted->BodyText();
  EXPECT_EQ(Call("GET", "/bkt/c")->response().status, 404);
}

TEST_F(ObjectOpsTest, DeleteObjectsRefusesMoreThan1000Keys) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1001; ++i) keys.push_back("k" + std::to_string(i));
  std::string xml = DeleteXml(keys, true);
  auto ex = Call("POST", "/bkt?delete", With({{"Content-MD5", Base64Encode(Md5(xml))}}), xml);
  EXPECT_EQ(ex->response().status, 400);
  EXPECT_EQ(ErrorCode(*ex), "MalformedXML");
}

TEST_F(ObjectOpsTest, DeleteObjectsChecksEachKeysPermission) {
  Put("bkt", "tmp/a", "1");
  Put("bkt", "keep/b", "2");
  auth_->Grant("cleaner", "s3:DeleteObject", "arn:aws:s3:::bkt/tmp/*");
  key_ = "cleaner";
  std::string xml = DeleteXml({"tmp/a", "keep/b"}, true);
  auto ex = Call("POST", "/bkt?delete", With({{"Content-MD5", Base64Encode(Md5(xml))}}), xml);
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  auto doc = Xml(ex->BodyText());
  auto error = doc.child("DeleteResult").child("Error");
  EXPECT_EQ(std::string(error.child_value("Key")), "keep/b");
  EXPECT_EQ(std::string(error.child_value("Code")), "AccessDenied");
  key_ = "root";
  EXPECT_EQ(Call("GET", "/bkt/tmp/a")->response().status, 404);
  EXPECT_EQ(Call("GET", "/bkt/keep/b")->response().status, 200);
}

TEST_F(ObjectOpsTest, CopyObjectKeepsOrReplacesMetadata) {
  Put("bkt", "src key", "bytes",
      With({{"Content-Type", "text/plain"}, {"x-amz-meta-origin", "camera"}}));
  auto copy = Call("PUT", "/bkt/dst", With({{"x-amz-copy-source", "/bkt/src%20key"}}));
  ASSERT_EQ(copy->response().status, 200) << copy->BodyText();
  auto doc = Xml(copy->BodyText());
  auto result = doc.child("CopyObjectResult");
  ASSERT_TRUE(result);
  EXPECT_EQ(std::string(result.child_value("ETag")), "\"" + Md5Hex("bytes") + "\"");
  EXPECT_TRUE(ParseIso8601(result.child_value("LastModified")).has_value());
  auto got = Call("GET", "/bkt/dst");
  EXPECT_EQ(got->BodyText(), "bytes");
  EXPECT_EQ(Header(*got, "x-amz-meta-origin"), "camera");

  auto replaced = Call("PUT", "/bkt/dst2",
                       With({{"x-amz-copy-source", "bkt/src%20key"},
                             {"x-amz-metadata-directive", "REPLACE"},
                             {"Content-Type", "image/png"}}));
  ASSERT_EQ(replaced->response().status, 200);
  auto got2 = Call("GET", "/bkt/dst2");
  EXPECT_EQ(Header(*got2, "Content-Type"), "image/png");
  EXPECT_EQ(Header(*got2, "x-amz-meta-origin"), "");
}

TEST_F(ObjectOpsTest, CopyObjectErrors) {
  Put("bkt", "s", "x");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/bkt/s", With({{"x-amz-copy-source", "/bkt/s"}}))),
            "InvalidRequest");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/bkt/d", With({{"x-amz-copy-source", "/bkt/none"}}))),
            "NoSuchKey");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/bkt/d", With({{"x-amz-copy-source", "/bkt"}}))),
            "InvalidArgument");
  EXPECT_EQ(ErrorCode(*Call(
                "PUT", "/bkt/d",
                With({{"x-amz-copy-source", "/bkt/s"}, {"x-amz-metadata-directive", "MERGE"}}))),
            "InvalidArgument");
  auto cond = Call("PUT", "/bkt/d",
                   With({{"x-amz-copy-source", "/bkt/s"},
                         {"x-amz-copy-source-if-none-match", "\"" + Md5Hex("x") + "\""}}));
  EXPECT_EQ(cond->response().status, 412);
  auto ok = Call("PUT", "/bkt/d",
                 With({{"x-amz-copy-source", "/bkt/s"},
                       {"x-amz-copy-source-if-match", "\"" + Md5Hex("x") + "\""}}));
  EXPECT_EQ(ok->response().status, 200);
}

TEST_F(ObjectOpsTest, CopyObjectNeedsReadOnTheSource) {
  CreateBucket("secret");
  Put("secret", "s", "x");
  auth_->Grant("writer", "s3:PutObject", "arn:aws:s3:::bkt/*");
  key_ = "writer";
  auto ex = Call("PUT", "/bkt/d", With({{"x-amz-copy-source", "/secret/s"}}));
  EXPECT_EQ(ex->response().status, 403);
  EXPECT_EQ(ErrorCode(*ex), "AccessDenied");
}

TEST_F(ObjectOpsTest, OnlyTheNullVersionExists) {
  Put("bkt", "v", "x");
  EXPECT_EQ(Call("GET", "/bkt/v?versionId=null")->response().status, 200);
  EXPECT_EQ(ErrorCode(*Call("GET", "/bkt/v?versionId=abc")), "InvalidArgument");
}

}  // namespace
}  // namespace imgbatch::s3::testing
