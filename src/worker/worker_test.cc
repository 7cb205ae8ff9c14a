#include "worker/worker.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "client/testing/moto_fixture.h"
#include "common/strings.h"

namespace imgbatch::worker {
namespace {

using client::testing::MotoTest;
using nlohmann::json;

constexpr std::chrono::seconds kDeadline{30};

// Polls a condition with a deadline (never a fixed sleep).
bool WaitFor(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// Outputs are "<prefix>:<input bytes>"; failures and a gate are scripted.
class FakeProcessor final : public ImageProcessor {
 public:
  std::vector<std::string> OutputKeys(std::string_view key) const override {
    return {"resized/" + std::string(key), "thumbs/" + std::string(key)};
  }
  std::vector<std::string> OutputSpecs() const override {
    std::lock_guard lock(mu_);
    return {"resized:" + spec_, "thumbs:" + spec_};
  }
  // Stands for the output configuration ("A" as if resized:A, thumbs:A).
  void SetSpec(std::string spec) {
    std::lock_guard lock(mu_);
    spec_ = std::move(spec);
  }

  Result<std::vector<ProcessedOutput>> Process(std::string_view key, std::string bytes) override {
    int call;
    {
      std::unique_lock lock(mu_);
      call = ++calls_;
      keys_.emplace_back(key);
      cv_.notify_all();
      cv_.wait(lock, [this] { return !gated_; });
    }
    if (fail_) {
      Status failure = fail_(call);
      if (!failure.ok()) return failure;
    }
    return std::vector<ProcessedOutput>{
        {"resized/" + std::string(key), "resized:" + std::string(bytes), "image/jpeg"},
        {"thumbs/" + std::string(key), "thumbs:" + std::string(bytes), "image/jpeg"}};
  }

  bool IsPermanent(const Status& status) const override {
    return status.code() == Code::kInvalidArgument || status.code() == Code::kCorruption;
  }
  uint64_t MaxInputBytes() const override { return max_input_bytes_; }

  void Gate() {
    std::lock_guard lock(mu_);
    gated_ = true;
  }
  void Open() {
    std::lock_guard lock(mu_);
    gated_ = false;
    cv_.notify_all();
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::string> keys() const {
    std::lock_guard lock(mu_);
    return keys_;
  }
  std::function<Status(int call)> fail_;
  uint64_t max_input_bytes_ = 0;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool gated_ = false;
  std::string spec_ = "A";
  int calls_ = 0;
  std::vector<std::string> keys_;
};

std::string EventBody(std::vector<std::tuple<std::string, std::string, std::string>> records) {
  json list = json::array();
  for (const auto& [name, raw_key, etag] : records) {
    json object = {{"key", raw_key}, {"sequencer", "0055AED6DCD90281E5"}};
    if (!etag.empty()) {
      object["eTag"] = etag;
      object["size"] = 10;
    }
    list.push_back({{"eventVersion", "2.1"},
                    {"eventSource", "aws:s3"},
                    {"awsRegion", "us-east-1"},
                    {"eventName", name},
                    {"s3",
                     {{"s3SchemaVersion", "1.0"},
                      {"bucket", {{"name", "input"}, {"arn", "arn:aws:s3:::input"}}},
                      {"object", object}}}});
  }
  return json{{"Records", list}}.dump();
}

std::string Created(const std::string& raw_key, const std::string& etag) {
  return EventBody({{"ObjectCreated:Put", raw_key, etag}});
}

// An event whose record gives the object's size as `size`.
std::string CreatedOfSize(const std::string& raw_key, const std::string& etag, uint64_t size) {
  json event = json::parse(Created(raw_key, etag));
  event["Records"][0]["s3"]["object"]["size"] = size;
  return event.dump();
}

class WorkerTest : public MotoTest {
 protected:
  void SetUp() override {
    MotoTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(clients_->CreateBucket("input").ok());
    ASSERT_TRUE(clients_->CreateBucket("output").ok());
    auto dlq = clients_->CreateQueue("jobs-dlq");
    ASSERT_TRUE(dlq.ok());
    dlq_url_ = *dlq;
    auto queue = clients_->CreateQueue(
        "jobs",
        R"({"VisibilityTimeout":"30","RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:jobs-dlq\",\"maxReceiveCount\":\"5\"}"})");
    ASSERT_TRUE(queue.ok());
    queue_url_ = *queue;
    options_.queue_url = queue_url_;
    options_.output_bucket = "output";
    options_.input_bucket = "input";
    options_.concurrency = 2;
  }

  void TearDown() override { StopWorker(); }

  void StartWorker() {
    worker_ = std::make_unique<Worker>(*clients_->s3, *clients_->sqs, processor_, options_);
    ASSERT_TRUE(worker_->Start().ok());
    run_thread_ = std::thread([this] {
      run_status_ = worker_->Run();
      run_returned_ = true;
    });
  }
  void StopWorker() {
    if (!worker_) return;
    worker_->Stop();
    processor_.Open();
    run_thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
  }

  std::string PutInput(const std::string& key, const std::string& body) {
    auto etag = clients_->s3->PutObject("input", key, body);
    EXPECT_TRUE(etag.ok()) << etag.status().ToString();
    return etag.ok() ? *etag : std::string();
  }
  void Send(const std::string& body) {
    ASSERT_TRUE(clients_->sqs->SendMessage(queue_url_, body).ok());
  }

  // Visible + in flight, as SQS counts them.
  int QueueDepth(const std::string& url) {
    auto attributes = clients_->sqs->GetQueueAttributes(
        url, {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"});
    if (!attributes.ok()) return -1;
    return static_cast<int>(
        ParseInt((*attributes)["ApproximateNumberOfMessages"]).value_or(0) +
        ParseInt((*attributes)["ApproximateNumberOfMessagesNotVisible"]).value_or(0));
  }
  WorkerStats Stats() { return worker_->stats(); }

  FakeProcessor processor_;
  WorkerOptions options_;
  std::string queue_url_;
  std::string dlq_url_;
  std::unique_ptr<Worker> worker_;
  std::thread run_thread_;
  Status run_status_;
  std::atomic<bool> run_returned_{false};
};

TEST(BackoffTest, DoublesPerReceiveAndIsCapped) {
  EXPECT_EQ(BackoffSeconds(0, 300), 1);
  EXPECT_EQ(BackoffSeconds(1, 300), 2);
  EXPECT_EQ(BackoffSeconds(5, 300), 32);
  EXPECT_EQ(BackoffSeconds(9, 300), 300);
  EXPECT_EQ(BackoffSeconds(1000, 300), 300);
  EXPECT_EQ(BackoffSeconds(-3, 300), 1);
}

TEST(RecentSamplesTest, KeepsTheNewestInOrderAndCountsAll) {
  RecentSamples samples;
  EXPECT_EQ(samples.total(), 0u);
  EXPECT_TRUE(samples.Values().empty());
  samples.Add(1);
  samples.Add(2);
  EXPECT_EQ(samples.Values(), (std::vector<double>{1, 2}));
  for (size_t i = 3; i <= RecentSamples::kCapacity + 5; ++i) samples.Add(static_cast<double>(i));
  EXPECT_EQ(samples.total(), RecentSamples::kCapacity + 5);
  std::vector<double> values = samples.Values();
  ASSERT_EQ(values.size(), RecentSamples::kCapacity);
  EXPECT_EQ(values.front(), 6);  // the five oldest were pushed out
  EXPECT_EQ(values.back(), static_cast<double>(RecentSamples::kCapacity + 5));
  EXPECT_TRUE(std::is_sorted(values.begin(), values.end()));
}

TEST(ConcurrencyTest, BoundedByCoresAndMemory) {
  EXPECT_EQ(DefaultConcurrency(8, 0), 8);            // memory unknown
  EXPECT_EQ(DefaultConcurrency(8, 64ull << 30), 8);  // plenty of memory
  EXPECT_EQ(DefaultConcurrency(8, 1ull << 30), 4);   // 1 GiB / 256 MiB
  EXPECT_EQ(DefaultConcurrency(8, 512ull << 20), 2);
  EXPECT_EQ(DefaultConcurrency(4, 100ull << 20), 1);  // never below one
  EXPECT_EQ(DefaultConcurrency(0, 0), 1);
  EXPECT_GE(CoresInAffinity(), 1);
  EXPECT_GT(MemoryLimitBytes(), 0u);
}

TEST_F(WorkerTest, FindsTheDeadLetterQueueFromRedrivePolicy) {
  Worker worker(*clients_->s3, *clients_->sqs, processor_, options_);
  ASSERT_TRUE(worker.Start().ok());
  EXPECT_EQ(worker.dlq_url(), dlq_url_);
  EXPECT_EQ(worker.queue_arn(), "arn:aws:sqs:us-east-1:123456789012:jobs");
}

TEST_F(WorkerTest, MissingQueueFailsStart) {
  options_.queue_url = url() + "/123456789012/nope";
  Worker worker(*clients_->s3, *clients_->sqs, processor_, options_);
  EXPECT_FALSE(worker.Start().ok());
}

TEST_F(WorkerTest, ProcessesEveryRecordWritesOutputsAndDeletes) {
  std::string etag1 = PutInput("dir/a b.jpg", "AAA");
  std::string etag2 = PutInput("c+d.jpg", "BBB");
  // '+' is a space and %2B a plus in event keys.
  Send(EventBody(
      {{"ObjectCreated:Put", "dir/a+b.jpg", etag1}, {"ObjectCreated:Put", "c%2Bd.jpg", etag2}}));
  StartWorker();
  ASSERT_TRUE(
      WaitFor([&] { return Stats().images_processed == 2 && Stats().messages_deleted == 1; }));

  auto resized = clients_->s3->GetObject("output", "resized/dir/a b.jpg");
  ASSERT_TRUE(resized.ok()) << resized.status().ToString();
  EXPECT_EQ(resized->body, "resized:AAA");
  EXPECT_EQ(resized->info.content_type, "image/jpeg");
  EXPECT_EQ(resized->info.metadata["source-etag"], etag1);
  auto thumb = clients_->s3->GetObject("output", "thumbs/c+d.jpg");
  ASSERT_TRUE(thumb.ok()) << thumb.status().ToString();
  EXPECT_EQ(thumb->body, "thumbs:BBB");
  EXPECT_EQ(thumb->info.metadata["source-etag"], etag2);
  EXPECT_EQ(QueueDepth(queue_url_), 0);
  EXPECT_EQ(QueueDepth(dlq_url_), 0);
}

TEST_F(WorkerTest, TestEventsAndMessagesWithoutRecordsAreDeleted) {
  Send(
      R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"input"})");
  Send(R"({"something":"else"})");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Stats().messages_deleted == 2; }));
  EXPECT_EQ(processor_.calls(), 0);
  EXPECT_EQ(QueueDepth(queue_url_), 0);
  EXPECT_EQ(QueueDepth(dlq_url_), 0);
}

TEST_F(WorkerTest, StaleEventIsDeletedWithoutWriting) {
  std::string old_etag = PutInput("a.jpg", "old");
  PutInput("a.jpg", "new");  // a newer event would follow
  Send(Created("a.jpg", old_etag));
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Stats().stale_events == 1 && Stats().messages_deleted == 1; }));
  EXPECT_EQ(processor_.calls(), 0);
  EXPECT_EQ(clients_->s3->HeadObject("output", "resized/a.jpg").status().code(), Code::kNotFound);
  EXPECT_EQ(QueueDepth(dlq_url_), 0);
}

