// queue_bench: load generator for the SQS side of `imgbatch up` (not a test:
// no thresholds; bench/queue/run.sh starts a server and runs it).
//
// Each of --connections keep-alive connections loops SendMessageBatch(10) ->
// ReceiveMessage(10) -> DeleteMessageBatch(what it received) in the AWS JSON
// 1.0 protocol, SigV4-signed with auth::SignRequest like any SDK (payload
// hash of every body; the derived key cached per day as SDKs cache it), with
// distinct message bodies, and checks the replies as SDKs do: receipt
// handles, per-entry failures, MD5OfMessageBody of each sent entry and
// MD5OfBody of each received message (a mismatch counts as an error). Sends
// are durable (the server acknowledges after fsync). Then the same client, with
// the same connections, loops GET /-/healthy: the HTTP ceiling. Printed:
// messages/s (deleted, i.e. sent + received + deleted end to end), latency
// p50/p99 per operation, requests/s of both phases and their ratio.
//
// With --backlog N the cycle phase runs twice: on an empty-ish queue, then
// again after N messages were sent in bulk ahead of it (each cycle keeps the
// backlog constant: it sends 10 and deletes 10), so receive p99 and the
// server's RSS (--server-pid) can be compared with and without the backlog.
// The backlog goes into a second queue (<queue>-backlog), and after the fill
// the two alternate --rounds times on the same server (with, without, with,
// without ...): one pair of 10 s phases swings 1.0-1.3x between runs of the
// same binary, so the median of the pairs' receive p99 ratios is printed too.
// The first two lines (cycles; cycles with backlog) are the single pair of
// earlier sessions: an empty database, then the first phase behind the backlog.
//
// With --fifo the queue is a FIFO queue (<queue>.fifo, content-based
// deduplication) and each connection's ten entries are ten message groups of
// its own: the server's FIFO path (deduplication, group holding) under the
// same cycle.
//
// With --tenant T every message of the standard queue carries MessageGroupId
// T: one tenant with all the traffic, which the server finds noisy within a
// second, so receives take the fair queues' path with no quiet message to
// find (its most expensive case).
//
// With --rate R the cycles are paced at R messages/s in all (each connection
// starts a cycle every connections*10/R seconds, the connections spread
// evenly over that period) instead of as fast as the server answers: at a
// rate below saturation, the latencies with and without a backlog show what
// the backlog itself costs a receive, not the queueing of a saturated closed
// loop whose every extra microsecond of CPU per message becomes latency.
//
// With --pollers N,M,... the cycles give way to long polls at scale: for
// each count in turn, that many connections each park a ReceiveMessage
// (WaitTimeSeconds 20, one message) on a queue of their own, and once the
// server's /-/metrics shows them all parked, one more connection sends
// --poll-messages messages at --poll-rate, each body its send time; a poll
// that gets one records the delivery latency (send start to receive reply)
// and polls again. Printed per count: delivery p50/p99/max, the server's
// threads and RSS with them all parked, its CPU per message; then the p99
// ratio of the largest count to the smallest.
//
// One io_context on --threads threads; every connection is a coroutine.
#include <utility>  // before Asio: 1.74's awaitable.hpp needs std::exchange

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

#include <simdjson.h>
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "common/fd_limit.h"
#include "common/hashing.h"

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;
template <class T>
using Task = asio::awaitable<T, Executor>;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
constexpr asio::use_awaitable_t<Executor> kAwait;
constexpr int kBatch = 10;
constexpr size_t kReadBufferBytes = 64 << 10;

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "4566";
  std::string region = "us-east-1";
  std::string queue = "queue-bench";
  int connections = 16;
  int threads = 1;
  double seconds = 10;
  int body_bytes = 128;
  int64_t backlog = 0;
  int rounds = 3;   // with/without pairs after the backlog fill
  double rate = 0;  // cycles' messages/s in all; 0: as fast as the server answers
  int server_pid = 0;
  bool fifo = false;               // a FIFO queue: each entry its own message group per connection
  bool dead_letter_queue = false;  // a RedrivePolicy to <queue>-dlq, as the pipeline's queue has
  std::string tenant;        // a standard queue's MessageGroupId for every message (fair queues)
  std::vector<int> pollers;  // --pollers: long-poll phases, one per count
  int poll_messages = 2000;
  double poll_rate = 200;  // messages/s sent to the parked polls
  imgbatch::auth::Credentials credentials;
};

// Latencies of one operation, microseconds.
struct Samples {
  std::vector<int64_t> us;
  void Add(SteadyClock::duration d) {
    us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  }
  double Percentile(double p) {
    if (us.empty()) return 0;
    std::sort(us.begin(), us.end());
    size_t i = std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())));
    return static_cast<double>(us[i]) / 1000.0;  // ms
  }
};

// What one connection measured in one phase; merged at the end.
struct Tally {
  int64_t requests = 0;
  int64_t sent = 0;
  int64_t received = 0;
  int64_t deleted = 0;
  int64_t errors = 0;
  Samples send, receive, remove, other;
  void Merge(const Tally& t) {
    requests += t.requests;
    sent += t.sent;
    received += t.received;
    deleted += t.deleted;
    errors += t.errors;
    for (auto [to, from] : {std::pair{&send, &t.send},
                            {&receive, &t.receive},
                            {&remove, &t.remove},
                            {&other, &t.other}}) {
      to->us.insert(to->us.end(), from->us.begin(), from->us.end());
    }
  }
};

