// Starting libvips without its optional format modules, and opening the one
// we use (heif: HEIC/AVIF) only when an image needs it. Internal to imaging.
//
// libvips 8.14 opens every module in <libdir>/vips-modules-8.14 inside
// vips_init() (Debian: heif, jxl, magick, openslide, poppler), and each one
// loads its libraries (ImageMagick, poppler, libjxl, x265, aom, dav1d...) and
// runs their relocations: 6.7 MiB of RSS in every process, although only heif
// can ever serve us (the others are refused by our loader allow-list or
// blocked as untrusted). libvips has no option to skip some modules; it takes
// `libdir` from $VIPSHOME when that is set (and sets it itself otherwise), so
// StartVipsWithoutModules points VIPSHOME at a directory that cannot exist
// for the length of vips_init(), then restores it.
#pragma once

#include "common/status.h"

namespace imgbatch::imaging {

// VIPS_INIT with no modules loaded; false if libvips failed to start. Call
// once, before other threads run (libvips itself calls setenv in vips_init).
bool StartVipsWithoutModules(const char* argv0);

// Opens libvips' heif module (HEIC/AVIF load, AVIF save) from the directory
// next to the libvips we run, once per process; thread-safe. An error (module
// missing) is kUnsupported and repeats on every call.
Status EnsureHeifModule();

}  // namespace imgbatch::imaging
