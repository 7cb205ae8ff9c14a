#include "auth/aws_chunked.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::auth {
namespace {

// A raw body served at most `step` bytes per read, to cross every boundary.
AwsChunkedDecoder::RawRead ServeBody(std::string body, size_t step = 1 << 20) {
  auto data = std::make_shared<std::string>(std::move(body));
  auto offset = std::make_shared<size_t>(0);
  return [data, offset, step](std::span<char> out) -> Result<size_t> {
    size_t n = std::min({out.size(), step, data->size() - *offset});
    std::memcpy(out.data(), data->data() + *offset, n);
    *offset += n;
    return n;
  };
}

template <typename Reader>
Result<std::string> ReadAll(Reader& reader, size_t buffer_size = 4096) {
  std::string out;
  std::vector<char> buffer(buffer_size);
  for (int guard = 0; guard < 10'000'000; ++guard) {
    auto n = reader.Read(std::span<char>(buffer.data(), buffer.size()));
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buffer.data(), *n);
  }
  return Internal("decoder did not terminate");
}

// --- AWS's chunked upload example (sigv4-streaming.html) ---------------------

constexpr std::string_view kSeedSignature =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
constexpr std::string_view kChunk1Signature =
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
constexpr std::string_view kChunk2Signature =
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
constexpr std::string_view kFinalSignature =
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