// What the cycles need from a reply, as an SDK reads it: the entries of the
// top-level arrays Successful, Failed and Messages, each message's receipt
// handle, and MD5s checked like the SDKs check them (MD5OfMessageBody of each
// sent entry against the body sent under its Id, MD5OfBody of each received
// message against its Body).
struct Reply {
  int64_t successful = 0;
  int64_t failed = 0;
  int64_t md5_mismatches = 0;
  // Of Messages, in order, each as its JSON string literal (quotes and
  // escapes included): what a DeleteMessageBatch body carries. They point
  // into the connection's reply body and last until its next call.
  std::vector<std::string_view> receipt_handles;
  std::vector<std::string_view> bodies;  // of Messages, unescaped, as long as the handles
  int64_t messages() const { return static_cast<int64_t>(receipt_handles.size()); }
  void Clear() {
    successful = failed = md5_mismatches = 0;
    receipt_handles.clear();
    bodies.clear();
  }
};

// The MD5s (hex) of the bodies a SendMessageBatch sent, by entry Id ("0".."9").
using SentMd5s = std::array<std::string, kBatch>;

// Reads a reply with simdjson's On-Demand parser: no DOM and no copies of
// strings that are not needed (nlohmann's lexer, even through SAX, was the
// largest single cost of the client: a push_back per character).
// Throws simdjson::simdjson_error on a reply that is not the expected JSON.
void ReadReply(simdjson::ondemand::document& doc, const SentMd5s* sent, Reply& reply) {
  namespace od = simdjson::ondemand;
  for (od::field top : doc.get_object()) {
    const std::string_view name = top.unescaped_key();
    const bool successful = name == "Successful", failed = name == "Failed";
    if (!successful && !failed && name != "Messages") continue;  // skipped unread
    for (od::object entry : top.value().get_array()) {
      if (failed) {
        ++reply.failed;
        continue;
      }
      std::string_view id, md5, body, handle;
      for (od::field f : entry) {
        const std::string_view key = f.unescaped_key();
        if (key == "Id") id = f.value().get_string();
        if (key == "MD5OfMessageBody" || key == "MD5OfBody") md5 = f.value().get_string();
        if (key == "Body") body = f.value().get_string();
        if (key == "ReceiptHandle") handle = f.value().raw_json_token();
      }
      if (successful) {
        ++reply.successful;
        if (sent == nullptr) continue;  // a DeleteMessageBatch reply: ids only
        const size_t i = id.size() == 1 ? static_cast<size_t>(id[0] - '0') : kBatch;
        if (i >= kBatch || md5 != (*sent)[i]) ++reply.md5_mismatches;
      } else {
        reply.receipt_handles.push_back(handle);
        reply.bodies.push_back(body);
        if (handle.empty() || md5 != imgbatch::Md5Hex(body)) ++reply.md5_mismatches;
      }
    }
  }
}

// One keep-alive HTTP/1.1 connection issuing signed SQS JSON calls. Socket
// and coroutines are bound to the io_context's own executor type rather
// than any_io_executor: type erasure was a visible share of the client's
// CPU per request, in both phases.
class Connection {
 public:
  // `buffer_bytes`: the read buffer and reply body kept from call to call
  // (a long poll's small replies need far less than a batch's).
  Connection(asio::io_context& io, const Options& options, size_t buffer_bytes = kReadBufferBytes)
      : socket_(io.get_executor()),
        timer_(io.get_executor()),
        options_(options),
        host_(options.host + ":" + options.port) {
    // Beast reads into whatever capacity the buffer has, at least 512 bytes:
    // a flat_buffer that starts empty stays at 512 and a 3 KB ReceiveMessage
    // reply took six recv calls and six trips through the scheduler.
    buffer_.reserve(buffer_bytes);
    // Requests and the reply body keep their storage from call to call (as
    // a client reusing its buffers would): no allocation per request for them.
    request_ = {bhttp::verb::post, "/", 11};
    healthy_request_ = {bhttp::verb::get, "/-/healthy", 11};
    healthy_request_.set(bhttp::field::host, host_);
    response_.body().reserve(buffer_bytes);
  }

  Task<void> Connect() {
    Resolver resolver(socket_.get_executor());
    auto endpoints = co_await resolver.async_resolve(options_.host, options_.port, kAwait);
    co_await asio::async_connect(socket_, endpoints, kAwait);
    socket_.set_option(tcp::no_delay(true));
  }

  // An SQS JSON 1.0 call with a JSON body; the reply's summary, or nullptr
  // on an error reply or one that is not the expected JSON. `sent`: the
  // MD5s to check a SendMessageBatch reply against.
  Task<const Reply*> Call(std::string_view op, std::string_view body,
                          const SentMd5s* sent = nullptr) {
    Prepare(op, body);
    co_await RoundTrip(request_);
    const auto& res = response_;
    if (res.result_int() != 200) {
      if (errors_printed_++ < 3) {
        std::fprintf(stderr, "%.*s: HTTP %u %s\n", static_cast<int>(op.size()), op.data(),
                     res.result_int(), res.body().c_str());
      }
      co_return nullptr;
    }
    co_return Parse(op, sent);
  }

  // --rate's pacing.
  Task<void> WaitUntil(SteadyClock::time_point t) {
    timer_.expires_at(t);
    co_await timer_.async_wait(kAwait);
  }

  Task<bool> Healthy() {
    co_await RoundTrip(healthy_request_);
    co_return response_.result_int() == 200;
  }

  // GET `target` (unsigned: /-/ endpoints); the body, or "" unless 200.
  Task<std::string> Get(std::string target) {
    bhttp::request<bhttp::string_body> request{bhttp::verb::get, target, 11};
    request.set(bhttp::field::host, host_);
    co_await RoundTrip(request);
    co_return response_.result_int() == 200 ? response_.body() : std::string();
  }

