// `cle`: the command-line front end of CLE Studio.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "cle/core/exporter.h"
#include "cli.h"

namespace {
std::atomic<bool> g_cancel{false};

extern "C" void onInterrupt(int) {
    // First Ctrl-C asks the work to stop cleanly; a second one removes the export's temporary
    // file and exits at once.
    if (g_cancel.exchange(true)) {
        for (int i = 0; i < cle::core::kPendingExportFiles; ++i)
            if (const char* temp = cle::core::pendingExportFile(i)) unlink(temp);
        _exit(130);
    }
}
}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
    std::vector<std::string> args(argv + 1, argv + argc);
    return cle::cli::run(args, std::cout, std::cerr, &g_cancel);
}
