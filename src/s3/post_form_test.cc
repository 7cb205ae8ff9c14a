// A POST upload's multipart/form-data body, read as it arrives: fields, then
// the file; malformed and truncated bodies.
#include "s3/post_form.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "s3/errors.h"

namespace imgbatch::s3 {
namespace {

constexpr char kBoundary[] = "----formboundary7MA4YWxkTrZu0gW";

std::string Part(const std::string& name, const std::string& value,
                 const std::string& filename = "") {
  std::string part =
      std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
  if (!filename.empty()) part += "; filename=\"" + filename + "\"\r\nContent-Type: image/jpeg";
  return part + "\r\n\r\n" + value + "\r\n";
}
std::string Close() { return std::string("--") + kBoundary + "--\r\n"; }

// Hands the body out in pieces of `piece` bytes, as a socket would.
PostFormReader::RawRead Feed(std::string body, size_t piece = 7) {
  auto state = std::make_shared<std::pair<std::string, size_t>>(std::move(body), 0);
  return [state, piece](std::span<char> buffer) -> Result<size_t> {
    auto& [text, at] = *state;
    const size_t n = std::min({piece, buffer.size(), text.size() - at});
    std::copy_n(text.data() + at, n, buffer.data());
    at += n;
    return n;
  };
}

Result<std::string> ReadAll(PostFormReader& form) {
  std::string out;
  char buffer[5];
  for (;;) {
    IMGBATCH_ASSIGN_OR_RETURN(size_t n, form.ReadFile(std::span<char>(buffer, sizeof(buffer))));
    if (n == 0) return out;
    out.append(buffer, n);
  }
}

std::string Code(const Status& status) { return ToS3Error(status).code; }

TEST(PostForm, FieldsThenTheFileByteForByte) {
  // The file holds what a boundary scan could trip on: CR, LF, dashes, a
  // near-boundary line, and NUL bytes.
  const std::string file =
      std::string("\r\n--") + kBoundary + "X\r\n-\n--\r\nend" + std::string(3, '\0') + "\r";
  for (size_t piece : {1, 7, 4096}) {
    auto form = PostFormReader::Open(
        Feed(Part("Key", "uploads/${filename}") + Part("x-amz-meta-Note", "a\r\nb") +
                 Part("file", file, "cat.jpg") + Part("after", "ignored") + Close(),
             piece),
        kBoundary);
    ASSERT_TRUE(form.ok()) << form.status().ToString();
    const PostFields& fields = (*form)->fields();
    ASSERT_EQ(fields.size(), 2u);
    EXPECT_EQ(fields[0], (std::pair<std::string, std::string>{"key", "uploads/${filename}"}));
    EXPECT_EQ(fields[1].first, "x-amz-meta-note");
    EXPECT_EQ(fields[1].second, "a\r\nb");
    EXPECT_TRUE((*form)->has_file());
    EXPECT_EQ((*form)->filename(), "cat.jpg");
    auto bytes = ReadAll(**form);
    ASSERT_TRUE(bytes.ok()) << piece << " " << bytes.status().ToString();
    EXPECT_EQ(*bytes, file) << piece;
  }
}

TEST(PostForm, AnEmptyFileAndNoFile) {
  auto empty =
      PostFormReader::Open(Feed(Part("key", "k") + Part("file", "", "e") + Close()), kBoundary);
  ASSERT_TRUE(empty.ok());
  auto bytes = ReadAll(**empty);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, "");
  auto none = PostFormReader::Open(Feed(Part("key", "k") + Close()), kBoundary);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE((*none)->has_file());
  EXPECT_EQ(Code(ReadAll(**none).status()), "IncorrectNumberOfFilesInPostRequest");
}

TEST(PostForm, ABodyThatEndsEarlyIsMalformed) {
  const std::string whole = Part("key", "k") + Part("file", "0123456789", "f") + Close();
  // Cut inside the file, inside its closing boundary, and inside a field.
  for (size_t cut : {whole.size() - Close().size() - 8, whole.size() - 10, size_t{60}}) {
    auto form = PostFormReader::Open(Feed(whole.substr(0, cut)), kBoundary);
    Status status = form.ok() ? ReadAll(**form).status() : form.status();
    EXPECT_EQ(Code(status), "MalformedPOSTRequest") << cut;
  }
}

TEST(PostForm, ErrorsOfTheBodyComeFirst) {
  auto failing = [](std::span<char>) -> Result<size_t> { return S3Status("IncompleteBody"); };
  auto form = PostFormReader::Open(failing, kBoundary);
  ASSERT_FALSE(form.ok());
  EXPECT_EQ(Code(form.status()), "IncompleteBody");
}

TEST(PostForm, MalformedForms) {
  for (const std::string& bad : {
           std::string("no boundary at all"),
           std::string("--") + kBoundary + "\r\nContent-Disposition: attachment\r\n\r\nx\r\n" +
               Close(),
           std::string("--") + kBoundary + "\r\nContent-Type: text/plain\r\n\r\nx\r\n" + Close(),
       }) {
    auto form = PostFormReader::Open(Feed(bad), kBoundary);
    Status status = form.ok() ? ReadAll(**form).status() : form.status();
    EXPECT_TRUE(Code(status) == "MalformedPOSTRequest" ||
                Code(status) == "IncorrectNumberOfFilesInPostRequest")
        << bad << " -> " << Code(status);
  }
  auto big =
      PostFormReader::Open(Feed(Part("policy", std::string(2000, 'p')) + Close()), kBoundary, 1000);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(Code(big.status()), "MaxPostPreDataLengthExceededError");
}

TEST(PostForm, TheBoundaryComesFromTheContentType) {
  auto boundary = PostFormReader::BoundaryOf("multipart/form-data; boundary=\"abc def\"");
  ASSERT_TRUE(boundary.ok());
  EXPECT_EQ(*boundary, "abc def");
  EXPECT_EQ(*PostFormReader::BoundaryOf("Multipart/Form-Data;boundary=xyz"), "xyz");
  EXPECT_EQ(Code(PostFormReader::BoundaryOf("application/json").status()), "PreconditionFailed");
  EXPECT_EQ(Code(PostFormReader::BoundaryOf("multipart/form-data").status()),
            "MalformedPOSTRequest");
  EXPECT_EQ(Code(PostFormReader::BoundaryOf("multipart/form-data; boundary=" + std::string(71, 'b'))
                     .status()),
            "MalformedPOSTRequest");
}

}  // namespace
}  // namespace imgbatch::s3
