#include "client/sqs_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "client/testing/moto_fixture.h"

namespace imgbatch::client {
namespace {

class SqsClientTest : public testing::MotoTest {
 protected:
  void SetUp() override {
    MotoTest::SetUp();
    if (IsSkipped()) return;
    auto dlq = clients_->CreateQueue("jobs-dlq");
    ASSERT_TRUE(dlq.ok()) << dlq.status().ToString();
    dlq_url_ = *dlq;
    std::string redrive =
        R"({"RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:jobs-dlq\",\"maxReceiveCount\":\"5\"}","VisibilityTimeout":"30"})";
    auto queue = clients_->CreateQueue("jobs", redrive);
    ASSERT_TRUE(queue.ok()) << queue.status().ToString();
    queue_url_ = *queue;
  }
  SqsClient& sqs() { return *clients_->sqs; }
  std::vector<SqsMessage> Receive(int max = 10, int wait = 0) {
    auto messages = sqs().ReceiveMessage(queue_url_, {max, wait, std::nullopt});
    EXPECT_TRUE(messages.ok()) << messages.status().ToString();
    return messages.ok() ? *messages : std::vector<SqsMessage>{};
  }

  std::string queue_url_;
  std::string dlq_url_;
};

TEST_F(SqsClientTest, GetQueueUrlAndAttributes) {
  auto url = sqs().GetQueueUrl("jobs");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(*url, queue_url_);
  EXPECT_EQ(*sqs().ResolveQueueUrl(queue_url_), queue_url_);
  auto attributes = sqs().GetQueueAttributes(queue_url_);
  ASSERT_TRUE(attributes.ok()) << attributes.status().ToString();
  EXPECT_EQ((*attributes)["QueueArn"], "arn:aws:sqs:us-east-1:123456789012:jobs");
  EXPECT_NE((*attributes)["RedrivePolicy"].find("jobs-dlq"), std::string::npos);
  auto missing = sqs().GetQueueUrl("nope");
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
}

TEST_F(SqsClientTest, SendReceiveDeleteWithAttributes) {
  auto id = sqs().SendMessage(queue_url_, R"({"hello":"world"})",
                              {{"ErrorCode", "NotAnImage"}, {"SourceKey", "a b.jpg"}});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto messages = Receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message_id, *id);
  EXPECT_EQ(messages[0].body, R"({"hello":"world"})");
  EXPECT_EQ(messages[0].receive_count, 1);
  EXPECT_EQ(messages[0].message_attributes["ErrorCode"], "NotAnImage");
  EXPECT_EQ(messages[0].message_attributes["SourceKey"], "a b.jpg");
  ASSERT_TRUE(sqs().DeleteMessage(queue_url_, messages[0].receipt_handle).ok());
  EXPECT_TRUE(Receive().empty());
}

TEST_F(SqsClientTest, DeleteBatchReportsEachEntry) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(sqs().SendMessage(queue_url_, "m" + std::to_string(i)).ok());
  auto messages = Receive();
  ASSERT_EQ(messages.size(), 3u);
  std::vector<std::string> handles;
  for (const auto& message : messages) handles.push_back(message.receipt_handle);
  handles.push_back("not-a-real-receipt-handle");
  auto result = sqs().DeleteMessageBatch(queue_url_, handles);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->successful.size(), 3u);
  ASSERT_EQ(result->failed.size(), 1u);
  EXPECT_EQ(result->failed[0].id, "3");
  EXPECT_FALSE(result->failed[0].code.empty());
  EXPECT_FALSE(sqs().DeleteMessageBatch(queue_url_, {}).ok());
}

TEST_F(SqsClientTest, ChangeVisibilityReleasesAndHides) {
  ASSERT_TRUE(sqs().SendMessage(queue_url_, "one").ok());
  ASSERT_TRUE(sqs().SendMessage(queue_url_, "two").ok());
  auto messages = Receive();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(Receive().empty());
  // Release the first right away, keep the second hidden.
  auto result = sqs().ChangeMessageVisibilityBatch(
      queue_url_, {{messages[0].receipt_handle, 0}, {messages[1].receipt_handle, 600}});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->failed.empty());
  auto again = Receive();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body, messages[0].body);
  EXPECT_EQ(again[0].receive_count, 2);
  ASSERT_TRUE(sqs().ChangeMessageVisibility(queue_url_, again[0].receipt_handle, 0).ok());
  EXPECT_EQ(Receive().size(), 1u);
}

TEST_F(SqsClientTest, LongPollIsAbortable) {
  std::atomic<bool> abort{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    abort = true;
  });
  auto messages = sqs().ReceiveMessage(queue_url_, {10, 20, std::nullopt}, &abort);
  stopper.join();
  ASSERT_FALSE(messages.ok());
  EXPECT_EQ(messages.status().detail(), kAbortedDetail);
  // Aborted by the progress callback, not a timeout or an empty reply.
}

}  // namespace
}  // namespace imgbatch::client
