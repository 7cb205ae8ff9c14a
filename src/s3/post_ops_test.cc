// Browser-based POST uploads through the handler: the form's signature, its
// policy, the key's authorization, the file into the store (with an
// ObjectCreated:Post event) and the answers S3 gives.
#include <string>
#include <vector>

#include "auth/policy.h"
#include "common/hashing.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

constexpr char kBoundary[] = "xYzZY-imgbatch-form";

class EventKinds final : public store::ObjectEventSink {
 public:
  Status OnObjectEvent(db::Txn&, const store::ObjectEvent& event) override {
    kinds.push_back(event.kind);
    return Status::Ok();
  }
  std::vector<store::ObjectEventKind> kinds;
};

class PostOpsTest : public S3Fixture {
 protected:
  void SetUp() override {
    CreateBucket("inbox");
    store_->SetEventSink(&events_);
  }
  void TearDown() override { store_->SetEventSink(nullptr); }

  static std::string Policy(const std::string& conditions,
                            const std::string& expiration = "2099-01-01T00:00:00Z") {
    return Base64Encode(R"({"expiration": ")" + expiration + R"(", "conditions": [)" + conditions +
                        "]}");
  }
  // A form signed by `key` (the fake checks "good-<policy>"), its fields in
  // order, then the file.
  static std::string Form(const std::string& policy,
                          std::vector<std::pair<std::string, std::string>> fields,
                          const std::string& file = "JPEGDATA", const std::string& key = "root") {
    fields.emplace_back("x-amz-credential", key + "/20990101/us-east-1/s3/aws4_request");
    fields.emplace_back("x-amz-algorithm", "AWS4-HMAC-SHA256");
    fields.emplace_back("policy", policy);
    fields.emplace_back("x-amz-signature", "good-" + policy);
    std::string body;
    for (const auto& [name, value] : fields) {
      body += std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name +
              "\"\r\n\r\n" + value + "\r\n";
    }
    body += std::string("--") + kBoundary +
            "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cat.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n" +
            file + "\r\n--" + kBoundary + "--\r\n";
    return body;
  }
  std::shared_ptr<http::FakeExchange> Post(const std::string& body,
                                           const std::string& target = "/inbox") {
    http::Headers headers;
    headers.Add("Content-Type", std::string("multipart/form-data; boundary=") + kBoundary);
    headers.Add("Authorization", "ignored");  // a POST's credentials are its form's
    return Call("POST", target, std::move(headers), body);
  }
  std::string Get(const std::string& target) { return Call("GET", target)->BodyText(); }

  // Conditions every test form meets (the signature fields are named).
  static constexpr char kSigned[] =
      R"({"x-amz-credential": "root/20990101/us-east-1/s3/aws4_request"}, )"
      R"({"x-amz-algorithm": "AWS4-HMAC-SHA256"})";

  EventKinds events_;
};

TEST_F(PostOpsTest, AFormUploadsItsFile) {
  const std::string policy = Policy(
      std::string(kSigned) + R"(, {"bucket": "inbox"}, ["starts-with", "$key", "uploads/"],)"
                             R"( ["starts-with", "$Content-Type", "image/"],)"
                             R"( {"x-amz-meta-owner": "ann"}, ["content-length-range", 1, 100])");
  auto ex = Post(Form(policy, {{"key", "uploads/${filename}"},
                               {"Content-Type", "image/jpeg"},
                               {"x-amz-meta-owner", "ann"}}));
  ASSERT_EQ(ex->response().status, 204) << ex->BodyText();
  EXPECT_EQ(Header(*ex, "ETag"), "\"" + HexEncode(Md5("JPEGDATA")) + "\"");
  EXPECT_EQ(Header(*ex, "Location"), "http://localhost:4566/inbox/uploads/cat.jpg");
  EXPECT_EQ(Get("/inbox/uploads/cat.jpg"), "JPEGDATA");
  auto head = Call("HEAD", "/inbox/uploads/cat.jpg");
  EXPECT_EQ(Header(*head, "Content-Type"), "image/jpeg");
  EXPECT_EQ(Header(*head, "x-amz-meta-owner"), "ann");
  EXPECT_EQ(events_.kinds, std::vector<store::ObjectEventKind>{store::ObjectEventKind::kPost});
}

