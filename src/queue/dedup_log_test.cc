#include "queue/dedup_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/hashing.h"
#include "queue/queue_engine.h"

namespace imgbatch::queue {
namespace {

class DedupLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dedup_log_test_" + RandomHex(6));
    std::filesystem::create_directories(dir_);
    db::Options options;
    options.path = (dir_ / "test.db").string();
    auto db = db::Database::Open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate("queue", QueueEngine::Migrations()).ok());
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  DedupLog::Key KeyOf(int64_t queue_id, std::string_view scope, std::string_view id) {
    return DedupLog::Key{queue_id, scope, id, log_.Fingerprint(queue_id, scope, id)};
  }

  void Remember(const DedupLog::Key& key, const std::string& message_id, int64_t expires_ms) {
    ASSERT_TRUE(db_->Write([&](db::Txn& txn) {
                     return log_.Remember(txn, key, message_id, ++seq_, expires_ms);
                   })
                    .ok());
  }

  // The message id a lookup at `now` answers with ("" when none).
  std::string Find(DedupLog& log, const DedupLog::Key& key, int64_t now) {
    std::string found;
    Status st = db_->Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(std::optional<DedupLog::Remembered> seen, log.Find(txn, key, now));
      if (seen) found = seen->message_id;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return found;
  }
  std::string Find(const DedupLog::Key& key, int64_t now) { return Find(log_, key, now); }

  void ForgetExpired(int64_t now) {
    ASSERT_TRUE(db_->Write([&](db::Txn& txn) { return log_.ForgetExpired(txn, now); }).ok());
  }

  int64_t Rows() {
    int64_t n = -1;
    EXPECT_TRUE(db_->Read([&](db::Conn& conn) -> Status {
                     IMGBATCH_ASSIGN_OR_RETURN(db::Statement st,
                                               conn.Prepare("SELECT count(*) FROM queue_dedup"));
                     IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
                     if (row) n = st.ColumnInt(0);
                     return Status::Ok();
                   })
                    .ok());
    return n;
  }

  std::filesystem::path dir_;
  std::unique_ptr<db::Database> db_;
  DedupLog log_;
  int64_t seq_ = 0;
};

TEST_F(DedupLogTest, AnIdAnswersWithItsMessageUntilItExpires) {
  Remember(KeyOf(1, "", "order-1"), "m1", 1000);
  EXPECT_EQ(Find(KeyOf(1, "", "order-1"), 999), "m1");
  EXPECT_EQ(Find(KeyOf(1, "", "order-2"), 999), "");
  EXPECT_EQ(Find(KeyOf(1, "", "order-1"), 1000), "");  // expired, not yet forgotten
}

TEST_F(DedupLogTest, QueuesAndScopesKeepTheirOwnIds) {
  Remember(KeyOf(1, "group-a", "id"), "m1", 1000);
  EXPECT_EQ(Find(KeyOf(1, "group-a", "id"), 0), "m1");
  EXPECT_EQ(Find(KeyOf(1, "group-b", "id"), 0), "");
  EXPECT_EQ(Find(KeyOf(1, "", "id"), 0), "");
  EXPECT_EQ(Find(KeyOf(2, "group-a", "id"), 0), "");
  EXPECT_NE(log_.Fingerprint(1, "ab", "c"), log_.Fingerprint(1, "a", "bc"));
}

TEST_F(DedupLogTest, ForgettingTakesTheExpiredRowsFromTheHeadOnly) {
  Remember(KeyOf(1, "", "a"), "m1", 100);
  Remember(KeyOf(1, "", "b"), "m2", 200);
  Remember(KeyOf(1, "", "c"), "m3", 300);
  EXPECT_EQ(log_.remembered(), 3);
  ForgetExpired(200);
  EXPECT_EQ(Rows(), 1);
  EXPECT_EQ(log_.indexed(), 1u);
  EXPECT_EQ(log_.remembered(), 1);
  EXPECT_EQ(Find(KeyOf(1, "", "c"), 250), "m3");
  EXPECT_TRUE(log_.maybe_stored());
  ForgetExpired(300);
  EXPECT_EQ(Rows(), 0);
  EXPECT_FALSE(log_.maybe_stored());
}

// Two ids that share a fingerprint (forced here; 2^-64 by chance, and the
// salt keeps anyone from choosing them): the index names only the newer
// row, and a lookup of the older id finds it by scanning.
TEST_F(DedupLogTest, IdsSharingAFingerprintBothAnswerRight) {
  DedupLog::Key first = KeyOf(1, "", "first");
  DedupLog::Key second = KeyOf(1, "", "second");
  second.fingerprint = first.fingerprint;
  DedupLog::Key third = KeyOf(1, "", "third");
  third.fingerprint = first.fingerprint;
  Remember(first, "m1", 1000);
  Remember(second, "m2", 1000);
  EXPECT_EQ(log_.indexed(), 1u);
  EXPECT_EQ(Find(first, 0), "m1");
  EXPECT_EQ(Find(second, 0), "m2");
  EXPECT_EQ(Find(third, 0), "");
}

// A send that rolls back leaves its entry behind: it must not answer, not
// even once its rowid is taken by another id's row, and the next pass of
// ForgetExpired after MarkStale drops it.
TEST_F(DedupLogTest, AnEntryWhoseWriteRolledBackNeverAnswers) {
  Status st = db_->Write([&](db::Txn& txn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(log_.Remember(txn, KeyOf(1, "", "lost"), "m1", 1, 1000));
    return Status(Code::kIoError, "the rest of the send failed");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(Rows(), 0);
  EXPECT_EQ(Find(KeyOf(1, "", "lost"), 0), "");
  Remember(KeyOf(1, "", "kept"), "m2", 1000);  // reuses the rolled-back rowid
  EXPECT_EQ(Find(KeyOf(1, "", "lost"), 0), "");
  EXPECT_EQ(Find(KeyOf(1, "", "kept"), 0), "m2");
  EXPECT_EQ(log_.indexed(), 2u);
  log_.MarkStale();
  ForgetExpired(0);
  EXPECT_EQ(log_.indexed(), 1u);
  EXPECT_EQ(Find(KeyOf(1, "", "kept"), 0), "m2");
}

TEST_F(DedupLogTest, LoadRebuildsTheIndexFromTheTable) {
  Remember(KeyOf(1, "g", "a"), "m1", 1000);
  Remember(KeyOf(2, "", "b"), "m2", 1000);
  DedupLog reopened;  // another salt, as after a restart
  ASSERT_TRUE(db_->Read([&](db::Conn& conn) { return reopened.Load(conn); }).ok());
  EXPECT_EQ(reopened.indexed(), 2u);
  EXPECT_TRUE(reopened.maybe_stored());
  auto key = [&](int64_t q, std::string_view scope, std::string_view id) {
    return DedupLog::Key{q, scope, id, reopened.Fingerprint(q, scope, id)};
  };
  EXPECT_EQ(Find(reopened, key(1, "g", "a"), 0), "m1");
  EXPECT_EQ(Find(reopened, key(2, "", "b"), 0), "m2");
  EXPECT_EQ(Find(reopened, key(1, "", "a"), 0), "");
}

}  // namespace
}  // namespace imgbatch::queue
