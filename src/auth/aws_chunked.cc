#include "auth/aws_chunked.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "common/strings.h"

namespace imgbatch::auth {
namespace {

constexpr size_t kInputBufferBytes = 64 << 10;
constexpr size_t kMaxLineBytes = 4096;  // a chunk header or one trailer line
constexpr size_t kMaxTrailers = 32;
constexpr size_t kMaxHexDigits = 16;
constexpr size_t kSignatureHexLength = 64;
constexpr std::string_view kChunkSignatureKey = "chunk-signature=";
constexpr std::string_view kTrailerSignatureName = "x-amz-trailer-signature";

Status Incomplete(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message)).WithDetail("IncompleteBody");
}

Status BadChunk(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message)).WithDetail("InvalidChunkSizeError");
}

Status BadTrailer(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message)).WithDetail("MalformedTrailerError");
}

Status SignatureMismatch(std::string message) {
  return Status(Code::kUnauthenticated, std::move(message)).WithDetail("SignatureDoesNotMatch");
}

bool SameSignature(std::string_view expected, std::string_view given) {
  return expected.size() == given.size() &&
         CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

struct ChunkHeader {
  uint64_t size = 0;
  std::string signature;  // lower-case hex, empty when absent
};

Result<ChunkHeader> ParseChunkHeader(std::string_view line) {
  size_t semi = line.find(';');
  std::string_view size_hex = Trim(line.substr(0, semi));
  if (size_hex.empty() || size_hex.size() > kMaxHexDigits) {
    return BadChunk("Invalid chunk size line");
  }
  ChunkHeader header;
  for (char c : size_hex) {
    int digit = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
    if (digit < 0) return BadChunk("Invalid chunk size line");
    header.size = header.size * 16 + static_cast<uint64_t>(digit);
  }
  if (semi == std::string_view::npos) return header;
  for (std::string_view ext : Split(line.substr(semi + 1), ';')) {
    ext = Trim(ext);
    if (ext.starts_with(kChunkSignatureKey)) {
      header.signature = ToLower(ext.substr(kChunkSignatureKey.size()));
    }
  }
  return header;
}

}  // namespace

// Decoding state; the buffer holds raw bytes read ahead of the framing.
struct AwsChunkedDecoder::State {
  enum class Phase { kChunkHeader, kChunkData, kChunkEnd, kTrailers, kDone };

  std::vector<char> in = std::vector<char>(kInputBufferBytes);
  size_t pos = 0;
  size_t end = 0;
  Phase phase = Phase::kChunkHeader;
  bool signed_chunks = false;
  bool signed_trailer = false;
  bool trailers_allowed = false;
  uint64_t remaining = 0;  // unsigned: bytes of the current chunk still to hand out
  std::string chunk;       // signed: the verified chunk being handed out
  size_t chunk_pos = 0;
  std::string previous_signature;
  Status error;

  // Refills the read-ahead buffer; false at the end of the raw body.
  Result<bool> Fill(RawRead& raw) {
    pos = end = 0;
    IMGBATCH_ASSIGN_OR_RETURN(size_t n, raw(std::span<char>(in.data(), in.size())));
    end = std::min(n, in.size());
    return end > 0;
  }

  // One line without its CRLF (a bare LF is tolerated); nullopt when the body
  // ends cleanly before the line starts.
  Result<std::optional<std::string>> ReadLine(RawRead& raw) {
    std::string line;
    while (true) {
      if (pos == end) {
        IMGBATCH_ASSIGN_OR_RETURN(bool more, Fill(raw));
        if (!more) {
          if (line.empty()) return std::optional<std::string>();
          return Incomplete("The request body ended inside a chunk header or trailer");
        }
      }
      const char* begin = in.data() + pos;
      const char* newline = static_cast<const char*>(std::memchr(begin, '\n', end - pos));
      size_t take = newline ? static_cast<size_t>(newline - begin) : end - pos;
      if (line.size() + take > kMaxLineBytes) return BadChunk("Chunk header line too long");
      line.append(begin, take);
      pos += take;
      if (newline) {
        ++pos;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return std::optional<std::string>(std::move(line));
      }
    }
  }

  // Appends n bytes to out. Memory grows with the bytes that actually
  // arrive, not with the size a client declares.
  Status AppendExact(RawRead& raw, std::string& out, size_t n) {
    while (n > 0) {
      if (pos == end) {
        IMGBATCH_ASSIGN_OR_RETURN(bool more, Fill(raw));
        if (!more) return Incomplete("The request body ended inside a chunk");
      }
      size_t k = std::min(n, end - pos);
      out.append(in.data() + pos, k);
      pos += k;
      n -= k;
    }
    return Status::Ok();
  }