TEST_F(PostOpsTest, SuccessActionStatusAndRedirect) {
  const std::string policy =
      Policy(std::string(kSigned) +
             R"(, ["starts-with", "$key", ""], ["starts-with", "$success_action_status", ""],)"
             R"( ["starts-with", "$success_action_redirect", ""])");
  auto created = Post(Form(policy, {{"key", "a b.jpg"}, {"success_action_status", "201"}}));
  ASSERT_EQ(created->response().status, 201) << created->BodyText();
  auto doc = Xml(created->BodyText());
  EXPECT_EQ(std::string(doc.child("PostResponse").child_value("Key")), "a b.jpg");
  EXPECT_EQ(std::string(doc.child("PostResponse").child_value("Bucket")), "inbox");
  EXPECT_EQ(std::string(doc.child("PostResponse").child_value("Location")),
            "http://localhost:4566/inbox/a%20b.jpg");
  EXPECT_EQ(
      Post(Form(policy, {{"key", "b.jpg"}, {"success_action_status", "200"}}))->response().status,
      200);
  auto redirected = Post(
      Form(policy, {{"key", "c.jpg"}, {"success_action_redirect", "https://app.example/done"}}));
  ASSERT_EQ(redirected->response().status, 303);
  EXPECT_EQ(Header(*redirected, "Location")
                .rfind("https://app.example/done?bucket=inbox&key=c.jpg&etag=%22", 0),
            0u)
      << Header(*redirected, "Location");
}

TEST_F(PostOpsTest, ThePolicyBoundsTheForm) {
  const std::string base = std::string(kSigned) + R"(, ["starts-with", "$key", "uploads/"])";
  EXPECT_EQ(ErrorCode(*Post(Form(Policy(base), {{"key", "elsewhere/x.jpg"}}))), "AccessDenied");
  // The key judged is the one written: ${filename} replaced by the file's name.
  EXPECT_EQ(Post(Form(Policy(std::string(kSigned) + R"(, ["starts-with", "$key", "cat"])"),
                      {{"key", "${filename}"}}))
                ->response()
                .status,
            204);
  EXPECT_EQ(ErrorCode(*Post(
                Form(Policy(std::string(kSigned) + R"(, ["eq", "$key", "uploads/${filename}"])"),
                     {{"key", "uploads/${filename}"}}))),
            "AccessDenied");
  EXPECT_EQ(ErrorCode(*Post(Form(Policy(base, "2001-01-01T00:00:00Z"), {{"key", "uploads/x"}}))),
            "AccessDenied");
  EXPECT_EQ(ErrorCode(*Post(Form(Policy(base), {{"key", "uploads/x"}, {"acl", "private"}}))),
            "AccessDenied");  // a field no condition names
  EXPECT_EQ(ErrorCode(*Post(Form(Policy(base + R"(, {"bucket": "out"})"), {{"key", "uploads/x"}}))),
            "AccessDenied");
  const std::string ranged = Policy(base + R"(, ["content-length-range", 3, 5])");
  EXPECT_EQ(ErrorCode(*Post(Form(ranged, {{"key", "uploads/big"}}, "123456"))), "EntityTooLarge");
  EXPECT_EQ(ErrorCode(*Post(Form(ranged, {{"key", "uploads/small"}}, "12"))), "EntityTooSmall");
  EXPECT_EQ(Post(Form(ranged, {{"key", "uploads/fits"}}, "12345"))->response().status, 204);
  EXPECT_EQ(ErrorCode(*Post(Form("bm90IGpzb24=", {{"key", "uploads/x"}}))),
            "InvalidPolicyDocument");
  EXPECT_EQ(ObjectCount("inbox"), 2u);  // cat.jpg, uploads/fits
}

TEST_F(PostOpsTest, TheSignatureAndTheKeysRights) {
  const std::string policy = Policy(std::string(kSigned) + R"(, ["starts-with", "$key", ""])");
  std::string forged = Form(policy, {{"key", "x"}});
  forged.replace(forged.find("good-"), 5, "evil-");
  EXPECT_EQ(ErrorCode(*Post(forged)), "SignatureDoesNotMatch");
  EXPECT_EQ(ErrorCode(*Post(Form(policy, {{"key", "x"}}, "d", "stranger"))), "InvalidAccessKeyId");
  // alice may write under alice/ only: the form's key is what is authorized.
  auth_->Grant("alice", "s3:PutObject", "arn:aws:s3:::inbox/alice/*");
  const std::string alices =
      Policy(R"({"x-amz-credential": "alice/20990101/us-east-1/s3/aws4_request"}, )"
             R"({"x-amz-algorithm": "AWS4-HMAC-SHA256"}, ["starts-with", "$key", ""])");
  EXPECT_EQ(Post(Form(alices, {{"key", "alice/a.jpg"}}, "d", "alice"))->response().status, 204);
  EXPECT_EQ(ErrorCode(*Post(Form(alices, {{"key", "bob/a.jpg"}}, "d", "alice"))), "AccessDenied");
  EXPECT_EQ(ObjectCount("inbox"), 1u);
}

