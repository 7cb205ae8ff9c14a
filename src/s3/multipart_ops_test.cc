// Multipart uploads end to end through the handler.
#include <map>

#include "common/hashing.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

// S3's minimum size of every part but the last.
const std::string kFivePartBytes(5 << 20, 'p');

class MultipartOpsTest : public S3Fixture {
 protected:
  void SetUp() override { CreateBucket("mpu"); }

  std::string Create(const std::string& key, http::Headers headers = {}) {
    auto ex = Call("POST", "/mpu/" + key + "?uploads", std::move(headers));
    EXPECT_EQ(ex->response().status, 200) << ex->BodyText();
    auto doc = Xml(ex->BodyText());
    auto root = doc.child("InitiateMultipartUploadResult");
    EXPECT_EQ(std::string(root.child_value("Bucket")), "mpu");
    EXPECT_EQ(std::string(root.child_value("Key")), key);
    return root.child_value("UploadId");
  }
  std::string UploadPart(const std::string& key, const std::string& id, int n,
                         const std::string& data) {
    auto ex = Call("PUT", "/mpu/" + key + "?partNumber=" + std::to_string(n) + "&uploadId=" + id,
                   {}, data);
    EXPECT_EQ(ex->response().status, 200) << ex->BodyText();
    return Header(*ex, "ETag");
  }
  static std::string CompleteXml(const std::vector<std::pair<int, std::string>>& parts) {
    std::string xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    for (const auto& [n, etag] : parts) {
      xml += "<Part><ETag>" + etag + "</ETag><PartNumber>" + std::to_string(n) +
             "</PartNumber></Part>";
    }
    return xml + "</CompleteMultipartUpload>";
  }
  // A FULL_OBJECT upload of "k" end to end: created with `create` (the reply
  // must say FULL_OBJECT), parts kFivePartBytes and "tail", completed with
  // `header` set to `whole` (the whole body's checksum, which must be
  // accepted), then HEAD with checksum mode must return it as FULL_OBJECT.
  void ExpectFullObjectUpload(const http::Headers& create, const std::string& header,
                              const std::string& whole) {
    auto created = Call("POST", "/mpu/k?uploads", create);
    ASSERT_EQ(created->response().status, 200) << created->BodyText();
    EXPECT_EQ(Header(*created, "x-amz-checksum-type"), "FULL_OBJECT");
    const std::string id =
        Xml(created->BodyText()).child("InitiateMultipartUploadResult").child_value("UploadId");
    const std::string xml = CompleteXml(
        {{1, UploadPart("k", id, 1, kFivePartBytes)}, {2, UploadPart("k", id, 2, "tail")}});
    std::string flipped = *Base64Decode(whole);
    flipped[0] = static_cast<char>(flipped[0] ^ 1);
    http::Headers wrong;
    wrong.Add(header, Base64Encode(flipped));
    EXPECT_EQ(ErrorCode(*Call("POST", "/mpu/k?uploadId=" + id, wrong, xml)), "BadDigest");
    http::Headers right;
    right.Add(header, whole);
    auto done = Call("POST", "/mpu/k?uploadId=" + id, right, xml);
    ASSERT_EQ(done->response().status, 200) << done->BodyText();
    http::Headers mode;
    mode.Add("x-amz-checksum-mode", "ENABLED");
    auto head = Call("HEAD", "/mpu/k", mode);
    EXPECT_EQ(Header(*head, header), whole);
    EXPECT_EQ(Header(*head, "x-amz-checksum-type"), "FULL_OBJECT");
  }
};

