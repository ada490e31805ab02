#pragma once
// The hot loop of equalization: scale one channel axis of a weight tensor in place, and in the
// same pass measure the change and the new per-channel min/max along both channel axes.
#include <cstdint>
#include <vector>

namespace cle::core::kernel {

/// A weight tensor seen as [P, N1, M, N2, Q] around its two channel axes a1 < a2 (or, for a
/// depthwise kernel with a single channel axis, [P, N1, Q] with N2 = M = 1).
struct AxisView {
    std::int64_t p = 1, n1 = 1, m = 1, n2 = 1, q = 1;
    bool single = false;   ///< one channel axis (depthwise)
    bool outFirst = true;  ///< the output axis is a1 (PyTorch) rather than a2 (Keras)
};

AxisView makeView(const std::vector<std::int64_t>& shape, int outAxis, int inAxis);

/// Min/max per channel along the output and the input axis.
struct Stats {
    std::vector<float> outMin, outMax, inMin, inMax;
    bool finite = true;  ///< set by measure(): false when any element is NaN or infinite
};

/// Worker threads to use when the caller does not say: the machine's cores, at most 8.
int defaultThreads();

/// Computes the statistics without changing anything.
Stats measure(const float* data, const AxisView& view, int threads);

/// Min/max along the output axis only of the values data * inFactor[input channel], without
/// changing data (inMin and inMax are left empty). For a depthwise kernel, given `current` (the
/// statistics of data), they are derived from it without reading data when that is exact.
Stats measureScaledOutputs(const float* data, const AxisView& view, const float* inFactor,
                           int threads, const Stats* current = nullptr);

/// Multiplies channel c of the output axis (scaleOut) or of the input axis by factor[c], in place.
/// `stats` must hold the statistics of the values on entry; they are refreshed to the new values
/// (the scaled axis's from its old min/max when that is exact, the other from the values read).
/// Returns the sum of squared float32 differences between new and old elements, accumulated in
/// double. Results do not depend on `threads`.
double scale(float* data, const AxisView& view, bool scaleOut, const float* factor, Stats& stats,
             int threads);

/// Multiplies every element by inFactor[its input channel], then the rounded product by
/// outFactor[its output channel] (bit for bit what two scale() passes give), in one pass. On entry
/// stats.outMin/outMax must be those of data * inFactor (what measureScaledOutputs returns); all
/// of `stats` is refreshed. Returns the squared change of the second multiplication only.
double scaleInThenOut(float* data, const AxisView& view, const float* inFactor,
                      const float* outFactor, Stats& stats, int threads);

}  // namespace cle::core::kernel