// A key policy judges a form by what its fields say, as S3's condition keys
// give them for POST: s3:x-amz-acl from `acl`, the tags of `tagging`,
// s3:authType "POST".
TEST_F(PostOpsTest, TheKeysPolicySeesTheFormsFields) {
  auto policy = auth::Policy::FromJson(R"({"Statement": [
      {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectTagging"],
       "Resource": "arn:aws:s3:::inbox/*",
       "Condition": {"StringEquals": {"s3:authType": "POST", "s3:x-amz-acl": "private",
                                      "s3:signatureversion": "AWS4-HMAC-SHA256"}}},
      {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::inbox/*",
       "Condition": {"StringEquals": {"s3:RequestObjectTag/stage": "secret"}}}]})");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  auth_->GrantPolicy("carol", *policy);
  const std::string carols =
      Policy(R"({"x-amz-credential": "carol/20990101/us-east-1/s3/aws4_request"}, )"
             R"({"x-amz-algorithm": "AWS4-HMAC-SHA256"}, ["starts-with", "$key", ""], )"
             R"(["starts-with", "$acl", ""], ["starts-with", "$tagging", ""])");
  auto tagging = [](const std::string& stage) {
    return "<Tagging><TagSet><Tag><Key>stage</Key><Value>" + stage +
           "</Value></Tag></TagSet></Tagging>";
  };
  auto sent = Post(Form(carols, {{"key", "a.jpg"}, {"acl", "private"}, {"tagging", tagging("raw")}},
                        "d", "carol"));
  EXPECT_EQ(sent->response().status, 204) << sent->BodyText();
  EXPECT_EQ(
      ErrorCode(*Post(Form(carols, {{"key", "b.jpg"}, {"tagging", tagging("raw")}}, "d", "carol"))),
      "AccessDenied");  // no acl field: s3:x-amz-acl absent
  EXPECT_EQ(ErrorCode(*Post(
                Form(carols, {{"key", "c.jpg"}, {"acl", "private"}, {"tagging", tagging("secret")}},
                     "d", "carol"))),
            "AccessDenied");
  EXPECT_EQ(ObjectCount("inbox"), 1u);
}

TEST_F(PostOpsTest, MalformedRequests) {
  const std::string policy = Policy(
      std::string(kSigned) + R"(, ["starts-with", "$key", ""], ["starts-with", "$acl", ""])");
  http::Headers json;
  json.Add("Content-Type", "application/json");
  EXPECT_EQ(ErrorCode(*Call("POST", "/inbox", json, "{}")), "PreconditionFailed");
  EXPECT_EQ(ErrorCode(*Post(Form(policy, {{"key", "x"}}), "/none")), "NoSuchBucket");
  EXPECT_EQ(ErrorCode(*Post(Form(policy, {}))), "InvalidArgument");  // no key
  std::string no_file = Form(policy, {{"key", "x"}});
  no_file.erase(no_file.find(std::string("--") + kBoundary +
                             "\r\nContent-Disposition: form-data; name=\"file\""));
  no_file += std::string("--") + kBoundary + "--\r\n";
  EXPECT_EQ(ErrorCode(*Post(no_file)), "IncorrectNumberOfFilesInPostRequest");
  std::string truncated = Form(policy, {{"key", "x"}});
  truncated.resize(truncated.size() - 12);
  EXPECT_EQ(ErrorCode(*Post(truncated)), "MalformedPOSTRequest");
  EXPECT_EQ(ErrorCode(*Post(Form(policy, {{"key", "x"}, {"acl", "public-read"}}))),
            "AccessControlListNotSupported");
  EXPECT_EQ(Post(Form(policy, {{"key", "x"}, {"acl", "private"}}))->response().status, 204);
  EXPECT_EQ(ObjectCount("inbox"), 1u);
}

}  // namespace
}  // namespace imgbatch::s3::testing