TEST_F(WorkerTest, CurrentOutputsAreNotRecomputed) {
  std::string etag = PutInput("done.jpg", "data");
  client::PutObjectOptions put;
  put.metadata["source-etag"] = etag;
  put.metadata["output-spec"] = "resized:A";
  ASSERT_TRUE(clients_->s3->PutObject("output", "resized/done.jpg", "r", put).ok());
  put.metadata["output-spec"] = "thumbs:A";
  ASSERT_TRUE(clients_->s3->PutObject("output", "thumbs/done.jpg", "t", put).ok());
  Send(Created("done.jpg", etag));
  StartWorker();
  ASSERT_TRUE(
      WaitFor([&] { return Stats().images_skipped == 1 && Stats().messages_deleted == 1; }));
  EXPECT_EQ(processor_.calls(), 0);
}

TEST_F(WorkerTest, OutputsOfAnOlderSourceAreRecomputed) {
  std::string etag = PutInput("redo.jpg", "data");
  client::PutObjectOptions put;
  put.metadata["source-etag"] = "someoldetag";
  ASSERT_TRUE(clients_->s3->PutObject("output", "resized/redo.jpg", "r", put).ok());
  ASSERT_TRUE(clients_->s3->PutObject("output", "thumbs/redo.jpg", "t", put).ok());
  Send(Created("redo.jpg", etag));
  StartWorker();
  ASSERT_TRUE(
      WaitFor([&] { return Stats().images_processed == 1 && Stats().messages_deleted == 1; }));
  EXPECT_EQ(clients_->s3->GetObject("output", "resized/redo.jpg")->body, "resized:data");
}