HeaderList ExampleHeaders() {
  return {{"Host", "s3.amazonaws.com"},
          {"x-amz-date", "20130524T000000Z"},
          {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
          {"Authorization",
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
           "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
           "x-amz-decoded-content-length;x-amz-storage-class,Signature=" +
               std::string(kSeedSignature)},
          {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
          {"Content-Encoding", "aws-chunked"},
          {"x-amz-decoded-content-length", "66560"},
          {"Content-Length", "66824"}};
}

std::string ExampleBody() {
  std::string body;
  body += "10000;chunk-signature=" + std::string(kChunk1Signature) + "\r\n";
  body += std::string(65536, 'a') + "\r\n";
  body += "400;chunk-signature=" + std::string(kChunk2Signature) + "\r\n";
  body += std::string(1024, 'a') + "\r\n";
  body += "0;chunk-signature=" + std::string(kFinalSignature) + "\r\n\r\n";
  return body;
}

VerifiedRequest VerifyExample() {
  HeaderList headers = ExampleHeaders();
  auto verified = Verify(
      {"PUT", "/examplebucket/chunkObject.txt", "", &headers},
      [](std::string_view id) -> std::optional<std::string> {
        if (id == "AKIAIOSFODNN7EXAMPLE") return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        return std::nullopt;
      },
      *ParseAmzDate("20130524T000000Z"));
  EXPECT_TRUE(verified.ok()) << verified.status().ToString();
  return verified.ok() ? *verified : VerifiedRequest{};
}

TEST(AwsChunkedExample, SeedSignatureVerifies) {
  VerifiedRequest request = VerifyExample();
  EXPECT_EQ(request.payload, PayloadMode::kStreamingSigned);
  EXPECT_EQ(request.seed_signature, kSeedSignature);
  EXPECT_EQ(request.decoded_content_length, 66560u);
  EXPECT_EQ(ExampleBody().size(), 66824u);
}

TEST(AwsChunkedExample, DecodesWithEveryReadSize) {
  VerifiedRequest request = VerifyExample();
  for (size_t step : {size_t{1} << 20, size_t{4096}, size_t{7}, size_t{1}}) {
    for (size_t buffer : {size_t{65536 + 10}, size_t{1000}, size_t{3}}) {
      if (step == 1 && buffer == 3) continue;  // slow and adds nothing
      AwsChunkedDecoder decoder(ServeBody(ExampleBody(), step), request);
      auto data = ReadAll(decoder, buffer);
      ASSERT_TRUE(data.ok()) << step << "/" << buffer << ": " << data.status().ToString();
      EXPECT_EQ(*data, std::string(66560, 'a'));
      EXPECT_EQ(decoder.decoded_bytes(), 66560u);
      EXPECT_TRUE(decoder.trailers().empty());
      // Reading past the end keeps returning 0.
      char c;
      EXPECT_EQ(decoder.Read(std::span<char>(&c, 1)).value(), 0u);
    }
  }
}

TEST(AwsChunkedExample, TamperedDataOrSignatureIsRejected) {
  VerifiedRequest request = VerifyExample();
  std::string body = ExampleBody();
  body[88 + 100] = 'b';  // a byte of the first chunk's data
  AwsChunkedDecoder tampered(ServeBody(body), request);
  auto r = ReadAll(tampered);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(r.status().detail(), "SignatureDoesNotMatch");

  // Chunks are chained: the second chunk's signature under another seed fails.
  VerifiedRequest other_seed = request;
  other_seed.seed_signature = std::string(64, '0');
  AwsChunkedDecoder reseeded(ServeBody(ExampleBody()), other_seed);
  EXPECT_EQ(ReadAll(reseeded).status().detail(), "SignatureDoesNotMatch");

  // A missing chunk signature in a signed stream.
  std::string unsigned_body = "10000\r\n" + std::string(65536, 'a') + "\r\n0\r\n\r\n";
  AwsChunkedDecoder missing(ServeBody(unsigned_body), request);
  EXPECT_EQ(ReadAll(missing).status().detail(), "SignatureDoesNotMatch");
}

TEST(AwsChunkedExample, NoDataBeforeItsSignatureChecked) {
  VerifiedRequest request = VerifyExample();
  std::string body = ExampleBody();
  body[88 + 65535] = 'b';  // the last byte of the first chunk
  AwsChunkedDecoder decoder(ServeBody(body), request);
  std::vector<char> buffer(100);
  auto first = decoder.Read(std::span<char>(buffer.data(), buffer.size()));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().detail(), "SignatureDoesNotMatch");
  // The error is sticky.
  EXPECT_FALSE(decoder.Read(std::span<char>(buffer.data(), buffer.size())).ok());
}

TEST(AwsChunkedExample, TruncatedBodyIsIncomplete) {
  VerifiedRequest request = VerifyExample();
  std::string body = ExampleBody();
  // Every cut before the final chunk's line ends is an error, never success.
  for (size_t cut = 0; cut < body.size() - 2; cut += (cut < 200 ? 1 : 997)) {
    AwsChunkedDecoder decoder(ServeBody(body.substr(0, cut), 4096), request);
    auto r = ReadAll(decoder);
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << "cut at " << cut;
  }
}

// --- Our own streams: unsigned trailers, signed trailers, framing errors -----

VerifiedRequest StreamingRequest(PayloadMode mode) {
  VerifiedRequest r;
  r.access_key_id = "AKIAIMGBATCHTEST0001";
  r.region = "us-east-1";
  r.service = "s3";
  r.payload = mode;
  r.amz_date = "20261128T014500Z";
  r.scope = "20261128/us-east-1/s3/aws4_request";
  r.signing_key = DeriveSigningKey("secret", "20261128", "us-east-1", "s3");
  r.seed_signature = std::string(64, 'c');
  return r;
}

// Frames chunks as a signing client does (the chunk string-to-sign is the one
// the AWS example above pins down).
std::string EncodeSigned(const VerifiedRequest& r, const std::vector<std::string>& chunks,
                         const HeaderList& trailers, bool sign_trailer) {
  std::string previous = r.seed_signature, body;
  auto sign = [&](std::string_view data) {
    std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n" + r.amz_date + "\n" + r.scope + "\n" + previous +
                      "\n" + std::string(kEmptySha256Hex) + "\n" + Sha256Hex(data);
    previous = HexEncode(HmacSha256(r.signing_key, sts));
    return previous;
  };
  for (const auto& chunk : chunks) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    body += std::string(size) + ";chunk-signature=" + sign(chunk) + "\r\n" + chunk + "\r\n";
  }
  body += "0;chunk-signature=" + sign("") + "\r\n";
  std::string canonical;
  for (const auto& [name, value] : trailers) {
    body += name + ":" + value + "\r\n";
    canonical += name + ":" + value + "\n";
  }
  if (sign_trailer) {
    std::string sts = "AWS4-HMAC-SHA256-TRAILER\n" + r.amz_date + "\n" + r.scope + "\n" + previous +
                      "\n" + Sha256Hex(canonical);
    body += "x-amz-trailer-signature:" + HexEncode(HmacSha256(r.signing_key, sts)) + "\r\n";
  }
  return body + "\r\n";
}

