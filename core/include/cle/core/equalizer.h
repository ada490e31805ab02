#pragma once
// Cross-layer equalization with the exact numerics of torch.ao.quantization._equalize, plus dead
// and constant channel handling, a sweep limit, progress, cancel and a per-sweep history of channel
// ranges.
#include <functional>
#include <string>
#include <vector>

#include "cle/core/model.h"
#include "cle/core/pairs.h"

namespace cle::core {

struct EqualizeOptions {
    double threshold = 1e-4;  ///< converged when the summed change norm of a sweep is below this
    int maxSweeps = 1000;     ///< a run that has not converged after this many sweeps stops
    int threads = 0;          ///< worker threads, 0 = one per core; results never depend on it
};

/// A bias amplification above this (|bias after| / |bias before| = 1 / cumulative factor) is
/// reported in PairHistory::amplifiedBias.
inline constexpr double kBiasAmplificationLimit = 100.0;

/// One output channel of a pair's first layer whose bias the equalization multiplied by a large
/// amount.
struct AmplifiedChannel {
    int channel = 0;
    double amplification = 0;  ///< 1 / cumulative factor: how much |bias| grew
    float biasBefore = 0;
    float biasAfter = 0;
};

/// Per-channel ranges of one pair at one moment: the first layer's output channels and the
/// second layer's input channels (max - min, no epsilon).
struct RangeState {
    std::vector<float> out;
    std::vector<float> in;
};

struct PairHistory {
    std::string first;
    std::string second;
    /// states[0] is before the first sweep, states[i] after sweep Summary::stateSweeps[i]: up to
    /// kMaxRecordedStates sweeps, states[k] after sweep k (sweeps + 1 entries); beyond, thinned.
    std::vector<RangeState> states;
    /// Cumulative per-channel factor s: the first layer's output channel c was divided by scale[c]
    /// and the second layer's input channel c multiplied by it, over all sweeps (so far, during
    /// the run: updated after every sweep, as are the dead and constant channels).
    std::vector<float> scale;
    /// Output channels of the first layer with zero range (factor 0, or a reciprocal that is not
    /// finite): left unscaled (factor 1), where the reference would produce NaN.
    std::vector<int> deadChannels;
    /// Input channels of the second layer with zero range (all its weights equal): left unscaled
    /// (factor 1). The reference's factor sqrt(r1 / 1e-9) would be applied again every sweep.
    std::vector<int> constantInputChannels;
    /// Output channels of the first layer with a non-zero bias that grew by more than
    /// kBiasAmplificationLimit: the factors are the reference's, but such a channel's activation
    /// dwarfs the others under per-tensor INT8 activation quantization.
    std::vector<AmplifiedChannel> amplifiedBias;
};

/// One region over a run. Region channel ch has the range `out[ch]` = the largest output-channel
/// range over the sources feeding it and `in[ch]` = the largest input-channel range over the
/// sinks it feeds; its factor is sqrt(out / (in + 1e-9)), as for a pair.
struct RegionHistory {
    Region region;
    std::vector<RangeState> states;          ///< per region channel, as PairHistory::states
    std::vector<float> scale;                ///< cumulative factor per region channel
    std::vector<int> deadChannels;           ///< region channels whose sources all have zero range
    std::vector<int> constantInputChannels;  ///< region channels whose sinks all have zero range
};

/// A run keeps at most this many recorded states per pair and region (see recordStateSweep).
inline constexpr size_t kMaxRecordedStates = 2048;

struct Summary {
    double threshold = 0;
    int sweeps = 0;  ///< sweeps executed, the last included
    bool converged = false;
    bool cancelled = false;
    std::vector<float> deltas;  ///< summed change norm of each sweep (float32, as compared)
    std::vector<PairHistory> pairs;
    std::vector<RegionHistory> regions;
    /// The sweep of each recorded state: states[i] of every pair and region is the state after
    /// sweep stateSweeps[i] (0: before the first). Every sweep while there are at most
    /// kMaxRecordedStates; beyond, the first, the last and every stateStride-th sweep, each
    /// exactly as recorded. Empty in a history built by hand: states[i] is then sweep i.
    std::vector<int> stateSweeps;
    int stateStride = 1;
    float lastDelta() const { return deltas.empty() ? 0.f : deltas.back(); }
    /// The sweep of recorded state `index`.
    int stateSweep(size_t index) const;
    /// The index of the last recorded state at or before `sweep` (0 if none).
    size_t stateIndex(int sweep) const;
};

/// Notes that every pair and region of `history` has just recorded its state after `sweep`,
/// then keeps the history within `limit` states: the newest state is kept until a newer one
/// arrives, the first always, and beyond `limit` states the stride between the kept ones doubles.
void recordStateSweep(Summary& history, int sweep, size_t limit = kMaxRecordedStates);

struct Progress {
    int sweep = 0;                     ///< 1-based sweep under way (or just finished)
    int pairIndex = 0;                 ///< pairs done in this sweep
    int pairCount = 0;                 ///< pairs and regions
    bool sweepDone = false;            ///< true once per sweep, after its delta is known
    float delta = 0;                   ///< the sweep's delta when sweepDone
    const Summary* summary = nullptr;  ///< the history so far; valid during the call only
};

/// Return false to cancel the run.
using ProgressCallback = std::function<bool(const Progress&)>;

struct EqualizeResult {
    Summary summary;
    std::vector<Layer> layers;  ///< the equalized layers named in the pairs (empty if cancelled)
};

/// Equalizes copies of the layers named in `pairs`; `model` itself is never changed. Throws a
/// usage Error for an empty pair list, an Input Error naming the layer for an unknown layer,
/// unsupported layer, channel mismatch or non-finite weight.
EqualizeResult equalize(const Model& model, const std::vector<LayerPair>& pairs,
                        const EqualizeOptions& options = {}, const ProgressCallback& progress = {});

/// The same, taking the layers out of `model` instead of copying them: for callers that no longer
/// need the loaded weights (halves peak memory). `model`'s layers named in pairs are left empty.
EqualizeResult equalize(Model&& model, const std::vector<LayerPair>& pairs,
                        const EqualizeOptions& options = {}, const ProgressCallback& progress = {});

/// Pairs and regions in one sweep loop: every sweep applies the pairs in order, then the regions
/// in order; the delta sums the change of every layer over the last pair or region naming it.
/// With no regions this is exactly equalize(model, pairs). A region's sink must not be depthwise.
EqualizeResult equalize(const Model& model, const std::vector<LayerPair>& pairs,
                        const std::vector<Region>& regions, const EqualizeOptions& options = {},
                        const ProgressCallback& progress = {});
EqualizeResult equalize(Model&& model, const std::vector<LayerPair>& pairs,
                        const std::vector<Region>& regions, const EqualizeOptions& options = {},
                        const ProgressCallback& progress = {});

}  // namespace cle::core
