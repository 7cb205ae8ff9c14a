#include "client/credentials.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "client/aws_http.h"
#include "client/testing/moto_server.h"
#include "common/strings.h"

namespace imgbatch::client {
namespace {

using testing::LocalHttpServer;
using testing::LocalRequest;
using testing::LocalResponse;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("imgbatch-creds-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    // Never reach a real metadata service, whatever the machine is.
    vars_["AWS_EC2_METADATA_DISABLED"] = "true";
    vars_["HOME"] = dir_.string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  EnvLookup Env() {
    return [this](const std::string& name) -> std::optional<std::string> {
      auto it = vars_.find(name);
      return it == vars_.end() ? std::nullopt : std::optional(it->second);
    };
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> vars_;
  CurlTransport transport_;
  ManualClock clock_{1'800'000'000'000};
};

std::string CredentialsJson(const std::string& key, SysTime expiration) {
  return R"({"AccessKeyId":")" + key + R"(","SecretAccessKey":"secret-)" + key +
         R"(","Token":"token-)" + key + R"(","Expiration":")" + FormatIso8601Millis(expiration) +
         R"("})";
}

TEST_F(CredentialsTest, EnvironmentComesFirst) {
  vars_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  vars_["AWS_SECRET_ACCESS_KEY"] = "SECRETENV";
  vars_["AWS_SESSION_TOKEN"] = "TOKENENV";
  WriteFile("credentials", "[default]\naws_access_key_id=AKIDFILE\naws_secret_access_key=S\n");
  vars_["AWS_SHARED_CREDENTIALS_FILE"] = (dir_ / "credentials").string();
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  auto credentials = chain->Get();
  ASSERT_TRUE(credentials.ok()) << credentials.status().ToString();
  EXPECT_EQ(credentials->access_key_id, "AKIDENV");
  EXPECT_EQ(credentials->secret_access_key, "SECRETENV");
  EXPECT_EQ(credentials->session_token, "TOKENENV");
  EXPECT_EQ(chain->SourceName(), "environment");
}

TEST_F(CredentialsTest, HalfSetEnvironmentIsAnError) {
  vars_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  EXPECT_EQ(chain->Get().status().code(), Code::kInvalidArgument);
}

TEST_F(CredentialsTest, ProfileFromCredentialsAndConfigFiles) {
  vars_["AWS_SHARED_CREDENTIALS_FILE"] =
      WriteFile("creds",
                "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = S1\n"
                "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = S2\n"
                "aws_session_token = T2\n");
  vars_["AWS_CONFIG_FILE"] =
      WriteFile("config",
                "[default]\nregion = eu-central-1\n"
                "[profile cfgonly]\naws_access_key_id = AKIDCFG\naws_secret_access_key = S3\n"
                "region = ap-south-1\n");
  {
    auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
    EXPECT_EQ(chain->Get()->access_key_id, "AKIDDEFAULT");
    EXPECT_EQ(ResolveRegion(Env()), "eu-central-1");
  }
  {
    vars_["AWS_PROFILE"] = "other";
    auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
    auto credentials = chain->Get();
    ASSERT_TRUE(credentials.ok());
    EXPECT_EQ(credentials->access_key_id, "AKIDOTHER");
    EXPECT_EQ(credentials->session_token, "T2");
  }
  {
    auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_, "cfgonly");
    EXPECT_EQ(chain->Get()->access_key_id, "AKIDCFG");
    EXPECT_EQ(ResolveRegion(Env(), "cfgonly"), "ap-south-1");
  }
  vars_["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(ResolveRegion(Env()), "us-west-2");
}

TEST_F(CredentialsTest, BrokenCredentialsFileIsReported) {
  vars_["AWS_SHARED_CREDENTIALS_FILE"] = WriteFile("creds", "[default\naws_access_key_id = X\n");
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  auto credentials = chain->Get();
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.status().message().find("unterminated section"), std::string::npos);
}

