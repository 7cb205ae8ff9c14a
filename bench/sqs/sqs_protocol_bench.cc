// The SQS adapter's per-request work outside the engine, on bench/queue's
// shapes (SendMessageBatch of 10 x 128-byte bodies, ReceiveMessage of 10).
//   build/release/bench/sqs/sqs_protocol_bench
// BM_ReceiveReplyJsonDom is how a ReceiveMessage reply was written before
// session 5 (an ordered_json built, dumped, freed — on the db writer);
// BM_ReceiveReplyResultWriter is how it is written now (RenderResult of an
// Output, on the I/O thread). BM_Parse*Batch are the request side: the
// body read into an nlohmann DOM (simdjson, then copied) and freed.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "sqs/protocol.h"

namespace {

using imgbatch::sqs::Json;
using imgbatch::sqs::Output;
using imgbatch::sqs::Protocol;
using imgbatch::sqs::ResultWriter;

struct Message {
  std::string message_id = "0192f7a6-1c2d-8e3f-a000-00000000beef";
  std::string receipt_handle = "aWIxOjE6MTIzNDU2OjE6YjZjM2MxZTU4YTI0YzRkOWQwZTBmM2YwZTFkMmMzYg==";
  std::string md5_of_body = "5d41402abc4b2a76b9719d911017c592";
  std::string body = std::string(128, 'x');
  std::string sent_ms = "1764331200000";
};

std::vector<Message> Received() { return std::vector<Message>(10); }

void BM_ReceiveReplyJsonDom(benchmark::State& state) {
  const std::vector<Message> messages = Received();
  for (auto _ : state) {
    Json messages_json = Json::array();
    for (const Message& m : messages) {
      Json j = Json::object();
      j["MessageId"] = m.message_id;
      j["ReceiptHandle"] = m.receipt_handle;
      j["MD5OfBody"] = m.md5_of_body;
      j["Body"] = m.body;
      j["Attributes"] = Json{{"SentTimestamp", m.sent_ms}};
      messages_json.push_back(std::move(j));
    }
    Json result = Json::object();
    result["Messages"] = std::move(messages_json);
    std::string body = result.dump(-1, ' ', false, Json::error_handler_t::replace);
    benchmark::DoNotOptimize(body);
  }
}
BENCHMARK(BM_ReceiveReplyJsonDom);

void BM_ReceiveReplyResultWriter(benchmark::State& state) {
  const std::vector<Message> messages = Received();
  const Output output = [&messages](ResultWriter& w) {
    w.StartObject();
    w.Key("Messages");
    w.StartArray();
    for (const Message& m : messages) {
      w.StartObject();
      w.Member("MessageId", m.message_id);
      w.Member("ReceiptHandle", m.receipt_handle);
      w.Member("MD5OfBody", m.md5_of_body);
      w.Member("Body", m.body);
      w.Key("Attributes");
      w.StartObject();
      w.Member("SentTimestamp", m.sent_ms);
      w.EndObject();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  };
  for (auto _ : state) {
    auto response = imgbatch::sqs::RenderResult(Protocol::kJson, "ReceiveMessage", output, "r");
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_ReceiveReplyResultWriter);

// A JSON 1.0 request of `action` whose Entries are ten objects with
// `member` set to `value` (as bench/queue sends them).
void ParseBatch(benchmark::State& state, const std::string& action, const std::string& member,
                const std::string& value) {
  imgbatch::http::RequestHead head;
  head.method = "POST";
  head.headers.Add("x-amz-target", "AmazonSQS." + action);
  std::string body = R"({"QueueUrl":"http://127.0.0.1:4566/000000000000/bench","Entries":[)";
  for (int i = 0; i < 10; ++i) {
    if (i > 0) body += ',';
    body += R"({"Id":"m)" + std::to_string(i) + R"(",")" + member + R"(":")" + value + R"("})";
  }
  body += "]}";
  for (auto _ : state) {
    auto request = imgbatch::sqs::ParseRequest(head, body);
    benchmark::DoNotOptimize(request);
  }
}

void BM_ParseSendBatch(benchmark::State& state) {
  ParseBatch(state, "SendMessageBatch", "MessageBody", std::string(128, 'x'));
}
BENCHMARK(BM_ParseSendBatch);

void BM_ParseDeleteBatch(benchmark::State& state) {
  ParseBatch(state, "DeleteMessageBatch", "ReceiptHandle", Message().receipt_handle);
}
BENCHMARK(BM_ParseDeleteBatch);

}  // namespace

BENCHMARK_MAIN();
