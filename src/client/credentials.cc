#include "client/credentials.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <sstream>

#include "client/aws_http.h"
#include "client/ini.h"
#include "common/strings.h"

namespace imgbatch::client {
namespace {

constexpr std::string_view kEcsHost = "http://169.254.170.2";
constexpr std::string_view kImdsDefaultEndpoint = "http://169.254.169.254";
constexpr std::chrono::milliseconds kMetadataTimeout{2000};
constexpr std::string_view kImdsTokenTtlSeconds = "21600";
constexpr std::chrono::milliseconds kStsTimeout{10'000};
constexpr std::string_view kStsApiVersion = "2011-06-15";
constexpr size_t kMaxRoleSessionName = 64;  // STS's limit

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string HomePath(const EnvLookup& env, std::string_view relative) {
  return env("HOME").value_or("") + "/" + std::string(relative);
}

std::string ProfileName(const EnvLookup& env, const std::string& profile_override) {
  if (!profile_override.empty()) return profile_override;
  return env("AWS_PROFILE").value_or("default");
}

// Loads an INI file; nullopt when the file does not exist, an error when it
// exists but cannot be parsed.
Result<std::optional<IniFile>> LoadIni(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return std::optional<IniFile>();
  auto parsed = IniFile::Parse(*text);
  if (!parsed.ok()) {
    return InvalidArgument(path + ": " + parsed.status().message());
  }
  return std::optional<IniFile>(std::move(parsed).value());
}

std::string ConfigFilePath(const EnvLookup& env) {
  return env("AWS_CONFIG_FILE").value_or(HomePath(env, ".aws/config"));
}

std::string CredentialsFilePath(const EnvLookup& env) {
  return env("AWS_SHARED_CREDENTIALS_FILE").value_or(HomePath(env, ".aws/credentials"));
}

// In the config file, profiles other than "default" are "[profile NAME]".
std::string ConfigSectionName(const std::string& profile) {
  return profile == "default" ? profile : "profile " + profile;
}

class EnvSource final : public CredentialSource {
 public:
  explicit EnvSource(EnvLookup env) : env_(std::move(env)) {}
  std::string Name() const override { return "environment"; }
  Result<TimedCredentials> Fetch() override {
    auto id = env_("AWS_ACCESS_KEY_ID");
    auto secret = env_("AWS_SECRET_ACCESS_KEY");
    if (!id && !secret) return NotFound("AWS_ACCESS_KEY_ID not set");
    if (!id || !secret) {
      return InvalidArgument("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    TimedCredentials result;
    result.credentials = {*id, *secret, env_("AWS_SESSION_TOKEN").value_or("")};
    return result;
  }

 private:
  EnvLookup env_;
};

class ProfileSource final : public CredentialSource {
 public:
  ProfileSource(EnvLookup env, std::string profile_override)
      : env_(std::move(env)), profile_override_(std::move(profile_override)) {}
  std::string Name() const override { return "profile " + ProfileName(env_, profile_override_); }

  Result<TimedCredentials> Fetch() override {
    std::string profile = ProfileName(env_, profile_override_);
    // The credentials file wins over the config file for the same profile.
    IMGBATCH_ASSIGN_OR_RETURN(auto credentials_file, LoadIni(CredentialsFilePath(env_)));
    if (credentials_file) {
      auto found = FromSection(credentials_file->FindSection(profile));
      if (found) return *found;
    }
    IMGBATCH_ASSIGN_OR_RETURN(auto config_file, LoadIni(ConfigFilePath(env_)));
    if (config_file) {
      auto found = FromSection(config_file->FindSection(ConfigSectionName(profile)));
      if (found) return *found;
    }
    return NotFound("no static credentials for profile " + profile);
  }

 private:
  static std::optional<TimedCredentials> FromSection(const IniFile::Section* section) {
    if (section == nullptr) return std::nullopt;
    auto id = section->find("aws_access_key_id");
    auto secret = section->find("aws_secret_access_key");
    if (id == section->end() || secret == section->end()) return std::nullopt;
    TimedCredentials result;
    result.credentials.access_key_id = id->second;
    result.credentials.secret_access_key = secret->second;
    if (auto token = section->find("aws_session_token"); token != section->end()) {
      result.credentials.session_token = token->second;
    }
    return result;
  }

  EnvLookup env_;
  std::string profile_override_;
};

// The SDKs only send the container token over plain http to loopback or the
// ECS/EKS agent addresses; anything else must be https.
bool AllowedContainerUri(std::string_view uri) {
  if (IStartsWith(uri, "https://")) return true;
  for (std::string_view prefix :
       {"http://127.", "http://localhost:", "http://localhost/", "http://[::1]",
        "http://169.254.170.2", "http://169.254.170.23", "http://[fd00:ec2::23]"}) {
    if (IStartsWith(uri, prefix)) return true;
  }
  return false;
}

class ContainerSource final : public CredentialSource {
 public:
  ContainerSource(EnvLookup env, HttpTransport& transport)
      : env_(std::move(env)), transport_(transport) {}
  std::string Name() const override { return "container"; }

  Result<TimedCredentials> Fetch() override {
    HttpRequest request;
    request.timeout = kMetadataTimeout;
    if (auto relative = env_("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
      request.url = std::string(kEcsHost) + *relative;
    } else if (auto full = env_("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
      if (!AllowedContainerUri(*full)) {
        return InvalidArgument("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or loopback: " +
                               *full);
      }
      request.url = *full;
    } else {
      return NotFound("no container credentials endpoint configured");
    }
    IMGBATCH_ASSIGN_OR_RETURN(auto token, AuthorizationToken());
    if (!token.empty()) request.headers.emplace_back("Authorization", token);
    request.headers.emplace_back("Accept", "application/json");

    IMGBATCH_ASSIGN_OR_RETURN(auto response, transport_.Send(request));
    if (response.status != 200) {
      return Status(Code::kUnavailable, "container credentials endpoint returned HTTP " +
                                            std::to_string(response.status));
    }
    return ParseCredentialsJson(response.body);
  }

 private:
  // The token file is re-read on every fetch: EKS Pod Identity rotates it.
  Result<std::string> AuthorizationToken() const {
    if (auto path = env_("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
      auto text = ReadFile(*path);
      if (!text) return IoError("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *path);
      return std::string(Trim(*text));
    }
    return env_("AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or("");
  }

  EnvLookup env_;
  HttpTransport& transport_;
};

// EKS IAM Roles for Service Accounts (IRSA) and any OIDC federation: the
// pod gets a projected token file and a role; STS AssumeRoleWithWebIdentity
// (an unsigned call: the token is the proof) trades them for temporary keys.
// Reference: STS API Reference, AssumeRoleWithWebIdentity; SDKs and Tools
// Reference Guide, "Assume role credential provider" (web identity).
class WebIdentitySource final : public CredentialSource {
 public:
  WebIdentitySource(EnvLookup env, HttpTransport& transport, const Clock& clock)
      : env_(std::move(env)), transport_(transport), clock_(clock) {}
  std::string Name() const override { return "web-identity"; }

  Result<TimedCredentials> Fetch() override {
    auto token_file = env_("AWS_WEB_IDENTITY_TOKEN_FILE");
    auto role_arn = env_("AWS_ROLE_ARN");
    if (!token_file && !role_arn) return NotFound("AWS_WEB_IDENTITY_TOKEN_FILE not set");
    if (!token_file || !role_arn) {
      return InvalidArgument("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must be set together");
    }
    // Re-read on every fetch: the kubelet rotates the projected token.
    auto token = ReadFile(*token_file);
    if (!token) return IoError("cannot read AWS_WEB_IDENTITY_TOKEN_FILE " + *token_file);
    IMGBATCH_ASSIGN_OR_RETURN(auto endpoint, ResolveStsEndpoint(env_));

    HttpRequest request;
    request.method = "POST";
    request.url = endpoint.Origin() + endpoint.base_path + "/";
    request.timeout = kStsTimeout;
    request.headers.emplace_back("Content-Type",
                                 "application/x-www-form-urlencoded; charset=utf-8");
    request.body = "Action=AssumeRoleWithWebIdentity&Version=" + std::string(kStsApiVersion) +
                   "&RoleArn=" + FormEncode(*role_arn) +
                   "&RoleSessionName=" + FormEncode(SessionName()) +
                   "&WebIdentityToken=" + FormEncode(Trim(*token));
    IMGBATCH_ASSIGN_OR_RETURN(auto response, transport_.Send(request));
    if (response.status != 200) return StsErrorStatus(response);
    return ParseAssumeRoleWithWebIdentityResponse(response.body);
  }

 private:
  std::string SessionName() const {
    if (auto name = env_("AWS_ROLE_SESSION_NAME")) return name->substr(0, kMaxRoleSessionName);
    return "imgbatch-worker-" + std::to_string(clock_.NowMillis());
  }

  static Status StsErrorStatus(const HttpResponse& response) {
    pugi::xml_document doc;
    std::string code, message;
    if (doc.load_buffer(response.body.data(), response.body.size())) {
      auto error = doc.child("ErrorResponse").child("Error");
      code = error.child_value("Code");
      message = error.child_value("Message");
    }
    std::string text = "STS AssumeRoleWithWebIdentity returned HTTP " +
                       std::to_string(response.status) + (code.empty() ? "" : " " + code) +
                       (message.empty() ? "" : ": " + message);
    // IDPCommunicationError and throttling are worth retrying; a bad or
    // expired token or a role that does not trust it is not.
    bool transient = response.status >= 500 || response.status == 429 ||
                     code == "IDPCommunicationError" || IsThrottlingCode(code);
    return Status(transient ? Code::kUnavailable : Code::kUnauthenticated, text).WithDetail(code);
  }

  EnvLookup env_;
  HttpTransport& transport_;
  const Clock& clock_;
};

class ImdsSource final : public CredentialSource {
 public:
  ImdsSource(EnvLookup env, HttpTransport& transport)
      : env_(std::move(env)), transport_(transport) {}
  std::string Name() const override { return "ec2-imds"; }

  Result<TimedCredentials> Fetch() override {
    if (IEquals(env_("AWS_EC2_METADATA_DISABLED").value_or(""), "true")) {
      return NotFound("IMDS disabled by AWS_EC2_METADATA_DISABLED");
    }
    std::string endpoint =
        env_("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or(std::string(kImdsDefaultEndpoint));
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();

    HttpRequest token_request;
    token_request.method = "PUT";
    token_request.url = endpoint + "/latest/api/token";
    token_request.timeout = kMetadataTimeout;
    token_request.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds",
                                       std::string(kImdsTokenTtlSeconds));
    auto token = transport_.Send(token_request);
    if (!token.ok()) return NotFound("IMDS unreachable: " + token.status().message());
    if (token->status != 200) {
      return Status(Code::kUnavailable,
                    "IMDS token request returned HTTP " + std::to_string(token->status));
    }

    const std::string base = endpoint + "/latest/meta-data/iam/security-credentials/";
    IMGBATCH_ASSIGN_OR_RETURN(auto role_body, Get(base, token->body));
    std::string role(Trim(Split(role_body, '\n').front()));
    if (role.empty()) return NotFound("IMDS: no instance role");
    IMGBATCH_ASSIGN_OR_RETURN(auto credentials_body, Get(base + role, token->body));
    return ParseCredentialsJson(credentials_body);
  }

 private:
  Result<std::string> Get(const std::string& url, const std::string& token) {
    HttpRequest request;
    request.url = url;
    request.timeout = kMetadataTimeout;
    request.headers.emplace_back("X-aws-ec2-metadata-token", token);
    IMGBATCH_ASSIGN_OR_RETURN(auto response, transport_.Send(request));
    if (response.status == 404) return NotFound("IMDS: " + url + " not found");
    if (response.status != 200) {
      return Status(Code::kUnavailable, "IMDS returned HTTP " + std::to_string(response.status));
    }
    return std::move(response.body);
  }

  EnvLookup env_;
  HttpTransport& transport_;
};

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

std::unique_ptr<CredentialSource> MakeEnvSource(EnvLookup env) {
  return std::make_unique<EnvSource>(std::move(env));
}
std::unique_ptr<CredentialSource> MakeProfileSource(EnvLookup env, std::string profile_override) {
  return std::make_unique<ProfileSource>(std::move(env), std::move(profile_override));
}
std::unique_ptr<CredentialSource> MakeContainerSource(EnvLookup env, HttpTransport& transport) {
  return std::make_unique<ContainerSource>(std::move(env), transport);
}
std::unique_ptr<CredentialSource> MakeWebIdentitySource(EnvLookup env, HttpTransport& transport,
                                                        const Clock& clock) {
  return std::make_unique<WebIdentitySource>(std::move(env), transport, clock);
}
std::unique_ptr<CredentialSource> MakeImdsSource(EnvLookup env, HttpTransport& transport) {
  return std::make_unique<ImdsSource>(std::move(env), transport);
}

Result<TimedCredentials> ParseCredentialsJson(std::string_view json) {
  try {
    auto doc = nlohmann::json::parse(json);
    TimedCredentials result;
    result.credentials.access_key_id = doc.at("AccessKeyId").get<std::string>();
    result.credentials.secret_access_key = doc.at("SecretAccessKey").get<std::string>();
    result.credentials.session_token = doc.value("Token", std::string());
    if (doc.contains("Expiration")) {
      auto expiration = ParseIso8601(doc["Expiration"].get<std::string>());
      if (!expiration) return InvalidArgument("credentials: bad Expiration");
      result.expiration = *expiration;
    }
    if (result.credentials.access_key_id.empty() || result.credentials.secret_access_key.empty()) {
      return InvalidArgument("credentials: empty AccessKeyId or SecretAccessKey");
    }
    return result;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("credentials: malformed JSON: ") + e.what());
  }
}

Result<TimedCredentials> ParseAssumeRoleWithWebIdentityResponse(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) {
    return InvalidArgument("STS: malformed XML response");
  }
  auto credentials = doc.child("AssumeRoleWithWebIdentityResponse")
                         .child("AssumeRoleWithWebIdentityResult")
                         .child("Credentials");
  if (!credentials) return InvalidArgument("STS: response has no Credentials");
  TimedCredentials result;
  result.credentials.access_key_id = Trim(credentials.child_value("AccessKeyId"));
  result.credentials.secret_access_key = Trim(credentials.child_value("SecretAccessKey"));
  result.credentials.session_token = Trim(credentials.child_value("SessionToken"));
  if (result.credentials.access_key_id.empty() || result.credentials.secret_access_key.empty()) {
    return InvalidArgument("STS: empty AccessKeyId or SecretAccessKey");
  }
  auto expiration = ParseIso8601(Trim(credentials.child_value("Expiration")));
  if (!expiration) return InvalidArgument("STS: missing or bad Expiration");
  result.expiration = *expiration;
  return result;
}

ChainCredentialsProvider::ChainCredentialsProvider(
    std::vector<std::unique_ptr<CredentialSource>> sources, const Clock& clock,
    std::chrono::seconds refresh_margin)
    : sources_(std::move(sources)), clock_(clock), refresh_margin_(refresh_margin) {}

bool ChainCredentialsProvider::NeedsRefresh() const {
  if (!cached_) return true;
  if (!cached_->expiration) return false;
  return clock_.Now() + refresh_margin_ >= *cached_->expiration;
}

Result<TimedCredentials> ChainCredentialsProvider::FetchFromChain() {
  if (chosen_ != nullptr) return chosen_->Fetch();
  std::string tried;
  for (auto& source : sources_) {
    auto fetched = source->Fetch();
    if (fetched.ok()) {
      chosen_ = source.get();
      spdlog::debug("credentials from {}", source->Name());
      return fetched;
    }
    // A configured but failing source stops the chain, as in the SDKs: it
    // would be surprising to silently fall through to another identity.
    if (fetched.status().code() != Code::kNotFound) {
      return Status(fetched.status().code(),
                    source->Name() + " credentials: " + fetched.status().message());
    }
    tried += (tried.empty() ? "" : ", ") + source->Name();
  }
  return Status(Code::kUnauthenticated, "no AWS credentials found (tried " + tried + ")");
}

bool ChainCredentialsProvider::CachedStillValid() const {
  return cached_ && (!cached_->expiration || clock_.Now() < *cached_->expiration);
}

Result<auth::Credentials> ChainCredentialsProvider::Get() {
  std::lock_guard lock(mu_);
  if (!NeedsRefresh()) return cached_->credentials;
  if (CachedStillValid() && next_refresh_try_ && clock_.Now() < *next_refresh_try_) {
    return cached_->credentials;
  }
  auto fetched = FetchFromChain();
  if (fetched.ok()) {
    cached_ = std::move(fetched).value();
    next_refresh_try_.reset();
    return cached_->credentials;
  }
  if (CachedStillValid()) {
    spdlog::warn("credentials refresh failed, using current ones until expiry: {}",
                 fetched.status().ToString());
    next_refresh_try_ = clock_.Now() + kFailedRefreshPause;
    return cached_->credentials;
  }
  return fetched.status();
}

std::string ChainCredentialsProvider::SourceName() const {
  std::lock_guard lock(mu_);
  return chosen_ == nullptr ? std::string() : chosen_->Name();
}

std::unique_ptr<ChainCredentialsProvider> MakeDefaultCredentialsChain(
    EnvLookup env, HttpTransport& transport, const Clock& clock, std::string profile_override) {
  std::vector<std::unique_ptr<CredentialSource>> sources;
  // An explicit profile (flag or AWS_PROFILE) outranks environment keys, as
  // in the CLI; otherwise environment keys come first.
  bool explicit_profile = !profile_override.empty();
  if (!explicit_profile) sources.push_back(MakeEnvSource(env));
  // Web identity after environment keys and before the shared files, where
  // botocore (the AWS CLI) and the Java SDK v2 put it; an explicit profile
  // still outranks it.
  if (explicit_profile) sources.push_back(MakeProfileSource(env, profile_override));
  sources.push_back(MakeWebIdentitySource(env, transport, clock));
  if (!explicit_profile) sources.push_back(MakeProfileSource(env, profile_override));
  sources.push_back(MakeContainerSource(env, transport));
  sources.push_back(MakeImdsSource(env, transport));
  return std::make_unique<ChainCredentialsProvider>(std::move(sources), clock);
}

std::optional<std::string> ResolveRegion(const EnvLookup& env, std::string profile_override) {
  if (auto region = env("AWS_REGION")) return region;
  if (auto region = env("AWS_DEFAULT_REGION")) return region;
  auto config = LoadIni(ConfigFilePath(env));
  if (!config.ok() || !config.value()) return std::nullopt;
  return config.value()->Get(ConfigSectionName(ProfileName(env, profile_override)), "region");
}

}  // namespace imgbatch::client
