// Decoder for aws-chunked request bodies (Content-Encoding: aws-chunked):
//   <hex-size>[;chunk-signature=<sig>]\r\n<bytes>\r\n ... 0[;chunk-signature=..]\r\n
//   [<trailer-name>:<value>\r\n ...][x-amz-trailer-signature:<sig>\r\n]\r\n
// Verifies each chunk signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD*) and
// collects trailers (x-amz-checksum-crc32 ...). Never buffers more than one
// chunk. Not thread-safe; one per request.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "auth/sigv4.h"
#include "common/status.h"

namespace imgbatch::auth {

class AwsChunkedDecoder {
 public:
  // raw_read reads the undecoded HTTP body (0 = end).
  using RawRead = std::function<Result<size_t>(std::span<char>)>;
  AwsChunkedDecoder(RawRead raw_read, const VerifiedRequest& request);

  // Decoded payload bytes; 0 at the end (after trailers were read and checked).
  // Errors: kInvalidArgument with detail "IncompleteBody"/"InvalidChunkSizeError"
  // (malformed framing), kUnauthenticated with "SignatureDoesNotMatch".
  Result<size_t> Read(std::span<char> buffer);
  // Trailer fields (names lower-cased), available once Read returned 0.
  const HeaderList& trailers() const { return trailers_; }
  uint64_t decoded_bytes() const { return decoded_; }

 private:
  // (implementation state)
  RawRead raw_read_;
  VerifiedRequest request_;
  HeaderList trailers_;
  uint64_t decoded_ = 0;
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace imgbatch::auth
