#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace imgbatch {

void SetupLogging(LogFormat format, std::string_view level, std::string_view component) {
  auto logger = spdlog::stderr_color_mt(std::string(component));
  if (format == LogFormat::kJson) {
    // One JSON object per line; messages are escaped by callers that embed
    // user data (keys), the rest are fixed words.
    logger->set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"%n","pid":%P,"msg":"%v"})",
        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n[%P] %v");
  }
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

}  // namespace imgbatch
