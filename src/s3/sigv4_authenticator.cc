#include "s3/sigv4_authenticator.h"

#include "auth/aws_chunked.h"

namespace imgbatch::s3 {
namespace {

class DecoderBody final : public ChunkedBody {
 public:
  DecoderBody(RawBodyRead raw, const auth::VerifiedRequest& caller)
      : decoder_(std::move(raw), caller) {}
  Result<size_t> Read(std::span<char> buffer) override { return decoder_.Read(buffer); }
  const auth::HeaderList& trailers() const override { return decoder_.trailers(); }

 private:
  auth::AwsChunkedDecoder decoder_;
};

}  // namespace

SigV4Authenticator::SigV4Authenticator(const auth::KeyRegistry& keys, auth::VerifyOptions options,
                                       const Clock& clock)
    : keys_(keys), options_(std::move(options)), clock_(clock) {}

Result<auth::VerifiedRequest> SigV4Authenticator::Verify(const http::RequestHead& head) {
  // The headers are viewed where the request keeps them, not copied.
  const std::vector<auth::HeaderField> fields = auth::ViewHeaderFields(head.headers.fields());
  auth::HttpRequestView view{head.method, head.path, head.query};
  view.fields = fields;
  return auth::Verify(view, Secrets(), clock_.Now(), options_);
}

Result<auth::VerifiedRequest> SigV4Authenticator::VerifyPost(const auth::PostFormSignature& form) {
  return auth::VerifyPostForm(form, Secrets(), options_);
}

auth::SecretLookup SigV4Authenticator::Secrets() const {
  return [this](std::string_view id) -> std::optional<std::string> {
    auto key = keys_.Find(id);
    if (!key) return std::nullopt;
    return key->secret_access_key;
  };
}

bool SigV4Authenticator::Allowed(const auth::VerifiedRequest& caller, std::string_view action,
                                 std::string_view resource, const auth::RequestContext& context,
                                 const auth::Policy* bucket_policy) {
  return keys_.Allowed(caller.access_key_id, action, resource, context, bucket_policy);
}

std::optional<auth::PrincipalIdentity> SigV4Authenticator::Principal(
    const auth::VerifiedRequest& caller, std::string_view account_id) {
  return keys_.Principal(caller.access_key_id, account_id);
}

bool SigV4Authenticator::HasUser(std::string_view name) { return keys_.HasUser(name); }

std::unique_ptr<ChunkedBody> SigV4Authenticator::OpenChunked(RawBodyRead raw,
                                                             const auth::VerifiedRequest& caller) {
  return std::make_unique<DecoderBody>(std::move(raw), caller);
}

}  // namespace imgbatch::s3