TEST_F(MultipartOpsTest, EndToEnd) {
  std::string id = Create("big.bin", [] {
    http::Headers h;
    h.Add("Content-Type", "application/x-big");
    h.Add("x-amz-meta-owner", "me");
    return h;
  }());
  std::string part1 = kFivePartBytes;
  std::string e1 = UploadPart("big.bin", id, 1, part1);
  std::string e2 = UploadPart("big.bin", id, 2, "world");
  EXPECT_EQ(e1, "\"" + Md5Hex(part1) + "\"");

  auto parts = Call("GET", "/mpu/big.bin?uploadId=" + id);
  ASSERT_EQ(parts->response().status, 200);
  auto pdoc = Xml(parts->BodyText());
  auto proot = pdoc.child("ListPartsResult");
  EXPECT_EQ(std::string(proot.child_value("UploadId")), id);
  EXPECT_EQ(std::string(proot.child_value("IsTruncated")), "false");
  std::vector<std::string> numbers;
  for (auto p : proot.children("Part")) numbers.push_back(p.child_value("PartNumber"));
  EXPECT_EQ(numbers, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(std::string(proot.child("Part").child_value("Size")), std::to_string(part1.size()));

  auto uploads = Call("GET", "/mpu?uploads");
  auto udoc = Xml(uploads->BodyText());
  auto upload = udoc.child("ListMultipartUploadsResult").child("Upload");
  EXPECT_EQ(std::string(upload.child_value("Key")), "big.bin");
  EXPECT_EQ(std::string(upload.child_value("UploadId")), id);

  auto done = Call("POST", "/mpu/big.bin?uploadId=" + id, {}, CompleteXml({{1, e1}, {2, e2}}));
  ASSERT_EQ(done->response().status, 200) << done->BodyText();
  auto ddoc = Xml(done->BodyText());
  auto droot = ddoc.child("CompleteMultipartUploadResult");
  ASSERT_TRUE(droot);
  std::string expected_etag = "\"" + Md5Hex(Md5(part1) + Md5("world")) + "-2\"";
  EXPECT_EQ(std::string(droot.child_value("ETag")), expected_etag);
  EXPECT_EQ(std::string(droot.child_value("Location")), "http://localhost:4566/mpu/big.bin");
  EXPECT_EQ(std::string(droot.child_value("Key")), "big.bin");

  auto get = Call("GET", "/mpu/big.bin");
  EXPECT_EQ(get->BodyText(), part1 + "world");
  EXPECT_EQ(Header(*get, "ETag"), expected_etag);
  EXPECT_EQ(Header(*get, "Content-Type"), "application/x-big");
  EXPECT_EQ(Header(*get, "x-amz-meta-owner"), "me");
  EXPECT_EQ(Header(*get, "x-amz-mp-parts-count"), "");  // only with ?partNumber=
  auto none = Xml(Call("GET", "/mpu?uploads")->BodyText());
  EXPECT_FALSE(none.child("ListMultipartUploadsResult").child("Upload"));
}

TEST_F(MultipartOpsTest, ListMultipartUploadsGroupsByDelimiter) {
  Create("dir/ab.bin");
  Create("top.bin");
  auto listed = Call("GET", "/mpu?uploads&delimiter=%2F&encoding-type=url");
  ASSERT_EQ(listed->response().status, 200) << listed->BodyText();
  auto doc = Xml(listed->BodyText());
  auto root = doc.child("ListMultipartUploadsResult");
  EXPECT_EQ(std::string(root.child_value("Delimiter")), "/");
  EXPECT_EQ(std::string(root.child("CommonPrefixes").child_value("Prefix")), "dir/");
  EXPECT_EQ(std::string(root.child("Upload").child_value("Key")), "top.bin");
  EXPECT_FALSE(root.child("Upload").next_sibling("Upload"));
  auto plain = Xml(Call("GET", "/mpu?uploads")->BodyText());
  EXPECT_FALSE(plain.child("ListMultipartUploadsResult").child("Delimiter"));
  EXPECT_FALSE(plain.child("ListMultipartUploadsResult").child("CommonPrefixes"));
}

TEST_F(MultipartOpsTest, PartNumberMustBeInRange) {
  std::string id = Create("k");
  for (const char* n : {"0", "10001", "x", "-1"}) {
    auto ex = Call("PUT", std::string("/mpu/k?partNumber=") + n + "&uploadId=" + id, {}, "d");
    EXPECT_EQ(ex->response().status, 400) << n;
    EXPECT_EQ(ErrorCode(*ex), "InvalidArgument") << n;
  }
  UploadPart("k", id, 10000, "d");
}

TEST_F(MultipartOpsTest, CompleteErrors) {
  std::string id = Create("k");
  std::string e1 = UploadPart("k", id, 1, "part-one");
  std::string e2 = UploadPart("k", id, 2, "p2");
  auto order = Call("POST", "/mpu/k?uploadId=" + id, {}, CompleteXml({{2, e2}, {1, e1}}));
  EXPECT_EQ(ErrorCode(*order), "InvalidPartOrder");
  auto wrong = Call("POST", "/mpu/k?uploadId=" + id, {}, CompleteXml({{1, "\"bad\""}}));
  EXPECT_EQ(ErrorCode(*wrong), "InvalidPart");
  auto small = Call("POST", "/mpu/k?uploadId=" + id, {}, CompleteXml({{1, e1}, {2, e2}}));
  EXPECT_EQ(ErrorCode(*small), "EntityTooSmall");
  auto malformed = Call("POST", "/mpu/k?uploadId=" + id, {}, "<CompleteMultipartUpload>");
  EXPECT_EQ(ErrorCode(*malformed), "MalformedXML");
  auto empty = Call("POST", "/mpu/k?uploadId=" + id, {}, "<CompleteMultipartUpload/>");
  EXPECT_EQ(ErrorCode(*empty), "MalformedXML");
  auto unknown = Call("POST", "/mpu/k?uploadId=nope", {}, CompleteXml({{1, e1}}));
  EXPECT_EQ(unknown->response().status, 404);
  EXPECT_EQ(ErrorCode(*unknown), "NoSuchUpload");
}

TEST_F(MultipartOpsTest, AbortRemovesTheUpload) {
  std::string id = Create("k");
  UploadPart("k", id, 1, "x");
  EXPECT_EQ(Call("DELETE", "/mpu/k?uploadId=" + id)->response().status, 204);
  EXPECT_EQ(ErrorCode(*Call("GET", "/mpu/k?uploadId=" + id)), "NoSuchUpload");
  EXPECT_EQ(ErrorCode(*Call("DELETE", "/mpu/k?uploadId=" + id)), "NoSuchUpload");
}

TEST_F(MultipartOpsTest, ListPartsPaginates) {
  std::string id = Create("k");
  for (int n = 1; n <= 3; ++n) UploadPart("k", id, n, "p" + std::to_string(n));
  auto first = Xml(Call("GET", "/mpu/k?uploadId=" + id + "&max-parts=2")->BodyText());
  auto root = first.child("ListPartsResult");
  EXPECT_EQ(std::string(root.child_value("IsTruncated")), "true");
  EXPECT_EQ(std::string(root.child_value("NextPartNumberMarker")), "2");
  EXPECT_EQ(std::string(root.child_value("MaxParts")), "2");
  auto second = Xml(Call("GET", "/mpu/k?uploadId=" + id + "&part-number-marker=2")->BodyText());
  auto root2 = second.child("ListPartsResult");
  EXPECT_EQ(std::string(root2.child("Part").child_value("PartNumber")), "3");
  EXPECT_EQ(std::string(root2.child_value("IsTruncated")), "false");
  EXPECT_EQ(ErrorCode(*Call("GET", "/mpu/k?uploadId=" + id + "&max-parts=-1")), "InvalidArgument");
}

TEST_F(MultipartOpsTest, PartChecksumsAreEchoed) {
  std::string id = Create("k", [] {
    http::Headers h;
    h.Add("x-amz-checksum-algorithm", "CRC32");
    return h;
  }());
  http::Headers h;
  h.Add("x-amz-checksum-crc32", Base64Encode(Crc32Bytes(Crc32Update(0, "data"))));
  auto ex = Call("PUT", "/mpu/k?partNumber=1&uploadId=" + id, h, "data");
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  EXPECT_EQ(Header(*ex, "x-amz-checksum-crc32"), Base64Encode(Crc32Bytes(Crc32Update(0, "data"))));
}

// ListParts and ListMultipartUploads say what CreateMultipartUpload answered:
// the algorithm and COMPOSITE or FULL_OBJECT; nothing for an upload without one.
TEST_F(MultipartOpsTest, ListingsGiveTheUploadsChecksumAlgorithmAndType) {
  auto with = [](const std::string& algorithm, const std::string& type) {
    http::Headers h;
    if (!algorithm.empty()) h.Add("x-amz-checksum-algorithm", algorithm);
    if (!type.empty()) h.Add("x-amz-checksum-type", type);
    return h;
  };
  const std::map<std::string, std::string> ids = {
      {"a-crc32", Create("a-crc32", with("CRC32", ""))},
      {"b-crc32c", Create("b-crc32c", with("CRC32C", "FULL_OBJECT"))},
      {"c-crc64", Create("c-crc64", with("CRC64NVME", ""))},
      {"d-none", Create("d-none", with("", ""))}};
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"a-crc32", {"CRC32", "COMPOSITE"}},
      {"b-crc32c", {"CRC32C", "FULL_OBJECT"}},
      {"c-crc64", {"CRC64NVME", "FULL_OBJECT"}},
      {"d-none", {"", ""}}};
  for (const auto& [key, id] : ids) {
    auto parts = Xml(Call("GET", "/mpu/" + key + "?uploadId=" + id)->BodyText());
    auto root = parts.child("ListPartsResult");
    EXPECT_EQ(std::string(root.child_value("ChecksumAlgorithm")), expected.at(key).first) << key;
    EXPECT_EQ(std::string(root.child_value("ChecksumType")), expected.at(key).second) << key;
  }
  auto uploads = Xml(Call("GET", "/mpu?uploads")->BodyText());
  size_t listed = 0;
  for (auto upload : uploads.child("ListMultipartUploadsResult").children("Upload")) {
    const std::string key = upload.child_value("Key");
    EXPECT_EQ(std::string(upload.child_value("ChecksumAlgorithm")), expected.at(key).first) << key;
    EXPECT_EQ(std::string(upload.child_value("ChecksumType")), expected.at(key).second) << key;
    ++listed;
  }
  EXPECT_EQ(listed, ids.size());
}

