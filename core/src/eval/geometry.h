#pragma once
// Output size and padding of a sliding window over a height x width x channels sample.
#include "program.h"

namespace cle::core::eval {

struct Geometry {
    long h = 1, w = 1, c = 1;      ///< input
    long oh = 1, ow = 1;           ///< output
    long padTop = 0, padLeft = 0;  ///< leading padding (the trailing padding is implied)
};

/// For a per-sample tensor of rank 3 (H, W, C) or, with `oneD`, rank 2 (L, C).
Geometry geometryOf(const Window& w, bool oneD, const Tensor& x, const std::string& layer);

/// Output index range [lo, hi) whose input position o * stride + tap - pad lies in [0, size).
inline void validRange(long size, long out, long stride, long tap, long pad, long& lo, long& hi) {
    long off = tap - pad;  // input = o * stride + off
    lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    hi = size - 1 - off < 0 ? 0 : (size - 1 - off) / stride + 1;
    if (hi > out) hi = out;
    if (lo > hi) lo = hi;
}

}  // namespace cle::core::eval
