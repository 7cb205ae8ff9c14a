// Bucket operations: ListBuckets, Create/Delete/HeadBucket, GetBucketLocation,
// GetBucketVersioning (unversioned), bucket CORS and OPTIONS preflight.
#include "common/strings.h"
#include "s3/cors.h"
#include "s3/errors.h"
#include "s3/ops.h"
#include "s3/request_xml.h"

namespace imgbatch::s3 {
namespace {

constexpr int kMaxListBuckets = 10000;  // S3's max-buckets

constexpr char kCorsConfigName[] = "cors";
// us-east-1 buckets report an empty LocationConstraint, as S3.
constexpr char kDefaultAwsRegion[] = "us-east-1";

// ListBuckets' paging (S3 since 2024): max-buckets (1-10,000), an opaque
// continuation-token (the last name listed), prefix and bucket-region. With
// any of them S3 also gives each bucket's region.
struct BucketPage {
  int max_buckets = kMaxListBuckets;
  std::string after;  // names after this one
  std::optional<std::string> prefix;
  std::optional<std::string> region;
  bool paged = false;

  bool Selects(std::string_view name, std::string_view bucket_region) const {
    if (!after.empty() && name <= after) return false;
    if (prefix && !name.starts_with(*prefix)) return false;
    return !region || bucket_region == *region;
  }
};

// Buckets made before buckets kept a region have none: the server's.
std::string RegionOf(const store::BucketInfo& bucket, const S3Context& s3) {
  return bucket.region.empty() ? s3.region : bucket.region;
}

Result<BucketPage> ParseBucketPage(const S3Request& request) {
  BucketPage page;
  page.prefix = request.Param("prefix");
  page.region = request.Param("bucket-region");
  std::optional<std::string> max = request.Param("max-buckets");
  std::optional<std::string> token = request.Param("continuation-token");
  page.paged = page.prefix || page.region || max || token;
  if (max) {
    std::optional<int64_t> number = ParseInt(Trim(*max));
    if (!number || *number < 1 || *number > kMaxListBuckets) {
      return S3Status("InvalidArgument", "Argument max-buckets must be an integer between 1 and " +
                                             std::to_string(kMaxListBuckets));
    }
    page.max_buckets = static_cast<int>(*number);
  }
  if (token) {
    IMGBATCH_ASSIGN_OR_RETURN(page.after, DecodeContinuationToken(*token));
  }
  return page;
}

// The bucket's CORS rules; nullopt when none are configured.
Result<std::optional<CorsConfiguration>> LoadCors(const OpContext& ctx) {
  Result<std::string> document = ctx.s3.store.GetBucketConfig(ctx.request.bucket, kCorsConfigName);
  if (!document.ok()) {
    if (store::IsAbsentBucketConfig(document.status())) return std::optional<CorsConfiguration>();
    return document.status();
  }
  IMGBATCH_ASSIGN_OR_RETURN(CorsConfiguration config, ParseCorsConfiguration(*document));
  return std::optional<CorsConfiguration>(std::move(config));
}

std::string Join(const std::vector<std::string>& values, std::string_view sep) {
  std::string out;
  for (const std::string& value : values) {
    if (!out.empty()) out += sep;
    out += value;
  }
  return out;
}

std::vector<std::string> SplitHeaderList(std::string_view list) {
  std::vector<std::string> names;
  for (std::string_view part : Split(list, ',')) {
    std::string_view name = Trim(part);
    if (!name.empty()) names.push_back(ToLower(name));
  }
  return names;
}

void SetAllowOrigin(const CorsRule& rule, std::string_view origin, http::Headers& headers) {
  bool any_origin = rule.allowed_origins.size() == 1 && rule.allowed_origins[0] == "*";
  if (any_origin) {
    headers.Set("Access-Control-Allow-Origin", "*");
  } else {
    headers.Set("Access-Control-Allow-Origin", std::string(origin));
    headers.Set("Access-Control-Allow-Credentials", "true");
  }
  headers.Set("Access-Control-Allow-Methods", Join(rule.allowed_methods, ", "));
  if (!rule.expose_headers.empty()) {
    headers.Set("Access-Control-Expose-Headers", Join(rule.expose_headers, ", "));
  }
  if (rule.max_age_seconds) {
    headers.Set("Access-Control-Max-Age", std::to_string(*rule.max_age_seconds));
  }
  headers.Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
}

}  // namespace

OpResult ListBuckets(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(BucketPage page, ParseBucketPage(ctx.request));
  IMGBATCH_ASSIGN_OR_RETURN(std::vector<store::BucketInfo> buckets, ctx.s3.store.ListBuckets());
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "ListAllMyBucketsResult");
  pugi::xml_node owner = root.append_child("Owner");
  AddText(owner, "ID", ctx.s3.owner_id);
  AddText(owner, "DisplayName", ctx.s3.owner_display_name);
  pugi::xml_node list = root.append_child("Buckets");
  int listed = 0;
  std::optional<std::string> next_token;
  for (const store::BucketInfo& bucket : buckets) {  // by name
    const std::string region = RegionOf(bucket, ctx.s3);
    if (!page.Selects(bucket.name, region)) continue;
    if (listed == page.max_buckets) {
      next_token = Base64Encode(list.last_child().child_value("Name"));
      break;
    }
    pugi::xml_node node = list.append_child("Bucket");
    AddText(node, "Name", bucket.name);
    AddText(node, "CreationDate", XmlTime(bucket.created_ms));
    if (page.paged) AddText(node, "BucketRegion", region);
    ++listed;
  }
  if (next_token) AddText(root, "ContinuationToken", *next_token);
  if (page.prefix) AddText(root, "Prefix", *page.prefix);
  return XmlResponse(doc);
}