 private:
  // A POST / signed as the SDKs sign SQS JSON calls (the body hash is in the
  // signature; SQS sends no x-amz-content-sha256).
  void Prepare(std::string_view op, std::string_view body) {
    headers_.clear();
    headers_.emplace_back("host", host_);
    headers_.emplace_back("content-type", "application/x-amz-json-1.0");
    headers_.emplace_back("x-amz-target", std::string("AmazonSQS.").append(op));
    imgbatch::auth::SignRequest("POST", "/", "", headers_, imgbatch::Sha256Hex(body),
                                options_.credentials, options_.region, "sqs",
                                std::chrono::system_clock::now());
    for (const auto& [name, value] : headers_) request_.set(name, value);
    request_.body().assign(body);
    request_.prepare_payload();
  }

  const Reply* Parse(std::string_view op, const SentMd5s* sent) {
    // simdjson reads up to SIMDJSON_PADDING bytes past the end of its input:
    // the reply body's spare capacity (kept across calls) is that padding.
    std::string& body = response_.body();
    if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
      body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    }
    reply_.Clear();
    try {
      simdjson::ondemand::document doc =
          parser_.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
      ReadReply(doc, sent, reply_);
    } catch (const simdjson::simdjson_error& e) {
      if (errors_printed_++ < 3) {
        std::fprintf(stderr, "%.*s: unreadable reply (%s): %s\n", static_cast<int>(op.size()),
                     op.data(), e.what(), body.c_str());
      }
      return nullptr;
    }
    if (reply_.md5_mismatches > 0 && errors_printed_++ < 3) {
      std::fprintf(stderr, "%.*s: %lld MD5 mismatches: %s\n", static_cast<int>(op.size()),
                   op.data(), static_cast<long long>(reply_.md5_mismatches), body.c_str());
    }
    return &reply_;
  }

  // Sends `request`; the reply lands in response_, whose body string keeps
  // its capacity (Beast's string_body reader appends to it).
  Task<void> RoundTrip(bhttp::request<bhttp::string_body>& request) {
    co_await bhttp::async_write(socket_, request, kAwait);
    std::string body = std::move(response_.body());
    body.clear();
    response_ = {};
    response_.body() = std::move(body);
    co_await bhttp::async_read(socket_, buffer_, response_, kAwait);
  }

  Socket socket_;
  asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Executor> timer_;
  const Options& options_;
  const std::string host_;  // the Host header
  imgbatch::auth::HeaderList headers_;
  bhttp::request<bhttp::string_body> request_;
  bhttp::request<bhttp::string_body> healthy_request_;
  boost::beast::flat_buffer buffer_;
  bhttp::response<bhttp::string_body> response_;
  simdjson::ondemand::parser parser_;
  Reply reply_;
  int errors_printed_ = 0;
};

std::string QueueUrl(const Options& o) {
  return "http://" + o.host + ":" + o.port + "/000000000000/" + o.queue;
}

// The SendMessageBatch body of one connection, serialized once by nlohmann
// (escaping included); each call writes the next message numbers over the
// start of the ten bodies in place (digits need no escaping) and computes
// their MD5s, which the reply must echo.
class SendBatchBody {
 public:
  SendBatchBody(const Options& o, int64_t first) : counter_(first) {
    Json entries = Json::array();
    for (int i = 0; i < kBatch; ++i) {
      entries.push_back({{"Id", std::to_string(i)},
                         {"MessageBody", std::string(static_cast<size_t>(o.body_bytes), 'm')}});
      // FIFO: ten groups per connection (deduplicated by content: the
      // bodies differ), so receives are not held back by other connections'
      // messages in flight more than the groups make them.
      if (o.fifo) entries.back()["MessageGroupId"] = "g" + std::to_string(first + i);
      if (!o.tenant.empty()) entries.back()["MessageGroupId"] = o.tenant;
    }
    text_ = Json{{"QueueUrl", QueueUrl(o)}, {"Entries", std::move(entries)}}.dump();
    constexpr std::string_view kKey = "\"MessageBody\":\"";
    for (size_t i = 0, at = 0; i < kBatch; ++i) {
      at = text_.find(kKey, at) + kKey.size();
      bodies_[i] = {at, static_cast<size_t>(o.body_bytes)};
    }
  }
  // The next body to send; md5s() then holds its entries' MD5s.
  const std::string& Next() {
    for (size_t i = 0; i < kBatch; ++i) {
      auto [at, size] = bodies_[i];
      char digits[24];
      auto end = std::to_chars(digits, digits + sizeof digits, counter_++).ptr;
      text_.replace(at, std::min(size, static_cast<size_t>(end - digits)), digits,
                    std::min(size, static_cast<size_t>(end - digits)));
      md5s_[i] = imgbatch::Md5Hex(std::string_view(text_).substr(at, size));
    }
    return text_;
  }
  const SentMd5s& md5s() const { return md5s_; }

 private:
  std::string text_;
  std::array<std::pair<size_t, size_t>, kBatch> bodies_;  // offset, size of each MessageBody
  SentMd5s md5s_;
  int64_t counter_;
};

// The DeleteMessageBatch body for every message of a ReceiveMessage reply:
// the receipt handles go in as the JSON string literals they came as.
std::string DeleteBody(const std::string& queue_url_json, const Reply& received) {
  std::string body;
  body.reserve(queue_url_json.size() + 64 + received.receipt_handles.size() * 96);
  body.append("{\"QueueUrl\":").append(queue_url_json).append(",\"Entries\":[");
  for (size_t i = 0; i < received.receipt_handles.size(); ++i) {
    if (i > 0) body.push_back(',');
    body.append("{\"Id\":\"").append(std::to_string(i)).append("\",\"ReceiptHandle\":");
    body.append(received.receipt_handles[i]).push_back('}');
  }
  body.append("]}");
  return body;
}

