#include "queue/message.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>

#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::queue {
namespace {

constexpr uint8_t kTransportString = 1;
constexpr uint8_t kTransportBinary = 2;

void AppendLengthPrefixed(std::string& out, std::string_view bytes) {
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(bytes);
}

// Reads a length-prefixed field at *pos; nullopt when truncated.
std::optional<std::string_view> ReadLengthPrefixed(std::string_view bytes, size_t* pos) {
  if (bytes.size() - *pos < 4) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + *pos);
  const uint32_t n = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  *pos += 4;
  if (bytes.size() - *pos < n) return std::nullopt;
  std::string_view field = bytes.substr(*pos, n);
  *pos += n;
  return field;
}

Status InvalidAttribute(std::string message) {
  return InvalidArgument(std::move(message)).WithDetail("InvalidParameterValue");
}

// Letters and digits are Unicode's, as AWS takes them (an AWS-validated
// suite sends "attr.1øßä" and is refused "§"); the length is in characters.
bool ValidAttributeName(std::string_view name) {
  const std::optional<size_t> characters = CountXmlCharacters(name);
  if (!characters || *characters == 0 || *characters > kMaxAttributeNameLength) return false;
  if (name.front() == '.' || name.back() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  if (IStartsWith(name, "AWS.") || IStartsWith(name, "Amazon.")) return false;
  return AllLettersDigitsOr(name, "_-.");
}

// A Number attribute's value as the Developer Guide defines one ("Message
// attribute data types"): a decimal, optionally signed, with an optional
// exponent (what Java's BigDecimal reads: "5", "-1.5e3", ".5", "5.", "+1E+7";
// no spaces, hex, "NaN" or "Infinity"), of at most 38 significant digits
// (leading and trailing zeroes are trimmed) and between 10^-128 and 10^+126
// in magnitude, counted by the exponent of its first significant digit.
bool IsSqsNumber(std::string_view v) {
  size_t i = 0;
  if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  int64_t digits_before_point = 0;  // significant ones, once the first nonzero digit is seen
  int64_t zeros_after_point = 0;    // before the first significant digit, when it is after '.'
  int64_t significant = 0;          // from the first nonzero digit to the last nonzero one
  int64_t since_last_nonzero = 0;
  bool any_digit = false, seen_point = false, seen_nonzero = false;
  for (; i < v.size() && (is_digit(v[i]) || (v[i] == '.' && !seen_point)); ++i) {
    if (v[i] == '.') {
      seen_point = true;
      continue;
    }
    any_digit = true;
    if (v[i] != '0' || seen_nonzero) {
      if (!seen_nonzero) {
        seen_nonzero = true;
        significant = 1;
      } else {
        ++since_last_nonzero;
        if (v[i] != '0') {
          significant += since_last_nonzero;
          since_last_nonzero = 0;
        }
      }
      if (!seen_point) ++digits_before_point;
    } else if (seen_point) {
      ++zeros_after_point;
    }
  }
  if (!any_digit) return false;
  int64_t exponent = 0;
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) negative = v[i++] == '-';
    if (i == v.size()) return false;
    for (; i < v.size() && is_digit(v[i]); ++i) {
      exponent = std::min<int64_t>(exponent * 10 + (v[i] - '0'), 1'000'000);
    }
    if (negative) exponent = -exponent;
  }
  if (i != v.size()) return false;
  if (!seen_nonzero) return true;  // zero, however written
  if (significant > 38) return false;
  // The power of ten of the first significant digit.
  const int64_t magnitude =
      (digits_before_point > 0 ? digits_before_point - 1 : -zeros_after_point - 1) + exponent;
  return magnitude >= -128 && magnitude <= 126;
}

}  // namespace

bool MessageAttribute::IsBinary() const { return data_type.starts_with("Binary"); }

std::string Md5OfBody(std::string_view body) { return Md5Hex(body); }

