#include "store/lifecycle.h"

#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace imgbatch::store {
namespace {

using testing::StoreFixture;

// The fixture's ManualClock starts at 2023-11-14T22:13:20Z.
constexpr int64_t kStart = 1'700'000'000'000;
constexpr int64_t kNov15 = 1'700'006'400'000;  // 2023-11-15T00:00:00Z
constexpr int64_t kNov16 = kNov15 + kDayMs;

LifecycleRule ExpireAfterDays(std::string id, std::string prefix, int days) {
  LifecycleRule rule;
  rule.id = std::move(id);
  rule.filter.prefix = std::move(prefix);
  rule.expiration_days = days;
  return rule;
}

std::string DetailOf(const LifecycleConfiguration& config) {
  return std::string(ValidateLifecycle(config).detail());
}

// ---- the rules ----

TEST(LifecycleRulesTest, DaysRunToTheNextMidnightUtcAsS3Documents) {
  // S3's example: written 2014-01-15 10:30 UTC, 3 days: gone 2014-01-19 00:00 UTC.
  const int64_t written = 1'389'781'800'000;  // 2014-01-15T10:30:00Z
  EXPECT_EQ(ExpiryTime(ExpireAfterDays("r", "", 3), written), 1'390'089'600'000);
  EXPECT_EQ(ExpiryTime(ExpireAfterDays("r", "", 1), kStart), kNov16);
  // Written exactly at midnight: that midnight, N days on.
  EXPECT_EQ(ExpiryTime(ExpireAfterDays("r", "", 1), kNov15), kNov16);
  LifecycleRule by_date;
  by_date.expiration_date_ms = kNov15;
  EXPECT_EQ(ExpiryTime(by_date, kStart), kNov15);
  EXPECT_EQ(ExpiryTime(by_date, kNov16), kNov15);  // written after the date: due at once
  LifecycleRule abort_only;
  abort_only.abort_incomplete_days = 2;
  EXPECT_EQ(ExpiryTime(abort_only, kStart), std::nullopt);
  EXPECT_EQ(AbortTime(abort_only, kStart), kNov16 + kDayMs);
}

TEST(LifecycleRulesTest, FiltersNeedEveryCondition) {
  LifecycleRule rule = ExpireAfterDays("r", "photos/", 1);
  rule.filter.tags = {{"stage", "done"}, {"team", "a"}};
  rule.filter.size_greater_than = 10;
  rule.filter.size_less_than = 100;
  ObjectMeta meta;
  meta.key = "photos/cat.jpg";
  meta.size = 50;
  meta.tags = {{"team", "a"}, {"extra", "x"}, {"stage", "done"}};
  EXPECT_TRUE(LifecycleRuleMatches(rule, meta));
  ObjectMeta other = meta;
  other.key = "docs/cat.jpg";
  EXPECT_FALSE(LifecycleRuleMatches(rule, other));
  other = meta;
  other.tags = {{"team", "a"}, {"stage", "todo"}};
  EXPECT_FALSE(LifecycleRuleMatches(rule, other));
  other = meta;
  other.size = 10;  // bounds are strict
  EXPECT_FALSE(LifecycleRuleMatches(rule, other));
  other.size = 100;
  EXPECT_FALSE(LifecycleRuleMatches(rule, other));
}

TEST(LifecycleRulesTest, ValidationAnswersAsS3) {
  LifecycleConfiguration ok{{ExpireAfterDays("a", "x/", 1), ExpireAfterDays("b", "y/", 2)}};
  EXPECT_TRUE(ValidateLifecycle(ok).ok());
  EXPECT_EQ(DetailOf({}), "MalformedXML");

  LifecycleConfiguration config = ok;
  config.rules[1].id = "a";
  EXPECT_EQ(DetailOf(config), "InvalidArgument");  // IDs unique
  config = ok;
  config.rules[0].id = std::string(256, 'i');
  EXPECT_EQ(DetailOf(config), "InvalidArgument");
  config.rules[0].id = std::string(255, 'i');
  EXPECT_TRUE(ValidateLifecycle(config).ok());

  config = ok;
  config.rules[0].expiration_days = 0;
  EXPECT_EQ(DetailOf(config), "InvalidArgument");
  config.rules[0].expiration_days.reset();
  EXPECT_EQ(DetailOf(config), "InvalidRequest");  // no action left
  config.rules[0].expiration_date_ms = kNov15 + 1000;
  EXPECT_EQ(DetailOf(config), "InvalidArgument");  // not at midnight
  config.rules[0].expiration_date_ms = kNov15;
  EXPECT_TRUE(ValidateLifecycle(config).ok());
  config.rules[0].expiration_days = 3;
  EXPECT_EQ(DetailOf(config), "MalformedXML");  // both Days and Date

  config = ok;
  config.rules[0].abort_incomplete_days = 7;
  EXPECT_TRUE(ValidateLifecycle(config).ok());
  config.rules[0].filter.tags = {{"k", "v"}};
  EXPECT_EQ(DetailOf(config), "InvalidRequest");  // abort rules take no tags

  config = ok;
  config.rules[0].filter.size_greater_than = 100;
  config.rules[0].filter.size_less_than = 100;
  EXPECT_EQ(DetailOf(config), "InvalidRequest");
  config.rules[0].filter.tags = {{"aws:x", "v"}};
  config.rules[0].filter.size_less_than = 101;
  EXPECT_EQ(DetailOf(config), "InvalidTag");

  config.rules.assign(kMaxLifecycleRules + 1, ExpireAfterDays("", "", 1));
  AssignLifecycleRuleIds(config);
  EXPECT_EQ(DetailOf(config), "InvalidRequest");
}

TEST(LifecycleRulesTest, MadeUpIdsAreUniqueAndKeptOnesStay) {
  LifecycleConfiguration config{
      {ExpireAfterDays("", "a", 1), ExpireAfterDays("mine", "b", 1), ExpireAfterDays("", "c", 1)}};
  AssignLifecycleRuleIds(config);
  EXPECT_EQ(config.rules[0].id.size(), 48u);
  EXPECT_EQ(config.rules[1].id, "mine");
  EXPECT_NE(config.rules[0].id, config.rules[2].id);
}

TEST(LifecycleRulesTest, EncodingRoundTripsEveryField) {
  LifecycleRule full = ExpireAfterDays("full", "p/", 5);
  full.enabled = false;
  full.legacy_prefix = true;
  full.filter.tags = {{"k", "v"}, {"k2", ""}};
  full.filter.size_greater_than = 1;
  full.filter.size_less_than = uint64_t{50} << 40;
  full.expired_object_delete_marker = false;
  full.noncurrent_days = 3;
  full.newer_noncurrent_versions = 2;
  full.abort_incomplete_days = 4;
  LifecycleRule dated;
  dated.id = "dated";
  dated.expiration_date_ms = kNov15;
  std::optional<LifecycleConfiguration> decoded =
      DecodeLifecycle(EncodeLifecycle(LifecycleConfiguration{{full, dated}}));
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->rules.size(), 2u);
  const LifecycleRule& r = decoded->rules[0];
  EXPECT_EQ(r.id, "full");
  EXPECT_FALSE(r.enabled);
  EXPECT_TRUE(r.legacy_prefix);
  EXPECT_EQ(r.filter.prefix, "p/");
  EXPECT_EQ(r.filter.tags, full.filter.tags);
  EXPECT_EQ(r.filter.size_greater_than, 1u);
  EXPECT_EQ(r.filter.size_less_than, uint64_t{50} << 40);
  EXPECT_EQ(r.expiration_days, 5);
  EXPECT_EQ(r.expired_object_delete_marker, false);
  EXPECT_EQ(r.noncurrent_days, 3);
  EXPECT_EQ(r.newer_noncurrent_versions, 2);
  EXPECT_EQ(r.abort_incomplete_days, 4);
  EXPECT_EQ(decoded->rules[1].expiration_date_ms, kNov15);
  EXPECT_EQ(decoded->rules[1].expiration_days, std::nullopt);
  EXPECT_FALSE(DecodeLifecycle("{\"version\":2,\"rules\":[]}"));
  EXPECT_FALSE(DecodeLifecycle("not json"));
}

