// The evaluator's speed: its convolution next to a plain Eigen GEMM of the same size (the
// im2col matrix times the kernel), and `cle verify` (six forward passes of 8 inputs: both
// networks in float32 and with INT8 weights per tensor and per channel) on MobileNetV2- and
// InceptionV3-size networks.
//
//   ./build/tests/bench/eval_bench
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <random>

#include "cle/core/verification.h"
#include "eval/program.h"
#include "synthetic_networks.h"

using namespace cle;

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

core::Tensor randomTensor(std::vector<std::int64_t> shape, unsigned seed) {
    core::Tensor t{std::move(shape), {}};
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    t.values.resize(size_t(t.size()));
    for (auto& v : t.values) v = dist(gen);
    return t;
}

// args: spatial size, input channels, output channels, kernel size ('same', stride 1)
void convolution(benchmark::State& state) {
    const long hw = state.range(0), cin = state.range(1), cout = state.range(2), k = state.range(3);
    core::eval::Op op;
    op.kind = core::eval::Kind::Conv;
    op.window.kernel = {k, k};
    op.window.padding = "same";
    op.kernel = randomTensor({k, k, cin, cout}, 1);
    op.bias.assign(size_t(cout), 0.1f);
    core::Tensor x = randomTensor({hw, hw, cin}, 2);
    for (auto _ : state) benchmark::DoNotOptimize(core::eval::convolution(op, x));
    state.counters["GFLOP/s"] = benchmark::Counter(
        2.0 * double(hw * hw * k * k * cin * cout) * double(state.iterations()) * 1e-9,
        benchmark::Counter::kIsRate);
}

void gemm(benchmark::State& state) {
    const long hw = state.range(0), cin = state.range(1), cout = state.range(2), k = state.range(3);
    RowMatrix a = RowMatrix::Random(hw * hw, k * k * cin), b = RowMatrix::Random(k * k * cin, cout);
    RowMatrix c(hw * hw, cout);
    for (auto _ : state) {
        c.noalias() = a * b;
        benchmark::DoNotOptimize(c.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(
        2.0 * double(hw * hw * k * k * cin * cout) * double(state.iterations()) * 1e-9,
        benchmark::Counter::kIsRate);
}

void sizes(benchmark::internal::Benchmark* b) {
    b->Args({112, 32, 32, 3})
        ->Args({56, 64, 64, 3})
        ->Args({28, 128, 128, 3})
        ->Args({14, 256, 256, 3})
        ->Args({28, 96, 576, 1})
        ->Unit(benchmark::kMillisecond);
}

BENCHMARK(convolution)->Apply(sizes);
BENCHMARK(gemm)->Apply(sizes);

const test::TempDir& scratch() {
    static test::TempDir dir;
    return dir;
}

void verifyNetwork(benchmark::State& state, const std::string& name, bench::Builder (*make)(),
                   std::vector<std::int64_t> shape) {
    const std::string path = scratch().file(name + ".h5");
    bench::Builder b = make();
    b.write(path);
    core::VerifyOptions o;
    o.samples = 8;
    o.inputShape = std::move(shape);
    for (auto _ : state) benchmark::DoNotOptimize(core::verifyFiles(path, path, o));
    state.counters["weights (M)"] = double(b.weights()) * 1e-6;
}

void verifyMobileNetV2(benchmark::State& state) {
    verifyNetwork(state, "mobilenet_v2", bench::mobileNetV2, {224, 224, 3});
}
void verifyInceptionV3(benchmark::State& state) {
    verifyNetwork(state, "inception_v3", bench::inceptionV3, {299, 299, 3});
}

// CPU time is the whole process's (every thread): on a loaded machine it says what the check
// costs, the real time what it took.
BENCHMARK(verifyMobileNetV2)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(verifyInceptionV3)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
