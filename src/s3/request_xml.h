// Parsers for the XML documents S3 clients send: CompleteMultipartUpload,
// Delete (DeleteObjects), Tagging, LifecycleConfiguration,
// PublicAccessBlockConfiguration, CreateBucketConfiguration and
// AccessControlPolicy. Namespace prefixes are
// ignored, as S3 does. Errors: kInvalidArgument with detail "MalformedXML"
// (or the more precise S3 code). Pure functions; thread-safe; fuzzed by
// fuzz/s3_xml_fuzzer.cc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "s3/acl.h"
#include "store/object_store.h"

namespace imgbatch::s3 {

inline constexpr int kMinPartNumber = 1;
inline constexpr int kMaxPartNumber = 10000;

Result<std::vector<store::CompletedPart>> ParseCompleteMultipartUpload(std::string_view xml);

struct DeleteObjectsRequest {
  bool quiet = false;
  std::vector<std::string> keys;
};
// More than max_keys <Object> entries: MalformedXML, as S3.
Result<DeleteObjectsRequest> ParseDeleteObjects(std::string_view xml, size_t max_keys);

// PutObjectTagging's <Tagging><TagSet><Tag><Key/><Value/></Tag>...: the pairs
// in document order (their rules are checked by the caller).
Result<store::Tags> ParseTagging(std::string_view xml);

// PutBucketLifecycleConfiguration's <LifecycleConfiguration>: rules with a
// <Filter> (Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan, or an
// <And> of them) or the first API's <Prefix>; Status Enabled or Disabled;
// Expiration (Days, Date, ExpiredObjectDeleteMarker),
// NoncurrentVersionExpiration and AbortIncompleteMultipartUpload. The form is
// checked here (MalformedXML; a Date that is no ISO 8601 time:
// InvalidArgument), the rules by the store. Transitions are NotImplemented:
// there is one storage class.
Result<store::LifecycleConfiguration> ParseLifecycleConfiguration(std::string_view xml);

// PutPublicAccessBlock's four switches; an absent one is false, as on S3.
struct PublicAccessBlock {
  bool block_public_acls = false;
  bool ignore_public_acls = false;
  bool block_public_policy = false;
  bool restrict_public_buckets = false;
};
Result<PublicAccessBlock> ParsePublicAccessBlock(std::string_view xml);

// The LocationConstraint ("" when absent or the body is empty).
Result<std::string> ParseCreateBucketConfiguration(std::string_view xml);

// PutBucketAcl's / PutObjectAcl's <AccessControlPolicy>: the grantees of its
// grants (CanonicalUser by ID, AmazonCustomerByEmail, Group by URI), each with
// a known Permission. Its <Owner> is not checked: only the owner's own grants
// are ever accepted. Errors: MalformedACLError.
Result<std::vector<AclGrantee>> ParseAccessControlPolicy(std::string_view xml);

}  // namespace imgbatch::s3
