#include "cli/up_command.h"

#include <memory>

#include "server/up.h"

namespace imgbatch::cli {

void AddUpCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<server::UpOptions>();
  CLI::App* up = app.add_subcommand(
      "up", "Run the whole pipeline on this machine: S3 + SQS on one port, workers, dashboard");
  up->add_option("--data-dir", options->data_dir,
                 "Data directory (locked; created if missing; IMGBATCH_DATA_DIR)")
      ->envname("IMGBATCH_DATA_DIR")
      ->capture_default_str();
  up->add_option("--config", options->config,
                 "imgbatch.toml (also IMGBATCH_CONFIG); none = the seed's defaults");
  up->add_option("--max-workers", options->max_workers,
                 "Upper bound of the worker pool (0 = no workers; default: the config's, "
                 "else the cores available)")
      ->check(CLI::Range(0, 1024));
  up->add_option("--listen", options->listen, "HOST:PORT to listen on")->capture_default_str();
  up->add_option("--tls-cert", options->tls_cert, "PEM certificate: serve HTTPS");
  up->add_option("--tls-key", options->tls_key, "PEM private key for --tls-cert");
  up->add_flag("--insecure", options->insecure,
               "Allow a non-loopback --listen address without TLS");
  up->add_option("--domain", options->domain,
                 "Domain for virtual-host addressing (<bucket>.<domain>)")
      ->capture_default_str();
  up->add_option("--region", options->region, "Region the server answers for")
      ->capture_default_str();
  up->add_option("--account-id", options->account_id, "Account id in queue URLs and ARNs")
      ->capture_default_str();
  up->add_option("--io-threads", options->io_threads, "HTTP I/O threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  up->add_option("--log-format", options->log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  up->add_option("--log-level", options->log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  up->callback([options, &exit_code] { exit_code = server::RunUp(*options); });
}

}  // namespace imgbatch::cli
