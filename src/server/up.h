// `imgbatch up`: the composition root. Opens the data directory, the database
// and the engines, wires the protocol adapters onto one HTTP listener, prints
// how to reach it, and serves until SIGINT/SIGTERM, then shuts down cleanly.
// Wiring only: every rule lives in the modules it wires.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace imgbatch::server {

struct UpOptions {
  std::string data_dir = "./imgbatch-data";
  std::string config;    // imgbatch.toml; "" = IMGBATCH_CONFIG or the seed defaults
  int max_workers = -1;  // -1 = the configuration's; 0 = no workers (S3 + SQS only)
  std::string listen = "127.0.0.1:4566";
  std::string tls_cert;
  std::string tls_key;
  bool insecure = false;             // allow a non-loopback listener without TLS
  std::string domain = "localhost";  // virtual-host addressing: <bucket>.<domain>
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  int io_threads = 2;
  int handler_threads = 32;
  std::string log_format = "text";
  std::string log_level = "info";
};

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

// "HOST:PORT", "[::1]:PORT" or ":PORT" (loopback). kInvalidArgument otherwise.
Result<ListenAddress> ParseListen(const std::string& listen);
bool IsLoopback(const std::string& host);
// Refuses a non-loopback listener without TLS unless insecure, and half-given TLS.
Status CheckListenSecurity(const UpOptions& options, const ListenAddress& address);

// Runs the server; returns the process exit code (0 after a clean stop).
int RunUp(const UpOptions& options);

}  // namespace imgbatch::server
