// Fuzzes the aws-chunked decoder. Input byte 0 picks the payload mode and
// the raw read size, byte 1 whether x-amz-decoded-content-length is set (to
// byte 2), the rest is the raw body. Any input must end in data + 0 or a
// clean error, never a crash or a hang. Then the same bytes, framed as a
// signing client frames them, must decode back to themselves (abort if not).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "auth/aws_chunked.h"
#include "common/hashing.h"

namespace {

using imgbatch::Result;
using imgbatch::auth::AwsChunkedDecoder;
using imgbatch::auth::PayloadMode;
using imgbatch::auth::VerifiedRequest;

constexpr PayloadMode kModes[] = {PayloadMode::kStreamingSigned,
                                  PayloadMode::kStreamingSignedTrailer,
                                  PayloadMode::kStreamingUnsignedTrailer};

VerifiedRequest RequestFor(PayloadMode mode) {
  VerifiedRequest r;
  r.payload = mode;
  r.service = "s3";
  r.amz_date = "20261128T014500Z";
  r.scope = "20261128/us-east-1/s3/aws4_request";
  r.signing_key = imgbatch::auth::DeriveSigningKey("fuzz", "20261128", "us-east-1", "s3");
  r.seed_signature = std::string(64, '0');
  return r;
}

AwsChunkedDecoder::RawRead Serve(std::string body, size_t step) {
  auto data = std::make_shared<std::string>(std::move(body));
  auto offset = std::make_shared<size_t>(0);
  return [data, offset, step](std::span<char> out) -> Result<size_t> {
    size_t n = std::min({out.size(), step, data->size() - *offset});
    std::memcpy(out.data(), data->data() + *offset, n);
    *offset += n;
    return n;
  };
}

// Reads to the end; nullopt on a decoder error. Each successful Read makes
// progress, so the loop is bounded by the input size.
std::optional<std::string> Drain(AwsChunkedDecoder& decoder, size_t limit) {
  std::string out;
  char buffer[777];
  while (true) {
    auto n = decoder.Read(std::span<char>(buffer, sizeof buffer));
    if (!n.ok()) return std::nullopt;
    if (*n == 0) return out;
    out.append(buffer, *n);
    if (out.size() > limit) std::abort();  // more out than came in
  }
}

std::string Sign(const VerifiedRequest& r, std::string& previous, std::string_view data) {
  std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n" + r.amz_date + "\n" + r.scope + "\n" + previous +
                    "\n" + std::string(imgbatch::auth::kEmptySha256Hex) + "\n" +
                    imgbatch::Sha256Hex(data);
  previous = imgbatch::HexEncode(imgbatch::HmacSha256(r.signing_key, sts));
  return previous;
}

// Frames data in chunks of chunk_size as SDKs do (signed when the mode says).
std::string Frame(const VerifiedRequest& r, std::string_view data, size_t chunk_size) {
  bool sign = r.payload != PayloadMode::kStreamingUnsignedTrailer;
  std::string previous = r.seed_signature, body;
  auto add = [&](std::string_view chunk) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    body += size;
    if (sign) body += ";chunk-signature=" + Sign(r, previous, chunk);
    body += "\r\n";
    body += chunk;
    body += "\r\n";
  };
  for (size_t at = 0; at < data.size(); at += chunk_size) add(data.substr(at, chunk_size));
  body += "0";
  if (sign) body += ";chunk-signature=" + Sign(r, previous, "");
  body += "\r\n";
  if (r.payload == PayloadMode::kStreamingSignedTrailer) {
    std::string trailer = "x-amz-checksum-crc32:AAAAAA==\n";
    std::string sts = "AWS4-HMAC-SHA256-TRAILER\n" + r.amz_date + "\n" + r.scope + "\n" + previous +
                      "\n" + imgbatch::Sha256Hex(trailer);
    body += "x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:" +
            imgbatch::HexEncode(imgbatch::HmacSha256(r.signing_key, sts)) + "\r\n";
  }
  return body + "\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  PayloadMode mode = kModes[data[0] % 3];
  size_t step = 1 + (data[0] >> 2) * 37;
  VerifiedRequest request = RequestFor(mode);
  if (data[1] & 1) request.decoded_content_length = data[2];
  std::string body(reinterpret_cast<const char*>(data) + 3, size - 3);

  AwsChunkedDecoder decoder(Serve(body, step), request);
  (void)Drain(decoder, body.size());

  // Round trip: the body bytes as payload, framed properly, decode to themselves.
  VerifiedRequest clean = RequestFor(mode);
  clean.decoded_content_length = body.size();
  AwsChunkedDecoder framed(Serve(Frame(clean, body, 1 + data[2] * 8), step), clean);
  auto decoded = Drain(framed, body.size());
  if (!decoded || *decoded != body) std::abort();
  return 0;
}