// CRC64NVME uploads are FULL_OBJECT, as on S3: the object's CRC is the whole
// body's, and a composite may not be asked for.
TEST_F(MultipartOpsTest, Crc64NvmeUploadsAreFullObject) {
  http::Headers composite;
  composite.Add("x-amz-checksum-algorithm", "CRC64NVME");
  composite.Add("x-amz-checksum-type", "COMPOSITE");
  EXPECT_EQ(ErrorCode(*Call("POST", "/mpu/k?uploads", composite)), "InvalidRequest");
  http::Headers create;
  create.Add("x-amz-checksum-algorithm", "CRC64NVME");
  ExpectFullObjectUpload(create, "x-amz-checksum-crc64nvme",
                         Base64Encode(Crc64Bytes(Crc64Nvme(kFivePartBytes + "tail"))));
}

// CRC32 and CRC32C uploads may ask for FULL_OBJECT (the CRC of the whole
// body, what transfer managers compare with their own); SHA ones may not.
TEST_F(MultipartOpsTest, Crc32cUploadsMayBeFullObject) {
  http::Headers sha;
  sha.Add("x-amz-checksum-algorithm", "SHA256");
  sha.Add("x-amz-checksum-type", "FULL_OBJECT");
  EXPECT_EQ(ErrorCode(*Call("POST", "/mpu/k?uploads", sha)), "InvalidRequest");
  http::Headers create;
  create.Add("x-amz-checksum-algorithm", "CRC32C");
  create.Add("x-amz-checksum-type", "FULL_OBJECT");
  ExpectFullObjectUpload(create, "x-amz-checksum-crc32c",
                         Base64Encode(Crc32Bytes(Crc32cUpdate(0, kFivePartBytes + "tail"))));
}

