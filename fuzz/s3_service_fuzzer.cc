// Fuzzes the S3 service end to end and with state, as sqs_service_fuzzer
// does for SQS: a sequence of requests against the real object store (SQLite
// and files in a fresh directory per input), so that odd headers, queries and
// bodies reach the store's rules (conditional requests, ranges, copies,
// multipart, listings, CORS) and not only the XML parser (s3_xml_fuzzer).
// Each request must get exactly one reply, never a 5xx, and an error reply
// must be S3's XML error; every XML reply must parse and be Unicode text.
//
// Input, one request per line:
//   <METHOD> <target>[ <header>: <value>]...[ | <body>]
// e.g. "PUT /b/k x-amz-meta-a: 1 | hello". Headers are separated by " ~ ":
//   PUT /b/k?partNumber=1&uploadId=x Content-MD5: abc ~ Range: bytes=0-1 | body
// Requests are signed as "root" by s3/testing's FakeAuthenticator (s3:* on *;
// x-amz-content-sha256 picks the payload mode); "\r" and "\n" in a body are
// CR and LF. "@upload" anywhere in a line stands for the UploadId of the last
// CreateMultipartUpload, "@etag" for the ETag of the last reply that had one,
// so that a sequence can reach UploadPart and CompleteMultipartUpload of an
// upload that exists (ids are random). A line "LIFECYCLE <days>" is no
// request: it moves the clock on that many days and runs the store's
// lifecycle pass (what the server's LifecycleRunner does), which must succeed
// whatever rules and objects the requests before it made. S3_FUZZ_VERBOSE=1
// prints each reply (for writing seeds).
#include <pugixml.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/strings.h"
#include "db/database.h"
#include "http/testing.h"
#include "request_lines.h"
#include "s3/s3_service.h"
#include "s3/testing/s3_test_util.h"
#include "store/object_store.h"

namespace {

using namespace std::chrono_literals;

constexpr int kMaxRequests = 24;

[[noreturn]] void Fail(const char* what, std::string_view line, const std::string& reply) {
  imgbatch::fuzz::Fail("s3_service_fuzzer", what, line, reply);
}

class Harness {
 public:
  Harness() {
    imgbatch::db::Options db_options;
    db_options.path = (dir_.path() / "meta.db").string();
    auto db = imgbatch::db::Database::Open(db_options);
    if (!db.ok()) Fail("database did not open", "", db.status().ToString());
    db_ = std::move(*db);
    imgbatch::store::StoreOptions options;
    options.data_dir = dir_.path().string();
    options.free_space_reserve = 0;
    auto store = imgbatch::store::ObjectStore::Open(*db_, options, clock_);
    if (!store.ok()) Fail("store did not open", "", store.status().ToString());
    store_ = std::move(*store);
    auto auth = std::make_shared<imgbatch::s3::testing::FakeAuthenticator>();
    handler_ = imgbatch::s3::MakeS3Handler(imgbatch::s3::S3Context(*store_, auth));
  }
  ~Harness() {
    handler_ = nullptr;
    store_.reset();
    db_.reset();
  }

  void Run(std::string_view raw_line) {
    if (raw_line.starts_with("LIFECYCLE ")) return RunLifecycle(raw_line);
    const std::string substituted = Substitute(raw_line);
    const std::string_view line = substituted;
    const size_t bar = line.find(" | ");
    const std::string_view head = line.substr(0, bar);
    std::string body = bar == std::string_view::npos ? "" : Unescape(line.substr(bar + 3));
    const size_t space = head.find(' ');
    if (space == std::string_view::npos) return;
    const std::string method(head.substr(0, space));
    std::string_view rest = head.substr(space + 1);
    const size_t target_end = rest.find(' ');
    const std::string target(rest.substr(0, target_end));
    if (target.empty() || target[0] != '/') return;
    imgbatch::http::Headers headers;
    headers.Add("Host", "localhost:4566");
    headers.Add("Authorization", "fake root");
    std::string_view fields =
        target_end == std::string_view::npos ? "" : rest.substr(target_end + 1);
    while (!fields.empty()) {
      const size_t sep = fields.find(" ~ ");
      const std::string_view field = fields.substr(0, sep);
      const size_t colon = field.find(':');
      if (colon != std::string_view::npos && colon > 0) {
        headers.Add(std::string(field.substr(0, colon)),
                    std::string(imgbatch::Trim(field.substr(colon + 1))));
      }
      fields = sep == std::string_view::npos ? "" : fields.substr(sep + 3);
    }
    if (!body.empty() && !headers.Has("Content-Length")) {
      headers.Add("Content-Length", std::to_string(body.size()));
    }
    auto exchange = imgbatch::http::Call(handler_, method, target, std::move(headers), body);
    if (!exchange->Wait(10s)) Fail("no reply", line, "");
    if (exchange->responses() != 1) Fail("not exactly one reply", line, "");
    Check(*exchange, method, line);
    Remember(*exchange);
    if (std::getenv("S3_FUZZ_VERBOSE")) {
      std::fprintf(stderr, "%.*s\n  -> %d %s\n", static_cast<int>(line.size()), line.data(),
                   exchange->response().status, exchange->BodyText().substr(0, 400).c_str());
    }
  }

