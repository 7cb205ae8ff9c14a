// Fuzzes the XML documents S3 clients send to the s3 adapter. The first byte
// picks the parser: CompleteMultipartUpload, Delete, CORSConfiguration
// (parsed, rendered, re-parsed and matched), NotificationConfiguration
// (parsed, rendered, re-parsed: the same value; '4'), Tagging ('5', checked
// against S3's tag rules too), LifecycleConfiguration ('6': validated, stored
// and read back, applied to an object), AccessControlPolicy ('7': and the
// same bytes as an x-amz-grant-* header), a POST upload's policy document
// ('8', JSON: decided for a form), a POST upload's multipart/form-data body
// ('9', boundary "B", fed in small pieces) or CreateBucketConfiguration.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "common/hashing.h"
#include "s3/acl.h"
#include "s3/cors.h"
#include "s3/notification_xml.h"
#include "s3/post_form.h"
#include "s3/post_policy.h"
#include "s3/request_xml.h"
#include "store/lifecycle.h"
#include "store/object_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view xml(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Seeds spell the selector as ASCII '0'..'9'.
  switch (static_cast<uint8_t>(data[0] - '0') % 10) {
    case 0: {
      auto parts = imgbatch::s3::ParseCompleteMultipartUpload(xml);
      if (parts.ok()) {
        for (const auto& part : *parts) {
          if (part.part_number < imgbatch::s3::kMinPartNumber ||
              part.part_number > imgbatch::s3::kMaxPartNumber) {
            std::abort();  // the parser promised a valid part number
          }
        }
      }
      break;
    }
    case 1: {
      auto request = imgbatch::s3::ParseDeleteObjects(xml, 1000);
      if (request.ok() && (request->keys.empty() || request->keys.size() > 1000)) std::abort();
      break;
    }
    case 2: {
      auto config = imgbatch::s3::ParseCorsConfiguration(xml);
      if (!config.ok()) break;
      // What we store must parse back: GetBucketCors and preflights re-read it.
      auto again =
          imgbatch::s3::ParseCorsConfiguration(imgbatch::s3::RenderCorsConfiguration(*config));
      if (!again.ok() || again->rules.size() != config->rules.size()) std::abort();
      (void)imgbatch::s3::MatchCorsRule(*config, "https://a.example.com", "GET", {"content-type"});
      break;
    }
    case 4: {
      auto config = imgbatch::s3::ParseNotificationConfiguration(xml);
      if (!config.ok()) break;
      // GetBucketNotificationConfiguration's answer must parse back unchanged.
      auto again = imgbatch::s3::ParseNotificationConfiguration(
          imgbatch::s3::RenderNotificationConfiguration(*config));
      if (!again.ok() || !(*again == *config)) std::abort();
      break;
    }
    case 5: {
      auto tags = imgbatch::s3::ParseTagging(xml);
      if (tags.ok()) (void)imgbatch::store::ValidateTags(*tags);
      break;
    }
    case 6: {
      auto config = imgbatch::s3::ParseLifecycleConfiguration(xml);
      if (!config.ok()) break;
      imgbatch::store::AssignLifecycleRuleIds(*config);
      if (!imgbatch::store::ValidateLifecycle(*config).ok()) break;
      // The store keeps what it validated and must read it back whole.
      auto stored = imgbatch::store::DecodeLifecycle(imgbatch::store::EncodeLifecycle(*config));
      if (!stored || stored->rules.size() != config->rules.size()) std::abort();
      imgbatch::store::ObjectMeta meta;
      meta.key = "photos/a.jpg";
      meta.size = 1000;
      meta.last_modified_ms = 1'700'000'000'000;
      auto expiry = imgbatch::store::ObjectExpiration(*stored, meta);
      if (expiry && expiry->time_ms % imgbatch::store::kDayMs != 0) std::abort();  // midnights
      break;
    }
    case 7: {
      const std::vector<std::string_view> owner = {"owner-id"};
      auto grantees = imgbatch::s3::ParseAccessControlPolicy(xml);
      if (grantees.ok()) (void)imgbatch::s3::GranteesReach(*grantees, owner);
      auto header = imgbatch::s3::ParseGrantHeader(xml);
      if (header.ok()) {
        for (const auto& grantee : *header) {
          if (grantee.value.empty()) std::abort();  // the parser refuses empty grantees
        }
      }
      break;
    }
    case 8: {
      auto policy = imgbatch::s3::ParsePostPolicy(imgbatch::Base64Encode(xml));
      if (!policy.ok()) break;
      const imgbatch::s3::PostFields fields = {
          {"key", "uploads/a.jpg"}, {"content-type", "image/jpeg"}, {"bucket", "in"}};
      (void)imgbatch::s3::CheckPostFields(*policy, fields, 1'800'000'000'000);
      (void)imgbatch::s3::ContentLengthRange(*policy);
      break;
    }
    case 9: {
      size_t at = 0;
      auto raw = [&](std::span<char> buffer) -> imgbatch::Result<size_t> {
        const size_t n = std::min({size_t{3}, buffer.size(), xml.size() - at});
        std::copy_n(xml.data() + at, n, buffer.data());
        at += n;
        return n;
      };
      auto form = imgbatch::s3::PostFormReader::Open(raw, "B", 256);
      if (!form.ok()) break;
      char buffer[16];
      size_t total = 0;
      for (;;) {
        auto n = (*form)->ReadFile(std::span<char>(buffer, sizeof(buffer)));
        if (!n.ok() || *n == 0) break;
        total += *n;
        if (total > xml.size()) std::abort();  // never more file than body
      }
      break;
    }
    default:
      (void)imgbatch::s3::ParseCreateBucketConfiguration(xml);
      break;
  }
  return 0;
}
