#include "client/retry.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <random>
#include <string>
#include <thread>

#include "client/http_transport.h"

namespace imgbatch::client {
namespace {

// From the SDKs' standard retry mode (botocore's _THROTTLING_ERROR_CODES and
// friends): the codes that mean "slow down" whatever the HTTP status.
constexpr std::array<std::string_view, 14> kThrottlingCodes = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

constexpr std::array<std::string_view, 5> kTransientCodes = {
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "InternalError",
    "ServiceUnavailable"};

}  // namespace

bool IsThrottlingCode(std::string_view error_code) {
  return std::find(kThrottlingCodes.begin(), kThrottlingCodes.end(), error_code) !=
         kThrottlingCodes.end();
}

bool IsTransientCode(std::string_view error_code) {
  return std::find(kTransientCodes.begin(), kTransientCodes.end(), error_code) !=
         kTransientCodes.end();
}

bool ShouldRetry(const AttemptOutcome& outcome) {
  if (!outcome.transport.ok()) {
    if (outcome.transport.detail() == kAbortedDetail) return false;
    // Malformed URLs and the like will not get better.
    return outcome.transport.code() == Code::kUnavailable ||
           outcome.transport.code() == Code::kTimeout;
  }
  if (outcome.http_status >= 500 || outcome.http_status == 429) return true;
  return IsThrottlingCode(outcome.error_code) || IsTransientCode(outcome.error_code);
}

std::chrono::milliseconds BackoffDelay(int retry, const RetryOptions& options, double unit_random) {
  // Cap the exponent so the shift cannot overflow; 2^20 s is far past any cap.
  int exponent = std::clamp(retry - 1, 0, 20);
  int64_t ceiling = options.base_delay.count() << exponent;
  ceiling = std::min<int64_t>(ceiling, options.max_backoff.count());
  double fraction = std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(fraction * static_cast<double>(ceiling)));
}

double UnitRandom() {
  thread_local std::mt19937_64 engine(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

Sleeper RealSleeper() {
  return [](std::chrono::milliseconds duration, const std::atomic<bool>* abort) {
    // Sleep in short slices so an abort (SIGTERM) is honoured promptly.
    constexpr std::chrono::milliseconds kSlice{50};
    auto deadline = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < deadline) {
      if (abort != nullptr && abort->load()) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      std::this_thread::sleep_for(std::min(left, kSlice));
    }
    return abort == nullptr || !abort->load();
  };
}

}  // namespace imgbatch::client
