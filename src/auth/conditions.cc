#include "auth/conditions.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include "auth/policy.h"
#include "common/strings.h"

namespace imgbatch::auth {
namespace {

enum class Family { kString, kStringIgnoreCase, kWildcard, kNumeric, kDate, kBool, kIp, kNull };
enum class Compare { kEqual, kLess, kLessEqual, kGreater, kGreaterEqual };
enum class Quantifier { kNone, kForAnyValue, kForAllValues };

struct OperatorInfo {
  std::string_view name;
  Family family;
  Compare compare;
  bool negated;
};

constexpr std::array kOperators = {
    OperatorInfo{"StringEquals", Family::kString, Compare::kEqual, false},
    OperatorInfo{"StringNotEquals", Family::kString, Compare::kEqual, true},
    OperatorInfo{"StringEqualsIgnoreCase", Family::kStringIgnoreCase, Compare::kEqual, false},
    OperatorInfo{"StringNotEqualsIgnoreCase", Family::kStringIgnoreCase, Compare::kEqual, true},
    OperatorInfo{"StringLike", Family::kWildcard, Compare::kEqual, false},
    OperatorInfo{"StringNotLike", Family::kWildcard, Compare::kEqual, true},
    OperatorInfo{"NumericEquals", Family::kNumeric, Compare::kEqual, false},
    OperatorInfo{"NumericNotEquals", Family::kNumeric, Compare::kEqual, true},
    OperatorInfo{"NumericLessThan", Family::kNumeric, Compare::kLess, false},
    OperatorInfo{"NumericLessThanEquals", Family::kNumeric, Compare::kLessEqual, false},
    OperatorInfo{"NumericGreaterThan", Family::kNumeric, Compare::kGreater, false},
    OperatorInfo{"NumericGreaterThanEquals", Family::kNumeric, Compare::kGreaterEqual, false},
    OperatorInfo{"DateEquals", Family::kDate, Compare::kEqual, false},
    OperatorInfo{"DateNotEquals", Family::kDate, Compare::kEqual, true},
    OperatorInfo{"DateLessThan", Family::kDate, Compare::kLess, false},
    OperatorInfo{"DateLessThanEquals", Family::kDate, Compare::kLessEqual, false},
    OperatorInfo{"DateGreaterThan", Family::kDate, Compare::kGreater, false},
    OperatorInfo{"DateGreaterThanEquals", Family::kDate, Compare::kGreaterEqual, false},
    OperatorInfo{"Bool", Family::kBool, Compare::kEqual, false},
    OperatorInfo{"IpAddress", Family::kIp, Compare::kEqual, false},
    OperatorInfo{"NotIpAddress", Family::kIp, Compare::kEqual, true},
    // ARNs match component by component with wildcards in IAM; a whole-string
    // wildcard match is the same for ARNs whose components hold no ':'.
    OperatorInfo{"ArnEquals", Family::kWildcard, Compare::kEqual, false},
    OperatorInfo{"ArnNotEquals", Family::kWildcard, Compare::kEqual, true},
    OperatorInfo{"ArnLike", Family::kWildcard, Compare::kEqual, false},
    OperatorInfo{"ArnNotLike", Family::kWildcard, Compare::kEqual, true},
    OperatorInfo{"Null", Family::kNull, Compare::kEqual, false},
};

struct ParsedOperator {
  OperatorInfo info;
  Quantifier quantifier = Quantifier::kNone;
  bool if_exists = false;
};

std::optional<ParsedOperator> ParseOperator(std::string_view op) {
  ParsedOperator parsed;
  if (op.starts_with("ForAnyValue:")) {
    parsed.quantifier = Quantifier::kForAnyValue;
    op.remove_prefix(12);
  } else if (op.starts_with("ForAllValues:")) {
    parsed.quantifier = Quantifier::kForAllValues;
    op.remove_prefix(13);
  }
  if (op.ends_with("IfExists")) {
    parsed.if_exists = true;
    op.remove_suffix(8);
  }
  for (const OperatorInfo& info : kOperators) {
    if (info.name != op) continue;
    if (info.family == Family::kNull &&
        (parsed.if_exists || parsed.quantifier != Quantifier::kNone)) {
      return std::nullopt;
    }
    parsed.info = info;
    return parsed;
  }
  return std::nullopt;
}

// An address and how many leading bits of it count (a CIDR block; a bare
// address is the whole of it). IPv4-mapped IPv6 addresses are IPv4.
struct IpBlock {
  int family = AF_INET;
  std::array<unsigned char, 16> bytes{};
  int prefix_bits = 32;
};

std::optional<IpBlock> ParseIp(std::string_view text, bool allow_prefix) {
  std::string address(Trim(text));
  std::optional<int64_t> prefix;
  if (size_t slash = address.find('/'); slash != std::string::npos) {
    if (!allow_prefix) return std::nullopt;
    prefix = ParseInt(std::string_view(address).substr(slash + 1));
    if (!prefix) return std::nullopt;
    address.resize(slash);
  }
  IpBlock block;
  if (inet_pton(AF_INET, address.c_str(), block.bytes.data()) == 1) {
    block.family = AF_INET;
    block.prefix_bits = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), block.bytes.data()) == 1) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(block.bytes.data(), kMapped, 12) == 0) {
      std::memmove(block.bytes.data(), block.bytes.data() + 12, 4);
      block.family = AF_INET;
      block.prefix_bits = 32;
      if (prefix) *prefix -= 96;
    } else {
      block.family = AF_INET6;
      block.prefix_bits = 128;
    }
  } else {
    return std::nullopt;
  }
  if (prefix) {
    if (*prefix < 0 || *prefix > block.prefix_bits) return std::nullopt;
    block.prefix_bits = static_cast<int>(*prefix);
  }
  return block;
}