std::string EncodeAttributes(const MessageAttributes& attributes) {
  std::string out;
  for (const auto& [name, attribute] : attributes) {
    AppendLengthPrefixed(out, name);
    AppendLengthPrefixed(out, attribute.data_type);
    out.push_back(static_cast<char>(attribute.IsBinary() ? kTransportBinary : kTransportString));
    AppendLengthPrefixed(out, attribute.value);
  }
  return out;
}

Result<MessageAttributes> DecodeAttributes(std::string_view bytes) {
  MessageAttributes attributes;
  size_t pos = 0;
  while (pos < bytes.size()) {
    auto name = ReadLengthPrefixed(bytes, &pos);
    auto type = name ? ReadLengthPrefixed(bytes, &pos) : std::nullopt;
    if (!type || pos >= bytes.size()) return Status(Code::kCorruption, "bad attribute encoding");
    ++pos;  // transport byte: implied by the data type
    auto value = ReadLengthPrefixed(bytes, &pos);
    if (!value) return Status(Code::kCorruption, "bad attribute encoding");
    attributes[std::string(*name)] = MessageAttribute{std::string(*type), std::string(*value)};
  }
  return attributes;
}

std::string Md5OfAttributes(const MessageAttributes& attributes) {
  if (attributes.empty()) return "";
  return Md5Hex(EncodeAttributes(attributes));
}

// What bodies and String attribute values may hold, in AWS's words.
constexpr std::string_view kValidCharacters =
    "Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | "
    "#x10000 to #x10FFFF";

Status ValidateBody(std::string_view body) {
  if (!CountXmlCharacters(body)) {
    return InvalidArgument("Invalid characters found. " + std::string(kValidCharacters))
        .WithDetail("InvalidMessageContents");
  }
  return Status::Ok();
}

Status ValidateAttributes(const MessageAttributes& attributes) {
  if (attributes.size() > kMaxMessageAttributes) {
    return InvalidAttribute("Number of message attributes [" + std::to_string(attributes.size()) +
                            "] exceeds the allowed maximum [10].");
  }
  for (const auto& [name, attribute] : attributes) {
    if (!ValidAttributeName(name)) {
      return InvalidAttribute("Message (user) attribute name '" + name + "' is invalid.");
    }
    const std::string& type = attribute.data_type;
    const bool known =
        type.starts_with("String") || type.starts_with("Number") || type.starts_with("Binary");
    // A custom label after the '.' comes back verbatim in replies: text only.
    const bool well_formed = (type.size() == 6 || (type.size() > 7 && type[6] == '.')) &&
                             CountXmlCharacters(type).has_value();
    if (!known || !well_formed || type.size() > kMaxAttributeNameLength) {
      return InvalidAttribute("The type of message (user) attribute '" + name +
                              "' is invalid. You must use only the following supported type "
                              "prefixes: Binary, Number, String.");
    }
    if (attribute.value.empty()) {
      return InvalidAttribute("Message (user) attribute '" + name +
                              "' must contain a non-empty value of type '" + type.substr(0, 6) +
                              "'.");
    }
    if (type.starts_with("Number")) {
      if (!IsSqsNumber(attribute.value)) {
        return InvalidAttribute("Can't cast the value of message (user) attribute '" + name +
                                "' to a number.");
      }
    }
    // An attribute's text is not the body: AWS (validated) answers
    // InvalidParameterValue, not InvalidMessageContents.
    if (!attribute.IsBinary() && !CountXmlCharacters(attribute.value)) {
      return InvalidAttribute("Message (user) attribute '" + name +
                              "' contains invalid characters. " + std::string(kValidCharacters));
    }
  }
  return Status::Ok();
}

size_t MessageSize(std::string_view body, const MessageAttributes& attributes) {
  size_t size = body.size();
  for (const auto& [name, attribute] : attributes) {
    size += name.size() + attribute.data_type.size() + attribute.value.size();
  }
  return size;
}

namespace {

// Bumped in a forked child, so it never hands out its parent's pooled bytes.
std::atomic<uint64_t> fork_generation{0};

struct RandomPool {
  static constexpr size_t kSize = 4096;
  std::string bytes;
  size_t used = kSize;
  uint64_t generation = 0;

