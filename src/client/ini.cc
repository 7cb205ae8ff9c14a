#include "client/ini.h"

#include "common/strings.h"

namespace imgbatch::client {
namespace {

bool IsComment(std::string_view line) { return line.empty() || line[0] == '#' || line[0] == ';'; }

// "value ; comment" — AWS allows inline comments after whitespace.
std::string_view StripInlineComment(std::string_view value) {
  for (size_t i = 1; i < value.size(); ++i) {
    if ((value[i] == '#' || value[i] == ';') && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      return Trim(value.substr(0, i));
    }
  }
  return value;
}

}  // namespace

Result<IniFile> IniFile::Parse(std::string_view text) {
  IniFile file;
  Section* section = nullptr;
  std::string parent_key;  // key with an empty value: indented lines nest under it
  int line_number = 0;
  for (std::string_view raw : Split(text, '\n')) {
    ++line_number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    std::string_view line = Trim(raw);
    if (IsComment(line)) continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return InvalidArgument("line " + std::to_string(line_number) + ": unterminated section");
      }
      std::string name(Trim(line.substr(1, line.size() - 2)));
      section = &file.sections_[name];
      parent_key.clear();
      continue;
    }
    auto equals = line.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return InvalidArgument("line " + std::to_string(line_number) + ": expected key = value");
    }
    if (section == nullptr) {
      return InvalidArgument("line " + std::to_string(line_number) + ": setting before a section");
    }
    std::string key(Trim(line.substr(0, equals)));
    std::string value(StripInlineComment(Trim(line.substr(equals + 1))));
    if (indented && !parent_key.empty()) {
      (*section)[parent_key + "." + key] = value;
      continue;
    }
    parent_key = value.empty() ? key : std::string();
    (*section)[key] = value;
  }
  return file;
}

const IniFile::Section* IniFile::FindSection(std::string_view name) const {
  auto it = sections_.find(name);
  return it == sections_.end() ? nullptr : &it->second;
}

std::optional<std::string> IniFile::Get(std::string_view section, std::string_view key) const {
  const Section* found = FindSection(section);
  if (found == nullptr) return std::nullopt;
  auto it = found->find(std::string(key));
  if (it == found->end()) return std::nullopt;
  return it->second;
}

}  // namespace imgbatch::client
