// The page's static files, embedded in the binary at build time (see
// CMakeLists.txt: npm ci + esbuild bundle web/, then embed_assets.cmake turns
// the bundle into embedded_assets.cc), so `imgbatch up` stays one binary with
// nothing to install beside it and nothing fetched from a CDN.
// Thread-safety: immutable data; use from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace imgbatch::dashboard {

struct Asset {
  std::string_view name;   // "app.js", as served under /ui/
  std::string_view bytes;  // the file's contents
};

// Generated: every file of the bundle.
std::span<const Asset> EmbeddedAssets();

struct ServedAsset {
  std::string_view bytes;
  std::string content_type;
  std::string etag;  // quoted strong validator (MD5 of the bytes)
};

// The asset named `name` ("app.js"), or nullptr.
const ServedAsset* FindAsset(std::string_view name);
// Content-Type for a file name by its extension.
std::string ContentTypeFor(std::string_view name);

}  // namespace imgbatch::dashboard
