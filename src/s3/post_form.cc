#include "s3/post_form.h"

#include <Poco/Exception.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/MultipartReader.h>

#include <istream>
#include <streambuf>

#include "common/strings.h"
#include "s3/errors.h"

namespace imgbatch::s3 {
namespace {

constexpr size_t kMaxBoundaryBytes = 70;  // RFC 2046

Status Malformed() { return S3Status("MalformedPOSTRequest"); }

// A std::streambuf over the raw body, for Poco. A read error ends the stream
// and is kept for the reader to report.
class RawStreamBuf : public std::streambuf {
 public:
  explicit RawStreamBuf(PostFormReader::RawRead raw) : raw_(std::move(raw)) {}
  const Status& error() const { return error_; }
  // Whether the body ended (or failed) while more was asked of it.
  bool exhausted() const { return exhausted_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (exhausted_) return traits_type::eof();
    Result<size_t> n = raw_(std::span<char>(buffer_, sizeof(buffer_)));
    if (!n.ok() || *n == 0) {
      if (!n.ok()) error_ = n.status();
      exhausted_ = true;
      return traits_type::eof();
    }
    setg(buffer_, buffer_, buffer_ + *n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  PostFormReader::RawRead raw_;
  char buffer_[64 * 1024];
  Status error_ = Status::Ok();
  bool exhausted_ = false;
};

// The name and filename of a part's Content-Disposition: form-data.
struct Disposition {
  std::string name, filename;
};

Result<Disposition> DispositionOf(const Poco::Net::MessageHeader& header) {
  const std::string& value = header.get("Content-Disposition", "");
  std::string type;
  Poco::Net::NameValueCollection params;
  Poco::Net::MessageHeader::splitParameters(value, type, params);
  if (!IEquals(Trim(type), "form-data") || !params.has("name")) return Malformed();
  return Disposition{params.get("name"), params.get("filename", "")};
}

}  // namespace

struct PostFormReader::Impl {
  explicit Impl(RawRead raw, const std::string& boundary)
      : buf(std::move(raw)), stream(&buf), reader(stream, boundary) {}

  // An error of the raw body first: a truncated request is that, not a
  // malformed form.
  Status Failure(Status otherwise) const { return buf.error().ok() ? otherwise : buf.error(); }

  RawStreamBuf buf;
  std::istream stream;
  Poco::Net::MultipartReader reader;
  PostFields fields;
  std::string filename;
  bool has_file = false;
  bool file_done = false;
};

PostFormReader::PostFormReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostFormReader::~PostFormReader() = default;

Result<std::string> PostFormReader::BoundaryOf(std::string_view content_type) {
  std::string type;
  Poco::Net::NameValueCollection params;
  Poco::Net::MessageHeader::splitParameters(std::string(content_type), type, params);
  if (!IEquals(Trim(type), "multipart/form-data")) {
    return S3Status("PreconditionFailed",
                    "Bucket POST must be of the enclosure-type multipart/form-data");
  }
  const std::string boundary = params.get("boundary", "");
  if (boundary.empty() || boundary.size() > kMaxBoundaryBytes) return Malformed();
  return boundary;
}

Result<std::unique_ptr<PostFormReader>> PostFormReader::Open(RawRead raw,
                                                             const std::string& boundary,
                                                             size_t max_fields_bytes) {
  if (boundary.empty() || boundary.size() > kMaxBoundaryBytes) return Malformed();
  auto impl = std::make_unique<Impl>(std::move(raw), boundary);
  size_t field_bytes = 0;
  try {
    while (impl->reader.hasNextPart()) {
      Poco::Net::MessageHeader header;
      impl->reader.nextPart(header);
      IMGBATCH_ASSIGN_OR_RETURN(Disposition disposition, DispositionOf(header));
      if (IEquals(disposition.name, "file")) {
        impl->has_file = true;
        impl->filename = std::move(disposition.filename);
        break;
      }
      std::string value;
      char chunk[4096];
      while (impl->reader.stream().read(chunk, sizeof(chunk)) || impl->reader.stream().gcount()) {
        field_bytes += static_cast<size_t>(impl->reader.stream().gcount());
        if (field_bytes > max_fields_bytes) {
          return impl->Failure(S3Status("MaxPostPreDataLengthExceededError"));
        }
        value.append(chunk, static_cast<size_t>(impl->reader.stream().gcount()));
      }
      if (impl->buf.exhausted()) return impl->Failure(Malformed());  // no boundary after it
      impl->fields.emplace_back(ToLower(disposition.name), std::move(value));
    }
  } catch (const Poco::Exception&) {
    return impl->Failure(Malformed());
  }
  if (!impl->buf.error().ok()) return impl->buf.error();
  return std::unique_ptr<PostFormReader>(new PostFormReader(std::move(impl)));
}

const PostFields& PostFormReader::fields() const { return impl_->fields; }
bool PostFormReader::has_file() const { return impl_->has_file; }
const std::string& PostFormReader::filename() const { return impl_->filename; }

Result<size_t> PostFormReader::ReadFile(std::span<char> buffer) {
  if (!impl_->has_file) return S3Status("IncorrectNumberOfFilesInPostRequest");
  if (impl_->file_done || buffer.empty()) return size_t{0};
  try {
    std::istream& file = impl_->reader.stream();
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t n = static_cast<size_t>(file.gcount());
    if (n > 0) return n;
  } catch (const Poco::Exception&) {
    return impl_->Failure(Malformed());
  }
  // The part ended: at its boundary, or at the end of the body without one.
  if (impl_->buf.exhausted()) return impl_->Failure(Malformed());
  impl_->file_done = true;
  return size_t{0};
}

}  // namespace imgbatch::s3
