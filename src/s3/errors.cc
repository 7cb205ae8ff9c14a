#include "s3/errors.h"

#include <array>

#include "s3/wire_xml.h"

namespace imgbatch::s3 {
namespace {

struct ErrorEntry {
  std::string_view code;
  Code status_code;  // the Status code S3Status() gives this error
  int http_status;
  std::string_view message;
};

// Codes, statuses and messages as AWS documents them ("Error responses",
// Amazon S3 API Reference). The first entry for a Code is its default.
constexpr std::array kErrors = {
    ErrorEntry{"NoSuchKey", Code::kNotFound, 404, "The specified key does not exist."},
    ErrorEntry{"NoSuchBucket", Code::kNotFound, 404, "The specified bucket does not exist."},
    ErrorEntry{"NoSuchUpload", Code::kNotFound, 404,
               "The specified multipart upload does not exist. The upload ID might be invalid, "
               "or the multipart upload might have been aborted or completed."},
    ErrorEntry{"NoSuchCORSConfiguration", Code::kNotFound, 404,
               "The CORS configuration does not exist"},
    ErrorEntry{"NoSuchTagSet", Code::kNotFound, 404, "The TagSet does not exist"},
    ErrorEntry{"NoSuchBucketPolicy", Code::kNotFound, 404, "The bucket policy does not exist"},
    ErrorEntry{"NoSuchPublicAccessBlockConfiguration", Code::kNotFound, 404,
               "The public access block configuration was not found"},
    ErrorEntry{"NoSuchLifecycleConfiguration", Code::kNotFound, 404,
               "The lifecycle configuration does not exist"},
    ErrorEntry{"NoSuchWebsiteConfiguration", Code::kNotFound, 404,
               "The specified bucket does not have a website configuration"},
    ErrorEntry{"ServerSideEncryptionConfigurationNotFoundError", Code::kNotFound, 404,
               "The server side encryption configuration was not found"},
    ErrorEntry{"ReplicationConfigurationNotFoundError", Code::kNotFound, 404,
               "The replication configuration was not found"},
    ErrorEntry{"ObjectLockConfigurationNotFoundError", Code::kNotFound, 404,
               "Object Lock configuration does not exist for this bucket"},
    ErrorEntry{"NoSuchVersion", Code::kNotFound, 404, "The specified version does not exist."},
    ErrorEntry{"BucketAlreadyOwnedByYou", Code::kAlreadyExists, 409,
               "Your previous request to create the named bucket succeeded and you already own "
               "it."},
    ErrorEntry{"BucketAlreadyExists", Code::kAlreadyExists, 409,
               "The requested bucket name is not available."},
    ErrorEntry{"OperationAborted", Code::kConflict, 409,
               "A conflicting conditional operation is currently in progress against this "
               "resource. Please try again."},
    ErrorEntry{"BucketNotEmpty", Code::kConflict, 409,
               "The bucket you tried to delete is not empty"},
    ErrorEntry{"InvalidArgument", Code::kInvalidArgument, 400, "Invalid Argument"},
    ErrorEntry{"InvalidBucketName", Code::kInvalidArgument, 400,
               "The specified bucket is not valid."},
    ErrorEntry{"KeyTooLongError", Code::kInvalidArgument, 400, "Your key is too long"},
    ErrorEntry{"MetadataTooLarge", Code::kInvalidArgument, 400,
               "Your metadata headers exceed the maximum allowed metadata size."},
    ErrorEntry{"InvalidDigest", Code::kInvalidArgument, 400,
               "The Content-MD5 you specified was invalid."},
    ErrorEntry{"BadDigest", Code::kInvalidArgument, 400,
               "The Content-MD5 or checksum value that you specified did not match what the "
               "server received."},
    ErrorEntry{"XAmzContentChecksumMismatch", Code::kInvalidArgument, 400,
               "The provided 'x-amz-checksum' header does not match what was computed."},
    ErrorEntry{"XAmzContentSHA256Mismatch", Code::kInvalidArgument, 400,
               "The provided 'x-amz-content-sha256' header does not match what was computed."},
    ErrorEntry{"IncompleteBody", Code::kInvalidArgument, 400,
               "You did not provide the number of bytes specified by the Content-Length HTTP "
               "header."},
    ErrorEntry{"InvalidChunkSizeError", Code::kInvalidArgument, 400,
               "Only the last chunk is allowed to have a size less than 8192 bytes"},
    ErrorEntry{"MalformedTrailerError", Code::kInvalidArgument, 400,
               "The request contained trailing data that was not well-formed or did not "
               "conform to our published schema."},
    ErrorEntry{"InvalidPart", Code::kInvalidArgument, 400,
               "One or more of the specified parts could not be found. The part might not have "
               "been uploaded, or the specified entity tag might not have matched the part's "
               "entity tag."},
    ErrorEntry{"InvalidPartOrder", Code::kInvalidArgument, 400,
               "The list of parts was not in ascending order. The parts list must be specified "
               "in order by part number."},
    ErrorEntry{"EntityTooSmall", Code::kInvalidArgument, 400,
               "Your proposed upload is smaller than the minimum allowed object size."},
    ErrorEntry{"MalformedPolicy", Code::kInvalidArgument, 400, "Policies must be valid JSON."},
    ErrorEntry{"MalformedXML", Code::kInvalidArgument, 400,
               "The XML you provided was not well-formed or did not validate against our "
               "published schema"},
    ErrorEntry{"InvalidRequest", Code::kInvalidArgument, 400, "Invalid Request"},
    ErrorEntry{"MalformedACLError", Code::kInvalidArgument, 400,
               "The XML you provided was not well-formed or did not validate against our "
               "published schema"},
    ErrorEntry{"InvalidPolicyDocument", Code::kInvalidArgument, 400,
               "The content of the form does not meet the conditions specified in the policy "
               "document."},
    ErrorEntry{"MalformedPOSTRequest", Code::kInvalidArgument, 400,
               "The body of your POST request is not well-formed multipart/form-data."},
    ErrorEntry{"IncorrectNumberOfFilesInPostRequest", Code::kInvalidArgument, 400,
               "POST requires exactly one file upload per request."},
    ErrorEntry{"MaxPostPreDataLengthExceededError", Code::kInvalidArgument, 400,
               "Your POST request fields preceding the upload file were too large."},
    ErrorEntry{"UnexpectedContent", Code::kInvalidArgument, 400,
               "This request does not support content"},
    ErrorEntry{"AccessControlListNotSupported", Code::kInvalidArgument, 400,
               "The bucket does not allow ACLs"},
    ErrorEntry{"InvalidBucketAclWithObjectOwnership", Code::kInvalidArgument, 400,
               "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"},
    ErrorEntry{"InvalidURI", Code::kInvalidArgument, 400, "Couldn't parse the specified URI."},
    ErrorEntry{"InvalidLocationConstraint", Code::kInvalidArgument, 400,
               "The specified location-constraint is not valid"},
    ErrorEntry{"IllegalLocationConstraintException", Code::kInvalidArgument, 400,
               "The location constraint is incompatible with the region this request was sent "
               "to."},
    ErrorEntry{"InvalidStorageClass", Code::kInvalidArgument, 400,
               "The storage class you specified is not valid"},
    ErrorEntry{"BadRequest", Code::kInvalidArgument, 400, "Bad Request"},
    ErrorEntry{"InvalidTag", Code::kInvalidArgument, 400, "The tag provided was not a valid tag."},
    ErrorEntry{"AuthorizationHeaderMalformed", Code::kInvalidArgument, 400,
               "The authorization header is malformed."},
    ErrorEntry{"AuthorizationQueryParametersError", Code::kInvalidArgument, 400,
               "Error parsing the X-Amz-Credential parameter."},
    ErrorEntry{"ExpiredToken", Code::kInvalidArgument, 400, "The provided token has expired."},
    ErrorEntry{"MissingContentLength", Code::kInvalidArgument, 411,
               "You must provide the Content-Length HTTP header."},
    ErrorEntry{"AccessDenied", Code::kUnauthenticated, 403, "Access Denied"},
    ErrorEntry{"SignatureDoesNotMatch", Code::kUnauthenticated, 403,
               "The request signature we calculated does not match the signature you provided. "
               "Check your key and signing method."},
    ErrorEntry{"InvalidAccessKeyId", Code::kUnauthenticated, 403,
               "The AWS Access Key Id you provided does not exist in our records."},
    ErrorEntry{"RequestTimeTooSkewed", Code::kUnauthenticated, 403,
               "The difference between the request time and the current time is too large."},
    ErrorEntry{"AccessDenied", Code::kAccessDenied, 403, "Access Denied"},
    ErrorEntry{"CORSResponse", Code::kAccessDenied, 403,
               "This CORS request is not allowed. This is usually because the evalution of "
               "Origin, request method / Access-Control-Request-Method or "
               "Access-Control-Request-Headers are not whitelisted by the resource's CORS "
               "spec."},
    ErrorEntry{"PreconditionFailed", Code::kPreconditionFailed, 412,
               "At least one of the pre-conditions you specified did not hold"},
    ErrorEntry{"NotModified", Code::kNotModified, 304, "Not Modified"},
    ErrorEntry{"InvalidRange", Code::kOutOfRange, 416, "The requested range is not satisfiable"},
    ErrorEntry{"InvalidPartNumber", Code::kOutOfRange, 416,
               "The requested partnumber is not satisfiable"},
    ErrorEntry{"EntityTooLarge", Code::kTooLarge, 400,
               "Your proposed upload exceeds the maximum allowed object size."},
    ErrorEntry{"MaxMessageLengthExceeded", Code::kTooLarge, 400, "Your request was too big."},
    ErrorEntry{"InternalError", Code::kInternal, 500,
               "We encountered an internal error. Please try again."},
    ErrorEntry{"InternalError", Code::kIoError, 500,
               "We encountered an internal error. Please try again."},
    ErrorEntry{"InternalError", Code::kCorruption, 500,
               "We encountered an internal error. Please try again."},
    ErrorEntry{"RequestTimeout", Code::kTimeout, 400,
               "Your socket connection to the server was not read from or written to within "
               "the timeout period."},
    ErrorEntry{"SlowDown", Code::kUnavailable, 503, "Please reduce your request rate."},
    ErrorEntry{"ServiceUnavailable", Code::kUnavailable, 503,
               "Service is unable to handle request."},
    // AWS never fills up, so it has no code for a full disk. Its 503 codes are
    // the ones every SDK retries with backoff, which is right: writes resume
    // when space frees. After the kUnavailable entry so that a detail of
    // "ServiceUnavailable" keeps the generic text; engines say kNoSpace.
    ErrorEntry{"ServiceUnavailable", Code::kNoSpace, 503,
               "The server's disk is full (free-space reserve reached): writes are refused "
               "until space frees. Please retry later."},
    ErrorEntry{"NotImplemented", Code::kUnsupported, 501,
               "A header or query you provided implies functionality that is not implemented."},
    ErrorEntry{"MethodNotAllowed", Code::kUnsupported, 405,
               "The specified method is not allowed against this resource."},
};

const ErrorEntry* FindByCode(std::string_view code) {
  for (const auto& entry : kErrors) {
    if (entry.code == code) return &entry;
  }
  return nullptr;
}

const ErrorEntry& DefaultFor(Code code) {
  for (const auto& entry : kErrors) {
    if (entry.status_code == code) return entry;
  }
  return *FindByCode("InternalError");
}

}  // namespace

S3Error ToS3Error(const Status& status) {
  const ErrorEntry* entry = FindByCode(status.detail());
  if (entry == nullptr) entry = &DefaultFor(status.code());
  S3Error error{std::string(entry->code), entry->http_status, std::string(entry->message)};
  // Engine messages for client errors are useful to the caller; server-side
  // failures keep the generic text (no paths or internals on the wire).
  if (entry->http_status < 500 && !status.message().empty()) error.message = status.message();
  return error;
}

Status S3Status(std::string_view code, std::string message) {
  const ErrorEntry* entry = FindByCode(code);
  Code status_code = entry ? entry->status_code : Code::kInternal;
  if (message.empty() && entry) message = std::string(entry->message);
  return Status(status_code, std::move(message)).WithDetail(std::string(code));
}

http::Response ErrorResponse(const S3Error& error, std::string_view resource,
                             std::string_view request_id, bool with_body) {
  http::Response response;
  response.status = error.http_status;
  if (!with_body || error.http_status == 304) {
    response.content_length = 0;
    return response;
  }
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("Error");
  AddText(root, "Code", error.code);
  AddText(root, "Message", error.message);
  AddText(root, "Resource", resource);
  AddText(root, "RequestId", request_id);
  response.headers.Set("Content-Type", "application/xml");
  response.body = XmlToString(doc);
  return response;
}

}  // namespace imgbatch::s3
