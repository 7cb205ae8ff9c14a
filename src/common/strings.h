// Small string helpers shared by the protocol modules: percent-encoding as AWS
// defines it, query strings, case-insensitive compare, and the date formats on
// the wire. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imgbatch {

// AWS's UriEncode: unreserved (A-Z a-z 0-9 - . _ ~) kept, everything else
// %XX upper-case; '/' kept when encode_slash is false (S3 object key paths).
std::string UriEncode(std::string_view s, bool encode_slash = true);
// Percent-decoding; with plus_as_space, '+' becomes ' ' (form encoding).
// Returns nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_as_space = false);
// application/x-www-form-urlencoded encoding as S3 uses for event keys:
// space -> '+', unreserved and '/' kept, everything else %XX.
std::string FormEncode(std::string_view s);

using QueryParams = std::vector<std::pair<std::string, std::string>>;
// Parses "a=1&b&c=%20" (decoded names and values, '+' as space when
// plus_as_space). Malformed escapes are kept literally.
QueryParams ParseQuery(std::string_view query, bool plus_as_space = false);
// The first value of a name, if present.
std::optional<std::string> QueryGet(const QueryParams& params, std::string_view name);

// Hashes std::string and std::string_view alike: with std::equal_to<>, an
// unordered container keyed by std::string is searched with a string_view
// without building a std::string for it (hot-path caches).
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

std::string ToLower(std::string_view s);
bool IEquals(std::string_view a, std::string_view b);
bool IStartsWith(std::string_view s, std::string_view prefix);
std::string_view Trim(std::string_view s);
std::vector<std::string_view> Split(std::string_view s, char sep);
std::optional<uint64_t> ParseUint(std::string_view s);
std::optional<int64_t> ParseInt(std::string_view s);

using SysTime = std::chrono::system_clock::time_point;
std::string FormatIso8601Millis(SysTime t);  // 2026-11-28T00:25:41.123Z
std::string FormatAmzDate(SysTime t);        // 20261128T002541Z
std::string FormatHttpDate(SysTime t);       // Sat, 28 Nov 2026 00:25:41 GMT
std::optional<SysTime> ParseAmzDate(std::string_view s);
std::optional<SysTime> ParseHttpDate(std::string_view s);  // RFC 1123 form
std::optional<SysTime> ParseIso8601(std::string_view s);   // with or without millis

// XML 1.0's characters (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
// #x10000-#x10FFFF) as valid UTF-8: what SQS allows in message bodies, and
// all a reply in XML or JSON can carry. The number of characters (code
// points) when text is made only of them, nullopt otherwise: for texts that
// are stored and served back (SQS tags), counted as AWS counts them.
std::optional<size_t> CountXmlCharacters(std::string_view text);

// Whether every character of UTF-8 `text` is a letter or a digit as Unicode
// classes them (glibc's C.UTF-8 tables: "ø", "ß" and "ä" are, "§" is not;
// without that locale only ASCII's are) or one of the ASCII characters in
// `also`. False for text that is not UTF-8.
bool AllLettersDigitsOr(std::string_view text, std::string_view also);
// Whether s is well-formed UTF-8: no overlong forms, no surrogates, nothing
// above U+10FFFF (control characters allowed).
bool IsValidUtf8(std::string_view s);
// Whether text is an AWS account id: 12 ASCII digits.
bool IsAccountId(std::string_view text);
// text with every byte that starts no such character replaced by U+FFFD: for
// replies that quote what a client sent (an unknown action's name, a
// request's path in an error), which must stay decodable. Text made of them
// already comes back as it went in (moved, not copied).
std::string ReplaceNonXmlCharacters(std::string text);

}  // namespace imgbatch
