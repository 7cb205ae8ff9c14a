// Logging setup (spdlog): text or JSON lines on stderr. Call once from main;
// afterwards every module logs with spdlog::info(...) etc.
#pragma once

#include <string_view>

namespace imgbatch {

enum class LogFormat { kText, kJson };

// level: trace, debug, info, warn, error, off.
void SetupLogging(LogFormat format, std::string_view level, std::string_view component);

}  // namespace imgbatch