// Built outside the coroutines: GCC 12 miscompiles braced initializers with
// string literals inside a coroutine body ("array used as initializer").
std::string ReceiveBody(const Options& o) {
  return Json{{"QueueUrl", QueueUrl(o)}, {"MaxNumberOfMessages", kBatch}, {"WaitTimeSeconds", 0}}
      .dump();
}
std::string QueueUrlJson(const Options& o) { return Json(QueueUrl(o)).dump(); }

enum class Phase { kCycles, kFill, kHealthy };

// Runs one connection's loop until `deadline` (or, filling, until `fill_left`
// runs out).
Task<void> Worker(Connection& conn, const Options& o, Phase phase, SteadyClock::time_point deadline,
                  std::atomic<int64_t>& fill_left, Tally& tally, int64_t id) {
  SendBatchBody send_body(o, id * 1'000'000'000LL);
  const std::string receive_body = ReceiveBody(o);
  const std::string queue_url_json = QueueUrlJson(o);
  // --rate: this connection's cycles start every `period`, offset by its index.
  const bool paced = phase == Phase::kCycles && o.rate > 0;
  const auto period = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(o.connections * kBatch / std::max(o.rate, 1.0)));
  SteadyClock::time_point next_start =
      SteadyClock::now() + period * (id % std::max(o.connections, 1)) / std::max(o.connections, 1);
  try {
    while (SteadyClock::now() < deadline) {
      if (paced) {
        co_await conn.WaitUntil(next_start);
        // Behind schedule (a slow cycle): start now, without a burst to catch up.
        next_start = std::max(next_start + period, SteadyClock::now());
        if (next_start - period >= deadline) break;
      }
      if (phase == Phase::kHealthy) {
        auto t0 = SteadyClock::now();
        bool ok = co_await conn.Healthy();
        tally.other.Add(SteadyClock::now() - t0);
        ++tally.requests;
        if (!ok) ++tally.errors;
        continue;
      }
      if (phase == Phase::kFill && fill_left.fetch_sub(kBatch) <= 0) break;
      auto t0 = SteadyClock::now();
      const Reply* sent =
          co_await conn.Call("SendMessageBatch", send_body.Next(), &send_body.md5s());
      tally.send.Add(SteadyClock::now() - t0);
      ++tally.requests;
      if (sent == nullptr) {
        ++tally.errors;
        continue;
      }
      tally.sent += sent->successful;
      tally.errors += sent->failed + sent->md5_mismatches;
      if (phase == Phase::kFill) continue;

      auto t1 = SteadyClock::now();
      const Reply* got = co_await conn.Call("ReceiveMessage", receive_body);
      tally.receive.Add(SteadyClock::now() - t1);
      ++tally.requests;
      if (got == nullptr) {
        ++tally.errors;
        continue;
      }
      const int64_t received = got->messages();
      tally.received += received;
      tally.errors += got->md5_mismatches;
      if (received == 0) continue;
      auto t2 = SteadyClock::now();
      const Reply* deleted =
          co_await conn.Call("DeleteMessageBatch", DeleteBody(queue_url_json, *got));
      tally.remove.Add(SteadyClock::now() - t2);
      ++tally.requests;
      if (deleted == nullptr) {
        ++tally.errors;
        continue;
      }
      tally.deleted += deleted->successful;
      tally.errors += deleted->failed;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "connection %lld: %s\n", static_cast<long long>(id), e.what());
    ++tally.errors;
  }
}

// CPU time (user + system) and bytes written to storage by a process so far:
// per phase, divided by the messages, the load-independent cost of one
// message (wall-clock rates swing with whatever else runs on the machine).
struct ProcessCost {
  double cpu_seconds = 0;
  int64_t write_bytes = 0;
};

ProcessCost CostOf(int pid) {
  ProcessCost c;
  if (pid <= 0) return c;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the parenthesized command name; utime and stime are the
  // 14th and 15th fields of the line.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::atof(field.c_str());
  }
  c.cpu_seconds = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream io("/proc/" + std::to_string(pid) + "/io");
  while (std::getline(io, line)) {
    if (line.rfind("write_bytes:", 0) == 0) c.write_bytes = std::atoll(line.c_str() + 12);
  }
  return c;
}

int64_t RssKib(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return 0;
}

struct PhaseResult {
  Tally tally;
  double seconds = 0;
  ProcessCost server, client;  // spent during the phase
};

// Runs `phase` on every connection at once, on o.threads threads.
PhaseResult RunPhase(asio::io_context& io, std::vector<std::unique_ptr<Connection>>& conns,
                     const Options& o, Phase phase, double seconds, int64_t fill = 0) {
  std::vector<Tally> tallies(conns.size());
  std::atomic<int64_t> fill_left{fill};
  const ProcessCost server0 = CostOf(o.server_pid), client0 = CostOf(getpid());
  const auto start = SteadyClock::now();
  const auto deadline = phase == Phase::kFill
                            ? SteadyClock::time_point::max()
                            : start + std::chrono::duration_cast<SteadyClock::duration>(
                                          std::chrono::duration<double>(seconds));
  for (size_t i = 0; i < conns.size(); ++i) {
    asio::co_spawn(io,
                   Worker(*conns[i], o, phase, deadline, fill_left, tallies[i],
                          static_cast<int64_t>(i) + static_cast<int64_t>(phase) * 100),
                   asio::detached);
  }
  io.restart();
  std::vector<std::thread> threads;
  for (int t = 1; t < o.threads; ++t) threads.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();
  PhaseResult r;
  r.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const ProcessCost server1 = CostOf(o.server_pid), client1 = CostOf(getpid());
  r.server = {server1.cpu_seconds - server0.cpu_seconds, server1.write_bytes - server0.write_bytes};
  r.client = {client1.cpu_seconds - client0.cpu_seconds, client1.write_bytes - client0.write_bytes};
  for (const auto& t : tallies) r.tally.Merge(t);
  return r;
}