bool InBlock(const IpBlock& address, const IpBlock& block) {
  if (address.family != block.family) return false;
  const int whole = block.prefix_bits / 8, rest = block.prefix_bits % 8;
  if (std::memcmp(address.bytes.data(), block.bytes.data(), static_cast<size_t>(whole)) != 0) {
    return false;
  }
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (address.bytes[static_cast<size_t>(whole)] & mask) ==
         (block.bytes[static_cast<size_t>(whole)] & mask);
}

// IAM takes ISO 8601 times (a date alone is its midnight) or epoch seconds.
std::optional<int64_t> ParseDateMillis(std::string_view text) {
  std::string value(Trim(text));
  if (std::optional<int64_t> epoch = ParseInt(value)) {
    // Seconds past year 300,000 either way are no date (and would overflow).
    constexpr int64_t kMaxEpochSeconds = 10'000'000'000'000;
    if (*epoch > kMaxEpochSeconds || *epoch < -kMaxEpochSeconds) return std::nullopt;
    return *epoch * 1000;
  }
  if (value.size() == 10) value += "T00:00:00Z";
  std::optional<SysTime> time = ParseIso8601(value);
  if (!time) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
}

std::optional<double> ParseNumber(std::string_view text) {
  std::string value(Trim(text));
  if (value.empty()) return std::nullopt;
  char* end = nullptr;
  double number = std::strtod(value.c_str(), &end);
  if (end != value.c_str() + value.size()) return std::nullopt;
  return number;
}

template <typename T>
bool Compared(T request, T policy, Compare compare) {
  switch (compare) {
    case Compare::kEqual:
      return request == policy;
    case Compare::kLess:
      return request < policy;
    case Compare::kLessEqual:
      return request <= policy;
    case Compare::kGreater:
      return request > policy;
    case Compare::kGreaterEqual:
      return request >= policy;
  }
  return false;
}

// Whether one request value matches one policy value (before negation).
bool ValueMatches(const OperatorInfo& op, std::string_view request, std::string_view policy,
                  bool escaped_wildcards) {
  switch (op.family) {
    case Family::kString:
      return request == policy;
    case Family::kStringIgnoreCase:
    case Family::kBool:
      return ToLower(request) == ToLower(policy);
    case Family::kWildcard:
      return WildcardMatch(policy, request, escaped_wildcards);
    case Family::kNumeric: {
      std::optional<double> a = ParseNumber(request), b = ParseNumber(policy);
      return a && b && Compared(*a, *b, op.compare);
    }
    case Family::kDate: {
      std::optional<int64_t> a = ParseDateMillis(request), b = ParseDateMillis(policy);
      return a && b && Compared(*a, *b, op.compare);
    }
    case Family::kIp: {
      std::optional<IpBlock> address = ParseIp(request, false), block = ParseIp(policy, true);
      return address && block && InBlock(*address, *block);
    }
    case Family::kNull:
      return false;  // decided in Holds
  }
  return false;
}

bool Holds(const ParsedOperator& op, const Condition& condition, const RequestContext& context) {
  std::optional<std::vector<std::string>> values = context.Find(condition.key);
  const bool absent = !values || values->empty();
  if (op.info.family == Family::kNull) {
    const bool want_absent = ToLower(condition.values.front()) == "true";
    return absent == want_absent;
  }
  if (absent) {
    if (op.if_exists || op.quantifier == Quantifier::kForAllValues) return true;
    if (op.quantifier == Quantifier::kForAnyValue) return false;
    return op.info.negated;
  }
  auto matches = [&](const std::string& value) {
    return std::any_of(condition.values.begin(), condition.values.end(),
                       [&](const std::string& policy) {
                         return ValueMatches(op.info, value, policy, condition.escaped_wildcards);
                       });
  };
  // A negated operator holds for a value that matches none of the policy's.
  auto satisfies = [&](const std::string& value) { return matches(value) != op.info.negated; };
  switch (op.quantifier) {
    case Quantifier::kForAllValues:
      return std::all_of(values->begin(), values->end(), satisfies);
    case Quantifier::kForAnyValue:
      return std::any_of(values->begin(), values->end(), satisfies);
    case Quantifier::kNone:
      if (op.info.negated) return std::none_of(values->begin(), values->end(), matches);
      return std::any_of(values->begin(), values->end(), matches);
  }
  return false;
}

