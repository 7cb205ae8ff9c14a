// Message values of the queue engine: user message attributes, the MD5s SQS
// clients verify (MD5OfMessageBody, MD5OfMessageAttributes), validation of
// bodies and attributes against SQS's rules, and the compact encoding the
// attributes are stored in. Pure functions and plain values; thread-safe.
// Reference: AWS SQS Developer Guide, "Amazon SQS message attributes" and
// "Calculating the MD5 message digest for message attributes".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace imgbatch::queue {

// One user attribute. data_type is "String", "Number" or "Binary", optionally
// followed by ".<custom label>". Binary attributes carry raw bytes in value.
struct MessageAttribute {
  std::string data_type;
  std::string value;  // string value, or raw bytes when IsBinary()
  bool IsBinary() const;
  friend bool operator==(const MessageAttribute&, const MessageAttribute&) = default;
};
// Sorted by name, which is also the order the MD5 is computed in.
using MessageAttributes = std::map<std::string, MessageAttribute>;

inline constexpr int kMaxMessageAttributes = 10;
inline constexpr size_t kMaxAttributeNameLength = 256;

// Hex MD5 of the body bytes.
std::string Md5OfBody(std::string_view body);
// Hex MD5 of the attributes as AWS computes it; "" when there are none.
// For each attribute in name order: 4-byte big-endian length + name, 4-byte
// length + data type, one transport byte (1 string/number, 2 binary),
// 4-byte length + value.
std::string Md5OfAttributes(const MessageAttributes& attributes);

// The serialization the MD5 runs over; also the storage format.
std::string EncodeAttributes(const MessageAttributes& attributes);
Result<MessageAttributes> DecodeAttributes(std::string_view bytes);

// Body characters allowed by SQS: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
// #x10000-#x10FFFF, as valid UTF-8. kInvalidArgument (detail
// "InvalidMessageContents") otherwise.
Status ValidateBody(std::string_view body);
// Names, data types, values and count as SQS checks them (detail
// "InvalidParameterValue").
Status ValidateAttributes(const MessageAttributes& attributes);
// Size counted against MaximumMessageSize: body + attribute names, types and values.
size_t MessageSize(std::string_view body, const MessageAttributes& attributes);

// A random id in UUID text form: a version-7 UUID (RFC 9562: Unix
// milliseconds, then 74 random bits), so ids sort by creation time. Request
// ids and move task handles; messages sent since queue migration 6 get ids
// from MessageIdForSeq (the rows of older ones hold such ids).
std::string NewMessageId();

// The id of the message stored at row `seq`: a version-8 UUID (RFC 9562's
// layout for vendor-specific ids), 8-4-4-4-12 text like every SQS message id:
// sent_ms in the first 48 bits (ids still sort by send time), the seq in the
// next 58 bits around the version and variant, 16 random bits. The id names
// its row, so DeleteById is a rowid lookup and queue_messages needs no index
// on message_id (that index was a quarter of the bytes written per message).
// nullopt past kMaxMessageIdSeq (2^58 - 1: ~9,000 years at 10^6 sends/s).
inline constexpr int64_t kMaxMessageIdSeq = (int64_t{1} << 58) - 1;
std::optional<std::string> MessageIdForSeq(int64_t sent_ms, int64_t seq);
// The seq a MessageIdForSeq id carries; nullopt for any other string (ids
// made before queue migration 6: random version-4 or -7 UUIDs).
std::optional<int64_t> SeqOfMessageId(std::string_view id);

// n bytes from OpenSSL's CSPRNG, drawn from a per-thread pool refilled a few
// KiB at a time (RAND_bytes per 16-byte id was ~13% of the engine's CPU per
// message). A forked child refills before its first draw.
std::string PooledRandomBytes(size_t n);

}  // namespace imgbatch::queue
