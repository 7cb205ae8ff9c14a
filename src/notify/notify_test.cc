#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "notify/event_json.h"
#include "notify/notification_config.h"

namespace imgbatch::notify {
namespace {

using store::ObjectEventKind;

QueueConfiguration Q(std::string id, std::vector<std::string> events, std::string prefix = "",
                     std::string suffix = "") {
  return {std::move(id), "arn:aws:sqs:us-east-1:000000000000:q", std::move(events),
          std::move(prefix), std::move(suffix)};
}

TEST(NotificationConfig, EventTypeMatching) {
  EXPECT_TRUE(EventTypeMatches("s3:ObjectCreated:*", "ObjectCreated:Put"));
  EXPECT_TRUE(EventTypeMatches("s3:ObjectCreated:*", "ObjectCreated:CompleteMultipartUpload"));
  EXPECT_TRUE(EventTypeMatches("s3:ObjectCreated:Copy", "ObjectCreated:Copy"));
  EXPECT_FALSE(EventTypeMatches("s3:ObjectCreated:Put", "ObjectCreated:Copy"));
  // A browser-based POST upload is its own type, inside ObjectCreated:*.
  EXPECT_EQ(EventName(store::ObjectEventKind::kPost), "ObjectCreated:Post");
  EXPECT_TRUE(EventTypeMatches("s3:ObjectCreated:*", "ObjectCreated:Post"));
  EXPECT_TRUE(EventTypeMatches("s3:ObjectCreated:Post", "ObjectCreated:Post"));
  EXPECT_FALSE(EventTypeMatches("s3:ObjectCreated:Put", "ObjectCreated:Post"));
  EXPECT_FALSE(EventTypeMatches("s3:ObjectCreated:*", "ObjectRemoved:Delete"));
  EXPECT_TRUE(EventTypeMatches("s3:ObjectRemoved:*", "ObjectRemoved:Delete"));
  EXPECT_TRUE(EventTypeMatches("s3:ObjectTagging:*", "ObjectTagging:Put"));
  EXPECT_TRUE(EventTypeMatches("s3:ObjectTagging:Delete", "ObjectTagging:Delete"));
  EXPECT_FALSE(EventTypeMatches("s3:ObjectCreated:*", "ObjectTagging:Put"));
  EXPECT_FALSE(EventTypeMatches("s3:ObjectTagging:Put", "ObjectTagging:Delete"));
  // Lifecycle deletions are not ObjectRemoved events on S3: a subscriber asks for them.
  EXPECT_TRUE(IsKnownEventType("s3:LifecycleExpiration:*"));
  EXPECT_TRUE(EventTypeMatches("s3:LifecycleExpiration:*", "LifecycleExpiration:Delete"));
  EXPECT_FALSE(EventTypeMatches("s3:ObjectRemoved:*", "LifecycleExpiration:Delete"));
}

TEST(NotificationConfig, SeedDefaultsAreValidAndNonOverlapping) {
  NotificationConfiguration config;
  for (std::string suffix : {".jpg", ".JPG", ".jpeg", ".JPEG", ".png", ".PNG"}) {
    config.queues.push_back(Q("", {"s3:ObjectCreated:*"}, "", suffix));
  }
  AssignIds(config);
  EXPECT_TRUE(Validate(config).ok()) << Validate(config).ToString();
  // Suffix filters are case-sensitive, as on AWS.
  EXPECT_EQ(Matching(config, ObjectEventKind::kPut, "a/b.jpg").size(), 1u);
  EXPECT_EQ(Matching(config, ObjectEventKind::kPut, "a/b.JPG").size(), 1u);
  EXPECT_EQ(Matching(config, ObjectEventKind::kPut, "a/b.Jpg").size(), 0u);
  EXPECT_EQ(Matching(config, ObjectEventKind::kDelete, "a/b.jpg").size(), 0u);
}

TEST(NotificationConfig, OverlapRejectedAsAws) {
  // ".jpg" and "g" overlap (one is a suffix of the other) with no prefixes.
  NotificationConfiguration overlapping{
      {Q("a", {"s3:ObjectCreated:*"}, "", ".jpg"), Q("b", {"s3:ObjectCreated:Put"}, "", "g")}};
  Status st = Validate(overlapping);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("ambiguously defined"), std::string::npos);
  // Same suffix but disjoint prefixes: allowed.
  NotificationConfiguration disjoint{{Q("a", {"s3:ObjectCreated:*"}, "in/", ".jpg"),
                                      Q("b", {"s3:ObjectCreated:*"}, "out/", ".jpg")}};
  EXPECT_TRUE(Validate(disjoint).ok());
  // Same filters but different event families: allowed.
  NotificationConfiguration families{
      {Q("a", {"s3:ObjectCreated:*"}, "", ".jpg"), Q("b", {"s3:ObjectRemoved:*"}, "", ".jpg")}};
  EXPECT_TRUE(Validate(families).ok());
  NotificationConfiguration unknown{{Q("a", {"s3:ObjectEaten:*"})}};
  EXPECT_FALSE(Validate(unknown).ok());
  NotificationConfiguration dup_ids{
      {Q("a", {"s3:ObjectCreated:*"}, "x/"), Q("a", {"s3:ObjectCreated:*"}, "y/")}};
  EXPECT_FALSE(Validate(dup_ids).ok());
}

TEST(NotificationConfig, JsonRoundTrip) {
  NotificationConfiguration config{
      {Q("id1", {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}, "in/", ".png")}};
  auto back = FromJson(ToJson(config));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, config);
  EXPECT_FALSE(FromJson("not json").ok());
}

