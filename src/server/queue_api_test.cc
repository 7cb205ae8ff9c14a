// In-process tests of /-/api/queues/...: a real queue engine on a temporary
// database with a pinned clock, requests through HandleApi (so the one
// authorization check is exercised too).
#include "server/queue_api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "auth/sigv4.h"
#include "common/hashing.h"
#include "http/testing.h"
#include "server/operator_api.h"

namespace imgbatch::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kToken[] = "test-token-0123456789abcdef0123456789";

class QueueApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("queue_api_test_" + RandomHex(6));
    std::filesystem::create_directories(dir_);
    db::Options options;
    options.path = (dir_ / "test.db").string();
    db_ = std::move(db::Database::Open(options).value());
    queues_ = std::move(queue::QueueEngine::Open(*db_, clock_).value());
    ASSERT_TRUE(queues_->CreateQueue("batch-dlq", {}, {}).ok());
    ASSERT_TRUE(
        queues_
            ->CreateQueue("batch-queue",
                          {{"VisibilityTimeout", "1"},
                           {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:)"
                                             R"(000000000000:batch-dlq","maxReceiveCount":1})"}},
                          {})
            .ok());
    ctx_.queues = queues_.get();
    ctx_.api_token = kToken;
  }
  void TearDown() override {
    queues_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<http::FakeExchange> Call(std::string method, std::string target,
                                           std::string body = {}, bool authorized = true) {
    http::Headers headers;
    if (authorized) headers.Add("Authorization", std::string("Bearer ") + kToken);
    return http::Call([this](std::shared_ptr<http::Exchange> ex) { HandleApi(ctx_, *ex); },
                      std::move(method), std::move(target), std::move(headers), std::move(body));
  }

  std::string SendFailure(const std::string& key) {
    queue::SendRequest r;
    r.body = R"({"Records":[]})";
    r.attributes["ErrorCode"] = {"String", "NotAnImage"};
    r.attributes["ErrorMessage"] = {"String", "not a JPEG"};
    r.attributes["SourceKey"] = {"String", key};
    r.attributes["SourceQueueArn"] = {"String", "arn:aws:sqs:us-east-1:000000000000:batch-queue"};
    r.attributes["Raw"] = {"Binary", std::string("\x01\x02", 2)};
    auto sent = queues_->Send("batch-dlq", std::move(r));
    EXPECT_TRUE(sent.ok());
    return sent.ok() ? sent->message_id : "";
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<queue::QueueEngine> queues_;
  OperatorContext ctx_;
};

TEST_F(QueueApiTest, NeedsTheToken) {
  auto ex = Call("GET", "/-/api/queues/batch-dlq/messages", "", /*authorized=*/false);
  EXPECT_EQ(ex->response().status, 401);
  EXPECT_EQ(json::parse(ex->BodyText())["error"], "Unauthorized");
}

TEST_F(QueueApiTest, RootKeySignaturesAreAcceptedOtherKeysAreNot) {
  auth::KeyRegistry keys;
  keys.Put({"AKIAROOT000000000001", "root-secret", "root", auth::Policy::AllowAll(), true});
  keys.Put({"AKIAWORKER0000000001", "worker-secret", "worker", auth::Policy::AllowAll(), false});
  ctx_.key_registry = &keys;
  auto signed_call = [&](const std::string& id, const std::string& secret, std::string_view payload,
                         std::string body) {
    auth::HeaderList list = {{"host", "127.0.0.1:4566"}};
    auth::SignRequest("GET", "/-/api/queues/batch-dlq/messages", "max=5", list, payload,
                      {id, secret, ""}, "us-east-1", "s3", std::chrono::system_clock::now());
    http::Headers headers;
    for (const auto& [name, value] : list) headers.Add(name, value);
    return http::Call([this](std::shared_ptr<http::Exchange> ex) { HandleApi(ctx_, *ex); }, "GET",
                      "/-/api/queues/batch-dlq/messages?max=5", std::move(headers),
                      std::move(body));
  };
  EXPECT_EQ(signed_call("AKIAROOT000000000001", "root-secret", auth::kUnsignedPayload, "")
                ->response()
                .status,
            200);
  EXPECT_EQ(signed_call("AKIAROOT000000000001", "root-secret", auth::kEmptySha256Hex, "")
                ->response()
                .status,
            200);
  // A body the signature claims a hash for, unchecked here: refused.
  EXPECT_EQ(signed_call("AKIAROOT000000000001", "root-secret", auth::kEmptySha256Hex, "{}")
                ->response()
                .status,
            401);
  EXPECT_EQ(signed_call("AKIAROOT000000000001", "wrong-secret", auth::kUnsignedPayload, "")
                ->response()
                .status,
            401);
  EXPECT_EQ(signed_call("AKIAWORKER0000000001", "worker-secret", auth::kUnsignedPayload, "")
                ->response()
                .status,
            401);
}

TEST_F(QueueApiTest, PeekListsMessagesWithAttributesWithoutReceiving) {
  const std::string id = SendFailure("photos/a b.jpg");
  auto ex = Call("GET", "/-/api/queues/batch-dlq/messages");
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  json doc = json::parse(ex->BodyText());
  EXPECT_EQ(doc["queue"], "batch-dlq");
  ASSERT_EQ(doc["messages"].size(), 1u);
  const json& m = doc["messages"][0];
  EXPECT_EQ(m["message_id"], id);
  EXPECT_EQ(m["body"], R"({"Records":[]})");
  EXPECT_EQ(m["sent_timestamp"], clock_.NowMillis());
  EXPECT_EQ(m["receive_count"], 0);
  EXPECT_EQ(m["attributes"]["ErrorCode"], "NotAnImage");
  EXPECT_EQ(m["attributes"]["ErrorMessage"], "not a JPEG");
  EXPECT_EQ(m["attributes"]["SourceKey"], "photos/a b.jpg");
  EXPECT_EQ(m["attributes"]["SourceQueueArn"], "arn:aws:sqs:us-east-1:000000000000:batch-queue");
  EXPECT_EQ(m["attributes"]["Raw"], "AQI=");  // binary values in base64
  // A second peek sees the same message, still never received.
  auto again = Call("GET", "/-/api/queues/batch-dlq/messages");
  EXPECT_EQ(json::parse(again->BodyText())["messages"][0]["receive_count"], 0);
  EXPECT_EQ(queues_->Counts("batch-dlq")->visible, 1);
}

TEST_F(QueueApiTest, PeekMaxDefaultsCapsAndValidates) {
  for (int i = 0; i < 3; ++i) SendFailure("k" + std::to_string(i));
  EXPECT_EQ(
      json::parse(Call("GET", "/-/api/queues/batch-dlq/messages?max=2")->BodyText())["messages"]
          .size(),
      2u);
  EXPECT_EQ(
      json::parse(Call("GET", "/-/api/queues/batch-dlq/messages?max=5000")->BodyText())["messages"]
          .size(),
      3u);  // capped at 1000, not refused
  for (const char* bad : {"0", "-1", "x"}) {
    auto ex = Call("GET", std::string("/-/api/queues/batch-dlq/messages?max=") + bad);
    EXPECT_EQ(ex->response().status, 400) << bad;
    EXPECT_EQ(json::parse(ex->BodyText())["error"], "InvalidParameterValue");
  }
}

TEST_F(QueueApiTest, UnknownQueuesAndEndpointsAre404) {
  auto peek = Call("GET", "/-/api/queues/nope/messages");
  EXPECT_EQ(peek->response().status, 404);
  EXPECT_EQ(json::parse(peek->BodyText())["error"], "QueueDoesNotExist");
  EXPECT_EQ(Call("DELETE", "/-/api/queues/nope/messages/x")->response().status, 404);
  EXPECT_EQ(Call("POST", "/-/api/queues/nope/redrive")->response().status, 404);
  EXPECT_EQ(Call("GET", "/-/api/queues/batch-dlq/other")->response().status, 404);
  EXPECT_EQ(Call("PUT", "/-/api/queues/batch-dlq/messages")->response().status, 405);
}

TEST_F(QueueApiTest, DeleteByIdIs204ThenNotFound) {
  const std::string id = SendFailure("k");
  auto ex = Call("DELETE", "/-/api/queues/batch-dlq/messages/" + id);
  EXPECT_EQ(ex->response().status, 204);
  EXPECT_EQ(queues_->Counts("batch-dlq")->visible, 0);
  auto again = Call("DELETE", "/-/api/queues/batch-dlq/messages/" + id);
  EXPECT_EQ(again->response().status, 404);
  EXPECT_EQ(json::parse(again->BodyText())["error"], "MessageNotFound");
  // The dashboard asks for "already gone" as an answer, not a failure.
  auto gone = Call("DELETE", "/-/api/queues/batch-dlq/messages/" + id + "?missing=ok");
  EXPECT_EQ(gone->response().status, 200);
  EXPECT_EQ(json::parse(gone->BodyText())["deleted"], false);
  EXPECT_EQ(json::parse(gone->BodyText())["reason"], "MessageNotFound");
  // ... but a missing queue is still an error.
  EXPECT_EQ(Call("DELETE", "/-/api/queues/nope/messages/" + id + "?missing=ok")->response().status,
            404);
}

TEST_F(QueueApiTest, RedriveToANamedDestinationMovesTheMessages) {
  SendFailure("a");
  SendFailure("b");
  auto bad = Call("POST", "/-/api/queues/batch-dlq/redrive", "{nope");
  EXPECT_EQ(bad->response().status, 400);
  auto missing = Call("POST", "/-/api/queues/batch-dlq/redrive", R"({"destination":"gone"})");
  EXPECT_EQ(missing->response().status, 404);
  auto not_dlq = Call("POST", "/-/api/queues/batch-queue/redrive");
  EXPECT_EQ(not_dlq->response().status, 400);
  EXPECT_EQ(json::parse(not_dlq->BodyText())["error"], "InvalidParameterValue");

  auto ex = Call("POST", "/-/api/queues/batch-dlq/redrive", R"({"destination":"batch-queue"})");
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  const std::string handle = json::parse(ex->BodyText())["task_handle"];
  EXPECT_FALSE(handle.empty());
  queues_->Poke();
  json tasks;
  for (int i = 0; i < 2000; ++i) {  // the engine thread runs the task
    tasks = json::parse(Call("GET", "/-/api/queues/batch-dlq/redrive")->BodyText())["tasks"];
    if (tasks.size() == 1 && tasks[0]["status"] != "RUNNING") break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["task_handle"], handle);
  EXPECT_EQ(tasks[0]["status"], "COMPLETED");
  EXPECT_EQ(tasks[0]["moved"], 2);
  EXPECT_EQ(queues_->Counts("batch-queue")->visible, 2);
  EXPECT_EQ(queues_->Counts("batch-dlq")->visible, 0);
}

// The dashboard's cookie opens the queue routes too (one check for all of
// /-/api/), and its state-changing calls need the CSRF token and our origin.
TEST_F(QueueApiTest, CookieCallsNeedCsrfToChangeState) {
  std::string id = SendFailure("poison.jpg");
  dashboard::Access access(kToken);
  std::string set_cookie = access.SessionCookie(false);
  http::Headers browser;
  browser.Add("Cookie", set_cookie.substr(0, set_cookie.find(';')));
  browser.Add("Host", "127.0.0.1:4566");
  auto call = [this](std::string method, std::string target, http::Headers h) {
    return http::Call([this](std::shared_ptr<http::Exchange> ex) { HandleApi(ctx_, *ex); },
                      std::move(method), std::move(target), std::move(h));
  };
  EXPECT_EQ(call("GET", "/-/api/queues/batch-dlq/messages", browser)->response().status, 200);
  EXPECT_EQ(call("DELETE", "/-/api/queues/batch-dlq/messages/" + id, browser)->response().status,
            403);
  http::Headers forged = browser;
  forged.Add("X-CSRF-Token", access.CsrfToken());
  forged.Add("Origin", "http://attacker.example");
  EXPECT_EQ(call("POST", "/-/api/queues/batch-dlq/redrive", forged)->response().status, 403);
  EXPECT_EQ(queues_->Peek("batch-dlq", 10)->size(), 1u);  // nothing changed

  http::Headers page = browser;
  page.Add("X-CSRF-Token", access.CsrfToken());
  page.Add("Origin", "http://127.0.0.1:4566");
  EXPECT_EQ(call("DELETE", "/-/api/queues/batch-dlq/messages/" + id, page)->response().status, 204);
  EXPECT_TRUE(queues_->Peek("batch-dlq", 10)->empty());
}

}  // namespace
}  // namespace imgbatch::server
