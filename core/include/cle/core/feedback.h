#pragma once
// Progress and cancel for long work, one object for every stage (load, equalize, preview,
// export), in the manner of QGIS's QgsFeedback: the caller owns it and may cancel from any
// thread; the stage under way reports progress and every finished sweep through plain callbacks,
// called on the working thread. The core never knows about threads.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "cle/core/pairs.h"

namespace cle::core {

/// The stages of a run, in order.
enum class Stage { Load, Plan, Fold, Equalize, Preview, Export };
std::string toString(Stage stage);

/// One pair as it stands after a sweep (sweep 0: before the first).
struct PairSweep {
    std::string first;
    std::string second;
    std::vector<float> outRange;    ///< the first layer's output-channel ranges (max - min)
    std::vector<float> inRange;     ///< the second layer's input-channel ranges
    std::vector<float> scale;       ///< cumulative factor per channel so far
    std::vector<int> deadChannels;  ///< left unscaled so far
    std::vector<int> constantInputChannels;  ///< left unscaled so far
};

/// One region as it stands after a sweep, per region channel (see RegionHistory).
struct RegionSweep {
    Region region;
    std::vector<float> outRange;             ///< the sources' largest output-channel range
    std::vector<float> inRange;              ///< the sinks' largest input-channel range
    std::vector<float> scale;                ///< cumulative factor so far
    std::vector<int> deadChannels;           ///< left unscaled so far
    std::vector<int> constantInputChannels;  ///< left unscaled so far
};

/// What the engine reports after each sweep: a value, complete in itself, that a front end
/// appends to its own history (see appendSweep in equalizer.h).
struct SweepEvent {
    int sweep = 0;    ///< 0 for the state before the first sweep
    float delta = 0;  ///< the sweep's summed change norm (0 for sweep 0)
    double threshold = 0;
    std::vector<PairSweep> pairs;
    std::vector<RegionSweep> regions;
};

class Feedback {
public:
    Feedback() = default;
    /// Follows a flag set elsewhere (a signal handler) instead of its own; null: its own.
    explicit Feedback(const std::atomic<bool>* flag) : flag_(flag ? flag : &cancelled_) {}
    Feedback(const Feedback&) = delete;
    Feedback& operator=(const Feedback&) = delete;

    /// Asks the work to stop at its next check (any thread).
    void cancel() { cancelled_.store(true); }
    bool isCancelled() const { return cancelled_.load() || flag_->load(); }
    /// The flag the work polls, for code that takes an atomic (the exporter, between datasets).
    const std::atomic<bool>* cancelFlag() const { return flag_; }

    /// Called by the stages: `fraction` of `stage` is done (0 to 1).
    void setProgress(Stage stage, double fraction) const {
        if (onProgress) onProgress(stage, fraction);
    }
    /// Called by the equalize stage after each sweep, and once with sweep 0 before the first.
    void sweepDone(const SweepEvent& event) const {
        if (onSweep) onSweep(event);
    }

    std::function<void(Stage, double)> onProgress;
    std::function<void(const SweepEvent&)> onSweep;

private:
    std::atomic<bool> cancelled_{false};
    const std::atomic<bool>* flag_ = &cancelled_;
};

}  // namespace cle::core
