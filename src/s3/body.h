// Request bodies as the store reads them (store::ByteSource): the raw HTTP
// body, or the de-framed aws-chunked payload, with the verification S3 does at
// the end of the body — the signed x-amz-content-sha256, and the trailing
// x-amz-checksum-* of STREAMING-*-TRAILER bodies. A mismatch fails the final
// Read, and since the store commits only after a Read returned 0, a bad body
// is never stored. One per request; not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/hashing.h"
#include "http/exchange.h"
#include "s3/authenticator.h"
#include "s3/checksum_fields.h"
#include "store/object_store.h"

namespace imgbatch::s3 {

class RequestBody final : public store::ByteSource {
 public:
  // Errors: InvalidRequest for a trailer algorithm we do not know.
  static Result<std::unique_ptr<RequestBody>> Open(http::Exchange& exchange,
                                                   const auth::VerifiedRequest& caller,
                                                   Authenticator& authenticator);
  ~RequestBody() override;

  Result<size_t> Read(std::span<char> buffer) override;
  // Trailer checksum algorithm announced in x-amz-trailer (kNone if none):
  // the store must compute and keep it, since its value arrives last.
  store::ChecksumAlgorithm trailer_algorithm() const { return trailer_algorithm_; }
  bool aws_chunked() const { return chunked_ != nullptr; }

 private:
  RequestBody() = default;
  Result<size_t> ReadDecoded(std::span<char> buffer);
  Status VerifyAtEnd();

  http::Exchange* exchange_ = nullptr;
  std::unique_ptr<ChunkedBody> chunked_;
  std::string expected_sha256_hex_;  // kSignedHex payloads
  std::optional<Hasher> sha256_;
  store::ChecksumAlgorithm trailer_algorithm_ = store::ChecksumAlgorithm::kNone;
  std::string trailer_name_;  // "x-amz-checksum-crc32"
  std::optional<Hasher> trailer_hasher_;
  bool finished_ = false;
};

// Reads a whole small body (XML documents), refusing more than max_bytes
// (MaxMessageLengthExceeded).
Result<std::string> ReadSmallBody(store::ByteSource& body, size_t max_bytes);

}  // namespace imgbatch::s3
