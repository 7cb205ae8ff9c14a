#include "dashboard/assets.h"

#include <map>

#include "common/hashing.h"

namespace imgbatch::dashboard {
namespace {

struct Table {
  std::map<std::string, ServedAsset, std::less<>> by_name;
};

const Table& Assets() {
  static const Table table = [] {
    Table t;
    for (const Asset& a : EmbeddedAssets()) {
      t.by_name.emplace(std::string(a.name), ServedAsset{a.bytes, ContentTypeFor(a.name),
                                                         "\"" + Md5Hex(a.bytes) + "\""});
    }
    return t;
  }();
  return table;
}

}  // namespace

std::string ContentTypeFor(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".map", "application/json"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (name.ends_with(ext)) return std::string(type);
  }
  return "application/octet-stream";
}

const ServedAsset* FindAsset(std::string_view name) {
  const auto& assets = Assets().by_name;
  auto it = assets.find(name);
  return it == assets.end() ? nullptr : &it->second;
}

}  // namespace imgbatch::dashboard
