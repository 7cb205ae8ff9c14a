// Bucket operations, addressing and authentication through the handler.
#include "s3/testing/s3_test_util.h"

#include "common/strings.h"

namespace imgbatch::s3::testing {
namespace {

using BucketOpsTest = S3Fixture;

TEST_F(BucketOpsTest, ListBucketsRendersOwnerAndBuckets) {
  CreateBucket("beta");
  clock_.Advance(std::chrono::seconds(1));
  CreateBucket("alpha");
  auto ex = Call("GET", "/");
  ASSERT_EQ(ex->response().status, 200);
  EXPECT_EQ(Header(*ex, "Content-Type"), "application/xml");
  auto doc = Xml(ex->BodyText());
  auto root = doc.child("ListAllMyBucketsResult");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  EXPECT_EQ(std::string(root.child("Owner").child_value("DisplayName")), "imgbatch");
  std::vector<std::string> names, dates;
  for (auto b : root.child("Buckets").children("Bucket")) {
    names.push_back(b.child_value("Name"));
    dates.push_back(b.child_value("CreationDate"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "beta"}));
  // The pinned clock: beta at 1700000000000 ms, alpha a second later.
  EXPECT_EQ(dates,
            (std::vector<std::string>{"2023-11-14T22:13:21.000Z", "2023-11-14T22:13:20.000Z"}));
}

// ListBuckets' paging, as S3 has it since 2024: max-buckets with an opaque
// continuation token, prefix, bucket-region; paged replies give each
// bucket's region.
TEST_F(BucketOpsTest, ListBucketsPagesByNameWithPrefixAndRegion) {
  for (const char* name : {"img-a", "img-b", "img-c", "logs"}) CreateBucket(name);
  const auto page = [&](const std::string& query) {
    auto ex = Call("GET", "/?" + query);
    EXPECT_EQ(ex->response().status, 200) << query << ex->BodyText();
    return Xml(ex->BodyText());
  };
  const auto names = [](const pugi::xml_document& doc) {
    std::vector<std::string> out;
    for (auto b : doc.child("ListAllMyBucketsResult").child("Buckets").children("Bucket")) {
      out.push_back(b.child_value("Name"));
    }
    return out;
  };
  auto first = page("max-buckets=2&prefix=img-");
  auto root = first.child("ListAllMyBucketsResult");
  EXPECT_EQ(names(first), (std::vector<std::string>{"img-a", "img-b"}));
  EXPECT_EQ(std::string(root.child_value("Prefix")), "img-");
  EXPECT_EQ(std::string(root.child("Buckets").child("Bucket").child_value("BucketRegion")),
            "us-east-1");
  const std::string token = root.child_value("ContinuationToken");
  ASSERT_FALSE(token.empty());
  auto second = page("max-buckets=2&prefix=img-&continuation-token=" + token);
  EXPECT_EQ(names(second), (std::vector<std::string>{"img-c"}));
  EXPECT_FALSE(second.child("ListAllMyBucketsResult").child("ContinuationToken"));

  EXPECT_EQ(names(page("bucket-region=us-east-1")).size(), 4u);
  EXPECT_TRUE(names(page("bucket-region=eu-west-1")).empty());
  // Unpaged: every bucket, no region (S3 gives it only to paged requests).
  auto plain = page("");
  EXPECT_EQ(names(plain).size(), 4u);
  EXPECT_FALSE(
      plain.child("ListAllMyBucketsResult").child("Buckets").child("Bucket").child("BucketRegion"));
  for (const char* bad :
       {"max-buckets=0", "max-buckets=10001", "max-buckets=x", "continuation-token=%21%21"}) {
    EXPECT_EQ(ErrorCode(*Call("GET", std::string("/?") + bad)), "InvalidArgument") << bad;
  }
}

TEST_F(BucketOpsTest, EveryResponseCarriesRequestIds) {
  auto ok = Call("GET", "/");
  auto bad = Call("GET", "/missing-bucket");
  for (auto* ex : {ok.get(), bad.get()}) {
    EXPECT_EQ(Header(*ex, "x-amz-request-id").size(), 16u);
    EXPECT_FALSE(Header(*ex, "x-amz-id-2").empty());
  }
}

TEST_F(BucketOpsTest, CreateBucketAnswersLocationAndRecreateIsLegacyOkInUsEast1) {
  ASSERT_EQ(context_.region, "us-east-1");
  auto ex = Call("PUT", "/photos");
  ASSERT_EQ(ex->response().status, 200);
  EXPECT_EQ(Header(*ex, "Location"), "/photos");
  ASSERT_EQ(Call("PUT", "/photos/k", {}, "kept")->response().status, 200);
  // S3's us-east-1 legacy: re-creating your own bucket answers 200 and changes nothing.
  auto again = Call("PUT", "/photos");
  EXPECT_EQ(again->response().status, 200);
  EXPECT_EQ(Call("GET", "/photos/k")->BodyText(), "kept");
}

TEST_F(BucketOpsTest, CreateBucketRefusesDuplicatesOutsideUsEast1) {
  context_.region = "eu-west-1";
  handler_ = MakeS3Handler(context_);
  const std::string config =
      "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
      "</CreateBucketConfiguration>";
  ASSERT_EQ(Call("PUT", "/photos", {}, config)->response().status, 200);
  auto again = Call("PUT", "/photos", {}, config);
  EXPECT_EQ(again->response().status, 409);
  EXPECT_EQ(ErrorCode(*again), "BucketAlreadyOwnedByYou");
}

TEST_F(BucketOpsTest, CreateBucketRejectsInvalidNames) {
  auto ex = Call("PUT", "/Bad_Name");
  EXPECT_EQ(ex->response().status, 400);
  EXPECT_EQ(ErrorCode(*ex), "InvalidBucketName");
  auto doc = Xml(ex->BodyText());
  EXPECT_EQ(std::string(doc.child("Error").child_value("Resource")), "/Bad_Name");
  EXPECT_FALSE(std::string(doc.child("Error").child_value("RequestId")).empty());
}

// The error quotes the request's path; bytes there that are not UTF-8 come
// back as U+FFFD, so the reply still decodes (found by s3_service_fuzzer).
TEST_F(BucketOpsTest, ErrorsQuotePathsAsText) {
  auto ex = Call("PUT", "/bad\x8aname");
  EXPECT_EQ(ex->response().status, 400);
  EXPECT_EQ(ErrorCode(*ex), "InvalidBucketName");
  const std::string body = ex->BodyText();
  EXPECT_TRUE(CountXmlCharacters(body)) << body;
  auto doc = Xml(body);
  EXPECT_EQ(std::string(doc.child("Error").child_value("Resource")), "/bad\xef\xbf\xbdname");
}

TEST_F(BucketOpsTest, CreateBucketLocationConstraintRules) {
  auto config = [](const std::string& region) {
    return "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
           "<LocationConstraint>" +
           region + "</LocationConstraint></CreateBucketConfiguration>";
  };
  auto us_east = Call("PUT", "/one", {}, config("us-east-1"));
  EXPECT_EQ(ErrorCode(*us_east), "InvalidLocationConstraint");
  auto other = Call("PUT", "/two", {}, config("eu-west-1"));
  EXPECT_EQ(ErrorCode(*other), "IllegalLocationConstraintException");
  auto malformed = Call("PUT", "/three", {}, "<CreateBucketConfiguration>");
  EXPECT_EQ(ErrorCode(*malformed), "MalformedXML");
  auto empty = Call("PUT", "/four", {}, "<CreateBucketConfiguration/>");
  EXPECT_EQ(empty->response().status, 200);
}

TEST_F(BucketOpsTest, CreateBucketInOtherRegionAcceptsItsConstraint) {
  context_.region = "eu-west-1";
  handler_ = MakeS3Handler(context_);
  auto ex = Call("PUT", "/euro", {},
                 "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
                 "</CreateBucketConfiguration>");
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  auto location = Call("GET", "/euro?location");
  auto doc = Xml(location->BodyText());
  EXPECT_EQ(std::string(doc.child_value("LocationConstraint")), "eu-west-1");
}

TEST_F(BucketOpsTest, DeleteBucket) {
  CreateBucket("full");
  Put("full", "k", "v");
  auto not_empty = Call("DELETE", "/full");
  EXPECT_EQ(not_empty->response().status, 409);
  EXPECT_EQ(ErrorCode(*not_empty), "BucketNotEmpty");
  ASSERT_EQ(Call("DELETE", "/full/k")->response().status, 204);
  EXPECT_EQ(Call("DELETE", "/full")->response().status, 204);
  auto missing = Call("DELETE", "/full");
  EXPECT_EQ(missing->response().status, 404);
  EXPECT_EQ(ErrorCode(*missing), "NoSuchBucket");
}

TEST_F(BucketOpsTest, HeadBucketHasRegionAndErrorsHaveNoBody) {
  CreateBucket("here");
  auto ex = Call("HEAD", "/here");
  EXPECT_EQ(ex->response().status, 200);
  EXPECT_EQ(Header(*ex, "x-amz-bucket-region"), "us-east-1");
  auto missing = Call("HEAD", "/gone");
  EXPECT_EQ(missing->response().status, 404);
  EXPECT_EQ(missing->BodyText(), "");
  EXPECT_FALSE(Header(*missing, "x-amz-request-id").empty());
}

TEST_F(BucketOpsTest, LocationIsEmptyForUsEast1) {
  CreateBucket("loc");
  auto ex = Call("GET", "/loc?location");
  ASSERT_EQ(ex->response().status, 200);
  auto doc = Xml(ex->BodyText());
  auto root = doc.child("LocationConstraint");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  EXPECT_STREQ(root.child_value(), "");
}

TEST_F(BucketOpsTest, VersioningIsAnEmptyConfiguration) {
  CreateBucket("ver");
  auto ex = Call("GET", "/ver?versioning");
  ASSERT_EQ(ex->response().status, 200);
  auto doc = Xml(ex->BodyText());
  auto root = doc.child("VersioningConfiguration");
  ASSERT_TRUE(root);
  EXPECT_FALSE(root.first_child());
  EXPECT_EQ(ErrorCode(*Call("GET", "/nope?versioning")), "NoSuchBucket");
}

TEST_F(BucketOpsTest, UnsupportedSubresourcesAreNotImplemented) {
  CreateBucket("sub");
  for (const char* target : {"/sub?inventory", "/sub?analytics", "/sub/key?retention"}) {
    auto ex = Call("GET", target);
    EXPECT_EQ(ex->response().status, 501) << target;
    EXPECT_EQ(ErrorCode(*ex), "NotImplemented") << target;
  }
  // PUT ?acl is PutObjectAcl, never a PutObject of its body.
  EXPECT_EQ(ErrorCode(*Call("PUT", "/sub/key?acl", {}, "x")), "NoSuchKey");
  EXPECT_EQ(ObjectCount("sub"), 0u);
}

TEST_F(BucketOpsTest, PostOnObjectWithoutSubresourceIsMethodNotAllowed) {
  CreateBucket("post");
  auto ex = Call("POST", "/post/key", {}, "x");
  EXPECT_EQ(ex->response().status, 405);
  EXPECT_EQ(ErrorCode(*ex), "MethodNotAllowed");
}

TEST_F(BucketOpsTest, VirtualHostAddressing) {
  CreateBucket("vhost");
  http::Headers headers;
  headers.Add("Host", "vhost.localhost:4566");
  auto put = Call("PUT", "/dir/a%20b.txt", headers, "hello");
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  auto get = Call("GET", "/vhost/dir/a%20b.txt");
  EXPECT_EQ(get->response().status, 200);
  EXPECT_EQ(get->BodyText(), "hello");
  auto list = Call("GET", "/?list-type=2", headers);
  auto doc = Xml(list->BodyText());
  EXPECT_EQ(std::string(doc.child("ListBucketResult").child_value("Name")), "vhost");
  // Another domain is configurable; then "localhost" hosts are path-style.
  context_.domain = "s3.example.test";
  handler_ = MakeS3Handler(context_);
  http::Headers custom;
  custom.Add("Host", "VHOST.s3.example.test");
  EXPECT_EQ(Call("GET", "/dir/a%20b.txt", custom)->BodyText(), "hello");
  EXPECT_EQ(Call("GET", "/dir/a%20b.txt", headers)->response().status, 404);
}

TEST_F(BucketOpsTest, MalformedPathEscapeIsInvalidUri) {
  auto ex = Call("GET", "/bucket/%zz");
  EXPECT_EQ(ex->response().status, 400);
  EXPECT_EQ(ErrorCode(*ex), "InvalidURI");
}

// S3 answers an anonymous request for a bucket that does not exist with
// NoSuchBucket; an existing bucket (or a signed request) gets AccessDenied.
TEST_F(BucketOpsTest, AnonymousRequestToMissingBucketIsNoSuchBucket) {
  CreateBucket("there");
  key_.clear();
  auto missing = Call("GET", "/gone/k", http::Headers{});
  EXPECT_EQ(missing->response().status, 404);
  EXPECT_EQ(ErrorCode(*missing), "NoSuchBucket");
  auto existing = Call("GET", "/there/k", http::Headers{});
  EXPECT_EQ(existing->response().status, 403);
  EXPECT_EQ(ErrorCode(*existing), "AccessDenied");
  http::Headers bad;
  bad.Add("Authorization", "fake bad-signature");
  EXPECT_EQ(ErrorCode(*Call("GET", "/gone/k", bad)), "SignatureDoesNotMatch");
}

TEST_F(BucketOpsTest, AuthenticationFailuresMapToS3Errors) {
  http::Headers none;
  key_.clear();
  auto anonymous = Call("GET", "/", none);
  EXPECT_EQ(anonymous->response().status, 403);
  EXPECT_EQ(ErrorCode(*anonymous), "AccessDenied");
  http::Headers bad;
  bad.Add("Authorization", "fake bad-signature");
  auto bad_sig = Call("GET", "/", bad);
  EXPECT_EQ(bad_sig->response().status, 403);
  EXPECT_EQ(ErrorCode(*bad_sig), "SignatureDoesNotMatch");
  http::Headers unknown;
  unknown.Add("Authorization", "fake who");
  EXPECT_EQ(ErrorCode(*Call("GET", "/", unknown)), "InvalidAccessKeyId");
  // Authentication comes before anything else, even NotImplemented.
  EXPECT_EQ(ErrorCode(*Call("GET", "/b?acl", bad)), "SignatureDoesNotMatch");
}

TEST_F(BucketOpsTest, PolicyDenialIsAccessDenied) {
  CreateBucket("private");
  auth_->Grant("reader", "s3:GetObject", "arn:aws:s3:::private/*");
  key_ = "reader";
  auto list = Call("GET", "/private?list-type=2");
  EXPECT_EQ(list->response().status, 403);
  EXPECT_EQ(ErrorCode(*list), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("PUT", "/private/x", {}, "data")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("GET", "/")), "AccessDenied");
  EXPECT_EQ(ErrorCode(*Call("DELETE", "/private")), "AccessDenied");
  EXPECT_EQ(ObjectCount("private"), 0u);
}

}  // namespace
}  // namespace imgbatch::s3::testing
