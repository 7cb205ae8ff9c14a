#include "notify/notifier.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "db/database.h"

namespace imgbatch::notify {
namespace {

constexpr char kQueue[] = "arn:aws:sqs:us-east-1:000000000000:batch-queue";

// Records messages; in-transaction ones land in a table of the same database
// so the test can see that they commit and roll back with the object.
class TableDestination : public EventDestination {
 public:
  explicit TableDestination(db::Database& db) : db_(db) {}
  bool Exists(const std::string& arn) override { return arn == kQueue; }
  Status EnqueueInTransaction(db::Txn& txn, const std::string& arn,
                              const std::string& body) override {
    if (fail_next) {
      fail_next = false;
      return IoError("queue full");
    }
    if (queue_deleted) return NotFound("The specified queue does not exist.");
    IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO events(arn, body) VALUES(?, ?)"));
    st.Bind(1, arn).Bind(2, body);
    return st.Run();
  }
  Status Enqueue(const std::string& arn, const std::string& body) override {
    return db_.Write([&](db::Txn& txn) { return EnqueueInTransaction(txn, arn, body); });
  }
  std::vector<std::string> Bodies() {
    std::vector<std::string> out;
    Status st = db_.Read([&](db::Conn& c) {
      IMGBATCH_ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT body FROM events ORDER BY rowid"));
      while (true) {
        IMGBATCH_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) return Status::Ok();
        out.push_back(s.ColumnText(0));
      }
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
  bool fail_next = false;
  bool queue_deleted = false;

 private:
  db::Database& db_;
};

class StringSource : public store::ByteSource {
 public:
  explicit StringSource(std::string s) : s_(std::move(s)) {}
  Result<size_t> Read(std::span<char> buf) override {
    size_t n = std::min(buf.size(), s_.size() - off_);
    std::copy_n(s_.data() + off_, n, buf.data());
    off_ += n;
    return n;
  }

 private:
  std::string s_;
  size_t off_ = 0;
};

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("imgbatch-notify-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
    std::filesystem::create_directories(dir_);
    db_ = std::move(db::Database::Open({.path = dir_ + "/db.sqlite"}).value());
    ASSERT_TRUE(db_->Migrate("notify_test",
                             {{1, "CREATE TABLE events(arn TEXT NOT NULL, body TEXT NOT NULL)"}})
                    .ok());
    store::StoreOptions options;
    options.data_dir = dir_;
    options.free_space_reserve = 0;
    store_ = std::move(store::ObjectStore::Open(*db_, options).value());
    dest_ = std::make_unique<TableDestination>(*db_);
    notifier_ = std::make_unique<Notifier>(*store_, *dest_, EventSource{});
    store_->SetEventSink(notifier_.get());
    ASSERT_TRUE(store_->CreateBucket("input", "us-east-1").ok());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  Result<store::ObjectMeta> Put(const std::string& key, const std::string& body) {
    StringSource src(body);
    return store_->PutObject("input", key, src, {}, {"AKIATEST", "127.0.0.1", "REQ"});
  }
  NotificationConfiguration JpgConfig() {
    return {{{"images-jpg", kQueue, {"s3:ObjectCreated:*"}, "", ".jpg"}}};
  }

  std::string dir_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<store::ObjectStore> store_;
  std::unique_ptr<TableDestination> dest_;
  std::unique_ptr<Notifier> notifier_;
};

TEST_F(NotifierTest, TestEventOnlyWhenCreatedOrChanged) {
  ASSERT_TRUE(notifier_->PutConfiguration("input", JpgConfig(), "R1").ok());
  auto bodies = dest_->Bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(bodies[0])["Event"], "s3:TestEvent");
  // The same configuration again (as at every start): no new test event.
  ASSERT_TRUE(notifier_->PutConfiguration("input", JpgConfig(), "R2").ok());
  EXPECT_EQ(dest_->Bodies().size(), 1u);
  auto changed = JpgConfig();
  changed.queues[0].prefix = "incoming/";
  ASSERT_TRUE(notifier_->PutConfiguration("input", changed, "R3").ok());
  EXPECT_EQ(dest_->Bodies().size(), 2u);
  // Kept across a reload (restart).
  Notifier reloaded(*store_, *dest_, EventSource{});
  ASSERT_TRUE(reloaded.LoadAll().ok());
  EXPECT_EQ(reloaded.GetConfiguration("input").value(), changed);
}

TEST_F(NotifierTest, ObjectAndEventCommitTogether) {
  ASSERT_TRUE(notifier_->PutConfiguration("input", JpgConfig(), "R1").ok());
  auto put = Put("photos/a b.jpg", "hello");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(Put("notes.txt", "not an image").ok());  // filtered out
  auto bodies = dest_->Bodies();
  ASSERT_EQ(bodies.size(), 2u);
  auto record = nlohmann::json::parse(bodies[1])["Records"][0];
  EXPECT_EQ(record["eventName"], "ObjectCreated:Put");
  EXPECT_EQ(record["s3"]["object"]["key"], "photos/a+b.jpg");
  EXPECT_EQ(record["s3"]["object"]["eTag"], put->etag);
  EXPECT_EQ(record["s3"]["configurationId"], "images-jpg");

  // If the event cannot be added, the object is not created either.
  dest_->fail_next = true;
  auto failed = Put("photos/lost.jpg", "x");
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(store_->HeadObject("input", "photos/lost.jpg").status().code(), Code::kNotFound);
  EXPECT_EQ(dest_->Bodies().size(), 2u);
}

// A destination queue deleted after the configuration named it: the upload
// still succeeds (as on AWS) and its event is counted as dropped.
TEST_F(NotifierTest, AnEventForADeletedQueueIsDroppedAndTheObjectStored) {
  ASSERT_TRUE(notifier_->PutConfiguration("input", JpgConfig(), "R1").ok());
  dest_->queue_deleted = true;
  auto put = Put("after-delete.jpg", "bytes");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_TRUE(store_->HeadObject("input", "after-delete.jpg").ok());
  EXPECT_EQ(dest_->Bodies().size(), 1u);  // the test event only
  EXPECT_EQ(notifier_->DroppedEvents(), (std::map<std::string, int64_t>{{kQueue, 1}}));
}

// s3:ObjectTagging:* subscribers hear of tag changes; ObjectCreated ones do
// not (the pipeline's workers must not resize an image again for a tag).
TEST_F(NotifierTest, TagChangesReachOnlyTaggingSubscribers) {
  NotificationConfiguration config = JpgConfig();
  config.queues.push_back({"tags", kQueue, {"s3:ObjectTagging:*"}, "", ""});
  ASSERT_TRUE(notifier_->PutConfiguration("input", config, "R1").ok());
  auto put = Put("photo.jpg", "hello");
  ASSERT_TRUE(put.ok());
  ASSERT_EQ(dest_->Bodies().size(), 2u);  // the test event, ObjectCreated:Put
  const store::Caller tagger{"AKIATAGGER", "127.0.0.1", "REQ-T"};
  ASSERT_TRUE(store_->PutObjectTags("input", "photo.jpg", {{"stage", "done"}}, tagger).ok());
  ASSERT_TRUE(store_->DeleteObjectTags("input", "photo.jpg", tagger).ok());
  auto bodies = dest_->Bodies();
  ASSERT_EQ(bodies.size(), 4u);
  auto put_tags = nlohmann::json::parse(bodies[2])["Records"][0];
  EXPECT_EQ(put_tags["eventName"], "ObjectTagging:Put");
  EXPECT_EQ(put_tags["s3"]["configurationId"], "tags");
  EXPECT_EQ(put_tags["s3"]["object"]["eTag"], put->etag);
  EXPECT_EQ(put_tags["userIdentity"]["principalId"], "AWS:AKIATAGGER");
  EXPECT_EQ(nlohmann::json::parse(bodies[3])["Records"][0]["eventName"], "ObjectTagging:Delete");

  // A failed event leaves the tags as they were.
  dest_->fail_next = true;
  EXPECT_FALSE(store_->PutObjectTags("input", "photo.jpg", {{"lost", "1"}}, tagger).ok());
  EXPECT_TRUE(store_->HeadObject("input", "photo.jpg")->tags.empty());
}

// Lifecycle expirations reach s3:LifecycleExpiration:* subscribers only: the
// pipeline's ObjectCreated and ObjectRemoved subscribers hear nothing.
TEST_F(NotifierTest, LifecycleExpirationsReachOnlyLifecycleSubscribers) {
  NotificationConfiguration config = JpgConfig();
  config.queues.push_back({"removed", kQueue, {"s3:ObjectRemoved:*"}, "", ""});
  config.queues.push_back({"expired", kQueue, {"s3:LifecycleExpiration:*"}, "", ""});
  ASSERT_TRUE(notifier_->PutConfiguration("input", config, "R1").ok());
  ASSERT_TRUE(Put("old.jpg", "hello").ok());
  ASSERT_EQ(dest_->Bodies().size(), 2u);  // the test event, ObjectCreated:Put
  store::LifecycleRule rule;
  rule.id = "day";
  rule.expiration_days = 1;
  ASSERT_TRUE(store_->PutBucketLifecycle("input", {{rule}}).ok());
  ASSERT_EQ(store_->ApplyLifecycle(SystemClock::Instance().NowMillis() + 2 * 86'400'000)->expired,
            1u);
  auto bodies = dest_->Bodies();
  ASSERT_EQ(bodies.size(), 3u);
  auto record = nlohmann::json::parse(bodies[2])["Records"][0];
  EXPECT_EQ(record["eventName"], "LifecycleExpiration:Delete");
  EXPECT_EQ(record["s3"]["configurationId"], "expired");
  EXPECT_EQ(record["s3"]["object"]["key"], "old.jpg");
}

TEST_F(NotifierTest, ReprocessSendsPutEventsForExistingObjectsUnderThePrefix) {
  auto a = Put("photos/a b.jpg", "one");
  ASSERT_TRUE(Put("photos/b.jpg", "two").ok());
  ASSERT_TRUE(Put("photos/notes.txt", "no image").ok());
  ASSERT_TRUE(Put("other/c.jpg", "three").ok());
  ASSERT_TRUE(notifier_->PutConfiguration("input", JpgConfig(), "R1").ok());  // after the puts
  ASSERT_EQ(dest_->Bodies().size(), 1u);                                      // the test event

  auto counts = notifier_->Reprocess("input", "photos/", {"AKIAOPERATOR", "127.0.0.1", "REQ2"});
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->objects, 3);
  EXPECT_EQ(counts->messages, 2);  // notes.txt matches no configuration
  auto bodies = dest_->Bodies();
  ASSERT_EQ(bodies.size(), 3u);
  auto record = nlohmann::json::parse(bodies[1])["Records"][0];
  EXPECT_EQ(record["eventName"], "ObjectCreated:Put");
  EXPECT_EQ(record["s3"]["object"]["key"], "photos/a+b.jpg");
  EXPECT_EQ(record["s3"]["object"]["eTag"], a->etag);
  EXPECT_EQ(record["s3"]["object"]["size"], 3);
  EXPECT_EQ(record["userIdentity"]["principalId"], "AWS:AKIAOPERATOR");
  EXPECT_EQ(nlohmann::json::parse(bodies[2])["Records"][0]["s3"]["object"]["key"], "photos/b.jpg");

  EXPECT_EQ(notifier_->Reprocess("missing-bucket", "", {}).status().code(), Code::kNotFound);
  EXPECT_EQ(notifier_->Reprocess("input", "nothing/", {})->objects, 0);
}

TEST_F(NotifierTest, RejectsUnknownQueuesOverlapsAndRecursion) {
  NotificationConfiguration unknown{
      {{"x", "arn:aws:sqs:us-east-1:000000000000:nope", {"s3:ObjectCreated:*"}, "", ""}}};
  Status st = notifier_->PutConfiguration("input", unknown, "R");
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("Unable to validate"), std::string::npos);
  EXPECT_EQ(notifier_->PutConfiguration("missing-bucket", JpgConfig(), "R").code(),
            Code::kNotFound);
  notifier_->SetRecursionGuard([](const std::string& bucket, const NotificationConfiguration&) {
    return bucket == "input" ? InvalidArgument("recursive") : Status::Ok();
  });
  EXPECT_EQ(notifier_->PutConfiguration("input", JpgConfig(), "R").code(), Code::kInvalidArgument);
  EXPECT_TRUE(dest_->Bodies().empty());
}

}  // namespace
}  // namespace imgbatch::notify
