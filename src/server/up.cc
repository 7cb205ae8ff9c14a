#include "server/up.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "auth/policy.h"
#include "common/logging.h"
#include "common/strings.h"
#include "db/database.h"
#include "http/server.h"
#include "s3/s3_service.h"
#include "s3/sigv4_authenticator.h"
#include "server/data_dir.h"
#include "server/root_key.h"
#include "server/routing.h"
#include "store/object_store.h"

namespace imgbatch::server {
namespace {

constexpr auto kShutdownGrace = std::chrono::seconds(25);

void RespondText(http::Exchange& ex, int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.Set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  ex.Respond(std::move(r));
}

// The engines and adapters of one running server, in construction order (and
// destroyed in reverse: adapters before engines before the database).
struct Services {
  std::unique_ptr<DataDir> data_dir;
  std::unique_ptr<db::Database> db;
  std::unique_ptr<store::ObjectStore> store;
  auth::KeyRegistry keys;
  http::Handler s3;
  std::atomic<bool> ready{false};
};

http::Handler MakeDispatcher(Services& services) {
  return [&services](std::shared_ptr<http::Exchange> ex) {
    switch (RouteFor(ex->head())) {
      case Route::kHealthy:
        return RespondText(*ex, 200, "ok\n");
      case Route::kReady:
        return services.ready ? RespondText(*ex, 200, "ready\n")
                              : RespondText(*ex, 503, "starting\n");
      case Route::kMetrics:
      case Route::kApi:
      case Route::kDashboard:
        return RespondText(*ex, 404, "not available in this build\n");
      case Route::kSqs:
        return RespondText(*ex, 501, "SQS is not available in this build\n");
      case Route::kS3:
        return services.s3(std::move(ex));
    }
  };
}

Status OpenServices(const UpOptions& options, Services& s, RootKey& root) {
  IMGBATCH_ASSIGN_OR_RETURN(s.data_dir, DataDir::Open(options.data_dir));
  IMGBATCH_ASSIGN_OR_RETURN(root, ResolveRootKey(RootKeyInputsFromEnvironment(options.data_dir)));
  s.keys.Put(auth::AccessKey{root.access_key_id, root.secret_access_key, "root",
                             auth::Policy::AllowAll(), /*root=*/true});

  db::Options db_options;
  db_options.path = s.data_dir->File("imgbatch.db");
  IMGBATCH_ASSIGN_OR_RETURN(s.db, db::Database::Open(db_options));

  store::StoreOptions store_options;
  store_options.data_dir = s.data_dir->path();
  store_options.default_region = options.region;
  IMGBATCH_ASSIGN_OR_RETURN(s.store, store::ObjectStore::Open(*s.db, store_options));

  auth::VerifyOptions verify;
  verify.region = options.region;
  auto authenticator = std::make_shared<s3::SigV4Authenticator>(s.keys, verify);
  s3::S3Context s3_context(*s.store, authenticator);
  s3_context.region = options.region;
  s3_context.domain = options.domain;
  s.s3 = s3::MakeS3Handler(std::move(s3_context));
  return Status::Ok();
}

void PrintBanner(const UpOptions& options, const RootKey& root, uint16_t port, bool tls) {
  std::string host = ParseListen(options.listen).ok() ? ParseListen(options.listen)->host
                                                      : std::string("127.0.0.1");
  if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::string endpoint =
      std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(port);
  std::printf("imgbatch up: serving S3 and SQS on %s (region %s, data %s)\n", endpoint.c_str(),
              options.region.c_str(), options.data_dir.c_str());
  if (root.source == "environment") {
    std::printf("root key: %s (from IMGBATCH_ACCESS_KEY_ID)\n", root.access_key_id.c_str());
  } else {
    std::printf("root key (%s, kept in %s/root-key.json):\n", root.source.c_str(),
                options.data_dir.c_str());
  }
  std::printf(
      "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n"
      "  aws --endpoint-url %s s3 ls\n",
      root.access_key_id.c_str(),
      root.source == "environment" ? "\"$IMGBATCH_SECRET_ACCESS_KEY\""
                                   : root.secret_access_key.c_str(),
      options.region.c_str(), endpoint.c_str());
  std::fflush(stdout);
}

// Blocks SIGINT/SIGTERM in every thread (call before any thread starts) so
// WaitForStopSignal can take them synchronously.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int WaitForStopSignal(const sigset_t& set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace

Result<ListenAddress> ParseListen(const std::string& listen) {
  std::string_view s = listen;
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument("--listen must be HOST:PORT, got '" + listen + "'");
  }
  std::string host(s.substr(0, colon));
  auto port = ParseUint(s.substr(colon + 1));
  if (!port || *port > 65535) return InvalidArgument("invalid port in --listen '" + listen + "'");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "127.0.0.1";
  if (host == "localhost") host = "127.0.0.1";
  return ListenAddress{host, static_cast<uint16_t>(*port)};
}

bool IsLoopback(const std::string& host) { return host == "::1" || host.starts_with("127."); }

Status CheckListenSecurity(const UpOptions& options, const ListenAddress& address) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return InvalidArgument("--tls-cert and --tls-key go together");
  }
  bool tls = !options.tls_cert.empty();
  if (!tls && !options.insecure && !IsLoopback(address.host)) {
    return InvalidArgument("refusing to listen on " + address.host +
                           " without TLS: give --tls-cert/--tls-key, or --insecure");
  }
  return Status::Ok();
}

int RunUp(const UpOptions& options) {
  SetupLogging(options.log_format == "json" ? LogFormat::kJson : LogFormat::kText,
               options.log_level, "imgbatch");
  auto address = ParseListen(options.listen);
  if (!address.ok()) {
    std::fprintf(stderr, "imgbatch up: %s\n", address.status().message().c_str());
    return 2;
  }
  if (Status st = CheckListenSecurity(options, *address); !st.ok()) {
    std::fprintf(stderr, "imgbatch up: %s\n", st.message().c_str());
    return 2;
  }
  sigset_t stop_signals = BlockStopSignals();

  Services services;
  RootKey root;
  if (Status st = OpenServices(options, services, root); !st.ok()) {
    std::fprintf(stderr, "imgbatch up: %s\n", st.message().c_str());
    return st.code() == Code::kConflict ? 3 : 1;
  }

  http::ServerOptions http_options;
  http_options.host = address->host;
  http_options.port = address->port;
  http_options.tls_cert_file = options.tls_cert;
  http_options.tls_key_file = options.tls_key;
  http_options.io_threads = options.io_threads;
  http_options.handler_threads = options.handler_threads;
  http::Server server(http_options);
  if (Status st = server.Start(MakeDispatcher(services)); !st.ok()) {
    std::fprintf(stderr, "imgbatch up: cannot listen on %s: %s\n", options.listen.c_str(),
                 st.message().c_str());
    return 1;
  }
  services.ready = true;
  PrintBanner(options, root, server.port(), !options.tls_cert.empty());

  int sig = WaitForStopSignal(stop_signals);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  services.ready = false;
  server.Stop(kShutdownGrace);
  spdlog::info("stopped");
  return 0;
}

}  // namespace imgbatch::server
