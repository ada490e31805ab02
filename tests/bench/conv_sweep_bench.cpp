// One equalization sweep on a real-size convolution network next to the memory-bound floor: one
// plain read+write pass over every paired layer's weights, in the order the pairs first name them.
//
//   /usr/bin/python3 tests/bench/make_inception_v3_like.py /tmp/inc.h5 /tmp/inc_pairs.json
//   CLE_BENCH_FILE=/tmp/inc.h5 CLE_BENCH_PAIRS=/tmp/inc_pairs.json \
//       ./build/tests/bench/conv_sweep_bench --benchmark_repetitions=7 \
//       --benchmark_enable_random_interleaving=true
//   (or tests/bench/sweep_ratio.py, which prints the ratio per repetition, min and median)
//
// A sweep is timed from the end of sweep 1 to the end of sweep 11 (divided by 10), through the
// progress callback, so loading, copying and the first measurement are left out.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <set>
#include <stdexcept>
#include <thread>

#include "cle/core/equalizer.h"
#include "cle/core/pairs.h"

using namespace cle;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    if (!v) throw std::runtime_error(std::string("set ") + name);
    return v;
}

double processCpuSeconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

const core::Model& model() {
    static core::Model m = core::loadModel(env("CLE_BENCH_FILE"));
    return m;
}

const std::vector<core::LayerPair>& pairs() {
    static auto p = core::expandGroups(core::readGroupsFile(env("CLE_BENCH_PAIRS")));
    return p;
}

void Sweep(benchmark::State& state) {
    constexpr int kSweeps = 11;
    core::EqualizeOptions options{1e-30, kSweeps, int(state.range(0))};
    for (auto _ : state) {
        using Clock = std::chrono::steady_clock;
        Clock::time_point first, last;
        double cpuFirst = 0, cpuLast = 0;
        auto progress = [&](const core::Progress& p) {
            if (p.sweepDone && p.sweep == 1) first = Clock::now(), cpuFirst = processCpuSeconds();
            if (p.sweepDone && p.sweep == kSweeps)
                last = Clock::now(), cpuLast = processCpuSeconds();
            return true;
        };
        auto r = core::equalize(model(), pairs(), options, progress);
        benchmark::DoNotOptimize(r.layers.data());
        state.SetIterationTime(std::chrono::duration<double>(last - first).count() / (kSweeps - 1));
        // On a loaded machine the processor time (all threads) is the steadier figure.
        state.counters["cpu_ms"] = (cpuLast - cpuFirst) * 1e3 / (kSweeps - 1);
    }
}
BENCHMARK(Sweep)
    ->Arg(1)
    ->Arg(2)
    ->ArgNames({"threads"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// The floor: each paired layer read once and written once, by 1 or 2 threads.
void ReadWritePass(benchmark::State& state) {
    std::vector<core::Tensor> tensors;
    std::set<std::string> seen;
    for (const auto& [a, b] : pairs())
        for (const auto& name : {a, b})
            if (seen.insert(name).second) tensors.push_back(model().find(name)->weight);
    const int threads = int(state.range(0));
    // Each thread takes its share of every tensor, with no synchronisation between tensors.
    auto work = [&](int k) {
        for (auto& t : tensors) {
            float* x = t.values.data();
            const size_t n = t.values.size(), part = n / size_t(threads);
            const size_t end = k + 1 == threads ? n : part * size_t(k + 1);
            for (size_t i = part * size_t(k); i < end; ++i) x[i] *= 1.0001f;
        }
    };
    double cpu = 0;
    for (auto _ : state) {
        const double cpuStart = processCpuSeconds();
        std::vector<std::thread> pool;
        for (int k = 1; k < threads; ++k) pool.emplace_back(work, k);
        work(0);
        for (auto& th : pool) th.join();
        benchmark::ClobberMemory();
        cpu += processCpuSeconds() - cpuStart;
    }
    // All threads' processor time, as for the sweep (cpu_time counts the main thread only).
    state.counters["cpu_ms"] = cpu * 1e3 / double(state.iterations());
}
BENCHMARK(ReadWritePass)
    ->Arg(1)
    ->Arg(2)
    ->ArgNames({"threads"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

}  // namespace

BENCHMARK_MAIN();
