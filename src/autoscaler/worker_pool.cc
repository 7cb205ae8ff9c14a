#include "autoscaler/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <utility>

namespace imgbatch::autoscaler {
namespace {

constexpr int64_t kMaxCrashBackoffMs = 60'000;
constexpr int64_t kStartupGraceMs = 5'000;  // a worker that dies sooner counts as a crash

class RealLauncher final : public ProcessLauncher {
 public:
  explicit RealLauncher(int nice_increment) : nice_increment_(nice_increment) {}

  Result<pid_t> Launch(const std::vector<std::string>& argv,
                       const std::vector<std::string>& env) override {
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return IoError(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      // Child: die with the parent; own process group so a terminal's ^C
      // reaches the server, which then drains the workers itself.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);  // parent already gone
      // Nothing of the server's may leak into a worker: an inherited listening
      // socket would keep the port bound (and accept into a dead backlog) after
      // the server died; inherited database descriptors invite corruption.
      ::close_range(3, ~0U, 0);
      ::setpgid(0, 0);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the server blocks SIGTERM; workers must not
      // Before exec, so that every thread the worker starts inherits it.
      // Best effort: a failure costs only the server's responsiveness.
      if (nice_increment_ > 0) (void)::nice(nice_increment_);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    return pid;
  }
  void Signal(pid_t pid, int signal) override { ::kill(pid, signal); }
  std::vector<std::pair<pid_t, int>> Reap() override {
    std::vector<std::pair<pid_t, int>> out;
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) out.emplace_back(pid, status);
    return out;
  }
  std::string ReadStatus(const std::string& path) override {
    std::ifstream in(path);
    if (!in) return "";
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  int nice_increment_;
};

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// True when the worker's last status says images were still in flight.
bool LeftImagesInFlight(const std::string& final_status) {
  auto doc = nlohmann::json::parse(final_status, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return false;
  auto in_flight = doc.find("in_flight");
  return in_flight != doc.end() && in_flight->is_number_integer() && in_flight->get<int>() > 0;
}

}  // namespace

std::unique_ptr<ProcessLauncher> MakeRealLauncher(int nice_increment) {
  return std::make_unique<RealLauncher>(nice_increment);
}

const char* WorkerStateName(WorkerState s) {
  switch (s) {
    case WorkerState::kStarting:
      return "starting";
    case WorkerState::kIdle:
      return "idle";
    case WorkerState::kBusy:
      return "busy";
    case WorkerState::kStopping:
      return "stopping";
  }
  return "";
}

WorkerPool::WorkerPool(ProcessLauncher& launcher, WorkerCommand command, Clock& clock,
                       int stop_timeout_seconds)
    : launcher_(launcher),
      command_(std::move(command)),
      clock_(clock),
      stop_timeout_ms_(stop_timeout_seconds * 1000) {}

WorkerPool::~WorkerPool() = default;

void WorkerPool::SetDesired(int desired) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  desired_ = std::max(0, desired);
}

int WorkerPool::LiveLocked() const {
  int n = 0;
  for (const auto& [_, w] : workers_) n += w.state != WorkerState::kStopping;
  return n;
}

void WorkerPool::ReapLocked() {
  int64_t now = clock_.MonotonicMillis();
  for (auto [pid, status] : launcher_.Reap()) {
    auto it = workers_.find(pid);
    if (it == workers_.end()) continue;
    const WorkerInfo& w = it->second;
    std::string final_status = launcher_.ReadStatus(w.status_file);
    bool expected = w.state == WorkerState::kStopping;
    if (expected) {
      // A stopped worker drains first; one killed by a signal or that left
      // in-flight images behind (stop timeout) interrupted them.
      bool interrupted = WIFSIGNALED(status) || LeftImagesInFlight(final_status);
      ++(interrupted ? interrupted_ : stopped_);
      if (interrupted) {
        spdlog::warn("worker {} (pid {}) stopped with images in flight: {}", w.slot, pid,
                     DescribeExit(status));
      } else {
        spdlog::info("worker {} (pid {}) stopped: {}", w.slot, pid, DescribeExit(status));
      }
      consecutive_crashes_ = 0;
    } else {
      ++restarts_;
      bool early = now - w.started_ms < kStartupGraceMs;
      consecutive_crashes_ = early ? consecutive_crashes_ + 1 : 1;
      int64_t backoff =
          std::min<int64_t>(kMaxCrashBackoffMs, 500LL << std::min(consecutive_crashes_, 10));
      next_start_allowed_ms_ = now + backoff;
      spdlog::warn("worker {} (pid {}) exited unexpectedly ({}); replacing in {} ms", w.slot, pid,
                   DescribeExit(status), backoff);
    }
    exited_.push_back({w.slot, w.status_file, std::move(final_status)});
    ::unlink(w.status_file.c_str());
    workers_.erase(it);
  }
}

void WorkerPool::RefreshStatesLocked() {
  for (auto& [pid, w] : workers_) {
    if (w.state == WorkerState::kStopping) continue;
    std::string text = launcher_.ReadStatus(w.status_file);
    if (text.empty()) continue;
    auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) continue;
    std::string state = doc.value("state", "");
    w.in_flight = doc.value("in_flight", 0);
    if (state == "busy" || w.in_flight > 0)
      w.state = WorkerState::kBusy;
    else if (state == "idle")
      w.state = WorkerState::kIdle;
  }
}

void WorkerPool::StartLocked(int count) {
  int64_t now = clock_.MonotonicMillis();
  if (now < next_start_allowed_ms_) return;
  for (int i = 0; i < count; ++i) {
    int slot = next_slot_++;
    std::string status_file = command_.status_dir + "/worker-" + std::to_string(slot) + ".json";
    std::vector<std::string> argv = command_.argv;
    argv.push_back("--status-file");
    argv.push_back(status_file);
    auto pid = launcher_.Launch(argv, command_.env);
    if (!pid.ok()) {
      spdlog::error("cannot start a worker: {}", pid.status().message());
      next_start_allowed_ms_ = now + 1000;
      return;
    }
    workers_[*pid] = WorkerInfo{slot, *pid, WorkerState::kStarting, 0, now, 0, status_file};
    spdlog::info("worker {} started (pid {})", slot, *pid);
  }
}

void WorkerPool::StopSurplusLocked() {
  int surplus = LiveLocked() - desired_;
  if (surplus <= 0) return;
  // Idle first, then starting ones; busy workers are never taken away (they
  // finish, and the policy keeps desired >= busy).
  for (WorkerState pick : {WorkerState::kIdle, WorkerState::kStarting}) {
    for (auto& [pid, w] : workers_) {
      if (surplus == 0) return;
      if (w.state != pick) continue;
      launcher_.Signal(pid, SIGTERM);
      w.state = WorkerState::kStopping;
      w.stop_sent_ms = clock_.MonotonicMillis();
      --surplus;
      spdlog::info("worker {} (pid {}) asked to stop (scale in)", w.slot, pid);
    }
  }
}

void WorkerPool::Tick() {
  std::lock_guard lock(mu_);
  ReapLocked();
  RefreshStatesLocked();
  int live = LiveLocked();
  if (live < desired_) StartLocked(desired_ - live);
  StopSurplusLocked();
  int64_t now = clock_.MonotonicMillis();
  for (auto& [pid, w] : workers_) {
    if (w.state == WorkerState::kStopping && now - w.stop_sent_ms > stop_timeout_ms_ + 5'000) {
      spdlog::warn("worker {} (pid {}) did not stop in time; killing it", w.slot, pid);
      launcher_.Signal(pid, SIGKILL);
      w.stop_sent_ms = now;  // do not repeat every tick
    }
  }
}

PoolSnapshot WorkerPool::Snapshot() const {
  std::lock_guard lock(mu_);
  PoolSnapshot s;
  s.desired = desired_;
  s.restarts = restarts_;
  s.stopped = stopped_;
  s.interrupted = interrupted_;
  for (const auto& [_, w] : workers_) {
    s.workers.push_back(w);
    switch (w.state) {
      case WorkerState::kStopping:
        ++s.stopping;
        break;
      case WorkerState::kBusy:
        ++s.busy;
        ++s.running;
        break;
      case WorkerState::kIdle:
        ++s.idle;
        ++s.running;
        break;
      case WorkerState::kStarting:
        ++s.running;
        break;
    }
  }
  return s;
}

std::vector<ExitedWorker> WorkerPool::TakeExited() {
  std::lock_guard lock(mu_);
  return std::exchange(exited_, {});
}

void WorkerPool::StopAll() {
  {
    std::lock_guard lock(mu_);
    desired_ = 0;
    stopping_ = true;
    for (auto& [pid, w] : workers_) {
      if (w.state != WorkerState::kStopping) {
        launcher_.Signal(pid, SIGTERM);
        w.state = WorkerState::kStopping;
        w.stop_sent_ms = clock_.MonotonicMillis();
      }
    }
  }
  auto deadline = clock_.Monotonic() + std::chrono::milliseconds(stop_timeout_ms_ + 2'000);
  while (clock_.Monotonic() < deadline) {
    {
      std::lock_guard lock(mu_);
      ReapLocked();
      if (workers_.empty()) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::lock_guard lock(mu_);
  for (auto& [pid, w] : workers_) {
    spdlog::warn("worker {} (pid {}) still running after the stop timeout; killing it", w.slot,
                 pid);
    launcher_.Signal(pid, SIGKILL);
    ++interrupted_;
  }
  workers_.clear();
}

}  // namespace imgbatch::autoscaler
