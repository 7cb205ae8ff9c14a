#include "s3/testing/fake_object_store.h"

#include <algorithm>

#include "common/hashing.h"
#include "common/strings.h"

namespace imgbatch::s3::testing {
namespace {

Status Detail(Code code, std::string detail) {
  return Status(code, "").WithDetail(std::move(detail));
}

bool ValidBucketName(const std::string& name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    if (!ok) return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(name.front()) && alnum(name.back()) && name.find("..") == std::string::npos;
}

std::string StripQuotes(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

Result<std::string> ReadAll(store::ByteSource& body) {
  std::string out;
  char buf[4096];
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(size_t n, body.Read(buf));
    if (n == 0) return out;
    out.append(buf, n);
  }
}

std::string Checksum(store::ChecksumAlgorithm algorithm, const std::string& data) {
  HashKind kind = algorithm == store::ChecksumAlgorithm::kCrc32    ? HashKind::kCrc32
                  : algorithm == store::ChecksumAlgorithm::kCrc32c ? HashKind::kCrc32c
                  : algorithm == store::ChecksumAlgorithm::kSha1   ? HashKind::kSha1
                                                                   : HashKind::kSha256;
  Hasher hasher(kind);
  hasher.Update(data);
  return Base64Encode(hasher.Finish());
}

// Verifies the body against the options and computes the checksums to keep.
Result<store::Checksums> VerifyBody(const std::string& data, const store::PutOptions& options) {
  if (options.content_length && data.size() < *options.content_length) {
    return Detail(Code::kInvalidArgument, "IncompleteBody");
  }
  if (options.content_md5 && *options.content_md5 != Md5(data)) {
    return Detail(Code::kInvalidArgument, "BadDigest");
  }
  store::Checksums sums;
  struct Field {
    store::ChecksumAlgorithm algorithm;
    std::optional<std::string> store::Checksums::*value;
  };
  for (Field f : {Field{store::ChecksumAlgorithm::kCrc32, &store::Checksums::crc32},
                  Field{store::ChecksumAlgorithm::kCrc32c, &store::Checksums::crc32c},
                  Field{store::ChecksumAlgorithm::kSha1, &store::Checksums::sha1},
                  Field{store::ChecksumAlgorithm::kSha256, &store::Checksums::sha256}}) {
    const auto& expected = options.expected.*f.value;
    if (expected || options.checksum_algorithm == f.algorithm) {
      std::string actual = Checksum(f.algorithm, data);
      if (expected && *expected != actual) return Detail(Code::kInvalidArgument, "BadDigest");
      sums.*f.value = actual;
    }
  }
  return sums;
}

Status EvalConditions(const store::ObjectMeta& meta, const store::Conditions& c) {
  auto etag_matches = [&](const std::string& want) {
    return want == "*" || StripQuotes(want) == meta.etag;
  };
  if (c.if_match && !etag_matches(*c.if_match)) return Status(Code::kPreconditionFailed, "");
  if (!c.if_match && c.if_unmodified_since_ms &&
      meta.last_modified_ms / 1000 > *c.if_unmodified_since_ms / 1000) {
    return Status(Code::kPreconditionFailed, "");
  }
  if (c.if_none_match && etag_matches(*c.if_none_match)) return Status(Code::kNotModified, "");
  if (!c.if_none_match && c.if_modified_since_ms &&
      meta.last_modified_ms / 1000 <= *c.if_modified_since_ms / 1000) {
    return Status(Code::kNotModified, "");
  }
  return Status::Ok();
}

void ApplyOptions(const store::PutOptions& o, store::ObjectMeta& meta) {
  meta.content_type = o.content_type.empty() ? "binary/octet-stream" : o.content_type;
  meta.content_encoding = o.content_encoding;
  meta.content_disposition = o.content_disposition;
  meta.content_language = o.content_language;
  meta.cache_control = o.cache_control;
  meta.expires = o.expires;
  meta.user_metadata = o.user_metadata;
}

}  // namespace

int FakeObjectStore::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

Result<FakeObjectStore::Bucket*> FakeObjectStore::FindBucket(const std::string& name) {
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return Detail(Code::kNotFound, "NoSuchBucket");
  return &it->second;
}

Result<FakeObjectStore::Upload*> FakeObjectStore::FindUpload(const std::string& bucket,
                                                             const std::string& key,
                                                             const std::string& upload_id) {
  IMGBATCH_RETURN_IF_ERROR(FindBucket(bucket).status());
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.upload.bucket != bucket || it->second.upload.key != key) {
    return Detail(Code::kNotFound, "NoSuchUpload");
  }
  return &it->second;
}

