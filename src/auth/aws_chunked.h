// Decoder for aws-chunked request bodies (Content-Encoding: aws-chunked):
//   <hex-size>[;chunk-signature=<sig>]\r\n<bytes>\r\n ... 0[;chunk-signature=..]\r\n
//   [<trailer-name>:<value>\r\n ...][x-amz-trailer-signature:<sig>\r\n]\r\n
// Verifies each chunk signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD*) and
// collects trailers (x-amz-checksum-crc32 ...). Signed chunks are buffered
// (one at a time, at most kMaxSignedChunkBytes) and released only after their
// signature checked out; unsigned chunks stream through. Not thread-safe; one
// per request.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "auth/sigv4.h"
#include "common/hashing.h"
#include "common/status.h"

namespace imgbatch::auth {

// Largest signed chunk we buffer to verify (SDKs send 8 KiB .. 1 MiB).
inline constexpr size_t kMaxSignedChunkBytes = 16 << 20;

class AwsChunkedDecoder {
 public:
  // raw_read reads the undecoded HTTP body (0 = end).
  using RawRead = std::function<Result<size_t>(std::span<char>)>;
  AwsChunkedDecoder(RawRead raw_read, const VerifiedRequest& request);

  // Decoded payload bytes; 0 at the end (after trailers were read and checked).
  // Errors: kInvalidArgument with detail "IncompleteBody" (truncated, or not
  // x-amz-decoded-content-length bytes), "InvalidChunkSizeError" (bad chunk
  // framing), "MalformedTrailerError" (bad trailer section); kUnauthenticated
  // with "SignatureDoesNotMatch" (chunk or trailer signature); errors of
  // raw_read as they came.
  // After an error every later call returns the same error.
  Result<size_t> Read(std::span<char> buffer);
  // Trailer fields (names lower-cased), available once Read returned 0.
  const HeaderList& trailers() const { return trailers_; }
  uint64_t decoded_bytes() const { return decoded_; }

 private:
  Result<size_t> ReadSome(std::span<char> buffer);
  Status ReadChunkHeader();
  Status ReadTrailers();

  RawRead raw_read_;
  VerifiedRequest request_;
  HeaderList trailers_;
  uint64_t decoded_ = 0;
  struct State;
  std::shared_ptr<State> state_;
};

// The one body reader an adapter needs after Verify: picks how the body must
// be checked from request.payload.
//   kSignedHex         bytes pass through, SHA-256 compared at the end
//                      (kInvalidArgument "XAmzContentSHA256Mismatch").
//   kUnsignedPayload   bytes pass through unchecked.
//   streaming modes    AwsChunkedDecoder (chunk/trailer signatures, trailers).
// Read returns 0 only once the whole body is known good; a caller commits
// what it stored only after that. Not thread-safe; one per request.
class PayloadReader {
 public:
  PayloadReader(AwsChunkedDecoder::RawRead raw_read, const VerifiedRequest& request);
  Result<size_t> Read(std::span<char> buffer);
  // Trailers of the aws-chunked forms (empty otherwise), once Read returned 0.
  const HeaderList& trailers() const;
  uint64_t decoded_bytes() const;

 private:
  AwsChunkedDecoder::RawRead raw_read_;
  VerifiedRequest request_;
  std::unique_ptr<AwsChunkedDecoder> chunked_;
  std::unique_ptr<Hasher> hasher_;
  uint64_t passed_ = 0;
  bool done_ = false;
  Status error_;  // sticky once a Read failed
};

}  // namespace imgbatch::auth