// Issue #6: `imgbatch reprocess` after the outputs changed must redo them,
// and a second run under the same outputs must still skip.
TEST_F(WorkerTest, OutputsOfAnotherSpecAreRecomputedAndTheSameSpecSkipped) {
  std::string etag = PutInput("spec.jpg", "data");
  auto output_spec = [&](const std::string& key) {
    auto head = clients_->s3->HeadObject("output", key);
    return head.ok() ? head->metadata["output-spec"] : head.status().ToString();
  };
  // One worker whose fake switches specs between messages: the same as
  // restarting workers with new [outputs] (a restart here would leave moto
  // serving the stopped worker's abandoned long poll).
  StartWorker();  // spec A
  Send(Created("spec.jpg", etag));
  ASSERT_TRUE(
      WaitFor([&] { return Stats().images_processed == 1 && Stats().messages_deleted == 1; }));
  EXPECT_EQ(output_spec("resized/spec.jpg"), "resized:A");

  processor_.SetSpec("B");
  Send(Created("spec.jpg", etag));
  ASSERT_TRUE(
      WaitFor([&] { return Stats().images_processed == 2 && Stats().messages_deleted == 2; }));
  EXPECT_EQ(Stats().images_skipped, 0u);
  EXPECT_EQ(output_spec("resized/spec.jpg"), "resized:B");
  EXPECT_EQ(output_spec("thumbs/spec.jpg"), "thumbs:B");

  Send(Created("spec.jpg", etag));  // spec B again
  ASSERT_TRUE(
      WaitFor([&] { return Stats().images_skipped == 1 && Stats().messages_deleted == 3; }));
  EXPECT_EQ(processor_.calls(), 2);
}