// ---- the store ----

class LifecycleStoreTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    ASSERT_TRUE(store_->CreateBucket("bkt", "").ok());
  }
  std::vector<std::string> Keys() {
    Result<ListResult> listed = store_->ListObjects("bkt", {});
    EXPECT_TRUE(listed.ok());
    std::vector<std::string> keys;
    if (listed.ok()) {
      for (const ObjectMeta& meta : listed->objects) keys.push_back(meta.key);
    }
    return keys;
  }
};

TEST_F(LifecycleStoreTest, ConfigurationIsPutReadAndDeleted) {
  EXPECT_EQ(store_->GetBucketLifecycle("bkt").status().detail(), "NoSuchLifecycleConfiguration");
  EXPECT_TRUE(store_->DeleteBucketLifecycle("bkt").ok());  // none: still fine, as on S3
  ASSERT_TRUE(store_->PutBucketLifecycle("bkt", {{ExpireAfterDays("", "tmp/", 1)}}).ok());
  Result<LifecycleConfiguration> got = store_->GetBucketLifecycle("bkt");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->rules.size(), 1u);
  EXPECT_EQ(got->rules[0].id.size(), 48u);  // made up once, then kept
  EXPECT_EQ(store_->GetBucketLifecycle("bkt")->rules[0].id, got->rules[0].id);
  EXPECT_EQ(store_->PutBucketLifecycle("bkt", {}).detail(), "MalformedXML");
  EXPECT_EQ(store_->GetBucketLifecycle("bkt")->rules[0].filter.prefix, "tmp/");  // kept
  ASSERT_TRUE(store_->DeleteBucketLifecycle("bkt").ok());
  EXPECT_EQ(store_->GetBucketLifecycle("bkt").status().detail(), "NoSuchLifecycleConfiguration");
  EXPECT_EQ(store_->PutBucketLifecycle("nope", {{ExpireAfterDays("a", "", 1)}}).detail(),
            "NoSuchBucket");
  EXPECT_EQ(store_->GetBucketLifecycle("nope").status().detail(), "NoSuchBucket");
}

