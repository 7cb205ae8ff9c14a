// SigV4 verification and signing of the requests bench/queue sends (JSON 1.0
// SendMessageBatch of 10 x 128-byte bodies, headers as an SDK sends them).
//   build/release/bench/auth/sigv4_bench
// Verify is what the server's SQS adapter runs per request (the body's
// SHA-256 beside it is BM_BodySha256); SignRequest is the client's side.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include "auth/sigv4.h"
#include "common/hashing.h"

namespace {

using imgbatch::auth::HeaderList;

constexpr std::string_view kKeyId = "AKIABENCHMARK0000001";
constexpr std::string_view kSecret = "bench-secret-key-000000000000000000000000";

const std::chrono::system_clock::time_point kNow =
    std::chrono::sys_days(std::chrono::year{2026} / 11 / 28) + std::chrono::hours(12);

std::string Body() {
  std::string body = R"({"QueueUrl":"http://127.0.0.1:4566/000000000000/bench","Entries":[)";
  for (int i = 0; i < 10; ++i) {
    if (i > 0) body += ',';
    body += R"({"Id":"m)" + std::to_string(i) + R"(","MessageBody":")" + std::string(128, 'x') +
            R"("})";
  }
  return body + "]}";
}

// The headers of one signed request, as the server receives them.
HeaderList SignedHeaders(const std::string& body) {
  HeaderList headers{{"host", "127.0.0.1:4566"},
                     {"content-type", "application/x-amz-json-1.0"},
                     {"x-amz-target", "AmazonSQS.SendMessageBatch"},
                     {"user-agent", "aws-sdk-js/3.600.0 ua/2.0 os/linux lang/js md/nodejs#20"},
                     {"amz-sdk-invocation-id", "0b6c3c1e-58a2-4c4d-9d0e-0f3f0e1d2c3b"},
                     {"amz-sdk-request", "attempt=1; max=3"},
                     {"content-length", std::to_string(body.size())}};
  imgbatch::auth::SignRequest("POST", "/", "", headers, imgbatch::Sha256Hex(body),
                              {std::string(kKeyId), std::string(kSecret), ""}, "us-east-1", "sqs",
                              kNow);
  return headers;
}

void BM_Verify(benchmark::State& state) {
  const std::string body = Body();
  const HeaderList headers = SignedHeaders(body);
  const std::string body_hash = imgbatch::Sha256Hex(body);
  imgbatch::auth::HttpRequestView view;
  view.method = "POST";
  view.path = "/";
  view.headers = &headers;
  view.body_sha256_hex = body_hash;
  imgbatch::auth::VerifyOptions options;
  auto secrets = [](std::string_view id) -> std::optional<std::string> {
    if (id != kKeyId) return std::nullopt;
    return std::string(kSecret);
  };
  for (auto _ : state) {
    auto verified = imgbatch::auth::Verify(view, secrets, kNow, options);
    if (!verified.ok()) state.SkipWithError(verified.status().ToString().c_str());
    benchmark::DoNotOptimize(verified);
  }
}
BENCHMARK(BM_Verify);

// What the server's adapters do around Verify: the headers of the request
// either copied into a HeaderList (as before) or viewed in place.
void BM_VerifyAdapter(benchmark::State& state) {
  const bool copy = state.range(0) == 1;
  const std::string body = Body();
  const HeaderList received = SignedHeaders(body);
  const std::string body_hash = imgbatch::Sha256Hex(body);
  imgbatch::auth::VerifyOptions options;
  auto secrets = [](std::string_view id) -> std::optional<std::string> {
    if (id != kKeyId) return std::nullopt;
    return std::string(kSecret);
  };
  for (auto _ : state) {
    imgbatch::auth::HttpRequestView view;
    view.method = "POST";
    view.path = "/";
    view.body_sha256_hex = body_hash;
    HeaderList copied;
    std::vector<imgbatch::auth::HeaderField> fields;
    if (copy) {
      copied.reserve(received.size());
      for (const auto& [name, value] : received) copied.emplace_back(name, value);
      view.headers = &copied;
    } else {
      fields.reserve(received.size());
      for (const auto& [name, value] : received) fields.push_back({name, value});
      view.fields = fields;
    }
    auto verified = imgbatch::auth::Verify(view, secrets, kNow, options);
    if (!verified.ok()) state.SkipWithError(verified.status().ToString().c_str());
    benchmark::DoNotOptimize(verified);
  }
}
BENCHMARK(BM_VerifyAdapter)->ArgName("copy")->Arg(1)->Arg(0);

void BM_BodySha256(benchmark::State& state) {
  const std::string body = Body();
  for (auto _ : state) benchmark::DoNotOptimize(imgbatch::Sha256Hex(body));
}
BENCHMARK(BM_BodySha256);

void BM_SignRequest(benchmark::State& state) {
  const std::string body = Body();
  const std::string body_hash = imgbatch::Sha256Hex(body);
  const imgbatch::auth::Credentials credentials{std::string(kKeyId), std::string(kSecret), ""};
  HeaderList headers;
  for (auto _ : state) {
    headers.clear();
    headers.emplace_back("host", "127.0.0.1:4566");
    headers.emplace_back("content-type", "application/x-amz-json-1.0");
    headers.emplace_back("x-amz-target", "AmazonSQS.SendMessageBatch");
    imgbatch::auth::SignRequest("POST", "/", "", headers, body_hash, credentials, "us-east-1",
                                "sqs", kNow);
    benchmark::DoNotOptimize(headers);
  }
}
BENCHMARK(BM_SignRequest);

}  // namespace

BENCHMARK_MAIN();
