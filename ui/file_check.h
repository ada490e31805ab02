#pragma once
// A file is read in a separate `cle check` process before the application reads it: HDF5 1.10.8
// faults (reads through a null pointer, past a buffer) on some damaged files, and such a fault
// must end that process, not the application with the user's work in it.
#include <QString>

#include "cle/core/feedback.h"

namespace cle::ui {

/// The `cle` the application runs: $CLE_CLI if it names a program, else the one installed beside
/// the application; "" when there is none (files are then read without the check).
QString checkerProgram();

/// Runs `cle check` on `path` and waits for it. Throws an input Error with its sentence when the
/// check ended on a fault (exit 5) or a signal; returns otherwise (a file the check refused for
/// an ordinary reason is refused again, with the same reason, by the load that follows). When
/// `feedback` is cancelled meanwhile (the window closes while HDF5 stalls on a damaged file), the
/// check is killed and a Cancelled error thrown.
/// `inputs`: the file holds a network's inputs (`cle check --inputs`), not weights.
void checkInSeparateProcess(const QString& path, const core::Feedback* feedback = nullptr,
                            bool inputs = false);

}  // namespace cle::ui
