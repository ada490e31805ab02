// The sweep kernel's passes per layer shape, on weights not in cache, next to a plain read+write
// pass (x[i] *= g) over the same weights:
//
//   ./build/tests/bench/kernel_shapes_bench
//
// Each shape is copied until the copies fill 96 MiB and every pass takes the next copy, so each
// reads its weights from memory, as a sweep over a whole network does. Printed: processor time
// per weight (1 thread, the best of 5 rounds) and its ratio to the plain pass, for the passes of
// a chain's first layer (output scaling), last layer (input scaling) and middle layer (its output
// ranges after its input scaling, then both scalings in one read+write pass).
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

#include "engine/channel_kernel.h"

using namespace cle::core;

namespace {

double threadCpuSeconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

struct Shape {
    const char* name;
    std::vector<std::int64_t> dims;  // PyTorch layout [out, in, kh, kw]
};

void run(const Shape& shape) {
    std::int64_t n = 1;
    for (auto d : shape.dims) n *= d;
    const std::int64_t copies = std::max<std::int64_t>(2, (std::int64_t(96) << 20) / 4 / n);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    std::vector<float> ring(size_t(n * copies));
    for (auto& v : ring) v = normal(rng);
    std::int64_t next = 0;
    auto copy = [&] { return ring.data() + (next++ % copies) * n; };
    const bool depthwise = shape.dims[1] == 1;
    const auto view = kernel::makeView(shape.dims, 0, depthwise ? 0 : 1);
    std::vector<float> out(size_t(shape.dims[0]), 1.000001f);
    std::vector<float> in(size_t(depthwise ? shape.dims[0] : shape.dims[1]), 0.999999f);
    const kernel::Stats start = kernel::measure(ring.data(), view, 1);
    const int reps = int(std::max<std::int64_t>(3, 40000000 / n));
    auto time = [&](auto pass) {
        double best = 1e9;
        for (int round = 0; round < 5; ++round) {
            const double t0 = threadCpuSeconds();
            for (int r = 0; r < reps; ++r) pass();
            best = std::min(best, (threadCpuSeconds() - t0) / reps / double(n) * 1e9);
        }
        return best;
    };
    volatile float factor = 1.0000001f;
    const float g = factor;
    const double floor = time([&] {
        float* x = copy();
        for (std::int64_t i = 0; i < n; ++i) x[i] *= g;
        asm volatile("" ::: "memory");
    });
    const double first = time([&] {
        kernel::Stats s = start;
        kernel::scale(copy(), view, true, out.data(), s, 1);
    });
    const double last = time([&] {
        kernel::Stats s = start;
        kernel::scale(copy(), view, false, in.data(), s, 1);
    });
    const double middle = time([&] {
        float* x = copy();
        kernel::Stats s = kernel::measureScaledOutputs(x, view, in.data(), 1, &start);
        kernel::scaleInThenOut(x, view, in.data(), out.data(), s, 1);
    });
    std::printf("%-22s plain %.3f ns; first %.3f (%.1fx), last %.3f (%.1fx), middle %.3f (%.1fx)\n",
                shape.name, floor, first, first / floor, last, last / floor, middle,
                middle / floor);
}

}  // namespace

int main() {
    const std::vector<Shape> shapes = {
        {"1x1 192x768", {192, 768, 1, 1}}, {"1x1 2048x384", {2048, 384, 1, 1}},
        {"3x3 384x448", {384, 448, 3, 3}}, {"3x3 96x64", {96, 64, 3, 3}},
        {"1x7 192x192", {192, 192, 1, 7}}, {"7x1 192x192", {192, 192, 7, 1}},
        {"1x3 384x384", {384, 384, 1, 3}}, {"depthwise 3x3 576", {576, 1, 3, 3}},
    };
    for (const auto& s : shapes) run(s);
}
