#include "server/up.h"

#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/policy.h"
#include "autoscaler/worker_pool.h"
#include "common/fd_limit.h"
#include "common/logging.h"
#include "common/reexec.h"
#include "common/strings.h"
#include "dashboard/access.h"
#include "dashboard/ui.h"
#include "db/database.h"
#include "http/certificate.h"
#include "http/server.h"
#include "imaging/huge_pages.h"
#include "imaging/imaging.h"
#include "keys/key_store.h"
#include "notify/notifier.h"
#include "notify/queue_destination.h"
#include "queue/queue_engine.h"
#include "s3/s3_service.h"
#include "s3/sigv4_authenticator.h"
#include "server/bootstrap.h"
#include "server/config.h"
#include "server/control_loop.h"
#include "server/data_dir.h"
#include "server/lifecycle_runner.h"
#include "server/operator_api.h"
#include "server/root_key.h"
#include "server/routing.h"
#include "sqs/authenticator.h"
#include "sqs/sqs_service.h"
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

// The engines and adapters of one running server, in construction order;
// destroyed in reverse (adapters before engines before the database).
struct Services {
  Config config;
  std::unique_ptr<DataDir> data_dir;
  std::unique_ptr<db::Database> db;
  std::unique_ptr<store::ObjectStore> store;
  std::unique_ptr<queue::QueueEngine> queues;
  std::unique_ptr<notify::QueueDestination> destination;
  std::unique_ptr<notify::Notifier> notifier;
  auth::KeyRegistry keys;
  auth::AccessKey worker_key;
  std::unique_ptr<::imgbatch::keys::KeyStore> key_store;  // runtime keys, in the db
  std::string dashboard_token;
  std::unique_ptr<dashboard::Access> access;
  http::Handler s3;
  std::unique_ptr<sqs::SqsService> sqs;
  std::unique_ptr<autoscaler::ProcessLauncher> launcher;
  std::unique_ptr<autoscaler::WorkerPool> pool;
  std::unique_ptr<ControlLoop> loop;
  std::unique_ptr<LifecycleRunner> lifecycle;
  OperatorContext operator_context;
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
      // The operator context is filled in after the listener starts; `ready`
      // publishes it.
      case Route::kMetrics:
        if (!services.ready) return RespondText(*ex, 503, "starting\n");
        return HandleMetrics(services.operator_context, *ex);
      case Route::kApi:
        if (!services.ready) return RespondText(*ex, 503, "starting\n");
        return HandleApi(services.operator_context, *ex);
      case Route::kDashboard:
        return dashboard::HandleUi(*services.access, *ex);
      case Route::kSqs:
        return services.sqs->Handle(std::move(ex));
      case Route::kS3:
        return services.s3(std::move(ex));
    }
  };
}

Result<Config> LoadConfiguration(const UpOptions& options) {
  std::string path = options.config;
  if (path.empty()) {
    if (const char* env = std::getenv("IMGBATCH_CONFIG"); env && *env) path = env;
  }
  Config config = path.empty() ? SeedDefaults() : Config{};
  if (!path.empty()) {
    IMGBATCH_ASSIGN_OR_RETURN(config, LoadConfig(path));
  }
  if (options.max_workers >= 0) config.workers.max = options.max_workers;
  return config;
}

int CoresAvailable() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