TEST_F(CredentialsTest, NothingConfiguredIsUnauthenticated) {
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  auto credentials = chain->Get();
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.status().code(), Code::kUnauthenticated);
}

TEST_F(CredentialsTest, ContainerFullUriWithTokenAndRefreshBeforeExpiry) {
  int served = 0;
  std::string seen_authorization;
  LocalHttpServer server([&](const LocalRequest& request) {
    seen_authorization = request.authorization;
    ++served;
    // Each fetch hands out new keys valid for 1 hour from the test clock.
    return LocalResponse{200, CredentialsJson("AKID" + std::to_string(served),
                                              clock_.Now() + std::chrono::hours(1))};
  });
  vars_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server.url() + "/v2/credentials/abc";
  vars_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Bearer-token";
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);

  auto first = chain->Get();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->access_key_id, "AKID1");
  EXPECT_EQ(first->session_token, "token-AKID1");
  EXPECT_EQ(seen_authorization, "Bearer-token");
  EXPECT_EQ(chain->SourceName(), "container");

  // Still far from expiry: cached, no new request.
  clock_.Advance(std::chrono::minutes(30));
  EXPECT_EQ(chain->Get()->access_key_id, "AKID1");
  EXPECT_EQ(server.requests(), 1);

  // Within the refresh margin (5 min) of expiry: fetched again.
  clock_.Advance(std::chrono::minutes(26));
  EXPECT_EQ(chain->Get()->access_key_id, "AKID2");
  EXPECT_EQ(server.requests(), 2);
}

TEST_F(CredentialsTest, ContainerTokenFileIsReadOnEachFetch) {
  std::string seen_authorization;
  LocalHttpServer server([&](const LocalRequest& request) {
    seen_authorization = request.authorization;
    return LocalResponse{200, CredentialsJson("AKIDF", clock_.Now() + std::chrono::minutes(1))};
  });
  vars_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server.url() + "/creds";
  vars_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "ignored-when-file-set";
  vars_["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = WriteFile("token", "from-file-1\n");
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  ASSERT_TRUE(chain->Get().ok());
  EXPECT_EQ(seen_authorization, "from-file-1");
  WriteFile("token", "from-file-2");
  // Expires within the margin: every Get refreshes.
  ASSERT_TRUE(chain->Get().ok());
  EXPECT_EQ(seen_authorization, "from-file-2");
}

TEST_F(CredentialsTest, FailedRefreshKeepsStillValidCredentials) {
  bool fail = false;
  LocalHttpServer server([&](const LocalRequest&) {
    if (fail) return LocalResponse{500, "{}"};
    return LocalResponse{200, CredentialsJson("AKIDOK", clock_.Now() + std::chrono::minutes(10))};
  });
  vars_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server.url() + "/creds";
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  ASSERT_EQ(chain->Get()->access_key_id, "AKIDOK");
  fail = true;
  clock_.Advance(std::chrono::minutes(6));  // inside the refresh margin, not expired
  auto kept = chain->Get();
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->access_key_id, "AKIDOK");
  const int asked = server.requests();
  // The failing endpoint is not asked again on every call, only after a pause.
  EXPECT_EQ(chain->Get()->access_key_id, "AKIDOK");
  EXPECT_EQ(server.requests(), asked);
  clock_.Advance(ChainCredentialsProvider::kFailedRefreshPause);
  EXPECT_EQ(chain->Get()->access_key_id, "AKIDOK");
  EXPECT_GT(server.requests(), asked);
  clock_.Advance(std::chrono::minutes(5));  // now expired, refresh still failing
  EXPECT_FALSE(chain->Get().ok());
}

TEST_F(CredentialsTest, ContainerFullUriMustBeLoopbackOrHttps) {
  vars_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://example.com/creds";
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  EXPECT_EQ(chain->Get().status().code(), Code::kInvalidArgument);
}

