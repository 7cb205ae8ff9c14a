// Small, bounds-checked readers for the two pieces of metadata the JPEG fast
// path needs: the EXIF orientation tag and "is this ICC profile sRGB?".
// Internal to imaging. Pure functions; thread-safe.
#pragma once

#include <string_view>

namespace imgbatch::imaging {

// The orientation (1..8) in an APP1 payload starting with "Exif\0\0";
// 1 when absent, malformed or out of range.
int ExifOrientation(std::string_view app1_payload);

// True when the profile's description names sRGB (the usual camera profile),
// so converting through it would change nothing worth the time.
bool IsSrgbProfile(std::string_view icc_profile);

}  // namespace imgbatch::imaging