// Sends one call outside the measured phases (setup).
void Setup(asio::io_context& io, Connection& conn, const std::string& op, const Json& params) {
  const Reply* out = nullptr;
  const std::string body = params.dump();
  asio::co_spawn(
      io, [&]() -> Task<void> { out = co_await conn.Call(op, body); }, asio::detached);
  io.restart();
  io.run();
  if (out == nullptr) {
    std::fprintf(stderr, "setup %s failed\n", op.c_str());
    std::exit(1);
  }
}

void PrintCycles(const char* label, PhaseResult& r, int64_t rss_before, int64_t rss_after) {
  Tally& t = r.tally;
  std::printf(
      "%s: %.0f messages/s (%lld sent, %lld received, %lld deleted in %.1f s), "
      "%.0f requests/s, %lld errors\n",
      label, static_cast<double>(t.deleted) / r.seconds, static_cast<long long>(t.sent),
      static_cast<long long>(t.received), static_cast<long long>(t.deleted), r.seconds,
      static_cast<double>(t.requests) / r.seconds, static_cast<long long>(t.errors));
  std::printf(
      "  latency ms p50/p99: send-batch %.2f/%.2f, receive %.2f/%.2f, delete-batch "
      "%.2f/%.2f\n",
      t.send.Percentile(0.5), t.send.Percentile(0.99), t.receive.Percentile(0.5),
      t.receive.Percentile(0.99), t.remove.Percentile(0.5), t.remove.Percentile(0.99));
  if (t.deleted > 0) {
    const double n = static_cast<double>(t.deleted);
    std::printf("  per message: server %.1f us CPU, %.0f bytes written; client %.1f us CPU\n",
                r.server.cpu_seconds * 1e6 / n, static_cast<double>(r.server.write_bytes) / n,
                r.client.cpu_seconds * 1e6 / n);
  }
  if (rss_before > 0) {
    std::printf("  server RSS: %.1f MiB before, %.1f MiB after\n",
                static_cast<double>(rss_before) / 1024.0, static_cast<double>(rss_after) / 1024.0);
  }
}

// The queue that holds the backlog: the same server and database as the
// measured queue, so that phases with and without it can alternate.
Options BacklogQueue(const Options& o) {
  Options b = o;
  b.queue += "-backlog";
  return b;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One line per alternating phase: what the with/without comparison reads.
void PrintRoundPhase(const char* label, int round, PhaseResult& r) {
  Tally& t = r.tally;
  const double n = std::max<double>(1, static_cast<double>(t.deleted));
  std::printf(
      "  round %d %-8s %6.0f messages/s, receive p50/p99 %.2f/%.2f ms, send-batch p99 %.2f ms, "
      "server %.1f us CPU, %.0f bytes written per message, %lld errors\n",
      round, label, static_cast<double>(t.deleted) / r.seconds, t.receive.Percentile(0.5),
      t.receive.Percentile(0.99), t.send.Percentile(0.99), r.server.cpu_seconds * 1e6 / n,
      static_cast<double>(r.server.write_bytes) / n, static_cast<long long>(t.errors));
}

// Fills the backlog queue with o.backlog messages, then alternates cycles on
// it (with) and on the measured queue (without), o.rounds times each.
// `first`: the cycles phase on an empty database before the fill.
void RunBacklogRounds(asio::io_context& io, std::vector<std::unique_ptr<Connection>>& conns,
                      const Options& o, PhaseResult& first) {
  const Options backlog = BacklogQueue(o);
  PhaseResult fill = RunPhase(io, conns, backlog, Phase::kFill, 0, o.backlog);
  std::printf(
      "backlog fill: %lld messages in %.1f s (%.0f sends/s, send-batch only), "
      "%lld errors\n",
      static_cast<long long>(fill.tally.sent), fill.seconds,
      static_cast<double>(fill.tally.sent) / fill.seconds,
      static_cast<long long>(fill.tally.errors));
  // The server checkpoints the fill's WAL (hundreds of MB) into the
  // database after the fill: wait until its writes stop, so that the next
  // phase's bytes and CPU per message are the cycles' own.
  const auto settle_start = SteadyClock::now();
  for (int64_t last = -1; SteadyClock::now() - settle_start < std::chrono::seconds(120);) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const int64_t now_written = CostOf(o.server_pid).write_bytes;
    if (now_written == last) break;
    last = now_written;
  }
  std::printf("  server writes settled after the fill in %.1f s\n",
              std::chrono::duration<double>(SteadyClock::now() - settle_start).count());

  std::vector<PhaseResult> with, without;
  for (int round = 1; round <= o.rounds; ++round) {
    const int64_t rss2 = RssKib(o.server_pid);
    with.push_back(RunPhase(io, conns, backlog, Phase::kCycles, o.seconds));
    const int64_t rss3 = RssKib(o.server_pid);
    if (round == 1) {
      // The lines of earlier sessions: the first phase behind the backlog
      // against the empty database's.
      PrintCycles("cycles with backlog", with.back(), rss2, rss3);
      const double before = first.tally.receive.Percentile(0.99);
      const double behind = with.back().tally.receive.Percentile(0.99);
      std::printf("  receive p99 with %lld behind / without: %.2f ms / %.2f ms = %.2fx\n",
                  static_cast<long long>(o.backlog), behind, before,
                  behind / std::max(0.001, before));
      // On a shared machine every operation slows together; receive relative
      // to send in the same phase shows what the backlog itself costs.
      std::printf("  receive p99 / send-batch p99: %.2f without the backlog, %.2f with it\n",
                  before / std::max(0.001, first.tally.send.Percentile(0.99)),
                  behind / std::max(0.001, with.back().tally.send.Percentile(0.99)));
      std::printf("rounds: %d x (cycles on %s with %lld behind, then on %s without)\n", o.rounds,
                  backlog.queue.c_str(), static_cast<long long>(o.backlog), o.queue.c_str());
    }
    PrintRoundPhase("with", round, with.back());
    without.push_back(RunPhase(io, conns, o, Phase::kCycles, o.seconds));
    PrintRoundPhase("without", round, without.back());
  }
  std::vector<double> ratios, p99_with, p99_without, p50_ratios;
  for (size_t i = 0; i < with.size(); ++i) {
    p99_with.push_back(with[i].tally.receive.Percentile(0.99));
    p99_without.push_back(without[i].tally.receive.Percentile(0.99));
    ratios.push_back(p99_with.back() / std::max(0.001, p99_without.back()));
    p50_ratios.push_back(with[i].tally.receive.Percentile(0.5) /
                         std::max(0.001, without[i].tally.receive.Percentile(0.5)));
  }
  std::string each;
  for (double r : ratios) each += (each.empty() ? "" : ", ") + std::to_string(r).substr(0, 4);
  std::printf(
      "  receive p99 with / without, median of %zu rounds: %.2fx (each: %s); median p99 %.2f / "
      "%.2f ms; median p50 ratio %.2fx\n",
      ratios.size(), Median(ratios), each.c_str(), Median(p99_with), Median(p99_without),
      Median(p50_ratios));
}