Status FakeObjectStore::CreateBucket(const std::string& name, const std::string& region) {
  std::lock_guard lock(mu_);
  if (!ValidBucketName(name)) return Detail(Code::kInvalidArgument, "InvalidBucketName");
  if (buckets_.count(name)) return Detail(Code::kAlreadyExists, "BucketAlreadyOwnedByYou");
  buckets_[name].info = store::BucketInfo{name, Tick(), region};
  return Status::Ok();
}

Status FakeObjectStore::DeleteBucket(const std::string& name) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * bucket, FindBucket(name));
  if (!bucket->objects.empty()) return Detail(Code::kConflict, "BucketNotEmpty");
  buckets_.erase(name);
  return Status::Ok();
}

Result<store::BucketInfo> FakeObjectStore::GetBucket(const std::string& name) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * bucket, FindBucket(name));
  return bucket->info;
}

Result<std::vector<store::BucketInfo>> FakeObjectStore::ListBuckets() {
  std::lock_guard lock(mu_);
  std::vector<store::BucketInfo> out;
  for (const auto& [name, bucket] : buckets_) out.push_back(bucket.info);
  return out;
}

Status FakeObjectStore::PutBucketConfig(const std::string& bucket, const std::string& name,
                                        const std::string& document) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * b, FindBucket(bucket));
  b->configs[name] = document;
  return Status::Ok();
}

Result<std::string> FakeObjectStore::GetBucketConfig(const std::string& bucket,
                                                     const std::string& name) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * b, FindBucket(bucket));
  auto it = b->configs.find(name);
  if (it == b->configs.end()) return Status(Code::kNotFound, "no such configuration");
  return it->second;
}

Status FakeObjectStore::DeleteBucketConfig(const std::string& bucket, const std::string& name) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * b, FindBucket(bucket));
  if (b->configs.erase(name) == 0) return Status(Code::kNotFound, "no such configuration");
  return Status::Ok();
}

Result<store::ObjectMeta> FakeObjectStore::PutObject(const std::string& bucket,
                                                     const std::string& key,
                                                     store::ByteSource& body,
                                                     const store::PutOptions& options,
                                                     const store::Caller&) {
  {
    std::lock_guard lock(mu_);
    IMGBATCH_RETURN_IF_ERROR(FindBucket(bucket).status());
  }
  IMGBATCH_ASSIGN_OR_RETURN(std::string data, ReadAll(body));
  IMGBATCH_ASSIGN_OR_RETURN(store::Checksums sums, VerifyBody(data, options));
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * b, FindBucket(bucket));
  auto existing = b->objects.find(key);
  if (options.conditions.if_none_match == "*" && existing != b->objects.end()) {
    return Status(Code::kPreconditionFailed, "");
  }
  Object object;
  object.meta.bucket = bucket;
  object.meta.key = key;
  object.meta.size = data.size();
  object.meta.etag = Md5Hex(data);
  object.meta.last_modified_ms = Tick();
  ApplyOptions(options, object.meta);
  object.meta.checksums = sums;
  object.meta.sequence = ++sequence_;
  object.data = std::move(data);
  b->objects[key] = object;
  ++commits_;
  return object.meta;
}

Result<store::ObjectData> FakeObjectStore::GetObject(
    const std::string& bucket, const std::string& key,
    const std::optional<store::RangeRequest>& range, const store::Conditions& conditions) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * b, FindBucket(bucket));
  auto it = b->objects.find(key);
  if (it == b->objects.end()) return Detail(Code::kNotFound, "NoSuchKey");
  const Object& object = it->second;
  IMGBATCH_RETURN_IF_ERROR(EvalConditions(object.meta, conditions));
  store::ObjectData data;
  data.meta = object.meta;
  data.inline_bytes = object.data;
  data.length = object.data.size();
  uint64_t size = object.data.size();
  if (range) {
    store::ByteRange r;
    if (range->suffix_length) {
      if (*range->suffix_length == 0 || size == 0) return Detail(Code::kOutOfRange, "InvalidRange");
      r.first = size - std::min(size, *range->suffix_length);
      r.last = size - 1;
    } else {
      if (*range->first >= size) return Detail(Code::kOutOfRange, "InvalidRange");
      r.first = *range->first;
      r.last = std::min(range->last.value_or(size - 1), size - 1);
    }
    data.range = r;
    data.offset = r.first;
    data.length = r.last - r.first + 1;
  }
  return data;
}

