// Status and Result<T>: expected failures as values (LevelDB's Status,
// Dragonfly's OpResult). Codes are domain words; each protocol adapter maps
// them to its wire errors in one table. Thread-safety: plain values.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace imgbatch {

enum class Code {
  kOk = 0,
  kNotFound,
  kAlreadyExists,
  kConflict,  // state does not allow it (e.g. bucket not empty)
  kInvalidArgument,
  kUnauthenticated,     // no or bad credentials / signature
  kAccessDenied,        // authenticated but not allowed
  kPreconditionFailed,  // If-Match and friends
  kNotModified,
  kOutOfRange,  // e.g. unsatisfiable Range
  kTooLarge,
  kIoError,
  kCorruption,
  kNoSpace,  // free-space reserve reached
  kTimeout,
  kUnavailable,  // transient: retry later
  kUnsupported,
  kInternal,
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // An optional machine-readable detail, e.g. the exact S3/SQS error code an
  // engine wants to surface ("EntityTooSmall"). Adapters may use it.
  const std::string& detail() const { return detail_; }
  Status&& WithDetail(std::string detail) && {
    detail_ = std::move(detail);
    return std::move(*this);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string detail_;
};

inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// Result<T>: a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace imgbatch

// Propagate a non-ok Status from an expression returning Status.
#define IMGBATCH_RETURN_IF_ERROR(expr) \
  do {                                 \
    ::imgbatch::Status _st = (expr);   \
    if (!_st.ok()) return _st;         \
  } while (0)

#define IMGBATCH_CONCAT_INNER(a, b) a##b
#define IMGBATCH_CONCAT(a, b) IMGBATCH_CONCAT_INNER(a, b)
// IMGBATCH_ASSIGN_OR_RETURN(auto x, Foo()); — returns the Status on error.
#define IMGBATCH_ASSIGN_OR_RETURN(lhs, expr) \
  IMGBATCH_ASSIGN_OR_RETURN_IMPL(IMGBATCH_CONCAT(_res_, __LINE__), lhs, expr)
#define IMGBATCH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()
