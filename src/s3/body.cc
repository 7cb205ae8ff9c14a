#include "s3/body.h"

#include "common/strings.h"
#include "s3/errors.h"

namespace imgbatch::s3 {
namespace {

bool IsStreaming(auth::PayloadMode mode) {
  return mode == auth::PayloadMode::kStreamingSigned ||
         mode == auth::PayloadMode::kStreamingSignedTrailer ||
         mode == auth::PayloadMode::kStreamingUnsignedTrailer;
}

}  // namespace

Result<std::unique_ptr<RequestBody>> RequestBody::Open(http::Exchange& exchange,
                                                       const auth::VerifiedRequest& caller,
                                                       Authenticator& authenticator) {
  std::unique_ptr<RequestBody> body(new RequestBody());
  body->exchange_ = &exchange;
  if (IsStreaming(caller.payload)) {
    body->chunked_ = authenticator.OpenChunked(
        [ex = &exchange](std::span<char> buffer) { return ex->ReadBody(buffer); }, caller);
    if (auto trailer = exchange.head().headers.Get("x-amz-trailer")) {
      std::string name = ToLower(Trim(*trailer));
      if (!name.starts_with("x-amz-checksum-")) {
        return S3Status("InvalidRequest",
                        "The value specified in the x-amz-trailer header is "
                        "not supported");
      }
      auto algorithm =
          ParseChecksumAlgorithm(name.substr(std::string_view("x-amz-checksum-").size()));
      if (!algorithm) {
        return S3Status("InvalidRequest",
                        "The value specified in the x-amz-trailer header is "
                        "not supported");
      }
      body->trailer_algorithm_ = *algorithm;
      body->trailer_name_ = std::move(name);
      body->trailer_hasher_.emplace(HashKindFor(*algorithm));
    }
  } else if (caller.payload == auth::PayloadMode::kSignedHex && !caller.body_sha256.empty()) {
    body->expected_sha256_hex_ = ToLower(caller.body_sha256);
    body->sha256_.emplace(HashKind::kSha256);
  }
  return body;
}

RequestBody::~RequestBody() = default;

Result<size_t> RequestBody::ReadDecoded(std::span<char> buffer) {
  if (chunked_) return chunked_->Read(buffer);
  return exchange_->ReadBody(buffer);
}

Result<size_t> RequestBody::Read(std::span<char> buffer) {
  if (finished_) return size_t{0};
  IMGBATCH_ASSIGN_OR_RETURN(size_t n, ReadDecoded(buffer));
  std::string_view bytes(buffer.data(), n);
  if (sha256_) sha256_->Update(bytes);
  if (trailer_hasher_) trailer_hasher_->Update(bytes);
  if (n > 0) return n;
  IMGBATCH_RETURN_IF_ERROR(VerifyAtEnd());
  finished_ = true;
  return size_t{0};
}

Status RequestBody::VerifyAtEnd() {
  if (sha256_) {
    std::string actual = HexEncode(sha256_->Finish());
    sha256_.reset();
    if (actual != expected_sha256_hex_) return S3Status("XAmzContentSHA256Mismatch");
  }
  if (trailer_hasher_) {
    std::string actual = Base64Encode(trailer_hasher_->Finish());
    trailer_hasher_.reset();
    std::optional<std::string> sent;
    for (const auto& [name, value] : chunked_->trailers()) {
      if (IEquals(name, trailer_name_)) sent = std::string(Trim(value));
    }
    if (!sent) return S3Status("MalformedTrailerError");
    if (*sent != actual) {
      return S3Status("BadDigest", std::string("The ") + ChecksumAlgorithmName(trailer_algorithm_) +
                                       " you specified did not match the calculated checksum.");
    }
  }
  return Status::Ok();
}

Result<std::string> ReadSmallBody(store::ByteSource& body, size_t max_bytes) {
  std::string out;
  char buf[16384];
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(size_t n, body.Read(buf));
    if (n == 0) return out;
    if (out.size() + n > max_bytes) return S3Status("MaxMessageLengthExceeded");
    out.append(buf, n);
  }
}

}  // namespace imgbatch::s3