std::string Crc32Base64(std::string_view data) {
  return Base64Encode(Crc32Bytes(Crc32Update(0, data)));
}

TEST(AwsChunkedUnsignedTrailer, DecodesDataAndTrailers) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingUnsignedTrailer);
  request.decoded_content_length = 11;
  std::string crc = Crc32Base64("hello world");
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Amz-Checksum-Crc32: " + crc + "\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{3}, size_t{1000}}) {
    AwsChunkedDecoder decoder(ServeBody(body, step), request);
    auto data = ReadAll(decoder, 4);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    EXPECT_EQ(*data, "hello world");
    ASSERT_EQ(decoder.trailers().size(), 1u);
    EXPECT_EQ(decoder.trailers()[0].first, "x-amz-checksum-crc32");
    EXPECT_EQ(decoder.trailers()[0].second, crc);
  }
}

TEST(AwsChunkedUnsignedTrailer, ToleratesMissingFinalBlankLineAndEmptyBody) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingUnsignedTrailer);
  AwsChunkedDecoder no_blank(ServeBody("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n"),
                             request);
  EXPECT_EQ(ReadAll(no_blank).value(), "abc");
  AwsChunkedDecoder empty(ServeBody("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), request);
  EXPECT_EQ(ReadAll(empty).value(), "");
  EXPECT_EQ(empty.trailers().size(), 1u);
}

TEST(AwsChunkedUnsignedTrailer, LargeChunksStreamWithoutBuffering) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingUnsignedTrailer);
  // A declared size far beyond any buffer limit still streams (unsigned
  // chunks are never buffered) and a short body ends in IncompleteBody.
  AwsChunkedDecoder huge(ServeBody("ffffffffffffffff\r\nabc"), request);
  auto r = ReadAll(huge);
  EXPECT_EQ(r.status().detail(), "IncompleteBody");

  std::string big(3 << 20, 'z');
  AwsChunkedDecoder decoder(ServeBody("300000\r\n" + big + "\r\n0\r\n\r\n", 65536), request);
  EXPECT_EQ(ReadAll(decoder, 65536).value(), big);
}

TEST(AwsChunkedSignedTrailer, RoundTrip) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingSignedTrailer);
  HeaderList trailers{{"x-amz-checksum-crc32c", "sOO8/Q=="}};
  std::string body = EncodeSigned(request, {std::string(9000, 'x'), "tail"}, trailers, true);
  AwsChunkedDecoder decoder(ServeBody(body, 100), request);
  auto data = ReadAll(decoder);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data, std::string(9000, 'x') + "tail");
  EXPECT_EQ(decoder.trailers(), trailers);
}

TEST(AwsChunkedSignedTrailer, TamperedOrUnsignedTrailerIsRejected) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingSignedTrailer);
  std::string body = EncodeSigned(request, {"data"}, {{"x-amz-checksum-crc32", "AAAAAA=="}}, true);
  std::string tampered = body;
  tampered.replace(tampered.find("AAAAAA=="), 8, "BBBBBB==");
  AwsChunkedDecoder decoder(ServeBody(tampered), request);
  EXPECT_EQ(ReadAll(decoder).status().detail(), "SignatureDoesNotMatch");

  std::string unsigned_trailer =
      EncodeSigned(request, {"data"}, {{"x-amz-checksum-crc32", "AAAAAA=="}}, false);
  AwsChunkedDecoder missing(ServeBody(unsigned_trailer), request);
  EXPECT_EQ(ReadAll(missing).status().detail(), "SignatureDoesNotMatch");
}

TEST(AwsChunkedSigned, TrailersNotAllowedWithoutTrailerMode) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingSigned);
  std::string body = EncodeSigned(request, {"data"}, {{"x-amz-checksum-crc32", "AAAAAA=="}}, false);
  AwsChunkedDecoder decoder(ServeBody(body), request);
  EXPECT_EQ(ReadAll(decoder).status().detail(), "MalformedTrailerError");
}

TEST(AwsChunkedSigned, OversizedChunkRefusedBeforeBuffering) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingSigned);
  AwsChunkedDecoder decoder(
      ServeBody("10000000;chunk-signature=" + std::string(64, 'a') + "\r\nxyz"), request);
  EXPECT_EQ(ReadAll(decoder).status().detail(), "InvalidChunkSizeError");
}

