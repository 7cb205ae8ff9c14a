#include "dashboard/api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "db/database.h"
#include "http/testing.h"
#include "store/store_test_util.h"

namespace imgbatch::dashboard {
namespace {

using nlohmann::json;

class DashboardApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Options db_options;
    db_options.path = dir_.path() + "/meta.db";
    auto db = db::Database::Open(db_options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    store::StoreOptions options;
    options.data_dir = dir_.path();
    options.free_space_reserve = 0;
    auto opened = store::ObjectStore::Open(*db_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    store_->SetEventSink(&sink_);
    ASSERT_TRUE(store_->CreateBucket("input", "us-east-1").ok());
    ASSERT_TRUE(store_->CreateBucket("output", "us-east-1").ok());
    ctx_.store = store_.get();
    ctx_.history = &history_;
    ctx_.input_bucket = "input";
    ctx_.output_bucket = "output";
    ctx_.output_prefixes = {"resized/", "thumbs/"};
  }

  std::shared_ptr<http::FakeExchange> Call(std::string method, std::string target,
                                           std::string body = {}, http::Headers h = {}) {
    http::Handler handler = [this](std::shared_ptr<http::Exchange> ex) {
      if (!HandleApi(ctx_, *ex)) {
        http::Response r;
        r.status = 599;  // "not mine"
        ex->Respond(std::move(r));
      }
    };
    return http::Call(handler, std::move(method), std::move(target), std::move(h), std::move(body));
  }

  void Put(const std::string& bucket, const std::string& key, std::string body,
           std::vector<std::pair<std::string, std::string>> metadata = {}) {
    store::testing::StringSource source(std::move(body));
    store::PutOptions options;
    options.content_type = "image/jpeg";
    options.user_metadata = std::move(metadata);
    ASSERT_TRUE(store_->PutObject(bucket, key, source, options, {}).ok());
  }

  store::testing::TempDir dir_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<store::ObjectStore> store_;
  store::testing::RecordingSink sink_;
  metrics::MetricHistory history_;
  ApiContext ctx_;
};

TEST_F(DashboardApiTest, UploadStoresIntoTheInputBucketAndFiresTheEvent) {
  http::Headers h;
  h.Add("Content-Type", "image/jpeg");
  auto ex = Call("PUT", "/-/api/upload/holiday%20photos/a%2Bb.jpg", "jpeg bytes", h);
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  json reply = json::parse(ex->BodyText());
  EXPECT_EQ(reply["bucket"], "input");
  EXPECT_EQ(reply["key"], "holiday photos/a+b.jpg");
  EXPECT_EQ(reply["size"], 10);
  auto stored = store_->HeadObject("input", "holiday photos/a+b.jpg");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->content_type, "image/jpeg");
  EXPECT_EQ(reply["etag"], stored->etag);
  // The same event an S3 PUT produces, from the store's own commit.
  auto events = sink_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, store::ObjectEventKind::kPut);
  EXPECT_EQ(events[0].meta.bucket, "input");
  EXPECT_EQ(events[0].meta.key, "holiday photos/a+b.jpg");
}

TEST_F(DashboardApiTest, UploadRefusesBadKeysAndOtherMethods) {
  EXPECT_EQ(Call("PUT", "/-/api/upload/")->response().status, 400);
  EXPECT_EQ(Call("PUT", "/-/api/upload/%ZZ")->response().status, 400);
  EXPECT_EQ(Call("POST", "/-/api/upload/a.jpg", "x")->response().status, 405);
  EXPECT_TRUE(sink_.events().empty());
}

