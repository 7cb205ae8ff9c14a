// receipt_bench: what a receipt handle costs the thread that writes it (the
// one that finishes a receive) and the one that reads it (a delete's I/O
// thread), keyed (queue/receipt.h: SipHash-2-4 MAC) beside the unkeyed
// handles of earlier versions (random hex, nothing checked), and the MAC
// alone beside HMAC-SHA256, the alternative. Not part of the test run.
//
//   build/release/bench/queue/receipt_bench
#include <benchmark/benchmark.h>

#include <charconv>
#include <string>

#include "common/hashing.h"
#include "queue/message.h"
#include "queue/receipt.h"

namespace imgbatch::queue {
namespace {

const ReceiptCodec& Codec() {
  static const ReceiptCodec codec(RandomBytes(16), 0);
  return codec;
}

// A typical receipt: the queue's id, a seq and a receive time of today's size.
Receipt Typical() { return Receipt{3, 12'345'678, 1, 1'764'450'000'123, false}; }

// Earlier versions' handle: the numbers, then 16 random hex digits.
std::string EncodeUnkeyed(const Receipt& r) {
  std::string raw = "ib1:";
  for (int64_t n : {r.queue_id, r.seq, r.receive_count}) {
    char digits[24];
    raw.append(digits, std::to_chars(std::begin(digits), std::end(digits), n).ptr).push_back(':');
  }
  raw.append(HexEncode(PooledRandomBytes(8)));
  return Base64Encode(raw);
}

void BM_EncodeKeyed(benchmark::State& state) {
  const Receipt r = Typical();
  for (auto _ : state) benchmark::DoNotOptimize(Codec().Encode(r));
}
BENCHMARK(BM_EncodeKeyed);

void BM_EncodeUnkeyed(benchmark::State& state) {
  const Receipt r = Typical();
  for (auto _ : state) benchmark::DoNotOptimize(EncodeUnkeyed(r));
}
BENCHMARK(BM_EncodeUnkeyed);

void BM_DecodeKeyed(benchmark::State& state) {
  const std::string handle = Codec().Encode(Typical());
  for (auto _ : state) benchmark::DoNotOptimize(Codec().Decode(handle));
}
BENCHMARK(BM_DecodeKeyed);

// Read as the legacy shape (the numbers only), which is all earlier
// versions checked.
void BM_DecodeUnkeyed(benchmark::State& state) {
  const std::string handle = EncodeUnkeyed(Typical());
  for (auto _ : state) benchmark::DoNotOptimize(Codec().Decode(handle));
}
BENCHMARK(BM_DecodeUnkeyed);

const std::string kMacInput = "ib2:3:12345678:1:1764450000123";

void BM_MacSipHash24(benchmark::State& state) {
  const std::string key = RandomBytes(16);
  for (auto _ : state) benchmark::DoNotOptimize(SipHash24(key, kMacInput));
}
BENCHMARK(BM_MacSipHash24);

void BM_MacHmacSha256(benchmark::State& state) {
  const std::string key = RandomBytes(16);
  for (auto _ : state) benchmark::DoNotOptimize(HmacSha256(key, kMacInput));
}
BENCHMARK(BM_MacHmacSha256);

}  // namespace
}  // namespace imgbatch::queue

BENCHMARK_MAIN();
