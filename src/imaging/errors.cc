#include "imaging/errors.h"

#include <array>
#include <utility>

namespace imgbatch::imaging {
namespace {

struct ErrorInfo {
  ImageError error;
  const char* name;
  Code code;
  bool permanent;
};

constexpr std::array<ErrorInfo, 7> kErrors{{
    {ImageError::kNotAnImage, "NotAnImage", Code::kInvalidArgument, true},
    {ImageError::kCorrupt, "Corrupt", Code::kCorruption, true},
    {ImageError::kTooLarge, "TooLarge", Code::kTooLarge, true},
    {ImageError::kUnsupported, "Unsupported", Code::kUnsupported, true},
    {ImageError::kOutOfMemory, "OutOfMemory", Code::kUnavailable, false},
    {ImageError::kIo, "Io", Code::kIoError, false},
    {ImageError::kInternal, "Internal", Code::kInternal, false},
}};

const ErrorInfo& InfoOf(ImageError error) {
  for (const auto& info : kErrors) {
    if (info.error == error) return info;
  }
  return kErrors.back();
}

}  // namespace

Status ImageFailure(ImageError error, std::string message) {
  const ErrorInfo& info = InfoOf(error);
  return Status(info.code, std::move(message)).WithDetail(info.name);
}

const char* ErrorName(ImageError error) { return InfoOf(error).name; }

ImageError ErrorOf(const Status& status) {
  for (const auto& info : kErrors) {
    if (status.detail() == info.name) return info.error;
  }
  return ImageError::kInternal;
}

bool IsPermanent(const Status& status) { return !status.ok() && InfoOf(ErrorOf(status)).permanent; }

}  // namespace imgbatch::imaging