Status OpenEngines(const UpOptions& options, Services& s, RootKey& root) {
  IMGBATCH_ASSIGN_OR_RETURN(s.config, LoadConfiguration(options));
  IMGBATCH_ASSIGN_OR_RETURN(s.data_dir, DataDir::Open(options.data_dir));
  RootKeyInputs key_inputs = RootKeyInputsFromEnvironment(options.data_dir);
  if (s.config.root_access_key_id) {
    key_inputs.from_config =
        RootKey{*s.config.root_access_key_id, *s.config.root_secret_access_key, "config"};
  }
  IMGBATCH_ASSIGN_OR_RETURN(root, ResolveRootKey(key_inputs));
  const auth::AccessKey root_key{root.access_key_id, root.secret_access_key, "root",
                                 auth::Policy::AllowAll(), /*root=*/true};
  s.keys.Put(root_key);

  db::Options db_options;
  db_options.path = s.data_dir->File("imgbatch.db");
  IMGBATCH_ASSIGN_OR_RETURN(s.db, db::Database::Open(db_options));

  store::StoreOptions store_options;
  store_options.data_dir = s.data_dir->path();
  store_options.default_region = options.region;
  store_options.free_space_reserve = s.config.limits.free_space_reserve_bytes;
  store_options.max_object_bytes = s.config.limits.max_object_bytes;
  IMGBATCH_ASSIGN_OR_RETURN(s.store, store::ObjectStore::Open(*s.db, store_options));

  queue::EngineOptions queue_options;
  queue_options.region = options.region;
  queue_options.account = options.account_id;
  queue_options.max_in_flight = s.config.limits.max_messages_in_flight;
  queue_options.max_in_flight_fifo = s.config.limits.max_messages_in_flight_fifo;
  queue_options.fifo_calls_per_second = s.config.limits.fifo_calls_per_second;
  IMGBATCH_ASSIGN_OR_RETURN(
      s.queues, queue::QueueEngine::Open(*s.db, SystemClock::Instance(), queue_options));

  s.destination = std::make_unique<notify::QueueDestination>(*s.queues);
  notify::EventSource source;
  source.region = options.region;
  s.notifier = std::make_unique<notify::Notifier>(*s.store, *s.destination, source);
  IMGBATCH_RETURN_IF_ERROR(s.notifier->LoadAll());
  s.store->SetEventSink(s.notifier.get());
  IMGBATCH_RETURN_IF_ERROR(ApplyConfig(s.config, *s.store, *s.queues, *s.notifier, options.region));
  s.notifier->SetRecursionGuard(MakeRecursionGuard(s.config));

  IMGBATCH_ASSIGN_OR_RETURN(s.worker_key,
                            LoadOrCreateKey(s.data_dir->path(), "worker-key.json", "worker"));
  s.worker_key.policy = WorkerPolicy(s.config, options.region, options.account_id);
  s.keys.Put(s.worker_key);
  for (const auto& k : s.config.keys) {
    auth::AccessKey key{k.access_key_id, k.secret_access_key, k.name, {}, false};
    if (!k.policy_json.empty()) {
      auto policy = auth::Policy::FromJson(k.policy_json);
      if (!policy.ok()) {
        return InvalidArgument("key '" + k.name + "': " + policy.status().message());
      }
      key.policy = *policy;
    }
    s.keys.Put(key);
  }
  // After the declared keys: a stored key never shadows one of them.
  IMGBATCH_ASSIGN_OR_RETURN(s.key_store,
                            keys::KeyStore::Open(*s.db, s.keys, SystemClock::Instance()));
  s.key_store->Declare(root_key, "root");
  s.key_store->Declare(s.worker_key, "worker");
  for (const auto& k : s.config.keys) {
    if (auto declared = s.keys.Find(k.access_key_id)) s.key_store->Declare(*declared, "config");
  }
  IMGBATCH_RETURN_IF_ERROR(
      ApplyBucketSettings(s.config, *s.store, options.account_id,
                          [&keys = s.keys](std::string_view name) { return keys.HasUser(name); }));
  IMGBATCH_ASSIGN_OR_RETURN(s.dashboard_token, LoadOrCreateToken(s.data_dir->path()));
  s.access = std::make_unique<dashboard::Access>(s.dashboard_token);
  return Status::Ok();
}

void OpenAdapters(const UpOptions& options, Services& s) {
  auth::VerifyOptions verify;
  verify.region = options.region;
  verify.virtual_host_domain = options.domain;  // SigV2 virtual-host requests name the bucket
  // Each adapter takes its own service's credential scope only, as AWS
  // does: a request signed for one service is no request for the other.
  verify.services = {"s3"};
  auto s3_auth = std::make_shared<s3::SigV4Authenticator>(s.keys, verify);
  verify.services = {"sqs"};
  s3::S3Context s3_context(*s.store, s3_auth);
  s3_context.region = options.region;
  s3_context.domain = options.domain;
  s3_context.account_id = options.account_id;
  s3_context.notifier = s.notifier.get();  // Put/GetBucketNotificationConfiguration
  s.s3 = s3::MakeS3Handler(std::move(s3_context));
  s.sqs = std::make_unique<sqs::SqsService>(*s.queues, sqs::MakeSigV4Authenticator(s.keys, verify));
}

std::string SelfExecutable() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("imgbatch");
}

