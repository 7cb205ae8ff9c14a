// The AWS credentials chain as the SDKs resolve it, refreshed before expiry:
//   1. environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
//   2. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//      [+ AWS_ROLE_SESSION_NAME] -> STS AssumeRoleWithWebIdentity on the
//      regional endpoint (AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL override it)
//   3. shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
//      AWS_CONFIG_FILE (~/.aws/config), profile AWS_PROFILE or "default"
//   4. ECS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
//      http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI with
//      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
//   5. EC2 IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, off with
//      AWS_EC2_METADATA_DISABLED=true)
// An explicit profile (--profile) moves the shared files to the front and
// drops the environment keys, as the AWS CLI does.
// Reference: AWS SDKs and Tools Reference Guide, "Standardized credential
// providers". Environment lookups are injected so tests never touch the
// process environment. Thread-safety: providers are safe to share between
// threads; Get() serialises refreshes behind a mutex.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/sigv4.h"
#include "client/http_transport.h"
#include "common/clock.h"
#include "common/status.h"

namespace imgbatch::client {

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup ProcessEnv();  // getenv, treating empty values as unset

struct TimedCredentials {
  auth::Credentials credentials;
  std::optional<std::chrono::system_clock::time_point> expiration;  // none = static
};

// One place credentials can come from. Fetch() returns kNotFound when this
// source is not configured (so the chain moves on), another error when it is
// configured but failed.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  virtual std::string Name() const = 0;
  virtual Result<TimedCredentials> Fetch() = 0;
};

std::unique_ptr<CredentialSource> MakeEnvSource(EnvLookup env);
std::unique_ptr<CredentialSource> MakeProfileSource(EnvLookup env,
                                                    std::string profile_override = {});
std::unique_ptr<CredentialSource> MakeContainerSource(EnvLookup env, HttpTransport& transport);
std::unique_ptr<CredentialSource> MakeWebIdentitySource(EnvLookup env, HttpTransport& transport,
                                                        const Clock& clock);
std::unique_ptr<CredentialSource> MakeImdsSource(EnvLookup env, HttpTransport& transport);

// What the clients sign with.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual Result<auth::Credentials> Get() = 0;
};

// Fixed credentials (tests, the embedded server's worker key).
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(auth::Credentials credentials)
      : credentials_(std::move(credentials)) {}
  Result<auth::Credentials> Get() override { return credentials_; }

 private:
  auth::Credentials credentials_;
};

// Tries sources in order; the first that yields credentials is kept (as the
// SDKs do) and asked again when its credentials come within refresh_margin of
// expiry. If a refresh fails while the old credentials are still valid, the
// old ones are used and the refresh is tried again kFailedRefreshPause later:
// every caller waits behind a refresh, so a slow or failing credentials
// endpoint must not be asked on every request.
class ChainCredentialsProvider final : public CredentialsProvider {
 public:
  static constexpr std::chrono::minutes kDefaultRefreshMargin{5};
  static constexpr std::chrono::seconds kFailedRefreshPause{15};

  ChainCredentialsProvider(std::vector<std::unique_ptr<CredentialSource>> sources,
                           const Clock& clock,
                           std::chrono::seconds refresh_margin = kDefaultRefreshMargin);
  Result<auth::Credentials> Get() override;
  // The source currently in use ("" before the first success).
  std::string SourceName() const;

 private:
  bool NeedsRefresh() const;
  bool CachedStillValid() const;
  Result<TimedCredentials> FetchFromChain();

  std::vector<std::unique_ptr<CredentialSource>> sources_;
  const Clock& clock_;
  std::chrono::seconds refresh_margin_;
  mutable std::mutex mu_;
  CredentialSource* chosen_ = nullptr;
  std::optional<TimedCredentials> cached_;
  std::optional<std::chrono::system_clock::time_point> next_refresh_try_;  // after a failure
};

// The standard chain: env, web identity, profile, container, IMDS.
std::unique_ptr<ChainCredentialsProvider> MakeDefaultCredentialsChain(
    EnvLookup env, HttpTransport& transport, const Clock& clock, std::string profile_override = {});

// Region as the SDKs find it: AWS_REGION, AWS_DEFAULT_REGION, then the
// profile's "region" in the config file. nullopt when none is set.
std::optional<std::string> ResolveRegion(const EnvLookup& env, std::string profile_override = {});

// Parses the JSON the ECS and IMDS endpoints return
// ({"AccessKeyId","SecretAccessKey","Token","Expiration"}).
Result<TimedCredentials> ParseCredentialsJson(std::string_view json);

// Parses STS's AssumeRoleWithWebIdentity XML reply (Credentials with
// AccessKeyId, SecretAccessKey, SessionToken, Expiration).
Result<TimedCredentials> ParseAssumeRoleWithWebIdentityResponse(std::string_view xml);

}  // namespace imgbatch::client
