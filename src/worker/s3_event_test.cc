#include "worker/s3_event.h"

#include <gtest/gtest.h>

namespace imgbatch::worker {
namespace {

std::string Event(std::string_view event_name, std::string_view key,
                  std::string_view etag = "abc") {
  return R"({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":")" +
         std::string(event_name) +
         R"(","s3":{"bucket":{"name":"input","arn":"arn:aws:s3:::input"},)" +
         R"("object":{"key":")" + std::string(key) + R"(","size":1024,"eTag":")" +
         std::string(etag) + R"(","sequencer":"0055AED6DCD90281E5"}}}]})";
}

TEST(S3EventTest, ParsesAnObjectCreatedRecord) {
  auto message = ParseEventMessage(Event("ObjectCreated:Put", "incoming/red+flower.jpg", "d41d8"));
  ASSERT_TRUE(message.ok()) << message.status().ToString();
  EXPECT_FALSE(message->test_event);
  ASSERT_EQ(message->records.size(), 1u);
  const auto& record = message->records[0];
  EXPECT_EQ(record.kind, EventKind::kObjectCreated);
  EXPECT_EQ(record.event_name, "ObjectCreated:Put");
  EXPECT_EQ(record.bucket, "input");
  EXPECT_EQ(record.key, "incoming/red flower.jpg");
  EXPECT_EQ(record.raw_key, "incoming/red+flower.jpg");
  EXPECT_EQ(record.etag, "d41d8");
  EXPECT_EQ(record.size, 1024u);
  EXPECT_EQ(record.sequencer, "0055AED6DCD90281E5");
}

TEST(S3EventTest, KeyDecodingVariants) {
  // AWS form-encoding: '+' is a space, %2B a plus, UTF-8 escapes.
  EXPECT_EQ(DecodeEventKey("a+b.jpg"), "a b.jpg");
  EXPECT_EQ(DecodeEventKey("a%2Bb.jpg"), "a+b.jpg");
  EXPECT_EQ(DecodeEventKey("caf%C3%A9.jpg"), "café.jpg");
  EXPECT_EQ(DecodeEventKey("50%25.jpg"), "50%.jpg");
  // MinIO encodes '/' as %2F.
  EXPECT_EQ(DecodeEventKey("dir%2Fsub%2Fx.jpg"), "dir/sub/x.jpg");
  // Raw keys (Ceph): plain text passes through; an invalid escape is kept.
  EXPECT_EQ(DecodeEventKey("dir/plain.jpg"), "dir/plain.jpg");
  EXPECT_EQ(DecodeEventKey("100%.jpg"), "100%.jpg");
  EXPECT_EQ(DecodeEventKey("bad%zz.jpg"), "bad%zz.jpg");
}

TEST(S3EventTest, EveryRecordOfAMultiRecordMessage) {
  std::string body =
      R"({"Records":[
        {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"one.jpg","eTag":"\"e1\""}}},
        {"eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"b"},"object":{"key":"two.jpg","eTag":"e2-3"}}},
        {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"three.jpg","sequencer":"01"}}},
        {"eventName":"ObjectRestore:Completed","s3":{"bucket":{"name":"b"},"object":{"key":"four.jpg"}}}
      ]})";
  auto message = ParseEventMessage(body);
  ASSERT_TRUE(message.ok()) << message.status().ToString();
  ASSERT_EQ(message->records.size(), 4u);
  EXPECT_EQ(message->records[0].etag, "e1");  // quotes stripped
  EXPECT_EQ(message->records[1].kind, EventKind::kObjectCreated);
  EXPECT_EQ(message->records[1].etag, "e2-3");
  EXPECT_EQ(message->records[2].kind, EventKind::kObjectRemoved);
  EXPECT_TRUE(message->records[2].etag.empty());
  EXPECT_FALSE(message->records[2].size.has_value());
  EXPECT_EQ(message->records[3].kind, EventKind::kOther);
}

TEST(S3EventTest, TestEventAndMessagesWithoutRecords) {
  auto test_event = ParseEventMessage(
      R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"b"})");
  ASSERT_TRUE(test_event.ok());
  EXPECT_TRUE(test_event->test_event);
  EXPECT_TRUE(test_event->records.empty());

  for (std::string body :
       {R"({})", R"({"hello":"world"})", R"([])", R"("text")", R"(42)", R"({"Records":[]})"}) {
    auto message = ParseEventMessage(body);
    ASSERT_TRUE(message.ok()) << body;
    EXPECT_FALSE(message->test_event) << body;
    EXPECT_TRUE(message->records.empty()) << body;
  }
}

TEST(S3EventTest, SnsEnvelopeIsUnwrapped) {
  std::string inner = Event("ObjectCreated:Copy", "x.jpg");
  std::string escaped;
  for (char c : inner) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  auto message = ParseEventMessage(R"({"Type":"Notification","MessageId":"m","Message":")" +
                                   escaped + R"("})");
  ASSERT_TRUE(message.ok()) << message.status().ToString();
  ASSERT_EQ(message->records.size(), 1u);
  EXPECT_EQ(message->records[0].key, "x.jpg");
}

TEST(S3EventTest, MalformedMessagesAreCleanErrors) {
  for (std::string body :
       {std::string(""), std::string("not json"), std::string("{\"Records\":"),
        std::string(R"({"Records":{}})"), std::string(R"({"Records":[1]})"),
        std::string(R"({"Records":[{"s3":{}}]})"),
        std::string(R"({"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":""}}}]})"),
        std::string(R"({"Records":[{"s3":{"bucket":{"name":5},"object":{"key":"k"}}}]})"),
        std::string(R"({"Type":"Notification","Message":"not json"})"), std::string(100000, '['),
        std::string("\xff\xfe{}", 4)}) {
    auto message = ParseEventMessage(body);
    EXPECT_FALSE(message.ok()) << body.substr(0, 80);
    if (!message.ok()) {
      EXPECT_EQ(message.status().code(), Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace imgbatch::worker
