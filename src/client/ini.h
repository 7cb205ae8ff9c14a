// A small reader for the AWS shared credentials and config files (INI style:
// "[section]", "key = value", '#' and ';' comments). Indented lines under a
// key with an empty value are AWS's nested settings (e.g. "s3 =\n  addressing_style
// = path"); they are stored as "parent.key". Pure functions; thread-safe.
// Reference: AWS SDKs and Tools Reference Guide, "Shared config and
// credentials files" (format section).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace imgbatch::client {

class IniFile {
 public:
  using Section = std::map<std::string, std::string>;

  // Lines that are neither sections, settings nor comments are an error, so
  // a broken file is reported rather than silently ignored.
  static Result<IniFile> Parse(std::string_view text);

  const Section* FindSection(std::string_view name) const;
  std::optional<std::string> Get(std::string_view section, std::string_view key) const;
  const std::map<std::string, Section, std::less<>>& sections() const { return sections_; }

 private:
  std::map<std::string, Section, std::less<>> sections_;
};

}  // namespace imgbatch::client
