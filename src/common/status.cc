#include "common/status.h"

namespace imgbatch {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kConflict:
      return "Conflict";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kUnauthenticated:
      return "Unauthenticated";
    case Code::kAccessDenied:
      return "AccessDenied";
    case Code::kPreconditionFailed:
      return "PreconditionFailed";
    case Code::kNotModified:
      return "NotModified";
    case Code::kOutOfRange:
      return "OutOfRange";
    case Code::kTooLarge:
      return "TooLarge";
    case Code::kIoError:
      return "IoError";
    case Code::kCorruption:
      return "Corruption";
    case Code::kNoSpace:
      return "NoSpace";
    case Code::kTimeout:
      return "Timeout";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kUnsupported:
      return "Unsupported";
    case Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  if (!detail_.empty()) s += "(" + detail_ + ")";
  s += ": ";
  s += message_;
  return s;
}

}  // namespace imgbatch
