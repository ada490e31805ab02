#pragma once
// The `cle` command line: argument parsing and the inspect / equalize commands, as a library so
// that tests can run it in-process.
#include <atomic>
#include <iosfwd>
#include <string>
#include <vector>

namespace cle::cli {

/// Exit status of `cle`.
enum Exit : int {
    kOk = 0,
    kInputError = 1,
    kUsageError = 2,
    kNotConverged = 3,
    kFunctionChanged = 4,
    kFault = 5,  ///< the process stopped on a fault (HDF5 on a damaged file); nothing written
    kCancelled = 130
};

/// Runs `cle` with `args` (without the program name). `cancel` is polled during long work.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const std::atomic<bool>* cancel = nullptr);

}  // namespace cle::cli
