// Prometheus text exposition format (version 0.0.4) for /-/metrics.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace imgbatch::metrics {

struct PromSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromFamily {
  std::string name;  // imgbatch_queue_messages_visible
  std::string help;
  std::string type;  // "gauge" or "counter"
  std::vector<PromSample> samples;
};

std::string RenderPrometheus(const std::vector<PromFamily>& families);

}  // namespace imgbatch::metrics
