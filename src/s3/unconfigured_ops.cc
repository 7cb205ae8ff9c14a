// GET of the bucket sub-resources imgbatch keeps no configuration for
// (request.h, UnconfiguredSubresource), and GetObjectAcl: what S3 answers for
// a bucket where nothing was configured and ACLs are disabled (the default
// for new buckets since April 2023: the owner has FULL_CONTROL of everything).
#include "common/strings.h"
#include "s3/errors.h"
#include "s3/ops.h"

namespace imgbatch::s3 {
namespace {

// The owner and its one grant, as GetBucketAcl/GetObjectAcl give them with
// ACLs disabled.
http::Response OwnerFullControl(const S3Context& s3) {
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "AccessControlPolicy");
  AddOwner(root, "Owner", s3);
  pugi::xml_node grant = root.append_child("AccessControlList").append_child("Grant");
  AddOwner(grant, "Grantee", s3);  // the owner's ID and DisplayName
  pugi::xml_node grantee = grant.child("Grantee");
  grantee.append_attribute("xmlns:xsi") = "http://www.w3.org/2001/XMLSchema-instance";
  grantee.append_attribute("xsi:type") = "CanonicalUser";
  AddText(grant, "Permission", "FULL_CONTROL");
  return XmlResponse(doc);
}

http::Response Document(UnconfiguredAnswer answer) {
  pugi::xml_document doc;
  switch (answer) {
    case UnconfiguredAnswer::kOwnerEnforced:
      AddText(AppendS3Root(doc, "OwnershipControls").append_child("Rule"), "ObjectOwnership",
              "BucketOwnerEnforced");
      break;
    case UnconfiguredAnswer::kEmptyLogging:
      AppendS3Root(doc, "BucketLoggingStatus");
      break;
    case UnconfiguredAnswer::kOwnerPays:
      AddText(AppendS3Root(doc, "RequestPaymentConfiguration"), "Payer", "BucketOwner");
      break;
    case UnconfiguredAnswer::kEmptyAccelerate:
      AppendS3Root(doc, "AccelerateConfiguration");
      break;
    case UnconfiguredAnswer::kError:
    case UnconfiguredAnswer::kOwnerFullControl:
      break;  // not documents of their own
  }
  return XmlResponse(doc);
}

}  // namespace

OpResult GetBucketUnconfigured(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.GetBucket(ctx.request.bucket).status());
  const UnconfiguredSubresource& subresource = *FindUnconfiguredSubresource(ctx.request.query);
  switch (subresource.answer) {
    case UnconfiguredAnswer::kError:
      return S3Status(subresource.error_code);
    case UnconfiguredAnswer::kOwnerFullControl:
      return OwnerFullControl(ctx.s3);
    default:
      return Document(subresource.answer);
  }
}

OpResult GetObjectAcl(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(CheckVersionId(ctx.request));
  IMGBATCH_RETURN_IF_ERROR(ctx.HeadRequestedObject().status());
  return OwnerFullControl(ctx.s3);
}

}  // namespace imgbatch::s3
