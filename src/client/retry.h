// The AWS SDKs' "standard" retry mode: which outcomes are retried and how
// long to wait between attempts (exponential backoff with full jitter).
// Reference: AWS SDKs and Tools Reference Guide, "Retry behavior".
// Pure functions plus a small RetryPolicy value; thread-safe (the jitter
// source is supplied by the caller).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "common/status.h"

namespace imgbatch::client {

struct RetryOptions {
  int max_attempts = 3;                           // first try included
  std::chrono::milliseconds base_delay{1000};     // SDK standard mode: 1 s
  std::chrono::milliseconds max_backoff{20'000};  // SDK standard mode: 20 s
};

// What went wrong with one attempt, as far as retrying is concerned.
struct AttemptOutcome {
  // Transport failure (no response); ok when an HTTP response arrived.
  Status transport;
  long http_status = 0;
  std::string_view error_code;  // AWS error code from the body, if any
};

// True for throttling codes (SlowDown, Throttling, RequestLimitExceeded, ...).
bool IsThrottlingCode(std::string_view error_code);
// True for errors the SDKs retry as transient (RequestTimeout, InternalError...).
bool IsTransientCode(std::string_view error_code);

// Retry 5xx, 429, throttling/transient error codes and connection failures;
// never other 4xx, never an aborted request.
bool ShouldRetry(const AttemptOutcome& outcome);

// Delay before retry number `retry` (1 = the first retry): uniform in
// [0, min(max_backoff, base_delay * 2^(retry-1))]. unit_random is in [0, 1).
std::chrono::milliseconds BackoffDelay(int retry, const RetryOptions& options, double unit_random);

// Draws a uniform [0, 1) number; thread-safe (thread-local engine).
double UnitRandom();

// Sleeps for a duration or until the abort flag is raised; returns false when
// aborted. Injected so tests run without sleeping.
using Sleeper = std::function<bool(std::chrono::milliseconds, const std::atomic<bool>* abort)>;
Sleeper RealSleeper();

}  // namespace imgbatch::client
