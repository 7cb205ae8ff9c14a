// Test helpers for the s3 adapter: a FakeAuthenticator (policies by access
// key, a minimal unsigned aws-chunked decoder) and S3Fixture, which wires the
// real store (SQLite in a temp dir, pinned clock) into an S3 handler and
// calls it in-process.
// Not thread-safe beyond what the handler itself guarantees.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "auth/policy.h"
#include "common/clock.h"
#include "db/database.h"
#include "http/testing.h"
#include "s3/s3_service.h"

namespace imgbatch::s3::testing {

// Requests carry "Authorization: fake <access-key-id>". Key "bad-signature"
// fails as SignatureDoesNotMatch, unknown keys as InvalidAccessKeyId, no
// header as AccessDenied. x-amz-content-sha256 selects the payload mode
// (absent: UNSIGNED-PAYLOAD).
class FakeAuthenticator final : public Authenticator {
 public:
  FakeAuthenticator();
  // Grants (action, resource) glob patterns to a key; "root" has s3:* on *.
  void Grant(const std::string& key, const std::string& action, const std::string& resource);

  Result<auth::VerifiedRequest> Verify(const http::RequestHead& head) override;
  // The key is the credential's first part (or AWSAccessKeyId); the
  // signature must be "good-<policy>" (tests sign nothing for real).
  Result<auth::VerifiedRequest> VerifyPost(const auth::PostFormSignature& form) override;
  // Also decides a key's policy (GrantPolicy) against the condition keys.
  void GrantPolicy(const std::string& key, auth::Policy policy);
  // Key "root" is the account's root user, any other key the user of its
  // name.
  bool Allowed(const auth::VerifiedRequest& caller, std::string_view action,
               std::string_view resource, const auth::RequestContext& context,
               const auth::Policy* bucket_policy) override;
  std::optional<auth::PrincipalIdentity> Principal(const auth::VerifiedRequest& caller,
                                                   std::string_view account_id) override;
  bool HasUser(std::string_view name) override;
  std::unique_ptr<ChunkedBody> OpenChunked(RawBodyRead raw,
                                           const auth::VerifiedRequest& caller) override;

 private:
  auth::Decision OwnDecision(const std::string& key, std::string_view action,
                             std::string_view resource, const auth::RequestContext& context);

  std::mutex mu_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> grants_;
  std::map<std::string, auth::Policy> policies_;
};

// Frames data as an unsigned aws-chunked body with optional trailers.
std::string AwsChunked(const std::string& data, size_t chunk,
                       const std::vector<std::pair<std::string, std::string>>& trailers);

// A temporary directory removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class S3Fixture : public ::testing::Test {
 protected:
  S3Fixture();
  ~S3Fixture() override;

  // Calls the handler; adds "Authorization: fake <key_>" unless present and
  // Host: localhost:4566 unless present.
  std::shared_ptr<http::FakeExchange> Call(const std::string& method, const std::string& target,
                                           http::Headers headers = {}, std::string body = {});
  void CreateBucket(const std::string& bucket);
  void Put(const std::string& bucket, const std::string& key, const std::string& body,
           http::Headers headers = {});

  // Parses an XML body; fails the test on malformed XML.
  static pugi::xml_document Xml(const std::string& body);
  // The error code of an S3 XML error body.
  static std::string ErrorCode(http::FakeExchange& ex);
  static std::string Header(http::FakeExchange& ex, std::string_view name);

  // Objects in a bucket, straight from the store (to check nothing was
  // committed by a refused request).
  size_t ObjectCount(const std::string& bucket);

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<store::ObjectStore> store_;
  std::shared_ptr<FakeAuthenticator> auth_;
  S3Context context_;
  http::Handler handler_;
  std::string key_ = "root";
};

}  // namespace imgbatch::s3::testing