std::string OutputsFlag(const Config& config) {
  std::vector<imaging::OutputSpec> outputs;
  for (const auto& o : config.outputs) {
    imaging::OutputSpec spec;
    spec.prefix = o.name;
    spec.width = o.width;
    spec.height = o.height;
    spec.fit = o.fit == "cover" ? imaging::Fit::kCover : imaging::Fit::kInside;
    spec.format = o.format == "webp"   ? imaging::ImageFormat::kWebp
                  : o.format == "avif" ? imaging::ImageFormat::kAvif
                  : o.format == "png"  ? imaging::ImageFormat::kPng
                                       : imaging::ImageFormat::kJpeg;
    spec.quality = o.quality;
    spec.chroma =
        o.chroma == "444" ? imaging::ChromaSubsampling::k444 : imaging::ChromaSubsampling::k420;
    outputs.push_back(spec);
  }
  return imaging::FormatOutputSpecs(outputs);
}

// The worker turns on huge pages by re-executing itself with GLIBC_TUNABLES
// (imaging/huge_pages.h) unless it already has the tunable: given here, each
// worker start saves that second exec and dynamic link (~15 ms of CPU, on the
// path of a start from zero). IMGBATCH_HUGE_PAGES=0 on `up` reaches the
// workers as it is.
void AddHugePagesSetting(std::vector<std::string>& env) {
  if (OptedOut("IMGBATCH_HUGE_PAGES")) {
    env.push_back("IMGBATCH_HUGE_PAGES=0");
  } else if (auto tunables = imaging::TunablesWithHugePages(nullptr)) {
    env.push_back("GLIBC_TUNABLES=" + *tunables);
  }
}

// The address workers connect to: the one listened on, or loopback when
// listening on every address.
std::string WorkerConnectIp(const std::string& listen_host) {
  if (listen_host.empty() || listen_host == "0.0.0.0") return "127.0.0.1";
  if (listen_host == "::") return "::1";
  return listen_host;
}

// The same as a URL's host: IPv6 in brackets.
std::string WorkerConnectHost(const std::string& listen_host) {
  std::string ip = WorkerConnectIp(listen_host);
  return ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
}

// Workers reach the server like any AWS client: over HTTP (HTTPS with --tls-cert)
// with their own least-privilege key and a clean environment. Over TLS they
// verify the server's certificate: they trust that file and connect by a name
// it holds (tls_name), resolved to the address above.
autoscaler::WorkerCommand MakeWorkerCommand(const UpOptions& options, const Services& s,
                                            const std::string& listen_host, uint16_t port,
                                            const std::string& tls_name) {
  const WorkerSpec& w = s.config.workers;
  const std::string connect_host = WorkerConnectHost(listen_host);
  // By address (plain HTTP, or a certificate naming it) or by a name of the
  // certificate resolved to that address.
  const bool by_address = tls_name.empty() || tls_name == WorkerConnectIp(listen_host);
  const std::string host = by_address ? connect_host : tls_name;
  std::string endpoint = std::string(options.tls_cert.empty() ? "http" : "https") + "://" + host +
                         ":" + std::to_string(port);
  autoscaler::WorkerCommand cmd;
  cmd.argv = {SelfExecutable(),    "worker",
              "--endpoint-url",    endpoint,
              "--queue",           endpoint + "/" + options.account_id + "/" + w.queue,
              "--input-bucket",    w.input_bucket,
              "--output-bucket",   w.output_bucket,
              "--region",          options.region,
              "--outputs",         OutputsFlag(s.config),
              "--stop-timeout",    std::to_string(w.stop_timeout_seconds),
              "--max-pixels",      std::to_string(s.config.limits.max_image_pixels),
              "--max-input-bytes", std::to_string(s.config.limits.max_image_bytes),
              "--log-format",      options.log_format,
              "--log-level",       options.log_level};
  if (!w.dead_letter_queue.empty()) {
    cmd.argv.push_back("--dlq");
    cmd.argv.push_back(endpoint + "/" + options.account_id + "/" + w.dead_letter_queue);
  }
  if (w.concurrency > 0) {
    cmd.argv.push_back("--concurrency");
    cmd.argv.push_back(std::to_string(w.concurrency));
  }
  if (!options.tls_cert.empty()) {
    cmd.argv.push_back("--ca-bundle");
    cmd.argv.push_back(std::filesystem::absolute(options.tls_cert).string());
    if (!by_address) {
      cmd.argv.push_back("--resolve");
      cmd.argv.push_back(host + ":" + std::to_string(port) + ":" + connect_host);
    }
  }
  cmd.env = {
      "AWS_ACCESS_KEY_ID=" + s.worker_key.access_key_id,
      "AWS_SECRET_ACCESS_KEY=" + s.worker_key.secret_access_key,
      "AWS_REGION=" + options.region,
      "AWS_EC2_METADATA_DISABLED=true",
      "AWS_CONFIG_FILE=/dev/null",
      "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
      // glibc arenas fragment under libvips (DESIGN.md): two halve the peak.
      "MALLOC_ARENA_MAX=2",
      "PATH=/usr/local/bin:/usr/bin:/bin",
  };
  if (const char* home = std::getenv("HOME")) cmd.env.push_back(std::string("HOME=") + home);
  AddHugePagesSetting(cmd.env);
  std::string status_dir = s.data_dir->File("workers");
  std::filesystem::create_directories(status_dir);
  cmd.status_dir = status_dir;
  return cmd;
}

