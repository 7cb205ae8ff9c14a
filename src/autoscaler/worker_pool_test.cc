#include "autoscaler/worker_pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

namespace imgbatch::autoscaler {
namespace {

class FakeLauncher : public ProcessLauncher {
 public:
  Result<pid_t> Launch(const std::vector<std::string>& argv,
                       const std::vector<std::string>& env) override {
    pid_t pid = next_pid_++;
    launched.push_back({pid, argv, env});
    return pid;
  }
  void Signal(pid_t pid, int signal) override { signals.emplace_back(pid, signal); }
  std::vector<std::pair<pid_t, int>> Reap() override { return std::exchange(exits, {}); }
  std::string ReadStatus(const std::string& path) override {
    auto it = status.find(path);
    return it == status.end() ? "" : it->second;
  }
  struct Launched {
    pid_t pid;
    std::vector<std::string> argv, env;
  };
  std::vector<Launched> launched;
  std::vector<std::pair<pid_t, int>> signals;
  std::vector<std::pair<pid_t, int>> exits;
  std::map<std::string, std::string> status;

 private:
  pid_t next_pid_ = 1000;
};

WorkerCommand Command() {
  return {{"/bin/imgbatch", "worker"}, {"AWS_ENDPOINT_URL=http://127.0.0.1:1"}, "/tmp/st"};
}

TEST(WorkerPool, StartsWorkersWithTheGivenEnvironmentAndStatusFiles) {
  FakeLauncher launcher;
  ManualClock clock;
  WorkerPool pool(launcher, Command(), clock, 25);
  pool.SetDesired(2);
  pool.Tick();
  ASSERT_EQ(launcher.launched.size(), 2u);
  EXPECT_EQ(launcher.launched[0].env, Command().env);
  auto& argv = launcher.launched[1].argv;
  ASSERT_GE(argv.size(), 4u);
  EXPECT_EQ(argv[argv.size() - 2], "--status-file");
  EXPECT_EQ(argv.back(), "/tmp/st/worker-1.json");
  EXPECT_EQ(pool.Snapshot().running, 2);
  pool.Tick();
  EXPECT_EQ(launcher.launched.size(), 2u);  // already at desired
}

TEST(WorkerPool, ScaleInStopsIdleWorkersAndNeverBusyOnes) {
  FakeLauncher launcher;
  ManualClock clock;
  WorkerPool pool(launcher, Command(), clock, 25);
  pool.SetDesired(3);
  pool.Tick();
  launcher.status["/tmp/st/worker-0.json"] = R"({"state":"busy","in_flight":2})";
  launcher.status["/tmp/st/worker-1.json"] = R"({"state":"idle","in_flight":0})";
  launcher.status["/tmp/st/worker-2.json"] = R"({"state":"busy","in_flight":1})";
  pool.SetDesired(0);
  pool.Tick();
  ASSERT_EQ(launcher.signals.size(), 1u);
  EXPECT_EQ(launcher.signals[0], std::make_pair(pid_t{1001}, SIGTERM));
  auto snap = pool.Snapshot();
  EXPECT_EQ(snap.busy, 2);
  EXPECT_EQ(snap.stopping, 1);
  // The stopped worker exits: not a crash, nothing restarted.
  launcher.exits.emplace_back(1001, 0);
  pool.Tick();
  EXPECT_EQ(pool.Snapshot().restarts, 0);
  EXPECT_EQ(launcher.launched.size(), 3u);
  // Once the busy ones go idle they are stopped too.
  launcher.status["/tmp/st/worker-0.json"] = R"({"state":"idle","in_flight":0})";
  launcher.status["/tmp/st/worker-2.json"] = R"({"state":"idle","in_flight":0})";
  pool.Tick();
  EXPECT_EQ(launcher.signals.size(), 3u);
}

TEST(WorkerPool, CrashedWorkersAreReplacedWithBackoff) {
  FakeLauncher launcher;
  ManualClock clock;
  WorkerPool pool(launcher, Command(), clock, 25);
  pool.SetDesired(1);
  pool.Tick();
  launcher.exits.emplace_back(1000, 139 << 8);  // died right after start
  pool.Tick();
  EXPECT_EQ(pool.Snapshot().restarts, 1);
  EXPECT_EQ(launcher.launched.size(), 1u);  // backing off
  clock.Advance(std::chrono::seconds(2));
  pool.Tick();
  EXPECT_EQ(launcher.launched.size(), 2u);
  // Crashing again right away doubles the wait.
  launcher.exits.emplace_back(1001, 1 << 8);
  pool.Tick();
  clock.Advance(std::chrono::seconds(1));
  pool.Tick();
  EXPECT_EQ(launcher.launched.size(), 2u);
  clock.Advance(std::chrono::seconds(2));
  pool.Tick();
  EXPECT_EQ(launcher.launched.size(), 3u);
}

// The backoff is a duration: a wall clock stepped back an hour (an NTP step,
// a restored snapshot) does not keep the pool from replacing a worker.
TEST(WorkerPool, CrashBackoffEndsOnTimeWhenTheWallClockStepsBack) {
  FakeLauncher launcher;
  ManualClock clock;
  WorkerPool pool(launcher, Command(), clock, 25);
  pool.SetDesired(1);
  pool.Tick();
  launcher.exits.emplace_back(1000, 139 << 8);
  pool.Tick();
  clock.StepWall(-std::chrono::hours(1));
  clock.Advance(std::chrono::seconds(2));
  pool.Tick();
  EXPECT_EQ(launcher.launched.size(), 2u);
}

TEST(WorkerPool, StuckWorkerIsKilledAfterTheStopTimeout) {
  FakeLauncher launcher;
  ManualClock clock;
  WorkerPool pool(launcher, Command(), clock, 25);
  pool.SetDesired(1);
  pool.Tick();
  launcher.status["/tmp/st/worker-0.json"] = R"({"state":"idle"})";
  pool.SetDesired(0);
  pool.Tick();
  clock.Advance(std::chrono::seconds(31));
  pool.Tick();
  ASSERT_EQ(launcher.signals.size(), 2u);
  EXPECT_EQ(launcher.signals[1].second, SIGKILL);
}

TEST(WorkerPool, ExitsAreClassifiedAndTheirLastStatusKept) {
  FakeLauncher launcher;
  ManualClock clock;
  WorkerPool pool(launcher, Command(), clock, 25);
  pool.SetDesired(3);
  pool.Tick();
  for (int i = 0; i < 3; ++i) {
    launcher.status["/tmp/st/worker-" + std::to_string(i) + ".json"] =
        R"({"state":"idle","in_flight":0,"processed":4})";
  }
  pool.SetDesired(0);
  pool.Tick();
  ASSERT_EQ(pool.Snapshot().stopping, 3);
  // 1000 drained; 1001 hit its stop timeout with an image in flight; 1002 was
  // killed by a signal.
  launcher.status["/tmp/st/worker-0.json"] = R"({"state":"stopping","in_flight":0,"processed":5})";
  launcher.status["/tmp/st/worker-1.json"] = R"({"state":"stopping","in_flight":1})";
  launcher.exits = {{1000, 0}, {1001, 0}, {1002, SIGKILL}};
  pool.Tick();
  PoolSnapshot snap = pool.Snapshot();
  EXPECT_EQ(snap.stopped, 1);
  EXPECT_EQ(snap.interrupted, 2);
  EXPECT_EQ(snap.restarts, 0);
  std::vector<ExitedWorker> exited = pool.TakeExited();
  ASSERT_EQ(exited.size(), 3u);
  EXPECT_EQ(exited[0].status_file, "/tmp/st/worker-0.json");
  EXPECT_EQ(exited[0].final_status, R"({"state":"stopping","in_flight":0,"processed":5})");
  EXPECT_TRUE(pool.TakeExited().empty());  // handed over once
}

// Runs `command` with sh -c through the launcher, waits until it is reaped
// and returns what it printed (or why there is nothing to return).
std::string RunThroughLauncher(ProcessLauncher& launcher, const std::string& command) {
  static int runs = 0;
  const std::string out =
      std::filesystem::temp_directory_path() /
      ("imgbatch-pool-" + std::to_string(::getpid()) + "-" + std::to_string(++runs) + ".txt");
  std::filesystem::remove(out);
  auto pid = launcher.Launch(
      {"/bin/sh", "-c", "(" + command + ") > " + out + ".tmp && mv " + out + ".tmp " + out},
      {"PATH=/usr/bin:/bin"});
  if (!pid.ok()) return "launch failed: " + pid.status().ToString();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool reaped = false;
  while (!reaped && std::chrono::steady_clock::now() < deadline) {
    for (auto [p, status] : launcher.Reap()) reaped = reaped || p == *pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!reaped) return "not reaped within 10 s";
  std::ifstream in(out);
  std::string printed((std::istreambuf_iterator<char>(in)), {});
  std::filesystem::remove(out);
  return printed;
}

TEST(RealLauncherTest, WorkersInheritNoDescriptorOfTheServer) {
  // Stands in for the server's listening socket and database files: a
  // descriptor without FD_CLOEXEC, at a number the shell will not reuse.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::dup2(fds[0], 100), 100);
  auto launcher = MakeRealLauncher();
  const std::string printed = RunThroughLauncher(
      *launcher, "if [ -e /proc/self/fd/100 ]; then echo inherited; else echo closed; fi");
  ::close(100);
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(printed, "closed\n");
}

// Field 19 (nice) of this process's /proc/self/stat.
int OwnNice() {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // from field 3 on
  std::string field;
  for (int number = 3; number <= 19 && fields >> field; ++number) {
  }
  return std::stoi(field);
}

TEST(RealLauncherTest, WorkersRunTheGivenIncrementNicer) {
  auto launcher = MakeRealLauncher(7);
  EXPECT_EQ(RunThroughLauncher(*launcher, "cut -d' ' -f19 /proc/self/stat"),
            std::to_string(std::min(19, OwnNice() + 7)) + "\n");
}

TEST(RealLauncher, CleanEnvironmentAndSigtermReaped) {
  auto launcher = MakeRealLauncher();
  std::string out = std::filesystem::temp_directory_path() /
                    ("imgbatch-pool-" + std::to_string(::getpid()) + ".env");
  ::setenv("AWS_SECRET_ACCESS_KEY", "users-own-secret", 1);
  auto pid = launcher->Launch({"/bin/sh", "-c", "env > " + out + "; exec sleep 30"},
                              {"ONLY=this", "PATH=/usr/bin:/bin"});
  ASSERT_TRUE(pid.ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(out);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (all.find("ONLY=this") != std::string::npos) {
      EXPECT_EQ(all.find("users-own-secret"), std::string::npos);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  launcher->Signal(*pid, SIGTERM);
  bool reaped = false;
  while (!reaped && std::chrono::steady_clock::now() < deadline) {
    for (auto [p, status] : launcher->Reap()) {
      if (p == *pid) {
        reaped = true;
        EXPECT_TRUE(WIFSIGNALED(status));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(reaped);
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace imgbatch::autoscaler