TEST(EventJson, ObjectCreatedRecordMatchesAwsShape) {
  store::ObjectEvent event;
  event.kind = ObjectEventKind::kPut;
  event.meta.bucket = "input";
  event.meta.key = "incoming/a b+c/caf\xc3\xa9 50%.jpg";
  event.meta.size = 5;
  event.meta.etag = "d41d8cd98f00b204e9800998ecf8427e";
  event.meta.sequence = 42;
  event.caller = {"AKIAEXAMPLE", "10.1.2.3", "REQ123"};
  event.time_ms = 1'764'289'541'123;
  auto doc = nlohmann::json::parse(RenderRecord(event, "cfg-1", EventSource{}));
  ASSERT_EQ(doc["Records"].size(), 1u);
  const auto& r = doc["Records"][0];
  EXPECT_EQ(r["eventVersion"], "2.1");
  EXPECT_EQ(r["eventSource"], "aws:s3");
  EXPECT_EQ(r["awsRegion"], "us-east-1");
  EXPECT_EQ(r["eventName"], "ObjectCreated:Put");
  EXPECT_TRUE(std::regex_match(r["eventTime"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  EXPECT_EQ(r["s3"]["configurationId"], "cfg-1");
  EXPECT_EQ(r["s3"]["bucket"]["arn"], "arn:aws:s3:::input");
  EXPECT_EQ(r["s3"]["object"]["key"], "incoming/a+b%2Bc/caf%C3%A9+50%25.jpg");
  EXPECT_TRUE(r["s3"]["object"]["size"].is_number());
  EXPECT_EQ(r["s3"]["object"]["size"], 5);
  EXPECT_EQ(r["s3"]["object"]["eTag"], "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(r["requestParameters"]["sourceIPAddress"], "10.1.2.3");
  EXPECT_EQ(r["responseElements"]["x-amz-request-id"], "REQ123");
  EXPECT_FALSE(r["s3"]["object"].contains("versionId"));
}

TEST(EventJson, DeleteHasNoSizeOrEtagAndSequencersIncrease) {
  store::ObjectEvent event;
  event.kind = ObjectEventKind::kDelete;
  event.meta.bucket = "b";
  event.meta.key = "k";
  event.meta.sequence = 7;
  auto doc = nlohmann::json::parse(RenderRecord(event, "c", EventSource{}));
  const auto& object = doc["Records"][0]["s3"]["object"];
  EXPECT_FALSE(object.contains("size"));
  EXPECT_FALSE(object.contains("eTag"));
  EXPECT_EQ(doc["Records"][0]["eventName"], "ObjectRemoved:Delete");
  EXPECT_LT(Sequencer(9), Sequencer(10));
  EXPECT_LT(Sequencer(0xFF), Sequencer(0x100));
}

// Version 2.3, as S3 sends tagging events; no size and no sequencer (the
// object's own sequence did not move).
TEST(EventJson, TaggingEventsNameTheObjectByKeyAndEtag) {
  store::ObjectEvent event;
  event.kind = ObjectEventKind::kTaggingPut;
  event.meta.bucket = "b";
  event.meta.key = "a b.jpg";
  event.meta.size = 5;
  event.meta.etag = "d41d8cd98f00b204e9800998ecf8427e";
  event.meta.sequence = 7;
  auto doc = nlohmann::json::parse(RenderRecord(event, "c", EventSource{}));
  const auto& record = doc["Records"][0];
  EXPECT_EQ(record["eventName"], "ObjectTagging:Put");
  EXPECT_EQ(record["eventVersion"], "2.3");
  EXPECT_EQ(record["s3"]["object"]["key"], "a+b.jpg");
  EXPECT_EQ(record["s3"]["object"]["eTag"], "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_FALSE(record["s3"]["object"].contains("size"));
  EXPECT_FALSE(record["s3"]["object"].contains("sequencer"));
  event.kind = ObjectEventKind::kTaggingDelete;
  doc = nlohmann::json::parse(RenderRecord(event, "c", EventSource{}));
  EXPECT_EQ(doc["Records"][0]["eventName"], "ObjectTagging:Delete");
}

// A lifecycle deletion: version 2.3, S3 itself as the principal, the object
// by key and sequencer as for a delete.
TEST(EventJson, LifecycleExpirationIsS3sOwnDeletion) {
  store::ObjectEvent event;
  event.kind = ObjectEventKind::kLifecycleExpiration;
  event.meta.bucket = "b";
  event.meta.key = "old.jpg";
  event.meta.size = 5;
  event.meta.etag = "d41d8cd98f00b204e9800998ecf8427e";
  event.meta.sequence = 9;
  event.caller.principal = "s3.amazonaws.com";
  auto doc = nlohmann::json::parse(RenderRecord(event, "c", EventSource{}));
  const auto& record = doc["Records"][0];
  EXPECT_EQ(record["eventName"], "LifecycleExpiration:Delete");
  EXPECT_EQ(record["eventVersion"], "2.3");
  EXPECT_EQ(record["userIdentity"]["principalId"], "s3.amazonaws.com");
  EXPECT_EQ(record["s3"]["object"]["sequencer"], Sequencer(9));
  EXPECT_FALSE(record["s3"]["object"].contains("size"));
  EXPECT_FALSE(record["s3"]["object"].contains("eTag"));
}

TEST(EventJson, TestEvent) {
  auto doc = nlohmann::json::parse(RenderTestEvent("input", 0, "R1"));
  EXPECT_EQ(doc["Service"], "Amazon S3");
  EXPECT_EQ(doc["Event"], "s3:TestEvent");
  EXPECT_EQ(doc["Time"], "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(doc["Bucket"], "input");
  EXPECT_FALSE(doc.contains("Records"));
}

}  // namespace
}  // namespace imgbatch::notify
