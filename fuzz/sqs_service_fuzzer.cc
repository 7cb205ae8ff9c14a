// Fuzzes the SQS service end to end and with state: a sequence of requests,
// in either protocol, against a real queue engine on a fresh database, so
// that odd parameters reach the engine's semantics (visibility, batches,
// redrive, move tasks, retention) and not only the parsers (sqs_fuzzer).
// Each request must get a well-formed reply in its own protocol's shape and
// never a 5xx, and no request may hang: a reply that does not come (a long
// poll) gets the clock moved past any wait time, and must come then.
//
// Input, one request per line (readable, so seeds are written by hand):
//   J <Operation> <JSON body>    AWS JSON 1.0, X-Amz-Target AmazonSQS.<Operation>
//   Q <Operation> <form body>    query protocol, "Action=<Operation>&" + form body
//   + <seconds>                  moves the engine's clock forward
//   - <seconds>                  steps the wall clock alone back (an NTP step, a restored
//                                snapshot): durations the engine times must not stretch
//   S                            runs the engine's once-a-second sweep now (retention, the
//                                fair queues' sample that finds noisy tenants, the recount
//                                of messages in flight near the quota, lowered here to 40)
//   R                            checks the counters (below), then restarts: engine and database
//   closed and opened
//                                again on the same file (what a restart loads)
// SQS_FUZZ_VERBOSE=1 prints each request's reply (for writing seeds).
// Queue URLs name queues as http://localhost:4566/000000000000/<name>.
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "common/clock.h"
#include "common/strings.h"
#include "db/database.h"
#include "http/testing.h"
#include "queue/queue_engine.h"
#include "request_lines.h"
#include "sqs/authenticator.h"
#include "sqs/sqs_service.h"

namespace {

using namespace std::chrono_literals;
using imgbatch::Result;

constexpr int kMaxRequests = 24;

// Lets every request through, whatever a queue's policy says: the fuzzer is
// after the semantics behind authentication (sigv4_fuzzer covers the
// signature parser, policy_fuzzer the policies).
class AllowAll final : public imgbatch::sqs::Authenticator {
 public:
  Result<imgbatch::sqs::Caller> Authenticate(const imgbatch::http::RequestHead&,
                                             std::string_view) override {
    return imgbatch::sqs::Caller{"AKIDFUZZ"};
  }
  bool Allowed(const imgbatch::sqs::Caller&, std::string_view, std::string_view,
               const imgbatch::auth::RequestContext&, const imgbatch::auth::Policy*) override {
    return true;
  }
  std::optional<imgbatch::auth::PrincipalIdentity> Principal(const imgbatch::sqs::Caller&,
                                                             std::string_view account) override {
    return imgbatch::auth::PrincipalIdentity::Root(account);
  }
};

[[noreturn]] void Fail(const char* what, std::string_view line, const std::string& reply) {
  imgbatch::fuzz::Fail("sqs_service_fuzzer", what, line, reply);
}

// A fresh database, engine and service per input, in a directory of its own,
// so every input replays alone.
class Harness {
 public:
  Harness() { Open(); }
  ~Harness() { Close(); }

  void Run(std::string_view line) {
    if (line == "R") {
      CheckCountsExact();
      Close();
      Open();
      return;
    }
    if (line == "S") {
      if (imgbatch::Status swept = engine_->ExpireMessages(); !swept.ok()) {
        Fail("the sweep failed", line, swept.ToString());
      }
      return;
    }
    if (line.size() >= 2 && (line[0] == '+' || line[0] == '-')) {
      const std::chrono::seconds step(std::clamp(
          std::strtol(std::string(line.substr(1)).c_str(), nullptr, 10), 0L, 40L * 24 * 3600));
      if (line[0] == '+') {
        clock_.Advance(step);
      } else {
        clock_.StepWall(-step);
      }
      engine_->Poke();
      return;
    }
    if (line.size() < 3 || (line[0] != 'J' && line[0] != 'Q') || line[1] != ' ') return;
    const bool json = line[0] == 'J';
    std::string_view rest = line.substr(2);
    const size_t space = rest.find(' ');
    const std::string_view op = rest.substr(0, space);
    const std::string_view body = space == std::string_view::npos ? "" : rest.substr(space + 1);

    imgbatch::http::Headers headers;
    headers.Add("Host", "localhost:4566");
    std::string payload;
    if (json) {
      headers.Add("Content-Type", "application/x-amz-json-1.0");
      headers.Add("X-Amz-Target", "AmazonSQS." + std::string(op));
      payload = std::string(body);
    } else {
      headers.Add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
      payload = "Action=" + std::string(op) + "&" + std::string(body);
    }
    auto exchange =
        std::make_shared<imgbatch::http::FakeExchange>("POST", "/", headers, std::move(payload));
    service_->Handle(exchange);
    if (!exchange->Wait(50ms)) {
      // A long poll: no wait is longer than 20 s.
      clock_.Advance(21s);
      engine_->Poke();
      if (!exchange->Wait(10s)) Fail("no reply, even after the clock passed every wait", line, "");
    }
    Check(exchange, json, line);
    if (std::getenv("SQS_FUZZ_VERBOSE")) {  // for writing seeds: what each line got
      std::fprintf(stderr, "%.*s\n  -> %d %s\n", static_cast<int>(line.size()), line.data(),
                   exchange->response().status, exchange->BodyText().c_str());
    }
  }