Result<store::ObjectMeta> FakeObjectStore::HeadObject(const std::string& bucket,
                                                      const std::string& key) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * b, FindBucket(bucket));
  auto it = b->objects.find(key);
  if (it == b->objects.end()) return Detail(Code::kNotFound, "NoSuchKey");
  return it->second.meta;
}

Result<bool> FakeObjectStore::DeleteObject(const std::string& bucket, const std::string& key,
                                           const store::Caller&) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * b, FindBucket(bucket));
  return b->objects.erase(key) > 0;
}

Result<store::ObjectMeta> FakeObjectStore::CopyObject(
    const std::string& src_bucket, const std::string& src_key, const std::string& dst_bucket,
    const std::string& dst_key, const store::Conditions& source_conditions, bool replace_metadata,
    const store::PutOptions& new_options, const store::Caller&) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * src, FindBucket(src_bucket));
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * dst, FindBucket(dst_bucket));
  auto it = src->objects.find(src_key);
  if (it == src->objects.end()) return Detail(Code::kNotFound, "NoSuchKey");
  Status condition = EvalConditions(it->second.meta, source_conditions);
  if (!condition.ok()) return Status(Code::kPreconditionFailed, "");
  Object copy = it->second;
  copy.meta.bucket = dst_bucket;
  copy.meta.key = dst_key;
  copy.meta.last_modified_ms = Tick();
  copy.meta.sequence = ++sequence_;
  if (replace_metadata) ApplyOptions(new_options, copy.meta);
  dst->objects[dst_key] = copy;
  ++commits_;
  return copy.meta;
}

Result<store::ListResult> FakeObjectStore::ListObjects(const std::string& bucket,
                                                       const store::ListRequest& request) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Bucket * b, FindBucket(bucket));
  store::ListResult result;
  int count = 0;
  for (auto it = b->objects.upper_bound(request.start_after); it != b->objects.end(); ++it) {
    const std::string& key = it->first;
    if (!key.starts_with(request.prefix)) continue;
    std::string entry = key;
    bool is_prefix = false;
    if (!request.delimiter.empty()) {
      size_t at = key.find(request.delimiter, request.prefix.size());
      if (at != std::string::npos) {
        entry = key.substr(0, at + request.delimiter.size());
        is_prefix = true;
      }
    }
    if (is_prefix && !result.common_prefixes.empty() && result.common_prefixes.back() == entry) {
      continue;
    }
    if (count == request.max_keys) {
      result.truncated = true;
      break;
    }
    ++count;
    result.next_marker = entry;
    if (is_prefix) {
      result.common_prefixes.push_back(entry);
    } else {
      result.objects.push_back(it->second.meta);
    }
  }
  if (!result.truncated) result.next_marker.clear();
  return result;
}

Result<store::MultipartUpload> FakeObjectStore::CreateMultipartUpload(
    const std::string& bucket, const std::string& key, const store::PutOptions& options) {
  std::lock_guard lock(mu_);
  IMGBATCH_RETURN_IF_ERROR(FindBucket(bucket).status());
  Upload upload;
  upload.upload.upload_id = "upload-" + std::to_string(next_upload_++);
  upload.upload.bucket = bucket;
  upload.upload.key = key;
  upload.upload.initiated_ms = Tick();
  upload.upload.options = options;
  uploads_[upload.upload.upload_id] = upload;
  return upload.upload;
}