// Two versions of one key processed at once by two workers: the older one
// (fetched first, finishing last) must not overwrite the newer outputs.
TEST_F(WorkerTest, OlderVersionNeverOverwritesNewerOutputs) {
  std::string old_etag = PutInput("race.jpg", "v1");
  Send(Created("race.jpg", old_etag));
  processor_.Gate();
  StartWorker();
  // Worker A holds v1's bytes and is processing them.
  ASSERT_TRUE(WaitFor([&] { return processor_.calls() == 1; }));

  std::string new_etag = PutInput("race.jpg", "v2");
  auto other_queue = clients_->CreateQueue("jobs-other");
  ASSERT_TRUE(other_queue.ok());
  ASSERT_TRUE(clients_->sqs->SendMessage(*other_queue, Created("race.jpg", new_etag)).ok());
  FakeProcessor other_processor;
  WorkerOptions other_options = options_;
  other_options.queue_url = *other_queue;
  Worker other(*clients_->s3, *clients_->sqs, other_processor, other_options);
  ASSERT_TRUE(other.Start().ok());
  Status other_status;
  std::thread other_thread([&] { other_status = other.Run(); });
  bool newer_written = WaitFor([&] {
    auto stats = other.stats();
    return stats.images_processed == 1 && stats.messages_deleted == 1;
  });
  other.Stop();
  other_thread.join();
  ASSERT_TRUE(newer_written);

  processor_.Open();  // worker A now tries to write v1's outputs
  ASSERT_TRUE(WaitFor([&] { return Stats().stale_events == 1 && Stats().messages_deleted == 1; }));
  for (const char* key : {"resized/race.jpg", "thumbs/race.jpg"}) {
    auto output = clients_->s3->GetObject("output", key);
    ASSERT_TRUE(output.ok()) << output.status().ToString();
    EXPECT_EQ(output->info.metadata["source-etag"], new_etag) << key;
    EXPECT_NE(output->body.find("v2"), std::string::npos) << key << ": " << output->body;
  }
  EXPECT_EQ(Stats().images_processed, 0u);
  EXPECT_EQ(QueueDepth(dlq_url_), 0);
}

