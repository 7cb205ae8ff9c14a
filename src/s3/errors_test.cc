// The Status -> S3 error table and the error document.
#include "s3/errors.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>

namespace imgbatch::s3 {
namespace {

TEST(ErrorsTest, DetailNamesTheS3Code) {
  S3Error e = ToS3Error(Status(Code::kNotFound, "").WithDetail("NoSuchBucket"));
  EXPECT_EQ(e.code, "NoSuchBucket");
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.message, "The specified bucket does not exist.");
  EXPECT_EQ(ToS3Error(S3Status("MissingContentLength")).http_status, 411);
  EXPECT_EQ(ToS3Error(S3Status("InvalidRange")).http_status, 416);
  EXPECT_EQ(ToS3Error(S3Status("NotImplemented")).http_status, 501);
  EXPECT_EQ(ToS3Error(S3Status("SignatureDoesNotMatch")).http_status, 403);
  EXPECT_EQ(ToS3Error(S3Status("AuthorizationHeaderMalformed")).http_status, 400);
}

TEST(ErrorsTest, CodesHaveDefaults) {
  struct Case {
    Code code;
    const char* s3_code;
    int status;
  };
  for (const Case& c :
       {Case{Code::kNotFound, "NoSuchKey", 404},
        Case{Code::kAlreadyExists, "BucketAlreadyOwnedByYou", 409},
        Case{Code::kInvalidArgument, "InvalidArgument", 400},
        Case{Code::kUnauthenticated, "AccessDenied", 403},
        Case{Code::kAccessDenied, "AccessDenied", 403},
        Case{Code::kPreconditionFailed, "PreconditionFailed", 412},
        Case{Code::kOutOfRange, "InvalidRange", 416}, Case{Code::kTooLarge, "EntityTooLarge", 400},
        Case{Code::kIoError, "InternalError", 500}, Case{Code::kNoSpace, "ServiceUnavailable", 503},
        Case{Code::kTimeout, "RequestTimeout", 400}, Case{Code::kUnavailable, "SlowDown", 503},
        Case{Code::kUnsupported, "NotImplemented", 501}}) {
    S3Error e = ToS3Error(Status(c.code, ""));
    EXPECT_EQ(e.code, c.s3_code) << CodeName(c.code);
    EXPECT_EQ(e.http_status, c.status) << CodeName(c.code);
  }
  // An unknown detail falls back to the code's default.
  EXPECT_EQ(ToS3Error(Status(Code::kNotFound, "x").WithDetail("Whatever")).code, "NoSuchKey");
}

// A full disk is not an AWS condition; it answers with the 503 SDKs retry,
// and says why (the engines' detail "InsufficientStorage" is not a wire code).
TEST(ErrorsTest, FullDiskIsARetryable503) {
  S3Error e = ToS3Error(
      Status(Code::kNoSpace, "not enough free disk space").WithDetail("InsufficientStorage"));
  EXPECT_EQ(e.code, "ServiceUnavailable");
  EXPECT_EQ(e.http_status, 503);
  EXPECT_NE(e.message.find("disk is full"), std::string::npos) << e.message;
  // A plain ServiceUnavailable keeps its own text.
  EXPECT_EQ(ToS3Error(S3Status("ServiceUnavailable")).message,
            "Service is unable to handle request.");
}

TEST(ErrorsTest, ServerErrorsHideInternalMessages) {
  S3Error e = ToS3Error(Status(Code::kIoError, "open /data/blobs/ab/cd failed"));
  EXPECT_EQ(e.message.find("/data"), std::string::npos);
  S3Error client = ToS3Error(Status(Code::kInvalidArgument, "Part number too big"));
  EXPECT_EQ(client.message, "Part number too big");
}

TEST(ErrorsTest, ErrorDocumentShape) {
  http::Response r = ErrorResponse(ToS3Error(S3Status("NoSuchKey")), "/b/k", "REQ1");
  EXPECT_EQ(r.status, 404);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(std::get<std::string>(r.body).c_str()));
  auto error = doc.child("Error");
  EXPECT_STREQ(error.child_value("Code"), "NoSuchKey");
  EXPECT_STREQ(error.child_value("Resource"), "/b/k");
  EXPECT_STREQ(error.child_value("RequestId"), "REQ1");
  EXPECT_STREQ(error.child_value("Message"), "The specified key does not exist.");
  http::Response head = ErrorResponse(ToS3Error(S3Status("NoSuchKey")), "/b/k", "R", false);
  EXPECT_EQ(std::get<std::string>(head.body), "");
  EXPECT_EQ(head.content_length, 0u);
}

}  // namespace
}  // namespace imgbatch::s3