OpResult CreateBucket(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string body, ctx.ReadXmlBody());
  IMGBATCH_ASSIGN_OR_RETURN(std::string constraint, ParseCreateBucketConfiguration(body));
  // S3 rejects an explicit "us-east-1" constraint and any constraint naming
  // another region than the endpoint's.
  if (!constraint.empty()) {
    if (constraint == kDefaultAwsRegion) return S3Status("InvalidLocationConstraint");
    if (constraint != ctx.s3.region) return S3Status("IllegalLocationConstraintException");
  }
  Status created = ctx.s3.store.CreateBucket(ctx.request.bucket, ctx.s3.region);
  // us-east-1 keeps S3's legacy answer: re-creating a bucket you own succeeds
  // (200, nothing changes); every other region says BucketAlreadyOwnedByYou.
  const bool legacy_recreate =
      created.detail() == "BucketAlreadyOwnedByYou" && ctx.s3.region == kDefaultAwsRegion;
  if (!created.ok() && !legacy_recreate) return created;
  // A new bucket has no policy, whatever a bucket of that name once had.
  if (created.ok()) ctx.s3.bucket_policies->Forget(ctx.request.bucket);
  http::Response response = EmptyResponse(200);
  response.headers.Set("Location", "/" + ctx.request.bucket);
  return response;
}

OpResult DeleteBucket(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.DeleteBucket(ctx.request.bucket));
  ctx.s3.bucket_policies->Forget(ctx.request.bucket);
  return EmptyResponse(204);
}

OpResult HeadBucket(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(store::BucketInfo bucket, ctx.s3.store.GetBucket(ctx.request.bucket));
  http::Response response = EmptyResponse(200);
  response.headers.Set("x-amz-bucket-region",
                       bucket.region.empty() ? ctx.s3.region : bucket.region);
  return response;
}

OpResult GetBucketLocation(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(store::BucketInfo bucket, ctx.s3.store.GetBucket(ctx.request.bucket));
  std::string region = RegionOf(bucket, ctx.s3);
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "LocationConstraint");
  if (region != kDefaultAwsRegion) root.text().set(region.c_str());
  return XmlResponse(doc);
}

OpResult GetBucketVersioning(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.GetBucket(ctx.request.bucket).status());
  pugi::xml_document doc;
  AppendS3Root(doc, "VersioningConfiguration");  // never versioned: no Status element
  return XmlResponse(doc);
}

OpResult PutBucketCors(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string body, ctx.ReadXmlBody());
  IMGBATCH_ASSIGN_OR_RETURN(CorsConfiguration config, ParseCorsConfiguration(body));
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.PutBucketConfig(ctx.request.bucket, kCorsConfigName,
                                                        RenderCorsConfiguration(config)));
  return EmptyResponse(200);
}

OpResult GetBucketCors(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::optional<CorsConfiguration> config, LoadCors(ctx));
  if (!config) return S3Status("NoSuchCORSConfiguration");
  http::Response response;
  response.headers.Set("Content-Type", "application/xml");
  response.body = RenderCorsConfiguration(*config);
  return response;
}

OpResult DeleteBucketCors(const OpContext& ctx) {
  Status status = ctx.s3.store.DeleteBucketConfig(ctx.request.bucket, kCorsConfigName);
  if (!status.ok() && !store::IsAbsentBucketConfig(status)) return status;
  return EmptyResponse(204);
}

OpResult Preflight(const OpContext& ctx) {
  std::optional<std::string_view> origin = ctx.request.Header("Origin");
  if (!origin) {
    return S3Status("BadRequest", "Insufficient information. Origin request header needed.");
  }
  std::optional<std::string_view> method = ctx.request.Header("Access-Control-Request-Method");
  if (!method) return S3Status("BadRequest", "Invalid Access-Control-Request-Method: null");
  IMGBATCH_ASSIGN_OR_RETURN(std::optional<CorsConfiguration> config, LoadCors(ctx));
  if (!config) return S3Status("CORSResponse", "CORS is not enabled for this bucket.");
  std::vector<std::string> headers =
      SplitHeaderList(ctx.request.Header("Access-Control-Request-Headers").value_or(""));
  const CorsRule* rule = MatchCorsRule(*config, *origin, *method, headers);
  if (rule == nullptr) return S3Status("CORSResponse");
  http::Response response = EmptyResponse(200);
  SetAllowOrigin(*rule, *origin, response.headers);
  if (!headers.empty()) response.headers.Set("Access-Control-Allow-Headers", Join(headers, ", "));
  return response;
}

void AddCorsHeaders(const OpContext& ctx, http::Response& response) {
  std::optional<std::string_view> origin = ctx.request.Header("Origin");
  if (!origin || ctx.request.bucket.empty()) return;
  Result<std::optional<CorsConfiguration>> config = LoadCors(ctx);
  if (!config.ok() || !config->has_value()) return;
  const CorsRule* rule = MatchCorsRule(**config, *origin, ctx.request.head->method, {});
  if (rule != nullptr) SetAllowOrigin(*rule, *origin, response.headers);
}

}  // namespace imgbatch::s3