  Status ExpectEmptyLine(RawRead& raw) {
    IMGBATCH_ASSIGN_OR_RETURN(auto line, ReadLine(raw));
    if (!line) return Incomplete("The request body ended after chunk data");
    if (!line->empty()) return BadChunk("Chunk data is not followed by CRLF");
    return Status::Ok();
  }
};

namespace {

std::string ChunkSignature(const VerifiedRequest& request, std::string_view previous,
                           std::string_view chunk) {
  std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n";
  sts.append(request.amz_date).push_back('\n');
  sts.append(request.scope).push_back('\n');
  sts.append(previous).push_back('\n');
  sts.append(kEmptySha256Hex).push_back('\n');
  sts.append(Sha256Hex(chunk));
  return HexEncode(HmacSha256(request.signing_key, sts));
}

std::string TrailerSignature(const VerifiedRequest& request, std::string_view previous,
                             const HeaderList& trailers) {
  std::string canonical;
  for (const auto& [name, value] : trailers) {
    canonical.append(name).push_back(':');
    canonical.append(value).push_back('\n');
  }
  std::string sts = "AWS4-HMAC-SHA256-TRAILER\n";
  sts.append(request.amz_date).push_back('\n');
  sts.append(request.scope).push_back('\n');
  sts.append(previous).push_back('\n');
  sts.append(Sha256Hex(canonical));
  return HexEncode(HmacSha256(request.signing_key, sts));
}

}  // namespace

AwsChunkedDecoder::AwsChunkedDecoder(RawRead raw_read, const VerifiedRequest& request)
    : raw_read_(std::move(raw_read)), request_(request), state_(std::make_shared<State>()) {
  state_->signed_chunks = request.payload == PayloadMode::kStreamingSigned ||
                          request.payload == PayloadMode::kStreamingSignedTrailer;
  state_->signed_trailer = request.payload == PayloadMode::kStreamingSignedTrailer;
  state_->trailers_allowed = request.payload == PayloadMode::kStreamingSignedTrailer ||
                             request.payload == PayloadMode::kStreamingUnsignedTrailer;
  state_->previous_signature = request.seed_signature;
}

Result<size_t> AwsChunkedDecoder::Read(std::span<char> buffer) {
  State& st = *state_;
  if (!st.error.ok()) return st.error;
  auto result = ReadSome(buffer);
  if (!result.ok()) st.error = result.status();
  return result;
}

Status AwsChunkedDecoder::ReadChunkHeader() {
  State& st = *state_;
  IMGBATCH_ASSIGN_OR_RETURN(auto line, st.ReadLine(raw_read_));
  if (!line) return Incomplete("The request body ended before the final chunk");
  IMGBATCH_ASSIGN_OR_RETURN(ChunkHeader header, ParseChunkHeader(*line));
  if (request_.decoded_content_length &&
      header.size > *request_.decoded_content_length - decoded_) {
    return Incomplete("The chunks carry more bytes than x-amz-decoded-content-length");
  }
  if (!st.signed_chunks) {
    st.remaining = header.size;
    st.phase = header.size == 0 ? State::Phase::kTrailers : State::Phase::kChunkData;
    return Status::Ok();
  }
  if (header.signature.size() != kSignatureHexLength) {
    return SignatureMismatch("Chunk signature missing or malformed");
  }
  if (header.size > kMaxSignedChunkBytes) return BadChunk("Chunk too large");
  st.chunk.clear();
  st.chunk_pos = 0;
  IMGBATCH_RETURN_IF_ERROR(st.AppendExact(raw_read_, st.chunk, header.size));
  std::string expected = ChunkSignature(request_, st.previous_signature, st.chunk);
  if (!SameSignature(expected, header.signature)) {
    return SignatureMismatch(
        "The chunk signature we calculated does not match the signature you provided");
  }
  st.previous_signature = std::move(expected);
  if (header.size == 0) {
    st.phase = State::Phase::kTrailers;
  } else {
    IMGBATCH_RETURN_IF_ERROR(st.ExpectEmptyLine(raw_read_));
  }
  return Status::Ok();
}