// --pollers: one phase of `count` parked long polls.
struct PollResult {
  int count = 0;
  Samples delivery, send;
  int64_t delivered = 0;
  int64_t errors = 0;
  double park_seconds = 0;
  double send_seconds = 0;
  int threads_idle = 0, threads_parked = 0;
  int64_t rss_idle_kib = 0, rss_parked_kib = 0;
  ProcessCost server;  // during the timed sends
};

int ThreadCount(int pid) {
  if (pid <= 0) return 0;
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

// The value of an unlabelled sample in Prometheus text; -1 when absent.
double MetricValue(std::string_view text, std::string_view name) {
  const std::string key = "\n" + std::string(name) + " ";
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return -1;
  return std::atof(std::string(text.substr(at + key.size(), 32)).c_str());
}

// One long poll, again and again, until it receives "stop". Bodies are the
// send times (NowNs) of the sender below.
Task<void> Poller(Connection& conn, const std::string& receive_body, PollResult& r) {
  try {
    for (;;) {
      const Reply* got = co_await conn.Call("ReceiveMessage", receive_body);
      const int64_t now = NowNs();
      if (got == nullptr) {
        ++r.errors;
        co_return;
      }
      r.errors += got->md5_mismatches;
      for (std::string_view body : got->bodies) {
        if (body == "stop") co_return;
        int64_t sent_ns = 0;
        std::from_chars(body.data(), body.data() + body.size(), sent_ns);
        r.delivery.us.push_back((now - sent_ns) / 1000);
        ++r.delivered;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "poll: %s\n", e.what());
    ++r.errors;
  }
}

// Polls /-/metrics until `count` receives are parked (at most a minute).
Task<void> WaitParked(Connection& conn, int count) {
  const auto give_up = SteadyClock::now() + std::chrono::minutes(1);
  while (SteadyClock::now() < give_up) {
    const std::string text = co_await conn.Get("/-/metrics");
    if (MetricValue(text, "imgbatch_queue_receives_waiting") >= count) co_return;
    co_await conn.WaitUntil(SteadyClock::now() + std::chrono::milliseconds(20));
  }
  throw std::runtime_error("the polls did not all park within a minute");
}

// Sends o.poll_messages messages at o.poll_rate, each body its send time,
// then one "stop" per poll.
Task<void> SendToPolls(Connection& conn, const Options& o, const std::string& queue_url_json,
                       const std::vector<std::string>& stop_bodies, PollResult& r) {
  const auto period = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(1.0 / std::max(o.poll_rate, 1.0)));
  const ProcessCost server0 = CostOf(o.server_pid);
  const auto start = SteadyClock::now();
  auto next = start;
  std::string body;
  for (int i = 0; i < o.poll_messages; ++i) {
    co_await conn.WaitUntil(next);
    next = std::max(next + period, SteadyClock::now());
    const auto t0 = SteadyClock::now();
    body.assign("{\"QueueUrl\":").append(queue_url_json).append(",\"MessageBody\":\"");
    body.append(std::to_string(NowNs())).append("\"}");
    if (co_await conn.Call("SendMessage", body) == nullptr) ++r.errors;
    r.send.Add(SteadyClock::now() - t0);
  }
  // The last deliveries land within a few ms; let them before measuring.
  co_await conn.WaitUntil(SteadyClock::now() + std::chrono::milliseconds(200));
  r.send_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const ProcessCost server1 = CostOf(o.server_pid);
  r.server = {server1.cpu_seconds - server0.cpu_seconds, server1.write_bytes - server0.write_bytes};
  for (const std::string& stops : stop_bodies) {
    if (co_await conn.Call("SendMessageBatch", stops) == nullptr) ++r.errors;
  }
}

// The SendMessageBatch bodies that carry one "stop" per poll.
std::vector<std::string> StopBodies(const Options& q, int count) {
  std::vector<std::string> bodies;
  for (int sent = 0; sent < count; sent += kBatch) {
    Json entries = Json::array();
    for (int i = 0; i < std::min(kBatch, count - sent); ++i) {
      entries.push_back({{"Id", std::to_string(i)}, {"MessageBody", "stop"}});
    }
    bodies.push_back(Json{{"QueueUrl", QueueUrl(q)}, {"Entries", std::move(entries)}}.dump());
  }
  return bodies;
}

// Parks `count` long polls on a queue of their own, then sends to them.
// Single-threaded (the polls share `r`).
PollResult RunPollPhase(asio::io_context& io, const Options& o, int count, int index) {
  Options q = o;
  q.queue = o.queue + "-polls-" + std::to_string(index);
  PollResult r;
  r.count = count;
  Connection control(io, o);
  std::vector<std::unique_ptr<Connection>> polls;
  asio::co_spawn(io, control.Connect(), asio::detached);
  for (int i = 0; i < count; ++i) {
    polls.push_back(std::make_unique<Connection>(io, q, 4096));
    asio::co_spawn(io, polls.back()->Connect(), asio::detached);
  }
  io.restart();
  io.run();
  Setup(io, control, "CreateQueue",
        {{"QueueName", q.queue}, {"Attributes", {{"VisibilityTimeout", "43200"}}}});
  r.threads_idle = ThreadCount(o.server_pid);
  r.rss_idle_kib = RssKib(o.server_pid);
  const std::string receive_body =
      Json{{"QueueUrl", QueueUrl(q)}, {"WaitTimeSeconds", 20}, {"MaxNumberOfMessages", 1}}.dump();
  const std::string queue_url_json = QueueUrlJson(q);
  const std::vector<std::string> stop_bodies = StopBodies(q, count);
  const auto start = SteadyClock::now();
  for (auto& poll : polls) asio::co_spawn(io, Poller(*poll, receive_body, r), asio::detached);
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        co_await WaitParked(control, count);
        r.park_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
        r.threads_parked = ThreadCount(o.server_pid);
        r.rss_parked_kib = RssKib(o.server_pid);
        co_await SendToPolls(control, o, queue_url_json, stop_bodies, r);
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "long polls: %s\n", ex.what());
          std::exit(1);
        }
      });
  io.restart();
  io.run();
  Setup(io, control, "DeleteQueue", {{"QueueUrl", QueueUrl(q)}});
  return r;
}