TEST_F(LifecycleStoreTest, ObjectsGoAtTheirExpiryWithAnEventFromS3) {
  ASSERT_TRUE(store_->PutBucketLifecycle("bkt", {{ExpireAfterDays("tmp", "tmp/", 1)}}).ok());
  ASSERT_TRUE(Put("bkt", "tmp/a", "a").ok());
  ASSERT_TRUE(Put("bkt", "tmp/big", testing::Pattern(5000)).ok());  // a blob file
  ASSERT_TRUE(Put("bkt", "keep/a", "a").ok());
  const size_t events_before = sink_.events().size();

  Result<LifecycleReport> early = store_->ApplyLifecycle(kNov16 - 1);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->expired, 0u);
  EXPECT_EQ(Keys().size(), 3u);

  clock_.SetMillis(kNov16);
  Result<LifecycleReport> due = store_->ApplyLifecycle(kNov16);
  ASSERT_TRUE(due.ok()) << due.status().ToString();
  EXPECT_EQ(due->expired, 2u);
  EXPECT_EQ(Keys(), std::vector<std::string>{"keep/a"});
  EXPECT_TRUE(BlobFilesOnDisk().empty());
  std::vector<ObjectEvent> events = sink_.events();
  ASSERT_EQ(events.size(), events_before + 2);
  EXPECT_EQ(events.back().kind, ObjectEventKind::kLifecycleExpiration);
  EXPECT_EQ(events.back().caller.principal, "s3.amazonaws.com");
  EXPECT_EQ(events.back().meta.key, "tmp/big");
  EXPECT_EQ(store_->ApplyLifecycle(kNov16 + kDayMs)->expired, 0u);  // nothing left to do
}

TEST_F(LifecycleStoreTest, RewrittenDisabledAndUnmatchedObjectsStay) {
  LifecycleRule tagged = ExpireAfterDays("tagged", "", 1);
  tagged.filter.tags = {{"stage", "done"}};
  LifecycleRule disabled = ExpireAfterDays("off", "", 1);
  disabled.enabled = false;
  ASSERT_TRUE(store_->PutBucketLifecycle("bkt", {{tagged, disabled}}).ok());
  PutOptions done;
  done.tags = Tags{{"stage", "done"}};
  ASSERT_TRUE(Put("bkt", "done", "x", done).ok());
  ASSERT_TRUE(Put("bkt", "todo", "x").ok());
  ASSERT_TRUE(Put("bkt", "rewritten", "x", done).ok());
  clock_.SetMillis(kNov16 - 1000);
  ASSERT_TRUE(Put("bkt", "rewritten", "y", done).ok());  // its day starts again
  ASSERT_EQ(store_->ApplyLifecycle(kNov16)->expired, 1u);
  EXPECT_EQ(Keys(), (std::vector<std::string>{"rewritten", "todo"}));
}

TEST_F(LifecycleStoreTest, DateRulesExpireEverythingTheyMatchOnceThePastDateIsSet) {
  LifecycleRule past;
  past.id = "past";
  past.filter.prefix = "old/";
  past.expiration_date_ms = kNov15 - 30 * kDayMs;
  ASSERT_TRUE(Put("bkt", "old/1", "x").ok());
  ASSERT_TRUE(Put("bkt", "new/1", "x").ok());
  ASSERT_TRUE(store_->PutBucketLifecycle("bkt", {{past}}).ok());
  ASSERT_EQ(store_->ApplyLifecycle(kStart)->expired, 1u);
  EXPECT_EQ(Keys(), std::vector<std::string>{"new/1"});
}

