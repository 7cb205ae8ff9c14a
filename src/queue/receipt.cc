#include "queue/receipt.h"

#include <charconv>
#include <initializer_list>
#include <stdexcept>

#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::queue {
namespace {

constexpr std::string_view kKeyedPrefix = "ib2:";
constexpr std::string_view kLegacyPrefix = "ib1:";
constexpr size_t kMacDigits = 16;

void AppendNumber(std::string& out, int64_t n) {
  char digits[24];
  const auto end = std::to_chars(std::begin(digits), std::end(digits), n).ptr;
  out.append(digits, end);
}

// Reads N colon-terminated integers from the front of rest.
template <size_t N>
bool TakeNumbers(std::string_view& rest, int64_t (&numbers)[N]) {
  for (int64_t& number : numbers) {
    const size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return false;
    const std::optional<int64_t> parsed = ParseInt(rest.substr(0, colon));
    if (!parsed) return false;
    number = *parsed;
    rest.remove_prefix(colon + 1);
  }
  return true;
}

}  // namespace

ReceiptCodec::ReceiptCodec(std::string key, int64_t legacy_before_ms)
    : key_(std::move(key)), legacy_before_ms_(legacy_before_ms) {
  if (key_.size() != 16) throw std::invalid_argument("receipt key must be 16 bytes");
}

std::string ReceiptCodec::Mac(std::string_view text) const {
  const uint64_t mac = SipHash24(key_, text);
  std::string hex(kMacDigits, '0');
  constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < kMacDigits; ++i) hex[i] = kDigits[(mac >> (60 - 4 * i)) & 0xf];
  return hex;
}

// Written into one buffer: every received message gets one, on the thread
// that finishes the receive.
std::string ReceiptCodec::Encode(const Receipt& r) const {
  std::string raw;
  raw.reserve(kKeyedPrefix.size() + 4 * 21 + kMacDigits);
  raw.append(kKeyedPrefix);
  bool first = true;
  for (int64_t n : {r.queue_id, r.seq, r.receive_count, r.receive_ms}) {
    if (!first) raw.push_back(':');
    first = false;
    AppendNumber(raw, n);
  }
  const std::string mac = Mac(raw);
  raw.append(1, ':').append(mac);
  return Base64Encode(raw);
}

std::optional<Receipt> ReceiptCodec::Decode(std::string_view handle) const {
  const std::optional<std::string> raw = Base64Decode(handle);
  if (!raw) return std::nullopt;
  std::string_view rest(*raw);
  if (rest.starts_with(kKeyedPrefix)) {
    const size_t mac_at = rest.rfind(':') + 1;  // the prefix has one
    if (rest.size() - mac_at != kMacDigits) return std::nullopt;
    if (!ConstantTimeEquals(rest.substr(mac_at), Mac(rest.substr(0, mac_at - 1)))) {
      return std::nullopt;
    }
    rest.remove_prefix(kKeyedPrefix.size());
    int64_t numbers[4];
    if (!TakeNumbers(rest, numbers) || rest.size() != kMacDigits) return std::nullopt;
    return Receipt{numbers[0], numbers[1], numbers[2], numbers[3], false};
  }
  if (rest.starts_with(kLegacyPrefix)) {
    rest.remove_prefix(kLegacyPrefix.size());
    int64_t numbers[3];
    if (!TakeNumbers(rest, numbers) || rest.find(':') != std::string_view::npos) {
      return std::nullopt;  // five parts, not four
    }
    if (numbers[2] < 1) return std::nullopt;  // no receive gave it
    return Receipt{numbers[0], numbers[1], numbers[2], 0, true};
  }
  return std::nullopt;
}

}  // namespace imgbatch::queue