Result<store::PartInfo> FakeObjectStore::UploadPart(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& upload_id, int part_number,
                                                    store::ByteSource& body,
                                                    const store::PutOptions& part_options) {
  {
    std::lock_guard lock(mu_);
    IMGBATCH_RETURN_IF_ERROR(FindUpload(bucket, key, upload_id).status());
  }
  IMGBATCH_ASSIGN_OR_RETURN(std::string data, ReadAll(body));
  IMGBATCH_ASSIGN_OR_RETURN(store::Checksums sums, VerifyBody(data, part_options));
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Upload * upload, FindUpload(bucket, key, upload_id));
  Part part;
  part.info.part_number = part_number;
  part.info.size = data.size();
  part.info.etag = Md5Hex(data);
  part.info.last_modified_ms = Tick();
  part.info.checksums = sums;
  part.data = std::move(data);
  upload->parts[part_number] = part;
  return part.info;
}

Result<store::ObjectMeta> FakeObjectStore::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    const std::vector<store::CompletedPart>& parts, const store::Caller&) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Upload * upload, FindUpload(bucket, key, upload_id));
  std::string data, md5s;
  int previous = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const store::CompletedPart& wanted = parts[i];
    if (wanted.part_number <= previous) return Detail(Code::kInvalidArgument, "InvalidPartOrder");
    previous = wanted.part_number;
    auto it = upload->parts.find(wanted.part_number);
    if (it == upload->parts.end() || StripQuotes(wanted.etag) != it->second.info.etag) {
      return Detail(Code::kInvalidArgument, "InvalidPart");
    }
    if (i + 1 < parts.size() && it->second.info.size < min_part_size) {
      return Detail(Code::kInvalidArgument, "EntityTooSmall");
    }
    data += it->second.data;
    md5s += Md5(it->second.data);
  }
  Object object;
  object.meta.bucket = bucket;
  object.meta.key = key;
  object.meta.size = data.size();
  object.meta.etag = Md5Hex(md5s) + "-" + std::to_string(parts.size());
  object.meta.last_modified_ms = Tick();
  ApplyOptions(upload->upload.options, object.meta);
  object.meta.parts_count = static_cast<int>(parts.size());
  object.meta.sequence = ++sequence_;
  object.data = std::move(data);
  buckets_[bucket].objects[key] = object;
  uploads_.erase(upload_id);
  ++commits_;
  return object.meta;
}

Status FakeObjectStore::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id) {
  std::lock_guard lock(mu_);
  IMGBATCH_RETURN_IF_ERROR(FindUpload(bucket, key, upload_id).status());
  uploads_.erase(upload_id);
  return Status::Ok();
}

Result<store::ListPartsResult> FakeObjectStore::ListParts(const std::string& bucket,
                                                          const std::string& key,
                                                          const std::string& upload_id,
                                                          int part_number_marker, int max_parts) {
  std::lock_guard lock(mu_);
  IMGBATCH_ASSIGN_OR_RETURN(Upload * upload, FindUpload(bucket, key, upload_id));
  store::ListPartsResult result;
  for (auto it = upload->parts.upper_bound(part_number_marker); it != upload->parts.end(); ++it) {
    if (static_cast<int>(result.parts.size()) == max_parts) {
      result.truncated = true;
      break;
    }
    result.parts.push_back(it->second.info);
    result.next_part_number_marker = it->first;
  }
  return result;
}

Result<store::ListUploadsResult> FakeObjectStore::ListMultipartUploads(
    const std::string& bucket, const store::ListUploadsRequest& request) {
  std::lock_guard lock(mu_);
  IMGBATCH_RETURN_IF_ERROR(FindBucket(bucket).status());
  std::vector<store::MultipartUpload> all;
  for (const auto& [id, upload] : uploads_) {
    const auto& u = upload.upload;
    if (u.bucket != bucket || !u.key.starts_with(request.prefix)) continue;
    bool before_marker = u.key < request.key_marker ||
                         (u.key == request.key_marker && (request.upload_id_marker.empty() ||
                                                          u.upload_id <= request.upload_id_marker));
    if (!request.key_marker.empty() && before_marker) continue;
    all.push_back(u);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key, a.upload_id) < std::tie(b.key, b.upload_id);
  });
  store::ListUploadsResult result;
  for (const auto& u : all) {
    if (static_cast<int>(result.uploads.size()) == request.max_uploads) {
      result.truncated = true;
      break;
    }
    result.uploads.push_back(u);
    result.next_key_marker = u.key;
    result.next_upload_id_marker = u.upload_id;
  }
  return result;
}

}  // namespace imgbatch::s3::testing
