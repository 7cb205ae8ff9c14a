#include "imaging/vips_modules.h"

#include <dlfcn.h>
#include <gmodule.h>
#include <vips/vips.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "imaging/errors.h"

namespace imgbatch::imaging {
namespace {

// Debian policy reserves /nonexistent as a path that never exists. libvips
// looks for modules in $VIPSHOME/<lib>/vips-modules-8.14 and finds none
// ("silent success for dir not there"); the same prefix is only otherwise
// used for message translations, so libvips' errors stay in English.
constexpr const char* kPrefixWithoutModules = "/nonexistent";

// The module directory of the libvips this process runs: where libvips
// itself looks when it was not moved after installation (its configure-time
// libdir is the directory the library is in). Located through a string
// constant that lives inside libvips, which dladdr() maps to that library
// whether or not our executable is position-independent.
std::optional<std::filesystem::path> ModuleDirectory() {
  Dl_info info{};
  if (dladdr(vips_version_string(), &info) == 0 || info.dli_fname == nullptr) return std::nullopt;
  return std::filesystem::path(info.dli_fname).parent_path() /
         ("vips-modules-" + std::to_string(vips_version(0)) + "." +
          std::to_string(vips_version(1)));
}

Status OpenModule(const std::string& name) {
  auto dir = ModuleDirectory();
  if (!dir) return ImageFailure(ImageError::kUnsupported, "cannot locate libvips' modules");
  std::string path = (*dir / ("vips-" + name + ".so")).string();
  // What vips_load_plugins() does: the module's g_module_check_init registers
  // its operations as GTypes, which cannot be unregistered, so it stays.
  GModule* module = g_module_open(path.c_str(), G_MODULE_BIND_LAZY);
  if (module == nullptr) {
    return ImageFailure(ImageError::kUnsupported,
                        "libvips module " + path + " unavailable: " + g_module_error());
  }
  g_module_make_resident(module);
  // Blocking applies to the classes that exist when it is set: cover the new
  // ones too (none of heif's is untrusted today; this keeps it that way).
  vips_block_untrusted_set(TRUE);
  return Status::Ok();
}

}  // namespace

bool StartVipsWithoutModules(const char* argv0) {
  const char* given = std::getenv("VIPSHOME");
  std::optional<std::string> saved = given ? std::optional<std::string>(given) : std::nullopt;
  setenv("VIPSHOME", kPrefixWithoutModules, 1);
  bool started = VIPS_INIT(argv0) == 0;
  // Child processes get the environment we were given.
  if (saved) {
    setenv("VIPSHOME", saved->c_str(), 1);
  } else {
    unsetenv("VIPSHOME");
  }
  return started;
}

Status EnsureHeifModule() {
  static std::once_flag once;
  static Status status = Status::Ok();
  std::call_once(once, [] { status = OpenModule("heif"); });
  return status;
}

}  // namespace imgbatch::imaging