void PrintBanner(const UpOptions& options, const Services& s, const RootKey& root, uint16_t port) {
  std::string host = "127.0.0.1";
  if (auto a = ParseListen(options.listen); a.ok() && a->host != "0.0.0.0" && a->host != "::") {
    host = a->host.find(':') != std::string::npos ? "[" + a->host + "]" : a->host;
  }
  std::string endpoint = std::string(options.tls_cert.empty() ? "http" : "https") + "://" + host +
                         ":" + std::to_string(port);
  std::printf("imgbatch up: serving S3 and SQS on %s (region %s, data %s, config: %s)\n",
              endpoint.c_str(), options.region.c_str(), options.data_dir.c_str(),
              s.config.source.c_str());
  if (root.source == "environment") {
    std::printf("root key: %s (from IMGBATCH_ACCESS_KEY_ID)\n", root.access_key_id.c_str());
  } else {
    std::printf("root key (%s, kept in %s/root-key.json):\n", root.source.c_str(),
                options.data_dir.c_str());
  }
  std::printf(
      "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n"
      "  aws --endpoint-url %s s3 cp photo.jpg s3://%s/\n",
      root.access_key_id.c_str(),
      root.source == "environment" ? "\"$IMGBATCH_SECRET_ACCESS_KEY\""
                                   : root.secret_access_key.c_str(),
      options.region.c_str(), endpoint.c_str(), s.config.workers.input_bucket.c_str());
  std::printf("pipeline: s3://%s (%zu notifications) -> %s -> workers 0..%d -> s3://%s (",
              s.config.workers.input_bucket.c_str(), s.config.notifications.size(),
              s.config.workers.queue.c_str(), s.pool ? s.config.workers.max : 0,
              s.config.workers.output_bucket.c_str());
  for (size_t i = 0; i < s.config.outputs.size(); ++i) {
    const auto& o = s.config.outputs[i];
    std::printf("%s%s%dx%d", i ? ", " : "", o.prefix.c_str(), o.width, o.height);
  }
  std::printf("), dead letters -> %s\n", s.config.workers.dead_letter_queue.c_str());
  std::printf("metrics: %s/-/metrics\n", endpoint.c_str());
  std::printf("dashboard: %s/ui/?token=%s\n", endpoint.c_str(), s.dashboard_token.c_str());
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

// Each connection is a file descriptor, and so is each upload's temporary
// file, the database's files and the workers' pipes (the reserve).
void AllowOpenFilesFor(size_t max_connections) {
  constexpr uint64_t kReserve = 1024;
  const uint64_t wanted = max_connections + kReserve;
  const uint64_t allowed = RaiseOpenFileLimit(wanted);
  if (allowed < wanted) {
    spdlog::warn(
        "the open-file limit is {}, so about {} of limits.max_connections = {} "
        "connections can be served; raise it (ulimit -Hn, LimitNOFILE=) for more",
        allowed, allowed > kReserve ? allowed - kReserve : 0, max_connections);
  }
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

// glibc gives a thread arena's free top back to the kernel once it exceeds
// 128 KiB (madvise), so the SQS path — request and reply buffers allocated on
// the I/O threads, a group's worth freed on the db writer — faulted the same
// pages in again on every group commit: ~10% of the server's CPU in page
// faults, madvise and malloc_consolidate. A fixed 8 MiB keeps that much free
// memory per arena at most; allocations over 1 MiB stay mmap'ed (setting the
// trim threshold turns glibc's adaptive mmap threshold off). Serving only:
// `imgbatch process` keeps glibc's defaults (its RSS budget).
void TuneAllocatorForServing() {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
}

int RunUp(const UpOptions& options) {
  TuneAllocatorForServing();
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
  if (Status st = OpenEngines(options, services, root); !st.ok()) {
    std::fprintf(stderr, "imgbatch up: %s\n", st.message().c_str());
    if (st.code() == Code::kConflict) return 3;
    return st.code() == Code::kInvalidArgument ? 2 : 1;
  }
  OpenAdapters(options, services);
  // The name workers verify this server's certificate by: a certificate they
  // could not verify is refused now rather than by every worker at every
  // start.
  const bool workers_wanted = options.max_workers != 0 && !services.config.outputs.empty();
  std::string tls_name;
  if (!options.tls_cert.empty() && workers_wanted) {
    auto name = http::LocalNameFor(options.tls_cert, WorkerConnectIp(address->host));
    if (!name.ok()) {
      std::fprintf(stderr, "imgbatch up: %s\n", name.status().message().c_str());
      return 2;
    }
    tls_name = *name;
  }

  http::ServerOptions http_options;
  http_options.host = address->host;
  http_options.port = address->port;
  http_options.tls_cert_file = options.tls_cert;
  http_options.tls_key_file = options.tls_key;
  http_options.io_threads = options.io_threads;
  http_options.handler_threads = options.handler_threads;
  // SQS message operations commit asynchronously and the health probes answer
  // from memory: served on the I/O threads, without two thread hand-offs.
  http_options.run_inline = [](const http::RequestHead& head) {
    switch (RouteFor(head)) {
      case Route::kHealthy:
      case Route::kReady:
        return true;
      case Route::kSqs:
        return sqs::SqsService::RunsInline(head);
      default:
        return false;
    }
  };
  http_options.max_connections = static_cast<size_t>(services.config.limits.max_connections);
  AllowOpenFilesFor(http_options.max_connections);
  http::Server server(http_options);
  if (Status st = server.Start(MakeDispatcher(services)); !st.ok()) {
    std::fprintf(stderr, "imgbatch up: cannot listen on %s: %s\n", options.listen.c_str(),
                 st.message().c_str());
    return 1;
  }

  int max_workers =
      services.config.workers.max > 0 ? services.config.workers.max : CoresAvailable();
  if (!workers_wanted) max_workers = 0;
  services.config.workers.max = max_workers;
  if (max_workers > 0) {
    services.launcher = autoscaler::MakeRealLauncher(services.config.workers.nice);
    services.pool = std::make_unique<autoscaler::WorkerPool>(
        *services.launcher,
        MakeWorkerCommand(options, services, address->host, server.port(), tls_name),
        SystemClock::Instance(), services.config.workers.stop_timeout_seconds);
  }
  services.loop = std::make_unique<ControlLoop>(services.config, *services.queues,
                                                services.pool.get(), max_workers);
  OperatorContext& ctx = services.operator_context;
  ctx.config = &services.config;
  ctx.queues = services.queues.get();
  ctx.loop = services.loop.get();
  ctx.pool = services.pool.get();
  ctx.key_store = services.key_store.get();
  ctx.notifier = services.notifier.get();
  ctx.api_token = services.dashboard_token;
  ctx.key_registry = &services.keys;
  ctx.region = options.region;
  ctx.access = services.access.get();
  ctx.dashboard.store = services.store.get();
  ctx.dashboard.history = &services.loop->history();
  ctx.dashboard.input_bucket = services.config.workers.input_bucket;
  ctx.dashboard.output_bucket = services.config.workers.output_bucket;
  for (const auto& o : services.config.outputs)
    ctx.dashboard.output_prefixes.push_back(o.name + "/");
  if (!services.config.outputs.empty()) {
    ctx.dashboard.gallery_prefix = services.config.outputs.back().name + "/";
    for (const auto& o : services.config.outputs) {
      if (o.name == "thumbs") ctx.dashboard.gallery_prefix = "thumbs/";
    }
  }
  ctx.root_access_key_id = root.access_key_id;
  ctx.started_ms = SystemClock::Instance().NowMillis();
  ctx.open_connections = [&server] { return server.connection_count(); };
  services.loop->Start();
  services.lifecycle = std::make_unique<LifecycleRunner>(
      *services.store, std::chrono::seconds(services.config.lifecycle.interval_seconds));
  services.lifecycle->Start();
  services.ready = true;
  PrintBanner(options, services, root, server.port());

  int sig = WaitForStopSignal(stop_signals);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  services.ready = false;
  // Drain the workers while the control loop's thread (which forked them)
  // still lives: PR_SET_PDEATHSIG follows the forking thread.
  if (services.pool) services.pool->StopAll();  // within their stop timeout
  services.loop->Stop();
  services.lifecycle->Stop();
  services.queues->ReleaseWaiters();  // parked long polls answer now
  server.Stop(kShutdownGrace);
  spdlog::info("stopped");
  return 0;
}

}  // namespace imgbatch::server