TEST_F(CredentialsTest, ImdsV2AgainstLocalEndpoint) {
  // Plays IMDSv2 on 127.0.0.1 through AWS_EC2_METADATA_SERVICE_ENDPOINT.
  std::vector<std::string> seen;
  LocalHttpServer server([&](const LocalRequest& request) {
    seen.push_back(request.method + " " + request.target);
    if (request.method == "PUT" && request.target == "/latest/api/token") {
      return LocalResponse{200, "imds-token"};
    }
    if (request.target == "/latest/meta-data/iam/security-credentials/") {
      return LocalResponse{200, "my-role\n"};
    }
    if (request.target == "/latest/meta-data/iam/security-credentials/my-role") {
      return LocalResponse{200, CredentialsJson("AKIDIMDS", clock_.Now() + std::chrono::hours(6))};
    }
    return LocalResponse{404, ""};
  });
  vars_.erase("AWS_EC2_METADATA_DISABLED");
  vars_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.url() + "/";
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  auto credentials = chain->Get();
  ASSERT_TRUE(credentials.ok()) << credentials.status().ToString();
  EXPECT_EQ(credentials->access_key_id, "AKIDIMDS");
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "PUT /latest/api/token");
}

std::string StsReply(const std::string& key, SysTime expiration) {
  return R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:imgbatch:worker</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>token-)" +
         key + R"(</SessionToken>
      <SecretAccessKey>secret-)" +
         key + R"(</SecretAccessKey>
      <Expiration>)" +
         FormatIso8601Millis(expiration) + R"(</Expiration>
      <AccessKeyId>)" +
         key + R"(</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>)";
}

// Plays STS on 127.0.0.1 (AWS_ENDPOINT_URL_STS): the IRSA variables become an
// AssumeRoleWithWebIdentity call carrying the token file's current content.
TEST_F(CredentialsTest, WebIdentityTokenFileAssumesTheRoleAndRefreshes) {
  std::vector<QueryParams> calls;
  LocalHttpServer sts([&](const LocalRequest& request) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/");
    EXPECT_TRUE(request.authorization.empty()) << "AssumeRoleWithWebIdentity is unsigned";
    calls.push_back(ParseQuery(request.body, /*plus_as_space=*/true));
    return LocalResponse{200, StsReply("ASIAWEB" + std::to_string(calls.size()),
                                       clock_.Now() + std::chrono::hours(1))};
  });
  vars_["AWS_WEB_IDENTITY_TOKEN_FILE"] = WriteFile("token", "eyJ.first-token\n");
  vars_["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/imgbatch-worker";
  vars_["AWS_ROLE_SESSION_NAME"] = "pod name/1";
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url();
  vars_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:1/never-asked";
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);

  auto first = chain->Get();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->access_key_id, "ASIAWEB1");
  EXPECT_EQ(first->secret_access_key, "secret-ASIAWEB1");
  EXPECT_EQ(first->session_token, "token-ASIAWEB1");
  EXPECT_EQ(chain->SourceName(), "web-identity");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(QueryGet(calls[0], "Action").value_or("<missing>"), "AssumeRoleWithWebIdentity");
  EXPECT_EQ(QueryGet(calls[0], "Version").value_or("<missing>"), "2011-06-15");
  EXPECT_EQ(QueryGet(calls[0], "RoleArn").value_or("<missing>"),
            "arn:aws:iam::123456789012:role/imgbatch-worker");
  EXPECT_EQ(QueryGet(calls[0], "RoleSessionName").value_or("<missing>"), "pod name/1");
  EXPECT_EQ(QueryGet(calls[0], "WebIdentityToken").value_or("<missing>"), "eyJ.first-token");

  clock_.Advance(std::chrono::minutes(30));
  EXPECT_EQ(chain->Get()->access_key_id, "ASIAWEB1");  // cached
  EXPECT_EQ(calls.size(), 1u);

  // The kubelet rotated the token; inside the refresh margin the role is
  // assumed again with the new one.
  WriteFile("token", "eyJ.second-token");
  clock_.Advance(std::chrono::minutes(26));
  EXPECT_EQ(chain->Get()->access_key_id, "ASIAWEB2");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(QueryGet(calls[1], "WebIdentityToken").value_or("<missing>"), "eyJ.second-token");
}

