// The multipart/form-data body of a browser-based POST upload, read as it
// arrives (Poco's MultipartReader splits the parts): the form's fields, then
// the file, whose bytes are never held whole. S3's rules: the file is the
// field named "file" and comes after every field that matters (fields after
// it are ignored); there is exactly one.
//
// Thread-safety: one reader per request.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "common/status.h"
#include "s3/post_policy.h"

namespace imgbatch::s3 {

inline constexpr size_t kMaxPostFieldsBytes = 64 * 1024;

class PostFormReader {
 public:
  // Reads the raw request body; 0 at its end.
  using RawRead = std::function<Result<size_t>(std::span<char>)>;

  // The boundary of a Content-Type "multipart/form-data; boundary=...";
  // PreconditionFailed for another type, MalformedPOSTRequest without one.
  static Result<std::string> BoundaryOf(std::string_view content_type);

  // Reads the fields up to the file. Errors: MalformedPOSTRequest (not
  // multipart as the boundary says), MaxPostPreDataLengthExceededError (the
  // fields before the file over max_fields_bytes), an error of `raw`.
  static Result<std::unique_ptr<PostFormReader>> Open(
      RawRead raw, const std::string& boundary, size_t max_fields_bytes = kMaxPostFieldsBytes);
  ~PostFormReader();

  // Names lower-cased, values as sent, in form order; without the file.
  const PostFields& fields() const;
  bool has_file() const;
  // The file part's filename (for ${filename} in the key); may be empty.
  const std::string& filename() const;
  // The file's bytes; 0 at its end, once the form's closing boundary was
  // read (MalformedPOSTRequest when the body ends before it).
  Result<size_t> ReadFile(std::span<char> buffer);

 private:
  struct Impl;
  explicit PostFormReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgbatch::s3
