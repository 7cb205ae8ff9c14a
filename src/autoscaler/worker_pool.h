// WorkerPool: the ECS service of `imgbatch up` — a set of `imgbatch worker`
// child processes kept at a desired count. Children get a clean environment
// (only what the pool passes: endpoint, worker key, region — never the user's
// AWS_* variables) and die with their parent (PR_SET_PDEATHSIG). Scale-in
// sends SIGTERM to idle workers first and lets busy ones finish; a worker that
// exits unexpectedly is replaced, with exponential backoff if it keeps dying.
//
// Each worker reports its state in a status file (JSON, written atomically by
// the worker: {"state":"idle"|"busy"|"stopping","in_flight":N,...}); the pool
// reads it to tell idle from busy. When a worker exits the pool reads the file
// one last time: its final counters go to TakeExited() (for the metrics), and
// a worker that was stopped but left with images in flight (stop timeout,
// SIGKILL) counts as interrupted.
//
// Thread-safety: all methods are thread-safe (one mutex). Tick() does the work
// (reap, start, stop) and is called by the server's control loop once a
// second; nothing here starts threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace imgbatch::autoscaler {

// Process side effects behind an interface so tests can run the pool without
// forking (LevelDB's Env idea).
class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Starts argv[0] with exactly `env`; returns the pid.
  virtual Result<pid_t> Launch(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env) = 0;
  virtual void Signal(pid_t pid, int signal) = 0;
  // Non-blocking reap: pids that exited since the last call, with their status.
  virtual std::vector<std::pair<pid_t, int>> Reap() = 0;
  // Reads a worker's status file; "" when absent.
  virtual std::string ReadStatus(const std::string& path) = 0;
};

// fork/execve with PR_SET_PDEATHSIG(SIGTERM) and a new process group; the
// child runs `nice_increment` nicer than the caller (at most 19).
std::unique_ptr<ProcessLauncher> MakeRealLauncher(int nice_increment = 0);

struct WorkerCommand {
  std::vector<std::string> argv;  // {"/path/imgbatch", "worker", ...}
  std::vector<std::string> env;   // "NAME=value" entries, the whole environment
  std::string status_dir;         // <dir>/worker-<n>.json per worker
};

enum class WorkerState { kStarting, kIdle, kBusy, kStopping };
const char* WorkerStateName(WorkerState s);

struct WorkerInfo {
  int slot = 0;  // stable number for logs and status files
  pid_t pid = 0;
  WorkerState state = WorkerState::kStarting;
  int in_flight = 0;
  int64_t started_ms = 0;  // these two: Clock::MonotonicMillis, for durations
  int64_t stop_sent_ms = 0;
  std::string status_file;
};

struct PoolSnapshot {
  int desired = 0;
  int running = 0;  // alive, not stopping
  int busy = 0;
  int idle = 0;
  int stopping = 0;
  int restarts = 0;     // unexpected exits replaced so far
  int stopped = 0;      // stopped on request after finishing their images
  int interrupted = 0;  // stopped on request with images still in flight
  std::vector<WorkerInfo> workers;
};

// A worker gone since the last TakeExited(), with its status file's last text.
struct ExitedWorker {
  int slot = 0;
  std::string status_file;
  std::string final_status;  // "" when the worker never wrote one
};

class WorkerPool {
 public:
  WorkerPool(ProcessLauncher& launcher, WorkerCommand command, Clock& clock,
             int stop_timeout_seconds);
  ~WorkerPool();

  void SetDesired(int desired);
  // Reaps exits, starts missing workers (respecting crash backoff), stops
  // surplus idle workers, escalates to SIGKILL past the stop timeout.
  void Tick();
  PoolSnapshot Snapshot() const;
  // Workers that exited since the last call (the status files are gone).
  std::vector<ExitedWorker> TakeExited();
  // SIGTERM to all, wait up to the stop timeout (reaping), then SIGKILL.
  // Afterwards the pool starts nothing. Call it while the thread that runs
  // Tick() is still alive: PR_SET_PDEATHSIG fires when the *forking thread*
  // exits, which would signal the workers a second time.
  void StopAll();

 private:
  void ReapLocked();
  void RefreshStatesLocked();
  void StartLocked(int count);
  void StopSurplusLocked();
  int LiveLocked() const;

  ProcessLauncher& launcher_;
  WorkerCommand command_;
  Clock& clock_;
  int stop_timeout_ms_;
  mutable std::mutex mu_;
  int desired_ = 0;
  bool stopping_ = false;  // StopAll began: no more starts
  int next_slot_ = 0;
  int restarts_ = 0;
  int stopped_ = 0;
  int interrupted_ = 0;
  std::vector<ExitedWorker> exited_;
  int consecutive_crashes_ = 0;
  int64_t next_start_allowed_ms_ = 0;  // Clock::MonotonicMillis
  std::map<pid_t, WorkerInfo> workers_;
};

}  // namespace imgbatch::autoscaler
