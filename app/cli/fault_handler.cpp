#include "fault_handler.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "cle/core/pending_export.h"
#include "cli.h"

namespace cle::cli {

namespace {

// Written by the main flow before the work starts, read by the handler: a fixed buffer.
char g_file[4096] = {};
std::atomic<bool> g_hasFile{false};
// The handler runs on its own stack, so that a stack overflow reaches it too.
alignas(16) char g_altStack[64 * 1024];

void say(const char* text) {
    ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
    (void)ignored;
}

const char* faultName(int sig) {
    switch (sig) {
        case SIGSEGV:
            return "a segmentation fault";
        case SIGBUS:
            return "a bus error";
        case SIGILL:
            return "an illegal instruction";
        case SIGFPE:
            return "an arithmetic fault";
        default:
            return "an abort";
    }
}

// Only async-signal-safe calls: unlink (in abandonPendingExport), write, _exit.
extern "C" void onFault(int sig, siginfo_t* info, void*) {
    bool removed = core::abandonPendingExport();
    // kill(), tgkill(), sigqueue(): another process asked for it; not a fault of this one.
    bool sent =
        info && info->si_pid != getpid() &&
        (info->si_code == SI_USER || info->si_code == SI_TKILL || info->si_code == SI_QUEUE);
    say("cle: ");
    if (g_hasFile.load()) {
        say("'");
        say(g_file);
        say("' could not be processed: ");
    }
    if (sent) {
        say("the process was sent ");
        say(faultName(sig));
        say(" signal by another process");
    } else {
        say("the process stopped on ");
        say(faultName(sig));
        say(" (HDF5 1.10.8 does so on some damaged files)");
    }
    // Stopped while the export renamed its files into place (only a signal sent by another process
    // can arrive there): what a SIGKILL leaves, temporary files that the next run removes.
    if (!removed)
        say("; it stopped while the output took its name: the output is complete or absent\n");
    else if (core::exportCommitted())
        say("; the output had been written\n");
    else
        say("; nothing was written\n");
    _exit(kFault);
}

}  // namespace

void installFaultHandler() {
    stack_t stack{};
    stack.ss_sp = g_altStack;
    stack.ss_size = sizeof g_altStack;
    sigaltstack(&stack, nullptr);
    struct sigaction action {};
    action.sa_sigaction = onFault;
    action.sa_flags =
        SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;  // a fault inside the handler ends the process
    sigfillset(&action.sa_mask);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(sig, &action, nullptr);
}

void noteInputFile(const std::string& path) {
    if (path.size() >= sizeof g_file) return;
    g_hasFile.store(false);
    std::memcpy(g_file, path.c_str(), path.size() + 1);
    g_hasFile.store(true);
}

}  // namespace cle::cli