TEST_F(MultipartOpsTest, UploadPartCopyCopiesARange) {
  Put("mpu", "source", "01" + kFivePartBytes + "89");
  std::string id = Create("k");
  http::Headers h;
  h.Add("x-amz-copy-source", "/mpu/source");
  h.Add("x-amz-copy-source-range", "bytes=2-" + std::to_string(kFivePartBytes.size() + 1));
  auto ex = Call("PUT", "/mpu/k?partNumber=1&uploadId=" + id, h);
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  auto doc = Xml(ex->BodyText());
  std::string etag = doc.child("CopyPartResult").child_value("ETag");
  EXPECT_EQ(etag, "\"" + Md5Hex(kFivePartBytes) + "\"");
  std::string e2 = UploadPart("k", id, 2, "!");
  auto done = Call("POST", "/mpu/k?uploadId=" + id, {}, CompleteXml({{1, etag}, {2, e2}}));
  ASSERT_EQ(done->response().status, 200) << done->BodyText();
  EXPECT_EQ(Call("GET", "/mpu/k")->BodyText(), kFivePartBytes + "!");
  http::Headers bad;
  bad.Add("x-amz-copy-source", "/mpu/source");
  bad.Add("x-amz-copy-source-range", "bytes=5-");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/mpu/k2?partNumber=1&uploadId=" + id, bad)), "InvalidArgument");
  // A copy range is not clamped like a GET Range: past the source's end it is refused.
  http::Headers beyond;
  beyond.Add("x-amz-copy-source", "/mpu/source");
  beyond.Add("x-amz-copy-source-range", "bytes=0-" + std::to_string(kFivePartBytes.size() + 4));
  auto refused = Call("PUT", "/mpu/k?partNumber=3&uploadId=" + id, beyond);
  EXPECT_EQ(refused->response().status, 416);
  EXPECT_EQ(ErrorCode(*refused), "InvalidRange");
}