TEST_F(DashboardApiTest, HistoryReturnsTheSeriesOfTheWindow) {
  int64_t now = SystemClock::Instance().NowMillis();
  history_.Record("workers:running", now - 600'000, 9);  // outside 300 s
  history_.Record("workers:running", now - 2000, 1);
  history_.Record("workers:running", now - 1000, 2);
  auto ex = Call("GET", "/-/api/history?seconds=300");
  ASSERT_EQ(ex->response().status, 200);
  json reply = json::parse(ex->BodyText());
  EXPECT_EQ(reply["seconds"], 300);
  EXPECT_EQ(reply["series"]["workers:running"]["v"], json({1.0, 2.0}));
  EXPECT_EQ(reply["series"]["workers:running"]["t"], json({now - 2000, now - 1000}));
}

TEST_F(DashboardApiTest, GalleryListsNewestThumbnailsWithTheirOutputsAndSource) {
  Put("input", "dir/cat.png", "source-bytes");
  const std::string source_etag = store_->HeadObject("input", "dir/cat.png")->etag;
  Put("output", "resized/dir/cat.jpg", "resized-bytes!");
  Put("output", "thumbs/dir/cat.jpg", "thumb",
      {{"processing-ms", "42"}, {"source-etag", source_etag}, {"source-key", "dir%2Fcat.png"}});
  Put("output", "thumbs/older.jpg", "t2");  // no metadata: the key names the source
  auto ex = Call("GET", "/-/api/gallery?max=10");
  ASSERT_EQ(ex->response().status, 200);
  json reply = json::parse(ex->BodyText());
  EXPECT_EQ(reply["total"], 2);
  ASSERT_EQ(reply["items"].size(), 2u);
  // Written last, shown first (same millisecond: by key).
  json cat =
      reply["items"][0]["source_key"] == "dir/cat.png" ? reply["items"][0] : reply["items"][1];
  EXPECT_EQ(cat["thumb"]["key"], "thumbs/dir/cat.jpg");
  EXPECT_EQ(cat["thumb"]["size"], 5);
  ASSERT_EQ(cat["outputs"].size(), 1u);
  EXPECT_EQ(cat["outputs"][0]["key"], "resized/dir/cat.jpg");
  EXPECT_EQ(cat["outputs"][0]["size"], 14);
  EXPECT_EQ(cat["source"]["key"], "dir/cat.png");
  EXPECT_EQ(cat["source"]["size"], 12);
  EXPECT_EQ(cat["processing_ms"], 42);
  EXPECT_TRUE(cat.contains("upload_to_output_ms"));
}

// The original was overwritten and its new version not (or not yet) made
// into outputs: the card says so instead of timing the old outputs against
// the new upload (a negative "upload to output").
TEST_F(DashboardApiTest, GalleryMarksOutputsOfAnEarlierVersion) {
  Put("input", "dog.jpg", "first version");
  const std::string first = store_->HeadObject("input", "dog.jpg")->etag;
  Put("output", "thumbs/dog.jpg", "thumb", {{"source-etag", first}});
  Put("input", "dog.jpg", "second version");
  json item = json::parse(Call("GET", "/-/api/gallery?max=10")->BodyText())["items"][0];
  EXPECT_EQ(item["source"]["key"], "dog.jpg");
  EXPECT_EQ(item["outdated"], true);
  EXPECT_FALSE(item.contains("upload_to_output_ms"));
}

TEST_F(DashboardApiTest, CountsThatAreNotPositiveNumbersAreRefused) {
  for (const char* target : {"/-/api/gallery?max=0", "/-/api/gallery?max=abc",
                             "/-/api/history?seconds=-1", "/-/api/history?seconds="}) {
    auto ex = Call("GET", target);
    EXPECT_EQ(ex->response().status, 400) << target;
    EXPECT_EQ(json::parse(ex->BodyText())["error"], "InvalidParameterValue") << ex->BodyText();
  }
  EXPECT_EQ(Call("GET", "/-/api/gallery?max=100000")->response().status, 200);  // capped
}

TEST_F(DashboardApiTest, ObjectsServesBothBucketsOnly) {
  Put("output", "thumbs/a b.jpg", "thumb-bytes");
  auto ex = Call("GET", "/-/api/objects/output/thumbs/a%20b.jpg");
  ASSERT_EQ(ex->response().status, 200);
  EXPECT_EQ(ex->BodyText(), "thumb-bytes");
  EXPECT_EQ(ex->response().headers.Get("Content-Type").value_or(""), "image/jpeg");
  EXPECT_EQ(ex->response().headers.Get("X-Content-Type-Options").value_or(""), "nosniff");
  std::string etag(ex->response().headers.Get("ETag").value_or(""));
  http::Headers h;
  h.Add("If-None-Match", etag);
  EXPECT_EQ(Call("GET", "/-/api/objects/output/thumbs/a%20b.jpg", {}, h)->response().status, 304);
  EXPECT_EQ(Call("GET", "/-/api/objects/output/thumbs/missing.jpg")->response().status, 404);
  ASSERT_TRUE(store_->CreateBucket("private", "us-east-1").ok());
  Put("private", "secret.jpg", "x");
  EXPECT_EQ(Call("GET", "/-/api/objects/private/secret.jpg")->response().status, 404);
}

TEST_F(DashboardApiTest, NonImagesAreDownloadsNeverPages) {
  store::testing::StringSource source("<script>alert(1)</script>");
  store::PutOptions options;
  options.content_type = "text/html";
  ASSERT_TRUE(store_->PutObject("input", "x.html", source, options, {}).ok());
  auto ex = Call("GET", "/-/api/objects/input/x.html");
  ASSERT_EQ(ex->response().status, 200);
  EXPECT_EQ(ex->response().headers.Get("Content-Type").value_or(""), "application/octet-stream");
  EXPECT_EQ(ex->response().headers.Get("Content-Disposition").value_or(""), "attachment");
  EXPECT_NE(ex->response().headers.Get("Content-Security-Policy").value_or("").find("sandbox"),
            std::string_view::npos);
}

TEST_F(DashboardApiTest, OtherPathsAreNotHandled) {
  EXPECT_EQ(Call("GET", "/-/api/status")->response().status, 599);
  EXPECT_EQ(Call("GET", "/-/api/queues/batch-dlq/messages")->response().status, 599);
}

}  // namespace
}  // namespace imgbatch::dashboard
