// The one table mapping Status codes (and the S3 error codes engines put in
// Status::detail()) to S3 wire errors: code, HTTP status, message, rendered as
// <Error><Code/><Message/><Resource/><RequestId/></Error>. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "http/exchange.h"

namespace imgbatch::s3 {

struct S3Error {
  std::string code;  // "NoSuchKey"
  int http_status = 500;
  std::string message;
};

// The S3 error for a non-ok Status: its detail() when that names a known S3
// error code, else the default for its Code.
S3Error ToS3Error(const Status& status);

// A Status that renders as the S3 error `code` (kept in detail()).
Status S3Status(std::string_view code, std::string message = {});

// Renders an error response. HEAD requests (with_body false) get no body, as S3.
http::Response ErrorResponse(const S3Error& error, std::string_view resource,
                             std::string_view request_id, bool with_body = true);

}  // namespace imgbatch::s3