  // The counters are exact on one node: for every queue, visible + in
  // flight + delayed is the number of its rows. A move task or a retention
  // sweep may be between its commit and its in-memory count for a moment,
  // so a difference must last before it is a finding.
  void CheckCountsExact() {
    for (const std::string& name : engine_->ListQueues("")) {
      for (int attempt = 0;; ++attempt) {
        auto counts = engine_->Counts(name);
        if (!counts.ok()) break;  // deleted meanwhile
        const int64_t counted = counts->visible + counts->not_visible + counts->delayed;
        const int64_t rows = RowsOf(name);
        if (counted == rows) break;
        if (attempt == 20) {
          Fail("message counters differ from the queue's rows", name,
               std::to_string(counted) + " counted, " + std::to_string(rows) + " rows");
        }
        std::this_thread::sleep_for(50ms);
      }
    }
  }

 private:
  int64_t RowsOf(const std::string& queue) {
    int64_t rows = -1;
    imgbatch::Status st = db_->Read([&](imgbatch::db::Conn& conn) -> imgbatch::Status {
      IMGBATCH_ASSIGN_OR_RETURN(imgbatch::db::Statement count,
                                conn.Prepare("SELECT count(*) FROM queue_messages WHERE queue_id = "
                                             "(SELECT id FROM queues WHERE name = ?1)"));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, count.Bind(1, queue).Step());
      if (row) rows = count.ColumnInt(0);
      return imgbatch::Status::Ok();
    });
    if (!st.ok()) Fail("counting rows failed", queue, st.ToString());
    return rows;
  }

  void Open() {
    imgbatch::db::Options options;
    options.path = (dir_.path() / "fuzz.db").string();
    auto db = imgbatch::db::Database::Open(options);
    if (!db.ok()) Fail("database did not open", "", db.status().ToString());
    db_ = std::move(*db);
    // Quotas low enough for a short input to reach them (OverLimit, the
    // sweep's recount, RequestThrottled until "+ <seconds>").
    imgbatch::queue::EngineOptions engine_options;
    engine_options.max_in_flight = 40;
    engine_options.max_in_flight_fifo = 6;
    engine_options.fifo_calls_per_second = 5;
    auto engine = imgbatch::queue::QueueEngine::Open(*db_, clock_, engine_options);
    if (!engine.ok()) Fail("engine did not open", "", engine.status().ToString());
    engine_ = std::move(*engine);
    service_ = std::make_unique<imgbatch::sqs::SqsService>(*engine_, std::make_shared<AllowAll>());
  }

  void Close() {
    service_.reset();
    engine_.reset();  // completes parked polls first (sqs_service.h)
    db_.reset();
  }

  static void Check(const std::shared_ptr<imgbatch::http::FakeExchange>& exchange, bool json,
                    std::string_view line) {
    const int status = exchange->response().status;
    const std::string reply = exchange->BodyText();
    if (status >= 500) Fail("server error", line, reply);
    // Whatever a request stored comes back in replies that clients decode.
    if (!imgbatch::CountXmlCharacters(reply)) {
      Fail("reply is not Unicode text a client can decode", line, reply);
    }
    if (json) {
      const auto doc = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded() || !doc.is_object()) Fail("reply is not a JSON object", line, reply);
      if (status != 200 && !doc.contains("__type")) Fail("JSON error without __type", line, reply);
      CheckCounters(doc, line, reply);
    } else {
      pugi::xml_document doc;
      if (!doc.load_string(reply.c_str())) Fail("reply is not XML", line, reply);
      if (status != 200 && !doc.child("ErrorResponse"))
        Fail("query error not an ErrorResponse", line, reply);
    }
  }

  // The Approximate* counters are exact on one node: never negative.
  static void CheckCounters(const nlohmann::json& doc, std::string_view line,
                            const std::string& reply) {
    const auto attributes = doc.find("Attributes");
    if (attributes == doc.end() || !attributes->is_object()) return;
    for (const auto& [name, value] : attributes->items()) {
      if (name.rfind("ApproximateNumberOfMessages", 0) != 0) continue;
      if (!value.is_string() || value.get<std::string>().empty() ||
          value.get<std::string>()[0] == '-') {
        Fail("a message counter is not a count", line, reply);
      }
    }
  }

  // First: made before the database in it, removed after it is closed.
  imgbatch::fuzz::ScratchDir dir_{"sqs_service_fuzzer"};
  imgbatch::ManualClock clock_;
  std::unique_ptr<imgbatch::db::Database> db_;
  std::unique_ptr<imgbatch::queue::QueueEngine> engine_;
  std::unique_ptr<imgbatch::sqs::SqsService> service_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Harness harness;
  imgbatch::fuzz::ForEachLine(input, kMaxRequests,
                              [&](std::string_view line) { harness.Run(line); });
  harness.CheckCountsExact();
  return 0;
}
