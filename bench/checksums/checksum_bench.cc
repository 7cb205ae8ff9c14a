// Throughput of each digest the store computes over an upload's bytes, over
// 1 MiB pieces as the store feeds them (the store's read chunk):
//   build/release/bench/checksums/checksum_bench
// MD5 runs on every upload (the ETag); the others when the client sends or
// asks for that x-amz-checksum-* (current SDKs: CRC32; the AWS CLI v2:
// CRC64NVME). Bytes/s are in the "bytes_per_second" column.
#include <benchmark/benchmark.h>

#include <boost/crc.hpp>
#include <string>

#include "common/hashing.h"

namespace {

using imgbatch::HashKind;

const std::string& Piece() {
  static const std::string piece = [] {
    std::string bytes(1 << 20, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 24);
    return bytes;
  }();
  return piece;
}

void BM_Digest(benchmark::State& state, HashKind kind) {
  const std::string& piece = Piece();
  for (auto _ : state) {
    imgbatch::Hasher hasher(kind);
    hasher.Update(piece);
    benchmark::DoNotOptimize(hasher.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * piece.size()));
}

BENCHMARK_CAPTURE(BM_Digest, md5, HashKind::kMd5);
BENCHMARK_CAPTURE(BM_Digest, sha1, HashKind::kSha1);
BENCHMARK_CAPTURE(BM_Digest, sha256, HashKind::kSha256);
BENCHMARK_CAPTURE(BM_Digest, crc32, HashKind::kCrc32);
BENCHMARK_CAPTURE(BM_Digest, crc32c, HashKind::kCrc32c);
BENCHMARK_CAPTURE(BM_Digest, crc64nvme, HashKind::kCrc64Nvme);

// The peer for the two CRCs that common/hashing computes itself (eight bytes
// per step): Boost.CRC's byte-at-a-time engine, which it replaced.
using BoostCrc32c = boost::crc_optimal<32, 0x1EDC6F41u, ~0u, ~0u, true, true>;
using BoostCrc64Nvme = boost::crc_optimal<64, 0xAD93D23594C93659ULL, ~0ULL, ~0ULL, true, true>;
template <typename Engine>
void BM_BoostByteAtATime(benchmark::State& state) {
  const std::string& piece = Piece();
  for (auto _ : state) {
    Engine crc;
    crc.process_bytes(piece.data(), piece.size());
    benchmark::DoNotOptimize(crc.checksum());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * piece.size()));
}
BENCHMARK_TEMPLATE(BM_BoostByteAtATime, BoostCrc32c)->Name("BM_BoostByteAtATime/crc32c");
BENCHMARK_TEMPLATE(BM_BoostByteAtATime, BoostCrc64Nvme)->Name("BM_BoostByteAtATime/crc64nvme");

// Combining 10,000 parts' CRCs into the whole object's, as CompleteMultipartUpload
// does for a CRC64NVME upload (the per-part cost is O(log part size)).
void BM_Crc64NvmeCombineTenThousandParts(benchmark::State& state) {
  for (auto _ : state) {
    uint64_t whole = 0;
    for (uint64_t part = 0; part < 10'000; ++part) {
      whole = imgbatch::Crc64NvmeCombine(whole, part * 0x9E3779B97F4A7C15ULL, 5 << 20);
    }
    benchmark::DoNotOptimize(whole);
  }
}
BENCHMARK(BM_Crc64NvmeCombineTenThousandParts)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