// An output written by someone else after this worker looked (an older
// version's slow writer) is overwritten when the input is still ours.
TEST_F(WorkerTest, LostWriteRaceIsRetriedWhileTheInputIsCurrent) {
  std::string etag = PutInput("mine.jpg", "current");
  Send(Created("mine.jpg", etag));
  processor_.Gate();
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return processor_.calls() == 1; }));
  client::PutObjectOptions older;
  older.metadata["source-etag"] = "olderversion";
  ASSERT_TRUE(clients_->s3->PutObject("output", "resized/mine.jpg", "old", older).ok());
  processor_.Open();
  ASSERT_TRUE(
      WaitFor([&] { return Stats().images_processed == 1 && Stats().messages_deleted == 1; }));
  auto resized = clients_->s3->GetObject("output", "resized/mine.jpg");
  ASSERT_TRUE(resized.ok());
  EXPECT_EQ(resized->body, "resized:current");
  EXPECT_EQ(resized->info.metadata["source-etag"], etag);
}

TEST_F(WorkerTest, PermanentFailureGoesToTheDeadLetterQueueWithItsReason) {
  std::string etag = PutInput("poison.jpg", "not an image");
  processor_.fail_ = [](int) {
    return Status(Code::kInvalidArgument, "no known image signature").WithDetail("NotAnImage");
  };
  std::string body = Created("poison.jpg", etag);
  Send(body);
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Stats().dead_lettered == 1 && Stats().messages_deleted == 1; }));
  EXPECT_EQ(QueueDepth(queue_url_), 0);

  auto dead = clients_->sqs->ReceiveMessage(dlq_url_, {10, 0, std::nullopt});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  const auto& message = (*dead)[0];
  EXPECT_EQ(message.body, body);
  EXPECT_EQ(message.message_attributes.at("ErrorCode"), "NotAnImage");
  EXPECT_NE(message.message_attributes.at("ErrorMessage").find("no known image signature"),
            std::string::npos);
  EXPECT_EQ(message.message_attributes.at("SourceQueueArn"),
            "arn:aws:sqs:us-east-1:123456789012:jobs");
  EXPECT_EQ(message.message_attributes.at("SourceKey"), "poison.jpg");
  EXPECT_EQ(clients_->s3->HeadObject("output", "resized/poison.jpg").status().code(),
            Code::kNotFound);
}

TEST_F(WorkerTest, MissingObjectGoesToTheDeadLetterQueue) {
  Send(Created("never-uploaded.jpg", "0123456789abcdef0123456789abcdef"));
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Stats().dead_lettered == 1 && Stats().messages_deleted == 1; }));
  auto dead = clients_->sqs->ReceiveMessage(dlq_url_, {10, 0, std::nullopt});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].message_attributes.at("ErrorCode"), "NoSuchKey");
  EXPECT_EQ((*dead)[0].message_attributes.at("SourceKey"), "never-uploaded.jpg");
}

// An input over the image job's limit is never read into the worker's memory:
// the event's size refuses it, and when the size is wrong the download stops
// at the limit.
TEST_F(WorkerTest, InputOverTheLimitGoesToTheDeadLetterQueueUnread) {
  processor_.max_input_bytes_ = 64;
  const std::string etag = PutInput("huge.jpg", std::string(1000, 'x'));
  // Refused by its event's size alone: there is no such object to download.
  Send(CreatedOfSize("unread.jpg", etag, 1000));
  Send(CreatedOfSize("huge.jpg", etag, 10));  // a size that understates the object
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Stats().dead_lettered == 2 && Stats().messages_deleted == 2; }));
  EXPECT_EQ(processor_.calls(), 0);
  auto dead = clients_->sqs->ReceiveMessage(dlq_url_, {10, 0, std::nullopt});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 2u);
  std::set<std::string> keys;
  for (const auto& message : *dead) {
    EXPECT_EQ(message.message_attributes.at("ErrorCode"), "TooLarge");
    keys.insert(message.message_attributes.at("SourceKey"));
  }
  EXPECT_EQ(keys, (std::set<std::string>{"huge.jpg", "unread.jpg"}));
}

