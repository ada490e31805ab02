// One equalization sweep on a synthetic 52 M-parameter chain, next to the memory-bound floor:
// one read+write pass over the same bytes.
//
//   ./build/tests/bench/sweep_bench
//
// A sweep costs (time of sweeps:11 - time of sweeps:1) / 10: both runs pay the same set-up
// (copying the layers and measuring their ranges once), which the difference cancels.
#include <benchmark/benchmark.h>

#include <random>
#include <thread>

#include "cle/core/equalizer.h"

using namespace cle;

namespace {

constexpr int kLayers = 8;
constexpr int kWidth = 2560;  // 8 x 2560 x 2560 = 52.4 M parameters, 210 MB of float32

const core::Model& chainModel() {
    static core::Model model = [] {
        core::Model m;
        std::mt19937 gen(1);
        std::uniform_real_distribution<float> dist(-1.f, 1.f);
        for (int k = 0; k < kLayers; ++k) {
            core::Layer l;
            l.info.name = "fc" + std::to_string(k);
            l.info.kind = "Linear";
            l.info.shape = {kWidth, kWidth};
            l.weight.shape = l.info.shape;
            l.weight.values.resize(size_t(kWidth) * kWidth);
            for (size_t i = 0; i < l.weight.values.size(); ++i)
                l.weight.values[i] = dist(gen) * float(1 + (i / kWidth) % 7);
            l.info.biasPath = "/b";
            l.bias = core::Tensor{{kWidth}, std::vector<float>(kWidth, 0.5f)};
            m.info.layers.push_back(l.info);
            m.layers.push_back(std::move(l));
        }
        return m;
    }();
    return model;
}

std::vector<core::LayerPair> chainPairs() {
    core::Group g;
    for (int k = 0; k < kLayers; ++k) g.push_back("fc" + std::to_string(k));
    return core::expandGroups({g});
}

void Equalize(benchmark::State& state) {
    const auto& model = chainModel();
    auto pairs = chainPairs();
    core::EqualizeOptions options{1e-30, int(state.range(0)), int(state.range(1))};
    for (auto _ : state) {
        auto r = core::equalize(model, pairs, options);
        benchmark::DoNotOptimize(r.layers.data());
    }
    state.counters["params"] = double(kLayers) * kWidth * kWidth;
}
BENCHMARK(Equalize)
    ->ArgsProduct({{1, 11}, {1, 2}})
    ->ArgNames({"sweeps", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// The floor: every byte of every layer read once and written once, by 1 or 2 threads.
void ReadWritePass(benchmark::State& state) {
    auto layers = chainModel().layers;
    const int threads = int(state.range(0));
    for (auto _ : state) {
        for (auto& l : layers) {
            float* x = l.weight.values.data();
            const size_t n = l.weight.values.size(), part = n / size_t(threads);
            auto work = [&](size_t begin, size_t end) {
                for (size_t i = begin; i < end; ++i) x[i] *= 1.0001f;
            };
            std::vector<std::thread> pool;
            for (int t = 1; t < threads; ++t)
                pool.emplace_back(work, part * size_t(t),
                                  t + 1 == threads ? n : part * size_t(t + 1));
            work(0, part);
            for (auto& t : pool) t.join();
            benchmark::ClobberMemory();
        }
    }
}
BENCHMARK(ReadWritePass)
    ->Arg(1)
    ->Arg(2)
    ->ArgNames({"threads"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