Status AwsChunkedDecoder::ReadTrailers() {
  State& st = *state_;
  std::string trailer_signature;
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(auto line, st.ReadLine(raw_read_));
    if (!line || line->empty()) break;  // end of body or the closing blank line
    if (!st.trailers_allowed) return BadTrailer("Trailers are not expected for this payload");
    if (!trailer_signature.empty()) return BadTrailer("Trailer after x-amz-trailer-signature");
    size_t colon = line->find(':');
    std::string name = ToLower(Trim(std::string_view(*line).substr(0, colon)));
    if (colon == std::string::npos || name.empty()) return BadTrailer("Malformed trailer line");
    std::string value(Trim(std::string_view(*line).substr(colon + 1)));
    if (name == kTrailerSignatureName) {
      trailer_signature = ToLower(value);
      if (trailer_signature.empty()) return BadTrailer("Empty x-amz-trailer-signature");
      continue;
    }
    if (trailers_.size() >= kMaxTrailers) return BadTrailer("Too many trailers");
    trailers_.emplace_back(std::move(name), std::move(value));
  }
  if (st.signed_trailer &&
      !SameSignature(TrailerSignature(request_, st.previous_signature, trailers_),
                     trailer_signature)) {
    return SignatureMismatch(
        "The trailer signature we calculated does not match the signature you provided");
  }
  if (request_.decoded_content_length && *request_.decoded_content_length != decoded_) {
    return Incomplete(
        "You did not provide the number of bytes specified by "
        "x-amz-decoded-content-length");
  }
  st.phase = State::Phase::kDone;
  return Status::Ok();
}

Result<size_t> AwsChunkedDecoder::ReadSome(std::span<char> buffer) {
  State& st = *state_;
  if (buffer.empty()) return size_t{0};
  while (true) {
    if (st.chunk_pos < st.chunk.size()) {  // hand out the verified signed chunk
      size_t n = std::min(buffer.size(), st.chunk.size() - st.chunk_pos);
      std::memcpy(buffer.data(), st.chunk.data() + st.chunk_pos, n);
      st.chunk_pos += n;
      decoded_ += n;
      return n;
    }
    switch (st.phase) {
      case State::Phase::kChunkHeader:
        IMGBATCH_RETURN_IF_ERROR(ReadChunkHeader());
        break;
      case State::Phase::kChunkData: {
        if (st.pos == st.end) {
          IMGBATCH_ASSIGN_OR_RETURN(bool more, st.Fill(raw_read_));
          if (!more) return Incomplete("The request body ended inside a chunk");
        }
        size_t n = std::min<uint64_t>({buffer.size(), st.remaining, st.end - st.pos});
        std::memcpy(buffer.data(), st.in.data() + st.pos, n);
        st.pos += n;
        st.remaining -= n;
        decoded_ += n;
        if (st.remaining == 0) st.phase = State::Phase::kChunkEnd;
        return n;
      }
      case State::Phase::kChunkEnd:
        IMGBATCH_RETURN_IF_ERROR(st.ExpectEmptyLine(raw_read_));
        st.phase = State::Phase::kChunkHeader;
        break;
      case State::Phase::kTrailers:
        IMGBATCH_RETURN_IF_ERROR(ReadTrailers());
        break;
      case State::Phase::kDone:
        return size_t{0};
    }
  }
}

PayloadReader::PayloadReader(AwsChunkedDecoder::RawRead raw_read, const VerifiedRequest& request)
    : raw_read_(std::move(raw_read)), request_(request) {
  switch (request.payload) {
    case PayloadMode::kStreamingSigned:
    case PayloadMode::kStreamingSignedTrailer:
    case PayloadMode::kStreamingUnsignedTrailer:
      chunked_ = std::make_unique<AwsChunkedDecoder>(raw_read_, request_);
      break;
    case PayloadMode::kSignedHex:
      if (!request.body_sha256.empty()) hasher_ = std::make_unique<Hasher>(HashKind::kSha256);
      break;
    case PayloadMode::kUnsignedPayload:
      break;
  }
}

Result<size_t> PayloadReader::Read(std::span<char> buffer) {
  if (chunked_) return chunked_->Read(buffer);
  if (!error_.ok()) return error_;
  if (done_ || buffer.empty()) return size_t{0};
  auto got = raw_read_(buffer);
  if (!got.ok()) {
    error_ = got.status();
    return error_;
  }
  size_t n = std::min(*got, buffer.size());
  if (n == 0) {
    if (hasher_) {
      Status check = CheckPayloadSha256(request_, HexEncode(hasher_->Finish()));
      hasher_.reset();
      if (!check.ok()) {
        error_ = check;
        return error_;
      }
    }
    done_ = true;
    return size_t{0};
  }
  if (hasher_) hasher_->Update(std::string_view(buffer.data(), n));
  passed_ += n;
  return n;
}

const HeaderList& PayloadReader::trailers() const {
  static const HeaderList kNone;
  return chunked_ ? chunked_->trailers() : kNone;
}

uint64_t PayloadReader::decoded_bytes() const {
  return chunked_ ? chunked_->decoded_bytes() : passed_;
}

}  // namespace imgbatch::auth
