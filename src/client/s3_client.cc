#include "client/s3_client.h"

#include <pugixml.hpp>

#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::client {
namespace {

constexpr std::string_view kMetaPrefix = "x-amz-meta-";

std::string StripQuotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

ObjectInfo InfoFromHeaders(const HttpResponse& response) {
  ObjectInfo info;
  info.etag = StripQuotes(response.Header("etag").value_or(""));
  info.content_type = response.Header("content-type").value_or("");
  info.size = ParseUint(response.Header("content-length").value_or("0")).value_or(0);
  for (const auto& [name, value] : response.headers) {
    if (name.starts_with(kMetaPrefix)) info.metadata[name.substr(kMetaPrefix.size())] = value;
  }
  return info;
}

bool IsUnauthenticatedCode(std::string_view code) {
  return code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
         code == "ExpiredToken" || code == "InvalidToken" || code == "RequestTimeTooSkewed";
}

}  // namespace

std::string ParseS3ErrorCode(const HttpResponse& response) {
  if (response.body.empty()) return {};
  pugi::xml_document doc;
  if (!doc.load_buffer(response.body.data(), response.body.size())) return {};
  return doc.child("Error").child_value("Code");
}

Status S3ErrorStatus(const HttpResponse& response, std::string_view what) {
  std::string code = ParseS3ErrorCode(response);
  std::string message = std::string(what) + ": HTTP " + std::to_string(response.status) +
                        (code.empty() ? "" : " " + code);
  Code status_code = Code::kInvalidArgument;
  if (response.status == 404) {
    status_code = Code::kNotFound;
    if (code.empty()) code = "NotFound";
  } else if (response.status == 412) {
    status_code = Code::kPreconditionFailed;
    if (code.empty()) code = "PreconditionFailed";
  } else if (IsUnauthenticatedCode(code)) {
    status_code = Code::kUnauthenticated;
  } else if (response.status == 403) {
    status_code = Code::kAccessDenied;
  } else if (response.status >= 500 || response.status == 429 || IsThrottlingCode(code) ||
             IsTransientCode(code)) {
    status_code = Code::kUnavailable;
  }
  return Status(status_code, message).WithDetail(code);
}

S3Client::S3Client(AwsHttpClient& http, S3ClientOptions options)
    : http_(http), options_(std::move(options)) {}

S3Client::Target S3Client::ObjectTarget(const std::string& bucket, const std::string& key) const {
  std::string encoded_key = UriEncode(key, /*encode_slash=*/false);
  bool path_style = options_.force_path_style || options_.endpoint.custom ||
                    bucket.find('.') != std::string::npos;
  if (path_style) {
    return {options_.endpoint.authority,
            options_.endpoint.base_path + "/" + bucket + "/" + encoded_key};
  }
  return {bucket + "." + options_.endpoint.authority,
          options_.endpoint.base_path + "/" + encoded_key};
}

Result<HttpResponse> S3Client::Send(const std::string& bucket, const std::string& key,
                                    AwsRequest request, const std::atomic<bool>* abort) {
  Target target = ObjectTarget(bucket, key);
  request.path = target.path;
  return http_.Call(options_.endpoint.scheme, target.authority, request, abort);
}

Result<ObjectData> S3Client::GetObject(const std::string& bucket, const std::string& key,
                                       const GetObjectOptions& options,
                                       const std::atomic<bool>* abort) {
  AwsRequest request;
  request.method = "GET";
  if (!options.if_match.empty())
    request.headers.emplace_back("If-Match", "\"" + options.if_match + "\"");
  request.max_response_bytes = options.max_bytes;
  auto sent = Send(bucket, key, std::move(request), abort);
  if (!sent.ok() && sent.status().code() == Code::kTooLarge) {
    return Status(Code::kTooLarge, "GetObject " + bucket + "/" + key + ": object over " +
                                       std::to_string(options.max_bytes) + " bytes")
        .WithDetail("TooLarge");
  }
  IMGBATCH_ASSIGN_OR_RETURN(auto response, std::move(sent));
  if (response.status != 200) return S3ErrorStatus(response, "GetObject " + bucket + "/" + key);
  ObjectData data;
  data.info = InfoFromHeaders(response);
  data.info.size = response.body.size();
  data.body = std::move(response.body);
  return data;
}

Result<ObjectInfo> S3Client::HeadObject(const std::string& bucket, const std::string& key,
                                        const std::atomic<bool>* abort) {
  AwsRequest request;
  request.method = "HEAD";
  IMGBATCH_ASSIGN_OR_RETURN(auto response, Send(bucket, key, std::move(request), abort));
  if (response.status != 200) return S3ErrorStatus(response, "HeadObject " + bucket + "/" + key);
  return InfoFromHeaders(response);
}

Result<std::string> S3Client::PutObject(const std::string& bucket, const std::string& key,
                                        std::string body, const PutObjectOptions& options,
                                        const std::atomic<bool>* abort) {
  AwsRequest request;
  request.method = "PUT";
  request.headers.emplace_back("Content-Type", options.content_type);
  request.headers.emplace_back("Content-MD5", Base64Encode(Md5(body)));
  request.headers.emplace_back("x-amz-checksum-crc32",
                               Base64Encode(Crc32Bytes(Crc32Update(0, body))));
  for (const auto& [name, value] : options.metadata) {
    request.headers.emplace_back(std::string(kMetaPrefix) + ToLower(name), value);
  }
  if (!options.if_match.empty()) {
    request.headers.emplace_back("If-Match", "\"" + options.if_match + "\"");
  }
  if (options.if_none_match) request.headers.emplace_back("If-None-Match", "*");
  request.body = std::move(body);
  IMGBATCH_ASSIGN_OR_RETURN(auto response, Send(bucket, key, std::move(request), abort));
  if (response.status != 200) return S3ErrorStatus(response, "PutObject " + bucket + "/" + key);
  return StripQuotes(response.Header("etag").value_or(""));
}

Status S3Client::DeleteObject(const std::string& bucket, const std::string& key,
                              const std::atomic<bool>* abort) {
  AwsRequest request;
  request.method = "DELETE";
  IMGBATCH_ASSIGN_OR_RETURN(auto response, Send(bucket, key, std::move(request), abort));
  if (response.status != 204 && response.status != 200) {
    return S3ErrorStatus(response, "DeleteObject " + bucket + "/" + key);
  }
  return Status::Ok();
}

}  // namespace imgbatch::client
