// S3Service: the S3 REST wire adapter. Parses an http::Exchange (path-style or
// virtual-host-style addressing), authenticates and authorizes it through the
// Authenticator, calls one store::ObjectStore method and renders S3's XML
// (or S3's XML error). Rules live in the store; this layer only translates.
//
// Lifecycle: construct once at start-up with an S3Context whose store and
// authenticator outlive the service. Thread-safety: Handle() is called
// concurrently from handler-pool threads; the service's one mutable part, the
// parsed bucket policies, is thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/clock.h"
#include "http/exchange.h"
#include "s3/authenticator.h"
#include "s3/bucket_policy.h"
#include "store/object_store.h"

namespace imgbatch::notify {
class Notifier;
}  // namespace imgbatch::notify

namespace imgbatch::s3 {

// Named limits (AWS's where AWS has one).
struct S3Limits {
  size_t max_xml_body_bytes = 4 << 20;  // Complete with 10,000 parts fits
  int max_list_keys = 1000;             // list max-keys is capped to this
  size_t max_delete_objects = 1000;     // DeleteObjects keys per request
};

// The canonical id of the account that owns every bucket (one per server).
inline constexpr char kDefaultOwnerId[] =
    "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";

struct S3Context {
  S3Context(store::ObjectStore& store, std::shared_ptr<Authenticator> authenticator)
      : store(store), authenticator(std::move(authenticator)) {}

  store::ObjectStore& store;
  std::shared_ptr<Authenticator> authenticator;
  std::string region = "us-east-1";
  // Virtual-host addressing: "<bucket>.<domain>[:port]" in Host.
  std::string domain = "localhost";
  // The owner shown in listings (one account per server, as AWS shows the
  // bucket owner's canonical id).
  std::string owner_id = kDefaultOwnerId;
  std::string owner_display_name = "imgbatch";
  // The account that owns every bucket (one per server): a request whose
  // x-amz-expected-bucket-owner (or x-amz-source-expected-bucket-owner)
  // names another is AccessDenied, as on S3.
  std::string account_id = "000000000000";
  S3Limits limits;
  // Bucket notifications (?notification); null answers NotImplemented. Must
  // outlive the service.
  notify::Notifier* notifier = nullptr;
  // aws:CurrentTime and aws:EpochTime of the policies' conditions.
  const Clock* clock = &SystemClock::Instance();
  // The buckets' policies (?policy), made by the service from the store when
  // not given.
  std::shared_ptr<BucketPolicies> bucket_policies;
};

class S3Service {
 public:
  explicit S3Service(S3Context context);
  // Serves one request; always responds exactly once.
  void Handle(std::shared_ptr<http::Exchange> exchange) const;

 private:
  S3Context ctx_;
};

// The service as an http::Handler (owns the service).
http::Handler MakeS3Handler(S3Context context);

}  // namespace imgbatch::s3