// One global key (lower-cased name) from the request's facts.
std::optional<std::vector<std::string>> GlobalKey(std::string_view key,
                                                  const GlobalRequestFacts& facts) {
  auto one = [](std::string value) { return std::vector<std::string>{std::move(value)}; };
  if (key == "aws:sourceip" && !facts.source_ip.empty()) return one(std::string(facts.source_ip));
  if (key == "aws:securetransport") return one(facts.secure ? "true" : "false");
  if (key == "aws:currenttime") {
    std::string iso = FormatIso8601Millis(SysTime{std::chrono::milliseconds(facts.now_ms)});
    if (iso.size() == 24) iso = iso.substr(0, 19) + "Z";  // whole seconds, as AWS gives it
    return one(std::move(iso));
  }
  if (key == "aws:epochtime") return one(std::to_string(facts.now_ms / 1000));
  if (key == "aws:useragent" && facts.user_agent) return one(std::string(*facts.user_agent));
  if (key == "aws:referer" && facts.referer) return one(std::string(*facts.referer));
  return std::nullopt;
}

// One principal key (lower-cased name) of the caller.
std::optional<std::vector<std::string>> PrincipalKey(std::string_view key,
                                                     const PrincipalIdentity& who) {
  auto one = [](std::string value) { return std::vector<std::string>{std::move(value)}; };
  if (key == "aws:principalarn") return one(who.arn);
  if (key == "aws:principalaccount") return one(who.account_id);
  if (key == "aws:principaltype") return one(who.root() ? "Account" : "User");
  if (key == "aws:username" && !who.root()) return one(who.user_name);
  return std::nullopt;
}

Status Invalid(const Condition& condition, const std::string& why) {
  return InvalidArgument("Condition " + condition.op + " on " + condition.key + ": " + why);
}

}  // namespace

PrincipalIdentity PrincipalIdentity::Root(std::string_view account_id) {
  return {"arn:aws:iam::" + std::string(account_id) + ":root", std::string(account_id), ""};
}

PrincipalIdentity PrincipalIdentity::User(std::string_view account_id, std::string_view name) {
  return {"arn:aws:iam::" + std::string(account_id) + ":user/" + std::string(name),
          std::string(account_id), std::string(name)};
}

void RequestContext::Set(std::string_view key, std::vector<std::string> values) {
  values_.insert_or_assign(ToLower(key), std::move(values));
}

void RequestContext::Set(std::string_view key, std::string value) {
  Set(key, std::vector<std::string>{std::move(value)});
}

std::optional<std::vector<std::string>> RequestContext::Find(std::string_view key) const {
  const std::string lower = ToLower(key);
  if (auto it = values_.find(lower); it != values_.end()) return it->second;
  if (lower.starts_with("aws:")) {
    if (principal_ && (lower.starts_with("aws:principal") || lower == "aws:username")) {
      return PrincipalKey(lower, *principal_);
    }
    if (globals_) return GlobalKey(lower, *globals_);
  }
  if (!resolver_) return std::nullopt;
  if (auto it = resolved_.find(lower); it != resolved_.end()) return it->second;
  std::optional<std::vector<std::string>> found = resolver_(lower);
  resolved_.emplace(lower, found);
  return found;
}

bool ComparesWithWildcards(const Condition& condition) {
  std::optional<ParsedOperator> op = ParseOperator(condition.op);
  return op && op->info.family == Family::kWildcard;
}

Status ValidateCondition(const Condition& condition) {
  std::optional<ParsedOperator> op = ParseOperator(condition.op);
  if (!op) return Invalid(condition, "unknown condition operator");
  if (condition.key.empty()) return Invalid(condition, "no condition key");
  if (condition.values.empty()) return Invalid(condition, "no values");
  for (const std::string& value : condition.values) {
    bool readable = true;
    switch (op->info.family) {
      case Family::kNumeric:
        readable = ParseNumber(value).has_value();
        break;
      case Family::kDate:
        readable = ParseDateMillis(value).has_value();
        break;
      case Family::kIp:
        readable = ParseIp(value, true).has_value();
        break;
      case Family::kBool:
      case Family::kNull:
        readable = ToLower(value) == "true" || ToLower(value) == "false";
        break;
      default:
        break;
    }
    if (!readable) return Invalid(condition, "cannot read the value \"" + value + "\"");
  }
  return Status::Ok();
}

bool ConditionsHold(const std::vector<Condition>& conditions, const RequestContext& context) {
  return std::all_of(conditions.begin(), conditions.end(), [&](const Condition& condition) {
    std::optional<ParsedOperator> op = ParseOperator(condition.op);
    return op && Holds(*op, condition, context);  // unknown operators were refused at parse
  });
}

}  // namespace imgbatch::auth
