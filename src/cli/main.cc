// imgbatch: one binary, several subcommands. Wiring only; each command lives
// in its own file and module.
#include <signal.h>

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
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