TEST(AwsChunkedFraming, MalformedInputsGetCleanErrors) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingUnsignedTrailer);
  struct Case {
    std::string body;
    std::string detail;
  };
  for (const Case& c : {
           Case{"", "IncompleteBody"},
           Case{"zz\r\n", "InvalidChunkSizeError"},
           Case{"\r\n", "InvalidChunkSizeError"},
           Case{"-1\r\n", "InvalidChunkSizeError"},
           Case{"11111111111111111\r\n", "InvalidChunkSizeError"},
           Case{"5\r\nhelloXX0\r\n\r\n", "InvalidChunkSizeError"},
           Case{"5\r\nhel", "IncompleteBody"},
           Case{"5\r\nhello", "IncompleteBody"},
           Case{"5\r\nhello\r\n", "IncompleteBody"},
           Case{std::string(5000, '1'), "InvalidChunkSizeError"},
           Case{"0\r\nno-colon-here\r\n\r\n", "MalformedTrailerError"},
           Case{"0\r\n:value\r\n\r\n", "MalformedTrailerError"},
       }) {
    AwsChunkedDecoder decoder(ServeBody(c.body), request);
    auto r = ReadAll(decoder);
    ASSERT_FALSE(r.ok()) << "body: " << c.body.substr(0, 40);
    EXPECT_EQ(r.status().detail(), c.detail) << "body: " << c.body.substr(0, 40);
  }
}

TEST(AwsChunkedFraming, DecodedLengthMustMatch) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingUnsignedTrailer);
  request.decoded_content_length = 4;
  AwsChunkedDecoder shorter(ServeBody("3\r\nabc\r\n0\r\n\r\n"), request);
  EXPECT_EQ(ReadAll(shorter).status().detail(), "IncompleteBody");
  AwsChunkedDecoder longer(ServeBody("5\r\nabcde\r\n0\r\n\r\n"), request);
  EXPECT_EQ(ReadAll(longer).status().detail(), "IncompleteBody");
}

TEST(AwsChunkedFraming, RawReadErrorsPassThrough) {
  VerifiedRequest request = StreamingRequest(PayloadMode::kStreamingUnsignedTrailer);
  AwsChunkedDecoder decoder(
      [](std::span<char>) -> Result<size_t> { return Status(Code::kTimeout, "slow client"); },
      request);
  char buf[16];
  auto r = decoder.Read(std::span<char>(buf, sizeof buf));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTimeout);
}

// --- PayloadReader -----------------------------------------------------------

TEST(PayloadReader, SignedHexChecksTheBodyAtTheEnd) {
  VerifiedRequest request;
  request.payload = PayloadMode::kSignedHex;
  request.body_sha256 = Sha256Hex("the body");
  PayloadReader good(ServeBody("the body", 3), request);
  EXPECT_EQ(ReadAll(good).value(), "the body");
  EXPECT_EQ(good.decoded_bytes(), 8u);

  PayloadReader bad(ServeBody("the bodY", 3), request);
  auto r = ReadAll(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().detail(), "XAmzContentSHA256Mismatch");
}

TEST(PayloadReader, UnsignedPassesThroughAndStreamingDecodes) {
  VerifiedRequest unsigned_request;
  unsigned_request.payload = PayloadMode::kUnsignedPayload;
  PayloadReader plain(ServeBody("anything"), unsigned_request);
  EXPECT_EQ(ReadAll(plain).value(), "anything");

  VerifiedRequest chunked = StreamingRequest(PayloadMode::kStreamingUnsignedTrailer);
  PayloadReader decoder(ServeBody("3\r\nabc\r\n0\r\nx-amz-checksum-sha256:xyz\r\n\r\n"), chunked);
  EXPECT_EQ(ReadAll(decoder).value(), "abc");
  EXPECT_EQ(decoder.trailers().size(), 1u);
  EXPECT_EQ(decoder.decoded_bytes(), 3u);

  PayloadReader example(ServeBody(ExampleBody()), VerifyExample());
  EXPECT_EQ(ReadAll(example).value(), std::string(66560, 'a'));
}

}  // namespace
}  // namespace imgbatch::auth