// GET/HEAD ?partNumber=N serve part N's bytes as a 206 with the whole
// object's ETag and the parts count, as S3 does.
TEST_F(MultipartOpsTest, GetAndHeadByPartNumber) {
  const std::string second(5 << 20, 'q');
  std::string id = Create("parts.bin");
  std::string e1 = UploadPart("parts.bin", id, 1, kFivePartBytes);
  std::string e2 = UploadPart("parts.bin", id, 2, second);
  std::string e3 = UploadPart("parts.bin", id, 3, "tail");
  auto done =
      Call("POST", "/mpu/parts.bin?uploadId=" + id, {}, CompleteXml({{1, e1}, {2, e2}, {3, e3}}));
  ASSERT_EQ(done->response().status, 200) << done->BodyText();
  const std::string etag =
      Xml(done->BodyText()).child("CompleteMultipartUploadResult").child_value("ETag");
  const uint64_t total = kFivePartBytes.size() + second.size() + 4;

  auto part2 = Call("GET", "/mpu/parts.bin?partNumber=2");
  ASSERT_EQ(part2->response().status, 206) << part2->BodyText();
  EXPECT_TRUE(part2->BodyText() == second);
  EXPECT_EQ(Header(*part2, "Content-Range"), "bytes " + std::to_string(kFivePartBytes.size()) +
                                                 "-" + std::to_string(total - 5) + "/" +
                                                 std::to_string(total));
  EXPECT_EQ(Header(*part2, "ETag"), etag);
  EXPECT_EQ(Header(*part2, "x-amz-mp-parts-count"), "3");

  auto head3 = Call("HEAD", "/mpu/parts.bin?partNumber=3");
  ASSERT_EQ(head3->response().status, 206);
  EXPECT_EQ(head3->response().content_length, 4u);
  EXPECT_EQ(Header(*head3, "x-amz-mp-parts-count"), "3");
  EXPECT_EQ(Header(*head3, "Content-Range"), "bytes " + std::to_string(total - 4) + "-" +
                                                 std::to_string(total - 1) + "/" +
                                                 std::to_string(total));
  EXPECT_EQ(Call("GET", "/mpu/parts.bin?partNumber=3")->BodyText(), "tail");

  auto beyond = Call("GET", "/mpu/parts.bin?partNumber=4");
  EXPECT_EQ(beyond->response().status, 416);
  EXPECT_EQ(ErrorCode(*beyond), "InvalidPartNumber");
  http::Headers range;
  range.Add("Range", "bytes=0-1");
  auto both = Call("GET", "/mpu/parts.bin?partNumber=1", range);
  EXPECT_EQ(both->response().status, 400);
  EXPECT_EQ(ErrorCode(*both), "InvalidRequest");
  for (const char* n : {"0", "10001", "x", "-1", ""}) {
    auto bad = Call("GET", std::string("/mpu/parts.bin?partNumber=") + n);
    EXPECT_EQ(bad->response().status, 400) << n;
    EXPECT_EQ(ErrorCode(*bad), "InvalidArgument") << n;
  }
}

// An object not made by multipart upload is its own single part.
TEST_F(MultipartOpsTest, PlainObjectIsPartOne) {
  ASSERT_EQ(Call("PUT", "/mpu/plain", {}, "body")->response().status, 200);
  auto whole = Call("GET", "/mpu/plain?partNumber=1");
  ASSERT_EQ(whole->response().status, 200) << whole->BodyText();
  EXPECT_EQ(whole->BodyText(), "body");
  EXPECT_EQ(Header(*whole, "ETag"), "\"" + Md5Hex("body") + "\"");
  EXPECT_EQ(Header(*whole, "x-amz-mp-parts-count"), "");
  auto two = Call("HEAD", "/mpu/plain?partNumber=2");
  EXPECT_EQ(two->response().status, 416);
  EXPECT_EQ(Call("GET", "/mpu/missing?partNumber=1")->response().status, 404);
}

}  // namespace
}  // namespace imgbatch::s3::testing
