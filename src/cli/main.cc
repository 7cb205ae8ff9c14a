// imgbatch: one binary, several subcommands. Wiring only; each command lives
// in its own file and module.
#include <signal.h>

#include <cstdio>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "cli/dlq_command.h"
#include "cli/keys_command.h"
#include "cli/reprocess_command.h"
#include "cli/status_command.h"
#include "cli/up_command.h"
#include "server/allocator.h"
#ifdef IMGBATCH_HAVE_PROCESS_COMMAND
#include "cli/process_command.h"
#include "imaging/huge_pages.h"
#endif
#ifdef IMGBATCH_HAVE_WORKER_COMMAND
#include "cli/worker_command.h"
#endif

namespace {

// A usage error is one line on stderr, as every other error of the CLI is
// (CLI11's own report is two lines, with codes 105-115), and exit code 64,
// sysexits.h's EX_USAGE: 1-3 already mean what the commands report.
int ReportUsageError(const CLI::App& app, int argc, char** argv, const CLI::ParseError& e) {
  constexpr int kUsageExitCode = 64;  // EX_USAGE
  // "imgbatch bogus": CLI11 would only say that a subcommand is required.
  if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
    std::fprintf(stderr, "imgbatch: unknown command '%s' (see imgbatch --help)\n", argv[1]);
    return kUsageExitCode;
  }
  std::string where = "imgbatch";
  for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
    sub = sub->get_subcommands().front();
    where += " " + sub->get_name();
  }
  std::fprintf(stderr, "%s: %s (see %s --help)\n", where.c_str(), e.what(), where.c_str());
  return kUsageExitCode;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef IMGBATCH_HAVE_PROCESS_COMMAND
  // The image job's commands: big buffers on transparent huge pages (glibc
  // takes the setting only at exec, so this may start the program again).
  if (argc > 1 && (std::string_view(argv[1]) == "process" || std::string_view(argv[1]) == "worker"))
    imgbatch::imaging::ReexecWithHugePages(argv);
#endif
  // The server: jemalloc (server/allocator.h), also only at exec.
  if (argc > 1 && std::string_view(argv[1]) == "up") imgbatch::server::ReexecWithJemalloc(argv);
  // Every subcommand talks to sockets: a peer that hangs up is an error
  // value (EPIPE), never a signal that ends the process.
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"imgbatch: a self-hostable batch image pipeline (S3 + SQS + workers)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("imgbatch ") + IMGBATCH_VERSION);
  int exit_code = 0;
  imgbatch::cli::AddUpCommand(app, exit_code);
  imgbatch::cli::AddStatusCommand(app);
  imgbatch::cli::AddDlqCommand(app);
  imgbatch::cli::AddKeysCommand(app);
  imgbatch::cli::AddReprocessCommand(app);
#ifdef IMGBATCH_HAVE_PROCESS_COMMAND
  imgbatch::cli::AddProcessCommand(app);
#endif
#ifdef IMGBATCH_HAVE_WORKER_COMMAND
  imgbatch::cli::AddWorkerCommand(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command's own failure, already reported on one line
  } catch (const CLI::ParseError& e) {
    return ReportUsageError(app, argc, argv, e);
  }
  return exit_code;
}
