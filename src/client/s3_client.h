// S3Client: the object operations the worker needs (Get with If-Match, Head,
// Put with Content-MD5 + x-amz-checksum-crc32 and user metadata, Delete) over
// AwsHttpClient. Path-style addressing for custom endpoints (our server,
// moto, MinIO), virtual-host style for AWS (path-style for bucket names with
// dots, which break TLS wildcard certificates). Errors: 404 -> kNotFound,
// 412 -> kPreconditionFailed, 403 -> kAccessDenied, bad keys/signatures ->
// kUnauthenticated, 5xx/throttling after retries and connection failures ->
// kUnavailable, other 4xx -> kInvalidArgument; Status::detail() carries the
// S3 error code. Thread-safety: all methods may run concurrently.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "client/aws_http.h"

namespace imgbatch::client {

using UserMetadata = std::map<std::string, std::string>;  // names without x-amz-meta-, lower case

struct ObjectInfo {
  std::string etag;  // without quotes
  std::string content_type;
  uint64_t size = 0;
  UserMetadata metadata;
};

struct ObjectData {
  ObjectInfo info;
  std::string body;
};

// S3's limit on a key: 1,024 bytes of UTF-8.
inline constexpr size_t kMaxS3KeyBytes = 1024;

struct GetObjectOptions {
  std::string if_match;  // ETag without quotes; empty = unconditional
  // A larger object fails with kTooLarge without being read whole into memory
  // (before its first byte when the response gives its length); 0 = no limit.
  uint64_t max_bytes = 0;
};

// Conditional writes (S3 supports both on PutObject since 2024): the PUT
// fails with kPreconditionFailed (412) when the condition does not hold.
struct PutObjectOptions {
  std::string content_type = "application/octet-stream";
  UserMetadata metadata;
  std::string if_match;        // ETag without quotes: only overwrite this version
  bool if_none_match = false;  // If-None-Match: * (only create)
};

struct S3ClientOptions {
  Endpoint endpoint;
  bool force_path_style = false;  // path-style even on AWS
};

class S3Client {
 public:
  S3Client(AwsHttpClient& http, S3ClientOptions options);

  Result<ObjectData> GetObject(const std::string& bucket, const std::string& key,
                               const GetObjectOptions& options = {},
                               const std::atomic<bool>* abort = nullptr);
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key,
                                const std::atomic<bool>* abort = nullptr);
  // Returns the new object's ETag.
  Result<std::string> PutObject(const std::string& bucket, const std::string& key, std::string body,
                                const PutObjectOptions& options = {},
                                const std::atomic<bool>* abort = nullptr);
  Status DeleteObject(const std::string& bucket, const std::string& key,
                      const std::atomic<bool>* abort = nullptr);

 private:
  struct Target {
    std::string authority;
    std::string path;
  };
  Target ObjectTarget(const std::string& bucket, const std::string& key) const;
  Result<HttpResponse> Send(const std::string& bucket, const std::string& key, AwsRequest request,
                            const std::atomic<bool>* abort);

  AwsHttpClient& http_;
  S3ClientOptions options_;
};

// Reads the <Code> of an S3 XML error body; "" when there is none.
std::string ParseS3ErrorCode(const HttpResponse& response);
// Maps a non-2xx S3 response to a Status (see the header comment).
Status S3ErrorStatus(const HttpResponse& response, std::string_view what);

}  // namespace imgbatch::client