void PrintPollPhase(PollResult& r, const Options& o) {
  const double n = std::max<double>(1, static_cast<double>(r.delivered));
  std::printf(
      "long polls: %5d parked in %.2f s; server threads %d (idle %d), RSS %.1f MiB (idle %.1f, "
      "%+.1f KiB per poll); %lld messages at %.0f/s: delivery p50/p99/max %.2f/%.2f/%.2f ms, "
      "send p50/p99 %.2f/%.2f ms; server %.1f us CPU per message; %lld errors\n",
      r.count, r.park_seconds, r.threads_parked, r.threads_idle,
      static_cast<double>(r.rss_parked_kib) / 1024.0, static_cast<double>(r.rss_idle_kib) / 1024.0,
      static_cast<double>(r.rss_parked_kib - r.rss_idle_kib) / std::max(1, r.count),
      static_cast<long long>(r.delivered), o.poll_rate, r.delivery.Percentile(0.5),
      r.delivery.Percentile(0.99), r.delivery.Percentile(1.0), r.send.Percentile(0.5),
      r.send.Percentile(0.99), r.server.cpu_seconds * 1e6 / n,
      static_cast<long long>(r.errors + (o.poll_messages - r.delivered)));
}

// Every count of --pollers in turn; then the delivery p99 of the largest
// count over the smallest's (medians when a count repeats).
void RunLongPolls(asio::io_context& io, const Options& o) {
  std::map<int, std::vector<double>> p99s;
  for (size_t i = 0; i < o.pollers.size(); ++i) {
    PollResult r = RunPollPhase(io, o, o.pollers[i], static_cast<int>(i));
    PrintPollPhase(r, o);
    p99s[r.count].push_back(r.delivery.Percentile(0.99));
  }
  if (p99s.size() < 2) return;
  const auto& [fewest, low] = *p99s.begin();
  const auto& [most, high] = *p99s.rbegin();
  std::printf("ratio: delivery p99 with %d parked / with %d = %.2fx (%.2f / %.2f ms)\n", most,
              fewest, Median(high) / std::max(0.001, Median(low)), Median(high), Median(low));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string endpoint = "http://127.0.0.1:4566";
  CLI::App app{"SQS load generator: send-batch -> receive -> delete-batch cycles, then /-/healthy"};
  app.add_option("--endpoint", endpoint, "http://HOST:PORT of imgbatch up");
  app.add_option("--connections", o.connections, "concurrent keep-alive connections");
  app.add_option("--threads", o.threads, "client threads");
  app.add_option("--seconds", o.seconds, "length of each measured phase");
  app.add_option("--body-bytes", o.body_bytes, "message body size")->check(CLI::Range(16, 262144));
  app.add_option("--backlog", o.backlog, "also measure with this many messages queued ahead");
  app.add_option("--rounds", o.rounds,
                 "with --backlog: alternate this many with/without-backlog phase pairs")
      ->check(CLI::Range(1, 100));
  app.add_option("--rate", o.rate,
                 "pace the cycles at this many messages/s in all (0: as fast as answered)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--queue", o.queue, "queue name (created if missing)");
  app.add_option("--region", o.region, "signing region");
  app.add_option("--server-pid", o.server_pid, "report this process's RSS per phase");
  app.add_flag("--fifo", o.fifo,
               "use a FIFO queue (<queue>.fifo, content-based deduplication, ten message groups "
               "per connection)");
  app.add_flag("--dead-letter-queue", o.dead_letter_queue,
               "give the standard queue a RedrivePolicy (maxReceiveCount 5) to <queue>-dlq, as "
               "the reference architecture's queue has: every receive checks it")
      ->excludes("--fifo");
  app.add_option("--tenant", o.tenant,
                 "a standard queue's messages all carry this MessageGroupId: one tenant with all "
                 "the traffic, noisy from the first sample on, so every receive takes the fair "
                 "queues' path (its worst case: no quiet message to find)");
  app.add_option("--pollers", o.pollers,
                 "instead of the cycles: long-poll phases with this many parked polls each "
                 "(comma-separated, e.g. 1,5000)")
      ->delimiter(',')
      ->check(CLI::Range(1, 50000));
  app.add_option("--poll-messages", o.poll_messages, "with --pollers: messages sent per phase")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--poll-rate", o.poll_rate, "with --pollers: messages/s sent to the polls")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (o.fifo && !o.tenant.empty()) {
    std::fprintf(stderr, "--fifo does not take --tenant\n");
    return 2;
  }
  if (o.fifo) {
    if (o.backlog > 0) {
      std::fprintf(stderr, "--fifo does not take --backlog\n");
      return 2;
    }
    if (!o.queue.ends_with(".fifo")) o.queue += ".fifo";
  }
  const char* key = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (key == nullptr || secret == nullptr) {
    std::fprintf(stderr, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n");
    return 2;
  }
  o.credentials = {key, secret, ""};
  std::string hostport = endpoint.substr(endpoint.find("://") + 3);
  if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    o.host = hostport.substr(0, colon);
    o.port = hostport.substr(colon + 1);
  } else {
    o.host = hostport;
    o.port = "80";
  }

  asio::io_context io;
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < o.connections; ++i) {
    conns.push_back(std::make_unique<Connection>(io, o));
    asio::co_spawn(io, conns.back()->Connect(), asio::detached);
  }
  io.run();
  Json create = {{"QueueName", o.queue}};
  if (o.fifo) {
    create["Attributes"] = {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}};
  }
  if (o.dead_letter_queue) {
    const std::string dlq = o.queue + "-dlq";
    Setup(io, *conns[0], "CreateQueue", {{"QueueName", dlq}});
    const Json redrive = {
        {"deadLetterTargetArn", "arn:aws:sqs:" + o.region + ":000000000000:" + dlq},
        {"maxReceiveCount", 5}};
    create["Attributes"] = {{"RedrivePolicy", redrive.dump()}};
  }
  Setup(io, *conns[0], "CreateQueue", create);
  Setup(io, *conns[0], "PurgeQueue", {{"QueueUrl", QueueUrl(o)}});
  if (o.backlog > 0) {
    const Options backlog = BacklogQueue(o);
    Setup(io, *conns[0], "CreateQueue", {{"QueueName", backlog.queue}});
    Setup(io, *conns[0], "PurgeQueue", {{"QueueUrl", QueueUrl(backlog)}});
  }

  if (!o.pollers.empty()) {
    const int most = *std::max_element(o.pollers.begin(), o.pollers.end());
    imgbatch::RaiseOpenFileLimit(static_cast<uint64_t>(most) + 256);
    std::printf("# queue_bench: long polls (WaitTimeSeconds 20, one message each), JSON 1.0\n");
    RunLongPolls(io, o);
    return 0;
  }
  std::printf(
      "# queue_bench: %d connections, %d client thread(s), %.0f s per phase, "
      "%d-byte bodies, batches of %d, JSON 1.0 protocol%s\n",
      o.connections, o.threads, o.seconds, o.body_bytes, kBatch,
      o.fifo             ? ", FIFO queue (ten message groups per connection)"
      : o.tenant.empty() ? ""
                         : ", every message of one tenant (MessageGroupId)");
  if (o.rate > 0) std::printf("# cycles paced at %.0f messages/s in all (--rate)\n", o.rate);
  int64_t rss0 = RssKib(o.server_pid);
  PhaseResult cycles = RunPhase(io, conns, o, Phase::kCycles, o.seconds);
  int64_t rss1 = RssKib(o.server_pid);
  PrintCycles("cycles", cycles, rss0, rss1);
  const double cycle_rps = static_cast<double>(cycles.tally.requests) / cycles.seconds;

  if (o.backlog > 0) RunBacklogRounds(io, conns, o, cycles);

  PhaseResult healthy = RunPhase(io, conns, o, Phase::kHealthy, o.seconds);
  const double healthy_rps = static_cast<double>(healthy.tally.requests) / healthy.seconds;
  const double healthy_n = std::max<double>(1, static_cast<double>(healthy.tally.requests));
  std::printf(
      "/-/healthy: %.0f requests/s, p50 %.2f ms, p99 %.2f ms, %lld errors; per request: server "
      "%.1f us CPU, client %.1f us CPU\n",
      healthy_rps, healthy.tally.other.Percentile(0.5), healthy.tally.other.Percentile(0.99),
      static_cast<long long>(healthy.tally.errors), healthy.server.cpu_seconds * 1e6 / healthy_n,
      healthy.client.cpu_seconds * 1e6 / healthy_n);
  std::printf(
      "ratio: queue requests/s / healthy requests/s = %.2f (%.0f / %.0f); "
      "%.0f messages/s\n",
      cycle_rps / healthy_rps, cycle_rps, healthy_rps,
      static_cast<double>(cycles.tally.deleted) / cycles.seconds);
  return 0;
}