// An input key S3 takes whose output key (prefix + key) S3 would refuse.
TEST_F(WorkerTest, AnOutputKeyOverTheLimitGoesToTheDeadLetterQueue) {
  const std::string key = "long/" + std::string(1011, 'b') + ".jpg";  // 1020 bytes
  Send(Created(key, "0123456789abcdef0123456789abcdef"));
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Stats().dead_lettered == 1 && Stats().messages_deleted == 1; }));
  EXPECT_EQ(processor_.calls(), 0);
  auto dead = clients_->sqs->ReceiveMessage(dlq_url_, {10, 0, std::nullopt});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].message_attributes.at("ErrorCode"), "KeyTooLongError");
}

TEST_F(WorkerTest, UnparseableMessageGoesToTheDeadLetterQueue) {
  Send("this is not json");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Stats().dead_lettered == 1 && Stats().messages_deleted == 1; }));
  auto dead = clients_->sqs->ReceiveMessage(dlq_url_, {10, 0, std::nullopt});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].message_attributes.at("ErrorCode"), "InvalidEvent");
  EXPECT_EQ((*dead)[0].message_attributes.count("SourceKey"), 0u);
}

TEST_F(WorkerTest, TransientFailureIsRetriedAfterABackoff) {
  std::string etag = PutInput("flaky.jpg", "data");
  processor_.fail_ = [](int call) {
    return call == 1 ? Status(Code::kUnavailable, "out of memory, try later") : Status::Ok();
  };
  options_.max_backoff_seconds = 1;  // the retry comes back within a second
  Send(Created("flaky.jpg", etag));
  StartWorker();
  ASSERT_TRUE(
      WaitFor([&] { return Stats().images_processed == 1 && Stats().messages_deleted == 1; }));
  EXPECT_EQ(processor_.calls(), 2);
  EXPECT_EQ(Stats().transient_failures, 1u);
  EXPECT_EQ(QueueDepth(dlq_url_), 0);
  EXPECT_EQ(clients_->s3->GetObject("output", "thumbs/flaky.jpg")->body, "thumbs:data");
}

TEST_F(WorkerTest, PermanentFailureWithoutDeadLetterQueueStaysQueued) {
  auto plain = clients_->CreateQueue("plain");
  ASSERT_TRUE(plain.ok());
  options_.queue_url = *plain;
  std::string etag = PutInput("poison.jpg", "x");
  processor_.fail_ = [](int) { return Status(Code::kCorruption, "truncated"); };
  ASSERT_TRUE(clients_->sqs->SendMessage(*plain, Created("poison.jpg", etag)).ok());
  StartWorker();
  EXPECT_TRUE(worker_->dlq_url().empty());
  ASSERT_TRUE(WaitFor([&] { return Stats().permanent_failures == 1 && Stats().in_flight == 0; }));
  StopWorker();
  worker_.reset();
  // Not deleted: hidden by the backoff until the queue's own redrive takes it.
  EXPECT_EQ(QueueDepth(*plain), 1);
  auto visible = clients_->sqs->ReceiveMessage(*plain, {10, 0, std::nullopt});
  ASSERT_TRUE(visible.ok());
  EXPECT_TRUE(visible->empty());
}

TEST_F(WorkerTest, ObjectRemovedDeletesOutputs) {
  ASSERT_TRUE(clients_->s3->PutObject("output", "resized/gone.jpg", "r").ok());
  ASSERT_TRUE(clients_->s3->PutObject("output", "thumbs/gone.jpg", "t").ok());
  Send(EventBody({{"ObjectRemoved:Delete", "gone.jpg", ""}}));
  StartWorker();
  ASSERT_TRUE(
      WaitFor([&] { return Stats().outputs_removed == 1 && Stats().messages_deleted == 1; }));
  EXPECT_EQ(clients_->s3->HeadObject("output", "resized/gone.jpg").status().code(),
            Code::kNotFound);
  EXPECT_EQ(clients_->s3->HeadObject("output", "thumbs/gone.jpg").status().code(), Code::kNotFound);
}

