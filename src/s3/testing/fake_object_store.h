// FakeObjectStore: an in-memory store::ObjectStore for the s3 adapter's
// in-process tests, following the contract in store/object_store.h (error
// codes and details, conditions, ranges, listing, multipart ETags). Not
// durable. Thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>

#include "store/object_store.h"

namespace imgbatch::s3::testing {

class FakeObjectStore final : public store::ObjectStore {
 public:
  void SetEventSink(store::ObjectEventSink*) override {}

  Status CreateBucket(const std::string& name, const std::string& region) override;
  Status DeleteBucket(const std::string& name) override;
  Result<store::BucketInfo> GetBucket(const std::string& name) override;
  Result<std::vector<store::BucketInfo>> ListBuckets() override;
  Status PutBucketConfig(const std::string& bucket, const std::string& name,
                         const std::string& document) override;
  Result<std::string> GetBucketConfig(const std::string& bucket, const std::string& name) override;
  Status DeleteBucketConfig(const std::string& bucket, const std::string& name) override;

  Result<store::ObjectMeta> PutObject(const std::string& bucket, const std::string& key,
                                      store::ByteSource& body, const store::PutOptions& options,
                                      const store::Caller& caller) override;
  Result<store::ObjectData> GetObject(const std::string& bucket, const std::string& key,
                                      const std::optional<store::RangeRequest>& range,
                                      const store::Conditions& conditions) override;
  Result<store::ObjectMeta> HeadObject(const std::string& bucket, const std::string& key) override;
  Result<bool> DeleteObject(const std::string& bucket, const std::string& key,
                            const store::Caller& caller) override;
  Result<store::ObjectMeta> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                       const std::string& dst_bucket, const std::string& dst_key,
                                       const store::Conditions& source_conditions,
                                       bool replace_metadata, const store::PutOptions& new_options,
                                       const store::Caller& caller) override;
  Result<store::ListResult> ListObjects(const std::string& bucket,
                                        const store::ListRequest& request) override;

  Result<store::MultipartUpload> CreateMultipartUpload(const std::string& bucket,
                                                       const std::string& key,
                                                       const store::PutOptions& options) override;
  Result<store::PartInfo> UploadPart(const std::string& bucket, const std::string& key,
                                     const std::string& upload_id, int part_number,
                                     store::ByteSource& body,
                                     const store::PutOptions& part_options) override;
  Result<store::ObjectMeta> CompleteMultipartUpload(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& upload_id,
                                                    const std::vector<store::CompletedPart>& parts,
                                                    const store::Caller& caller) override;
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id) override;
  Result<store::ListPartsResult> ListParts(const std::string& bucket, const std::string& key,
                                           const std::string& upload_id, int part_number_marker,
                                           int max_parts) override;
  Result<store::ListUploadsResult> ListMultipartUploads(
      const std::string& bucket, const store::ListUploadsRequest& request) override;

  // Tests shrink S3's 5 MiB minimum part size.
  uint64_t min_part_size = 5ull << 20;
  // Number of successful object writes (to check that bad bodies commit nothing).
  int commits() const;

 private:
  struct Object {
    store::ObjectMeta meta;
    std::string data;
  };
  struct Part {
    store::PartInfo info;
    std::string data;
  };
  struct Upload {
    store::MultipartUpload upload;
    std::map<int, Part> parts;
  };
  struct Bucket {
    store::BucketInfo info;
    std::map<std::string, std::string> configs;
    std::map<std::string, Object> objects;
  };

  Result<Bucket*> FindBucket(const std::string& name);
  Result<Upload*> FindUpload(const std::string& bucket, const std::string& key,
                             const std::string& upload_id);
  int64_t Tick() { return now_ms_ += 1000; }

  mutable std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
  std::map<std::string, Upload> uploads_;
  int64_t now_ms_ = 1'700'000'000'000;
  uint64_t sequence_ = 0;
  int commits_ = 0;
  int next_upload_ = 1;
};

}  // namespace imgbatch::s3::testing
