// The XML of S3's Put/GetBucketNotificationConfiguration, translated to and
// from notify::NotificationConfiguration. Only QueueConfiguration is served
// (no SNS or Lambda here): Topic, CloudFunction and EventBridge
// configurations are refused with InvalidArgument. Rules (event types,
// overlaps, queue existence) are the notify module's; this parser checks only
// the document's shape. Namespace prefixes are ignored, FilterRule names are
// case-insensitive ("Prefix"/"prefix"), as S3 accepts them.
// Errors: kInvalidArgument with detail "MalformedXML" or "InvalidArgument".
// Pure functions; thread-safe; fuzzed by fuzz/s3_xml_fuzzer.cc.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "notify/notification_config.h"

namespace imgbatch::s3 {

// More configurations than S3 could store is refused as MalformedXML.
inline constexpr size_t kMaxNotificationConfigurations = 1000;

Result<notify::NotificationConfiguration> ParseNotificationConfiguration(std::string_view xml);

// As S3 answers GetBucketNotificationConfiguration: <NotificationConfiguration/>
// (empty) when there is none; FilterRule names rendered "Prefix"/"Suffix".
std::string RenderNotificationConfiguration(const notify::NotificationConfiguration& config);

}  // namespace imgbatch::s3