 private:
  void RunLifecycle(std::string_view line) {
    const std::optional<int64_t> days = imgbatch::ParseInt(imgbatch::Trim(line.substr(10)));
    if (!days || *days < 0 || *days > 36'500) return;
    clock_.Advance(std::chrono::hours(24 * *days));
    auto report = store_->ApplyLifecycle(clock_.NowMillis());
    if (!report.ok()) Fail("lifecycle pass failed", line, report.status().ToString());
    if (std::getenv("S3_FUZZ_VERBOSE")) {
      std::fprintf(stderr, "%.*s\n  -> %llu expired, %llu aborted\n", static_cast<int>(line.size()),
                   line.data(), static_cast<unsigned long long>(report->expired),
                   static_cast<unsigned long long>(report->aborted));
    }
  }

  std::string Substitute(std::string_view line) const {
    std::string out(line);
    for (const auto& [token, value] :
         {std::pair<std::string_view, const std::string&>{"@upload", upload_id_},
          {"@etag", etag_}}) {
      for (size_t at = out.find(token); at != std::string::npos;
           at = out.find(token, at + value.size())) {
        out.replace(at, token.size(), value);
      }
    }
    return out;
  }

  void Remember(imgbatch::http::FakeExchange& exchange) {
    if (exchange.response().status != 200) return;
    if (auto etag = exchange.response().headers.Get("ETag")) {
      etag_ = std::string(imgbatch::Trim(*etag));
      if (etag_.size() >= 2 && etag_.front() == '"') etag_ = etag_.substr(1, etag_.size() - 2);
    }
    const std::string reply = exchange.BodyText();
    if (reply.find("<UploadId>") == std::string::npos) return;
    pugi::xml_document doc;
    if (doc.load_string(reply.c_str())) {
      const char* id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
      if (*id != '\0') upload_id_ = id;
    }
  }

  // "\r" and "\n" in a body stand for CR and LF (a line holds one request).
  static std::string Unescape(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 'r' || text[i + 1] == 'n')) {
        out.push_back(text[++i] == 'r' ? '\r' : '\n');
      } else {
        out.push_back(text[i]);
      }
    }
    return out;
  }

  // A GET of an object answers with its bytes (and its ETag) under the
  // Content-Type it was stored with, which may well say "xml".
  static bool IsObjectBytes(imgbatch::http::FakeExchange& exchange, const std::string& method) {
    const int status = exchange.response().status;
    return method == "GET" && (status == 200 || status == 206) &&
           exchange.response().headers.Has("ETag");
  }

  static void Check(imgbatch::http::FakeExchange& exchange, const std::string& method,
                    std::string_view line) {
    const int status = exchange.response().status;
    const std::string reply = exchange.BodyText();
    if (status >= 500 && status != 501) Fail("server error", line, reply);
    const auto type = exchange.response().headers.Get("Content-Type");
    const bool xml = type && type->find("xml") != std::string_view::npos;
    if (status >= 300 && method != "HEAD" && status != 304 && !xml) {
      Fail("error reply is not XML", line, reply);
    }
    if (!xml || reply.empty() || IsObjectBytes(exchange, method)) return;
    pugi::xml_document doc;
    if (!doc.load_string(reply.c_str())) Fail("reply is not XML", line, reply);
    if (!imgbatch::CountXmlCharacters(reply)) {
      Fail("XML reply is not Unicode text a client can decode", line, reply);
    }
    if (status >= 300 && !doc.child("Error")) Fail("error reply is not an S3 Error", line, reply);
  }

  // First: made before the database in it, removed after it is closed.
  imgbatch::fuzz::ScratchDir dir_{"s3_service_fuzzer"};
  imgbatch::ManualClock clock_;
  std::unique_ptr<imgbatch::db::Database> db_;
  std::unique_ptr<imgbatch::store::ObjectStore> store_;
  imgbatch::http::Handler handler_;
  std::string upload_id_ = "x";  // what "@upload" and "@etag" stand for
  std::string etag_ = "x";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Harness harness;
  imgbatch::fuzz::ForEachLine(input, kMaxRequests,
                              [&](std::string_view line) { harness.Run(line); });
  return 0;
}
