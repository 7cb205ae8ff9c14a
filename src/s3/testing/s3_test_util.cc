#include "s3/testing/s3_test_util.h"

#include <stdlib.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/strings.h"

namespace imgbatch::s3::testing {
namespace {

// '*' and '?' glob, enough for test policies.
bool Glob(std::string_view p, std::string_view t) {
  if (p.empty()) return t.empty();
  if (p[0] == '*') {
    for (size_t i = 0; i <= t.size(); ++i) {
      if (Glob(p.substr(1), t.substr(i))) return true;
    }
    return false;
  }
  return !t.empty() && (p[0] == '?' || p[0] == t[0]) && Glob(p.substr(1), t.substr(1));
}

// Decodes the whole unsigned aws-chunked body on the first Read.
class FakeChunkedBody final : public ChunkedBody {
 public:
  explicit FakeChunkedBody(RawBodyRead raw) : raw_(std::move(raw)) {}

  Result<size_t> Read(std::span<char> buffer) override {
    if (!decoded_) {
      IMGBATCH_RETURN_IF_ERROR(Decode());
      decoded_ = true;
    }
    size_t n = std::min(buffer.size(), payload_.size() - offset_);
    std::memcpy(buffer.data(), payload_.data() + offset_, n);
    offset_ += n;
    return n;
  }
  const auth::HeaderList& trailers() const override { return trailers_; }

 private:
  Status Decode() {
    std::string raw;
    char buf[4096];
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(size_t n, raw_(buf));
      if (n == 0) break;
      raw.append(buf, n);
    }
    size_t pos = 0;
    auto bad = [] {
      return Status(Code::kInvalidArgument, "bad framing").WithDetail("IncompleteBody");
    };
    while (true) {
      size_t eol = raw.find("\r\n", pos);
      if (eol == std::string::npos) return bad();
      std::string size_text =
          raw.substr(pos, raw.find(';', pos) < eol ? raw.find(';', pos) - pos : eol - pos);
      // from_chars, not stoul: a malformed size is the client's error, not
      // an exception (s3_service_fuzzer).
      size_t size = 0;
      const char* end = size_text.data() + size_text.size();
      auto [stop, ec] = std::from_chars(size_text.data(), end, size, 16);
      if (ec != std::errc() || stop != end || size_text.empty()) return bad();
      pos = eol + 2;
      if (size == 0) break;
      if (raw.size() < pos + 2 || size > raw.size() - pos - 2) return bad();
      payload_.append(raw, pos, size);
      pos += size + 2;
    }
    while (true) {
      size_t eol = raw.find("\r\n", pos);
      if (eol == std::string::npos) return bad();
      if (eol == pos) break;
      std::string line = raw.substr(pos, eol - pos);
      size_t colon = line.find(':');
      if (colon == std::string::npos) return bad();
      trailers_.emplace_back(ToLower(line.substr(0, colon)), line.substr(colon + 1));
      pos = eol + 2;
    }
    return Status::Ok();
  }

  RawBodyRead raw_;
  bool decoded_ = false;
  std::string payload_;
  size_t offset_ = 0;
  auth::HeaderList trailers_;
};

}  // namespace

FakeAuthenticator::FakeAuthenticator() { Grant("root", "*", "*"); }

void FakeAuthenticator::Grant(const std::string& key, const std::string& action,
                              const std::string& resource) {
  std::lock_guard lock(mu_);
  grants_[key].emplace_back(action, resource);
}

Result<auth::VerifiedRequest> FakeAuthenticator::VerifyPost(const auth::PostFormSignature& form) {
  const bool v4 = !form.credential.empty();
  std::string key = v4 ? form.credential.substr(0, form.credential.find('/')) : form.access_key_id;
  const std::string& signature = v4 ? form.signature : form.signature_v2;
  if (key.empty()) return Status(Code::kAccessDenied, "").WithDetail("AccessDenied");
  {
    std::lock_guard lock(mu_);
    if (!grants_.count(key) && !policies_.count(key)) {
      return Status(Code::kUnauthenticated, "").WithDetail("InvalidAccessKeyId");
    }
  }
  if (signature != "good-" + form.policy) {
    return Status(Code::kUnauthenticated, "").WithDetail("SignatureDoesNotMatch");
  }
  auth::VerifiedRequest verified;
  verified.access_key_id = std::move(key);
  verified.region = "us-east-1";
  verified.service = "s3";
  verified.payload = auth::PayloadMode::kUnsignedPayload;
  return verified;
}

Result<auth::VerifiedRequest> FakeAuthenticator::Verify(const http::RequestHead& head) {
  std::optional<std::string_view> authorization = head.headers.Get("Authorization");
  if (!authorization) return Status(Code::kUnauthenticated, "").WithDetail("AccessDenied");
  std::string key(Trim(authorization->substr(std::min<size_t>(5, authorization->size()))));
  if (key == "bad-signature") {
    return Status(Code::kUnauthenticated, "").WithDetail("SignatureDoesNotMatch");
  }
  {
    std::lock_guard lock(mu_);
    if (!grants_.count(key) && !policies_.count(key) && key != "nobody") {
      return Status(Code::kUnauthenticated, "").WithDetail("InvalidAccessKeyId");
    }
  }
  auth::VerifiedRequest verified;
  verified.access_key_id = key;
  verified.region = "us-east-1";
  verified.service = "s3";
  std::string payload(head.headers.Get("x-amz-content-sha256").value_or("UNSIGNED-PAYLOAD"));
  if (payload == "UNSIGNED-PAYLOAD") {
    verified.payload = auth::PayloadMode::kUnsignedPayload;
  } else if (payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER") {
    verified.payload = auth::PayloadMode::kStreamingUnsignedTrailer;
  } else {
    verified.payload = auth::PayloadMode::kSignedHex;
    verified.body_sha256 = payload;
  }
  return verified;
}