TEST_F(WorkerTest, HeartbeatKeepsASlowImageInvisible) {
  std::string etag = PutInput("slow.jpg", "data");
  options_.visibility_timeout = 2;
  processor_.Gate();
  Send(Created("slow.jpg", etag));
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return processor_.calls() == 1; }));
  // Three extensions, each at half the 2 s timeout, outlast the original
  // visibility: without them the message would be visible again by now.
  ASSERT_TRUE(WaitFor([&] { return Stats().heartbeats >= 3; }));
  auto stolen = clients_->sqs->ReceiveMessage(queue_url_, {10, 0, std::nullopt});
  ASSERT_TRUE(stolen.ok());
  EXPECT_TRUE(stolen->empty());
  processor_.Open();
  ASSERT_TRUE(WaitFor([&] { return Stats().messages_deleted == 1; }));
  EXPECT_EQ(processor_.calls(), 1);
}

TEST_F(WorkerTest, AStuckMessageIsNoLongerExtendedAndStopsTheWorker) {
  std::string etag = PutInput("stuck.jpg", "data");
  options_.visibility_timeout = 2;
  options_.max_message_time = std::chrono::seconds(3);
  options_.stop_timeout = std::chrono::seconds(1);
  processor_.Gate();  // an image job that does not return
  Send(Created("stuck.jpg", etag));
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return processor_.calls() == 1; }));
  // The worker stops itself once the image has run past the limit, and says
  // why: its supervisor starts a fresh process.
  ASSERT_TRUE(WaitFor([&] { return run_returned_.load(); }));
  run_thread_.join();
  EXPECT_EQ(run_status_.code(), Code::kInternal) << run_status_.ToString();
  // No longer extended: the message comes back for another worker.
  std::vector<client::SqsMessage> again;
  ASSERT_TRUE(WaitFor([&] {
    auto got = clients_->sqs->ReceiveMessage(queue_url_, {10, 0, std::nullopt});
    if (got.ok()) again = *got;
    return !again.empty();
  }));
  EXPECT_EQ(again.size(), 1u);
  processor_.Open();  // lets the stuck thread end, so that the worker can be destroyed
  worker_.reset();
}

TEST_F(WorkerTest, StopReleasesUnstartedMessagesAndFinishesInFlight) {
  options_.concurrency = 1;  // one thread, holding at most 2: one in flight, one waiting
  options_.prefetch = 0;
  std::string etag1 = PutInput("first.jpg", "1");
  std::string etag2 = PutInput("second.jpg", "2");
  processor_.Gate();
  Send(Created("first.jpg", etag1));
  Send(Created("second.jpg", etag2));
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return processor_.calls() == 1 && Stats().held == 2; }));
  std::string started = processor_.keys()[0];

  worker_->Stop();
  // The waiting message is released at once (visibility 0), not after 30 s.
  std::vector<client::SqsMessage> released;
  ASSERT_TRUE(WaitFor([&] {
    auto got = clients_->sqs->ReceiveMessage(queue_url_, {10, 0, std::nullopt});
    if (got.ok() && !got->empty()) released = *got;
    return !released.empty();
  }));
  ASSERT_EQ(released.size(), 1u);
  auto event = ParseEventMessage(released[0].body);
  ASSERT_TRUE(event.ok());
  EXPECT_NE(event->records[0].key, started);

  // The in-flight image finishes and its message is deleted before Run returns.
  processor_.Open();
  run_thread_.join();
  EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
  EXPECT_EQ(Stats().released, 1u);
  EXPECT_EQ(Stats().images_processed, 1u);
  EXPECT_EQ(Stats().messages_deleted, 1u);
  EXPECT_TRUE(clients_->s3->HeadObject("output", "resized/" + started).ok());
  worker_.reset();
}

TEST_F(WorkerTest, StopAbortsAnIdleLongPoll) {
  options_.wait_seconds = 20;
  options_.health_file = (std::filesystem::temp_directory_path() /
                          ("imgbatch-worker-health-" + std::to_string(::getpid())))
                             .string();
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(options_.health_file); }));
  worker_->Stop();
  // Run returns once the long poll is aborted (SqsClientTest.LongPollIsAbortable
  // checks the abort itself).
  run_thread_.join();
  EXPECT_TRUE(run_status_.ok());
  worker_.reset();
  std::filesystem::remove(options_.health_file);
}

}  // namespace
}  // namespace imgbatch::worker