  RandomPool() {
    static const bool registered = [] {
      pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
      return true;
    }();
    (void)registered;
  }

  std::string Take(size_t n) {
    if (n > kSize) return RandomBytes(n);
    const uint64_t now_generation = fork_generation.load(std::memory_order_relaxed);
    if (used + n > kSize || generation != now_generation) {
      bytes = RandomBytes(kSize);
      used = 0;
      generation = now_generation;
    }
    std::string out = bytes.substr(used, n);
    used += n;
    return out;
  }
};

}  // namespace

std::string PooledRandomBytes(size_t n) {
  thread_local RandomPool pool;
  return pool.Take(n);
}

namespace {

// The 16 bytes of a UUID in its 8-4-4-4-12 text form, written in place (the
// substring concatenations allocated eight temporaries; every SQS request
// takes one for its request id).
std::string UuidText(std::string_view bytes) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string text(36, '-');
  size_t pos = 0;
  for (size_t i = 0; i < bytes.size() && i < 16; ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
    const auto b = static_cast<unsigned char>(bytes[i]);
    text[pos++] = kDigits[b >> 4];
    text[pos++] = kDigits[b & 15];
  }
  return text;
}

// Big-endian Unix milliseconds in bytes 0..5 (RFC 9562 unix_ts_ms).
void PutMillis(std::string& b, uint64_t ms) {
  for (int i = 0; i < 6; ++i) b[i] = static_cast<char>((ms >> (40 - 8 * i)) & 0xff);
}

}  // namespace

std::string NewMessageId() {
  std::string b = PooledRandomBytes(16);
  PutMillis(b, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count()));
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x70);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  return UuidText(b);
}

// Layout (16 bytes): 0..5 sent_ms; 6 = 0x80 | seq bits 57..54; 7 = seq bits
// 53..46; 8 = 0x80 (variant 10) | seq bits 45..40; 9..13 = seq bits 39..0;
// 14..15 random. Made in the db writer for every message sent, hence the
// bytes are laid out here and written into the text by UuidText in place.
std::optional<std::string> MessageIdForSeq(int64_t sent_ms, int64_t seq) {
  if (seq < 0 || seq > kMaxMessageIdSeq) return std::nullopt;
  const uint64_t s = static_cast<uint64_t>(seq);
  const std::string random = PooledRandomBytes(2);
  uint8_t b[16];
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<uint8_t>(static_cast<uint64_t>(sent_ms) >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(0x80 | ((s >> 54) & 0x0f));
  b[7] = static_cast<uint8_t>(s >> 46);
  b[8] = static_cast<uint8_t>(0x80 | ((s >> 40) & 0x3f));
  for (int i = 0; i < 5; ++i) b[9 + i] = static_cast<uint8_t>(s >> (32 - 8 * i));
  b[14] = static_cast<uint8_t>(random[0]);
  b[15] = static_cast<uint8_t>(random[1]);
  return UuidText(std::string_view(reinterpret_cast<const char*>(b), sizeof b));
}

std::optional<int64_t> SeqOfMessageId(std::string_view id) {
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' ||
      id[14] != '8') {
    return std::nullopt;
  }
  std::string hex;
  hex.reserve(32);
  for (size_t i = 0; i < id.size(); ++i) {
    if (i != 8 && i != 13 && i != 18 && i != 23) hex.push_back(id[i]);
  }
  // Lower case only: ids are stored as made, and a lookup compares text.
  if (hex.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
  auto b = HexDecode(hex);
  if (!b || (static_cast<uint8_t>((*b)[8]) & 0xc0) != 0x80) return std::nullopt;
  auto byte = [&](int i) { return static_cast<uint64_t>(static_cast<uint8_t>((*b)[i])); };
  uint64_t s = (byte(6) & 0x0f) << 54 | byte(7) << 46 | (byte(8) & 0x3f) << 40;
  for (int i = 0; i < 5; ++i) s |= byte(9 + i) << (32 - 8 * i);
  return static_cast<int64_t>(s);
}

}  // namespace imgbatch::queue