TEST_F(LifecycleStoreTest, ManyObjectsAreExpiredPageByPage) {
  for (int i = 0; i < 1203; ++i) ASSERT_TRUE(Put("bkt", "tmp/" + std::to_string(i), "x").ok());
  ASSERT_TRUE(Put("bkt", "zzz", "x").ok());
  ASSERT_TRUE(store_->PutBucketLifecycle("bkt", {{ExpireAfterDays("tmp", "tmp/", 1)}}).ok());
  EXPECT_EQ(store_->ApplyLifecycle(kNov16)->expired, 1203u);
  EXPECT_EQ(Keys(), std::vector<std::string>{"zzz"});
}

TEST_F(LifecycleStoreTest, IncompleteUploadsAreAbortedAfterTheirDays) {
  LifecycleRule abort;
  abort.id = "abort";
  abort.filter.prefix = "up/";
  abort.abort_incomplete_days = 2;
  ASSERT_TRUE(store_->PutBucketLifecycle("bkt", {{abort}}).ok());
  auto stale = store_->CreateMultipartUpload("bkt", "up/stale", {});
  auto other = store_->CreateMultipartUpload("bkt", "elsewhere", {});
  ASSERT_TRUE(stale.ok() && other.ok());
  testing::StringSource part(testing::Pattern(10));
  ASSERT_TRUE(store_->UploadPart("bkt", "up/stale", stale->upload_id, 1, part, {}).ok());
  std::optional<ScheduledAction> scheduled = store_->ScheduledAbort("bkt", "up/stale", kStart);
  ASSERT_TRUE(scheduled);
  EXPECT_EQ(scheduled->time_ms, kNov16 + kDayMs);
  EXPECT_EQ(scheduled->rule_id, "abort");
  EXPECT_EQ(store_->ScheduledAbort("bkt", "elsewhere", kStart), std::nullopt);

  EXPECT_EQ(store_->ApplyLifecycle(kNov16)->aborted, 0u);
  Result<LifecycleReport> due = store_->ApplyLifecycle(kNov16 + kDayMs);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->aborted, 1u);
  std::vector<MultipartUpload> left = store_->ListMultipartUploads("bkt", {})->uploads;
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key, "elsewhere");
  EXPECT_TRUE(BlobFilesOnDisk().empty());
}

TEST_F(LifecycleStoreTest, ScheduledExpirationFollowsTheCurrentConfiguration) {
  Result<ObjectMeta> meta = Put("bkt", "tmp/a", "a");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(store_->ScheduledExpiration(*meta), std::nullopt);  // none yet (and remembered)
  ASSERT_TRUE(store_
                  ->PutBucketLifecycle("bkt", {{ExpireAfterDays("week", "tmp/", 7),
                                                ExpireAfterDays("day", "tmp/", 1)}})
                  .ok());
  std::optional<ScheduledAction> expiry = store_->ScheduledExpiration(*meta);
  ASSERT_TRUE(expiry);
  EXPECT_EQ(expiry->time_ms, kNov16);  // the earliest rule's
  EXPECT_EQ(expiry->rule_id, "day");
  ASSERT_TRUE(store_->DeleteBucketLifecycle("bkt").ok());
  EXPECT_EQ(store_->ScheduledExpiration(*meta), std::nullopt);
  // A bucket deleted and made again starts without the old configuration.
  ASSERT_TRUE(store_->PutBucketLifecycle("bkt", {{ExpireAfterDays("day", "", 1)}}).ok());
  ASSERT_TRUE(store_->ScheduledExpiration(*meta));
  ASSERT_TRUE(store_->DeleteObject("bkt", "tmp/a", {}).ok());
  ASSERT_TRUE(store_->DeleteBucket("bkt").ok());
  ASSERT_TRUE(store_->CreateBucket("bkt", "").ok());
  EXPECT_EQ(store_->ScheduledExpiration(*meta), std::nullopt);
}

TEST_F(LifecycleStoreTest, TheConfigurationSurvivesAReopen) {
  ASSERT_TRUE(store_->PutBucketLifecycle("bkt", {{ExpireAfterDays("tmp", "tmp/", 1)}}).ok());
  ASSERT_TRUE(Put("bkt", "tmp/a", "a").ok());
  Reopen();
  EXPECT_EQ(store_->GetBucketLifecycle("bkt")->rules[0].id, "tmp");
  EXPECT_EQ(store_->ApplyLifecycle(kNov16)->expired, 1u);
}

}  // namespace
}  // namespace imgbatch::store