TEST_F(CredentialsTest, WebIdentityErrorsAreReportedInSTSTerms) {
  LocalHttpServer sts([&](const LocalRequest&) {
    return LocalResponse{400, R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Token expired</Message></Error>
  <RequestId>x</RequestId></ErrorResponse>)"};
  });
  vars_["AWS_WEB_IDENTITY_TOKEN_FILE"] = WriteFile("token", "expired");
  vars_["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/r";
  vars_["AWS_ENDPOINT_URL"] = sts.url();  // the general override reaches STS too
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  auto failed = chain->Get();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kUnauthenticated);
  EXPECT_NE(failed.status().message().find("InvalidIdentityToken"), std::string::npos)
      << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("Token expired"), std::string::npos);
  EXPECT_EQ(sts.requests(), 1);
}

TEST_F(CredentialsTest, WebIdentityNeedsBothVariablesAndComesAfterEnvironmentKeys) {
  vars_["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/r";
  EXPECT_EQ(MakeDefaultCredentialsChain(Env(), transport_, clock_)->Get().status().code(),
            Code::kInvalidArgument);
  vars_["AWS_WEB_IDENTITY_TOKEN_FILE"] = (dir_ / "missing-token").string();
  EXPECT_EQ(MakeDefaultCredentialsChain(Env(), transport_, clock_)->Get().status().code(),
            Code::kIoError);
  vars_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  vars_["AWS_SECRET_ACCESS_KEY"] = "SECRETENV";
  auto chain = MakeDefaultCredentialsChain(Env(), transport_, clock_);
  EXPECT_EQ(chain->Get()->access_key_id, "AKIDENV");
  EXPECT_EQ(chain->SourceName(), "environment");
}

TEST(StsEndpointTest, RegionalByDefaultGlobalWithoutRegionOverridable) {
  std::map<std::string, std::string> vars{{"AWS_CONFIG_FILE", "/nonexistent"}};
  EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional(it->second);
  };
  EXPECT_EQ(ResolveStsEndpoint(env)->Origin(), "https://sts.amazonaws.com");
  vars["AWS_REGION"] = "eu-central-1";
  EXPECT_EQ(ResolveStsEndpoint(env)->Origin(), "https://sts.eu-central-1.amazonaws.com");
  vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566";
  EXPECT_EQ(ResolveStsEndpoint(env)->Origin(), "http://127.0.0.1:4566");
  vars["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9000";
  EXPECT_EQ(ResolveStsEndpoint(env)->Origin(), "http://127.0.0.1:9000");
}

TEST(StsXmlTest, RejectsIncompleteReplies) {
  EXPECT_FALSE(ParseAssumeRoleWithWebIdentityResponse("").ok());
  EXPECT_FALSE(ParseAssumeRoleWithWebIdentityResponse("<Assume").ok());
  EXPECT_FALSE(ParseAssumeRoleWithWebIdentityResponse("<ErrorResponse/>").ok());
  const std::string no_expiration =
      "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
      "<AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
      "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
  EXPECT_FALSE(ParseAssumeRoleWithWebIdentityResponse(no_expiration).ok());
}

TEST(CredentialsJsonTest, RejectsMalformedDocuments) {
  EXPECT_FALSE(ParseCredentialsJson("").ok());
  EXPECT_FALSE(ParseCredentialsJson("{").ok());
  EXPECT_FALSE(ParseCredentialsJson(R"({"AccessKeyId":"A"})").ok());
  EXPECT_FALSE(ParseCredentialsJson(R"({"AccessKeyId":1,"SecretAccessKey":"S"})").ok());
  EXPECT_FALSE(
      ParseCredentialsJson(R"({"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"soon"})")
          .ok());
  auto ok = ParseCredentialsJson(R"({"AccessKeyId":"A","SecretAccessKey":"S"})");
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->expiration.has_value());
}

}  // namespace
}  // namespace imgbatch::client
