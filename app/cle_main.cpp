// `cle`: the command-line front end of CLE Studio.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "cle/core/exporter.h"
#include "cle/core/weight_file.h"
#include "cli.h"
#include "fault_handler.h"

namespace {
std::atomic<bool> g_cancel{false};
std::atomic<int> g_signal{0};

void say(const char* text) {
    size_t n = 0;
    while (text[n]) ++n;
    ssize_t ignored = write(STDERR_FILENO, text, n);
    (void)ignored;
}

// SIGINT, SIGTERM, SIGHUP, SIGQUIT end the run at once with 128 + the signal's number, whatever it
// is doing (reading, planning, sweeps, the checks, the export), after removing the export's
// temporary files. Only while the export renames its files into place does the signal wait for
// the renames to finish.
extern "C" void onSignal(int sig) {
    g_signal.store(sig);
    g_cancel.store(true);
    if (!cle::core::abandonPendingExport()) return;  // committing: main() exits right after
    say(sig == SIGINT ? "cle: interrupted\n" : "cle: terminated\n");
    _exit(128 + sig);
}
}  // namespace

int main(int argc, char** argv) {
    struct sigaction action {};
    action.sa_handler = onSignal;
    sigfillset(&action.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &action, nullptr);
    cle::cli::installFaultHandler();
    cle::core::muteHdf5Diagnostics();
    std::vector<std::string> args(argv + 1, argv + argc);
    int status = cle::cli::run(args, std::cout, std::cerr, &g_cancel);
    std::cout.flush();
    if (int sig = g_signal.load()) return 128 + sig;
    return status;
}