void FakeAuthenticator::GrantPolicy(const std::string& key, auth::Policy policy) {
  std::lock_guard lock(mu_);
  policies_.insert_or_assign(key, std::move(policy));
}

bool FakeAuthenticator::Allowed(const auth::VerifiedRequest& caller, std::string_view action,
                                std::string_view resource, const auth::RequestContext& context,
                                const auth::Policy* bucket_policy) {
  return auth::AllowedTogether(OwnDecision(caller.access_key_id, action, resource, context),
                               bucket_policy, action, resource, context);
}

auth::Decision FakeAuthenticator::OwnDecision(const std::string& key, std::string_view action,
                                              std::string_view resource,
                                              const auth::RequestContext& context) {
  std::lock_guard lock(mu_);
  if (auto policy = policies_.find(key); policy != policies_.end()) {
    return policy->second.Decide(action, resource, context);
  }
  auto it = grants_.find(key);
  if (it == grants_.end()) return auth::Decision::kNotApplicable;
  for (const auto& [a, r] : it->second) {
    if (Glob(a, action) && Glob(r, resource)) return auth::Decision::kAllow;
  }
  return auth::Decision::kNotApplicable;
}

std::optional<auth::PrincipalIdentity> FakeAuthenticator::Principal(
    const auth::VerifiedRequest& caller, std::string_view account_id) {
  if (caller.access_key_id == "root") return auth::PrincipalIdentity::Root(account_id);
  return auth::PrincipalIdentity::User(account_id, caller.access_key_id);
}

bool FakeAuthenticator::HasUser(std::string_view name) {
  std::lock_guard lock(mu_);
  const std::string key(name);
  return key != "root" && (grants_.count(key) > 0 || policies_.count(key) > 0 || key == "nobody");
}

std::unique_ptr<ChunkedBody> FakeAuthenticator::OpenChunked(RawBodyRead raw,
                                                            const auth::VerifiedRequest&) {
  return std::make_unique<FakeChunkedBody>(std::move(raw));
}

std::string AwsChunked(const std::string& data, size_t chunk,
                       const std::vector<std::pair<std::string, std::string>>& trailers) {
  std::string out;
  char size[32];
  for (size_t pos = 0; pos < data.size(); pos += chunk) {
    size_t n = std::min(chunk, data.size() - pos);
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out += size;
    out.append(data, pos, n);
    out += "\r\n";
  }
  out += "0\r\n";
  for (const auto& [name, value] : trailers) out += name + ":" + value + "\r\n";
  out += "\r\n";
  return out;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "s3test.XXXXXX").string();
  path_ = ::mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

std::unique_ptr<db::Database> OpenDatabase(const std::string& dir) {
  db::Options options;
  options.path = dir + "/meta.db";
  auto db = db::Database::Open(options);
  if (!db.ok()) {
    ADD_FAILURE() << db.status().ToString();
    return nullptr;
  }
  return std::move(db).value();
}

std::unique_ptr<store::ObjectStore> OpenStore(db::Database& db, const std::string& dir,
                                              Clock& clock) {
  store::StoreOptions options;
  options.data_dir = dir;
  options.free_space_reserve = 0;  // tests must not depend on the machine's free disk
  auto store = store::ObjectStore::Open(db, options, clock);
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return nullptr;
  }
  return std::move(store).value();
}

}  // namespace

S3Fixture::S3Fixture()
    : db_(OpenDatabase(dir_.path())),
      store_(OpenStore(*db_, dir_.path(), clock_)),
      auth_(std::make_shared<FakeAuthenticator>()),
      context_(*store_, auth_) {
  handler_ = MakeS3Handler(context_);
}

S3Fixture::~S3Fixture() {
  handler_ = nullptr;
  store_.reset();
  db_.reset();
}

size_t S3Fixture::ObjectCount(const std::string& bucket) {
  auto list = store_->ListObjects(bucket, store::ListRequest{});
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  return list.ok() ? list->objects.size() : 0;
}

std::shared_ptr<http::FakeExchange> S3Fixture::Call(const std::string& method,
                                                    const std::string& target,
                                                    http::Headers headers, std::string body) {
  if (!headers.Has("Authorization") && !key_.empty()) headers.Add("Authorization", "fake " + key_);
  if (!headers.Has("Host")) headers.Add("Host", "localhost:4566");
  return http::Call(handler_, method, target, std::move(headers), std::move(body));
}

void S3Fixture::CreateBucket(const std::string& bucket) {
  auto ex = Call("PUT", "/" + bucket);
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
}

void S3Fixture::Put(const std::string& bucket, const std::string& key, const std::string& body,
                    http::Headers headers) {
  auto ex = Call("PUT", "/" + bucket + "/" + key, std::move(headers), body);
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
}

pugi::xml_document S3Fixture::Xml(const std::string& body) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_string(body.c_str());
  EXPECT_TRUE(parsed) << "not XML: " << body;
  return doc;
}

std::string S3Fixture::ErrorCode(http::FakeExchange& ex) {
  pugi::xml_document doc = Xml(ex.BodyText());
  return doc.child("Error").child_value("Code");
}

std::string S3Fixture::Header(http::FakeExchange& ex, std::string_view name) {
  return std::string(ex.response().headers.Get(name).value_or(""));
}

}  // namespace imgbatch::s3::testing
