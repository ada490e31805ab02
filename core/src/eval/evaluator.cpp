// Running a compiled program over a batch: one sample per task, spread over threads, so the
// result of each sample does not depend on the thread count.
#include "cle/core/evaluator.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "cle/core/error.h"
#include "cle/core/model.h"
#include "program.h"

namespace cle::core {

namespace eval {

Tensor runOp(const Op& op, const std::vector<const Tensor*>& in, bool noSoftmax) {
    if (in.empty()) throw inputError("layer '" + op.name + "' has no input");
    const Tensor& x = *in[0];
    Tensor y;
    switch (op.kind) {
        case Kind::Conv:
            y = convolution(op, x);
            break;
        case Kind::Depthwise:
            y = depthwise(op.kernel, op.window, op.multiplier, op.oneD, x);
            addChannelBias(op.bias, y);
            break;
        case Kind::Separable: {
            Tensor d = depthwise(op.kernel, op.window, op.multiplier, op.oneD, x);
            const auto& pw = op.pointwise.shape;
            y = dense(op.pointwise.values.data(), pw[pw.size() - 2], pw.back(), op.bias, op.name,
                      d);
            break;
        }
        case Kind::Dense:
            y = dense(op.kernel.values.data(), op.kernel.shape[0], op.kernel.shape[1], op.bias,
                      op.name, x);
            break;
        case Kind::Activation:
            y = x;
            break;
        case Kind::Softmax:
            if (noSoftmax) return x;
            return elementwise(op, x);
        case Kind::BatchNorm:
        case Kind::Relu:
        case Kind::Elu:
        case Kind::ThresholdedRelu:
        case Kind::PRelu:
        case Kind::Rescale:
            return elementwise(op, x);
        case Kind::Pad:
        case Kind::Crop:
            return padOrCrop(op, x);
        case Kind::MaxPool:
        case Kind::AvgPool:
            return pooling(op, x);
        case Kind::GlobalAvg:
        case Kind::GlobalMax:
            return globalPooling(op, x);
        case Kind::Merge:
        case Kind::Concat:
            return combine(op, in);
        case Kind::Flatten:
        case Kind::Reshape:
        case Kind::Permute:
            return reshape(op, x);
        case Kind::UpSample:
            return upSample(op, x);
        case Kind::Input:
        case Kind::Identity:
            return x;
        case Kind::Constant:
            return op.kernel;
    }
    activate(op.activation, y, noSoftmax);
    return y;
}

}  // namespace eval

namespace {

using eval::Kind;
using eval::Program;

// The samples of one batch tensor [N, ...] as per-sample tensors.
Tensor sample(const Tensor& batch, std::int64_t i) {
    Tensor t;
    t.shape.assign(batch.shape.begin() + 1, batch.shape.end());
    const std::int64_t n = t.size();
    t.values.assign(batch.values.begin() + i * n, batch.values.begin() + (i + 1) * n);
    return t;
}

bool producesSoftmax(const eval::Op& op) {
    // Over the last axis only: the verification compares the values before it.
    return (op.kind == Kind::Softmax && op.axis == -1) || op.activation == "softmax";
}

class Runner {
public:
    Runner(const Program& p, const RunOptions& o) : p_(p), o_(o), lastUse_(size_t(p.slots), -1) {
        for (size_t i = 0; i < p.ops.size(); ++i)
            for (int s : p.ops[i].in) lastUse_[size_t(s)] = int(i);
        for (int s : p.outputSlots) lastUse_[size_t(s)] = int(p.ops.size());
    }

    /// Sample `n` of `inputs`; with `seen`, the ranges of the weighted layers' inputs.
    std::vector<Tensor> one(const std::vector<Tensor>& inputs, std::int64_t n,
                            ActivationRanges* seen) const {
        std::vector<Tensor> slots(size_t(p_.slots));
        for (size_t k = 0; k < inputs.size(); ++k)
            slots[size_t(p_.inputSlots[k])] = sample(inputs[k], n);
        std::vector<const Tensor*> in;
        for (size_t i = 0; i < p_.ops.size(); ++i) {
            if (o_.cancel && o_.cancel->load()) throw Error(ErrorKind::Cancelled, "cancelled");
            const eval::Op& op = p_.ops[i];
            in.clear();
            for (int s : op.in) in.push_back(&slots[size_t(s)]);
            bool output = std::find(p_.outputSlots.begin(), p_.outputSlots.end(), op.out) !=
                          p_.outputSlots.end();
            Tensor rounded;
            if (eval::hasWeights(op.kind) && (seen || o_.activations)) {
                const auto& v = in[0]->values;
                if (seen && !v.empty()) {
                    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
                    seen->lo[i] = std::min(seen->lo[i], *lo);
                    seen->hi[i] = std::max(seen->hi[i], *hi);
                }
                if (o_.activations) {
                    rounded = *in[0];
                    eval::quantizeActivation(rounded, o_.activations->lo.at(i),
                                             o_.activations->hi.at(i));
                    in[0] = &rounded;
                }
            }
            slots[size_t(op.out)] = eval::runOp(op, in, output && o_.beforeSoftmax);
            for (int s : op.in)
                if (lastUse_[size_t(s)] == int(i)) slots[size_t(s)] = Tensor{};
        }
        std::vector<Tensor> out;
        for (int s : p_.outputSlots) out.push_back(slots[size_t(s)]);
        return out;
    }

private:
    const Program& p_;
    const RunOptions& o_;
    std::vector<int> lastUse_;
};

std::int64_t checkInputs(const Program& p, const std::vector<Tensor>& inputs) {
    if (inputs.size() != p.inputs.size())
        throw inputError("the network of '" + p.path + "' takes " +
                         std::to_string(p.inputs.size()) + " inputs, got " +
                         std::to_string(inputs.size()));
    std::int64_t n = -1;
    for (size_t k = 0; k < inputs.size(); ++k) {
        const auto& want = p.inputs[k].shape;
        const auto& got = inputs[k].shape;
        bool ok = (want.empty() || got.size() == want.size() + 1) && !got.empty() &&
                  (n < 0 || got[0] == n);
        for (size_t d = 0; ok && d < want.size(); ++d) ok = want[d] < 0 || want[d] == got[d + 1];
        if (!ok || std::int64_t(inputs[k].values.size()) != inputs[k].size())
            throw inputError("input '" + p.inputs[k].name + "' of the network of '" + p.path +
                             "' has the wrong shape");
        n = got[0];
    }
    return n;
}

}  // namespace

Network Network::load(const std::string& path, const Model& model, const NetworkOptions& options) {
    Program p;
    try {
        p = eval::compile(path, model, options);
    } catch (const Error& e) {
        // Every refusal names the file: a check compares two networks.
        const std::string message = e.what();
        if (e.kind() == ErrorKind::Cancelled || message.find("'" + path + "'") != std::string::npos)
            throw;
        throw Error(e.kind(), "'" + path + "': " + message);
    }
    p.path = path;
    Network net;
    net.program_ = std::make_shared<const Program>(std::move(p));
    return net;
}

const std::string& Network::path() const { return program_->path; }

const std::vector<NetworkInput>& Network::inputs() const { return program_->inputs; }

size_t Network::outputCount() const { return program_->outputSlots.size(); }

bool Network::endsInSoftmax() const {
    for (int s : program_->outputSlots) {
        auto op = std::find_if(program_->ops.begin(), program_->ops.end(),
                               [&](const eval::Op& o) { return o.out == s; });
        if (op == program_->ops.end() || !producesSoftmax(*op)) return false;
    }
    return true;
}

namespace {

// Calls work(i) for every sample i < n, spread over threads.
template <class Work>
void forEachSample(std::int64_t n, int threadOption, Work work) {
    std::atomic<std::int64_t> next{0};
    std::exception_ptr failure;
    std::mutex m;
    auto loop = [&] {
        for (std::int64_t i; (i = next++) < n;) {
            try {
                work(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(m);
                if (!failure) failure = std::current_exception();
                next = n;
            }
        }
    };
    const int threads =
        threadOption > 0 ? threadOption : int(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (int t = 1; t < std::min<std::int64_t>(threads, n); ++t) pool.emplace_back(loop);
    loop();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
}

// The program with the run's batch norm folding and weight rounding applied.
const Program& deployed(const Program& p, const RunOptions& o, Program& local) {
    if (!o.foldBatchNorms && o.weights == WeightQuantization::None) return p;
    local = p;
    if (o.foldBatchNorms) eval::foldBatchNorms(local);
    eval::quantizeWeights(local, o.weights);
    return local;
}

}  // namespace

std::vector<Tensor> Network::run(const std::vector<Tensor>& inputs, const RunOptions& o) const {
    const std::int64_t n = checkInputs(*program_, inputs);
    Program local;
    Runner runner(deployed(*program_, o, local), o);
    std::vector<std::vector<Tensor>> results(static_cast<size_t>(n));
    forEachSample(n, o.threads,
                  [&](std::int64_t i) { results[size_t(i)] = runner.one(inputs, i, nullptr); });
    std::vector<Tensor> out(program_->outputSlots.size());
    for (size_t k = 0; k < out.size(); ++k) {
        out[k].shape = {n};
        if (n > 0) {
            const auto& s = results[0][k].shape;
            out[k].shape.insert(out[k].shape.end(), s.begin(), s.end());
        }
        for (const auto& r : results)
            out[k].values.insert(out[k].values.end(), r[k].values.begin(), r[k].values.end());
    }
    return out;
}

ActivationRanges Network::calibrate(const std::vector<Tensor>& inputs, const RunOptions& o) const {
    const std::int64_t n = checkInputs(*program_, inputs);
    RunOptions plain = o;
    plain.activations = nullptr;
    Program local;
    Runner runner(deployed(*program_, plain, local), plain);
    const size_t ops = program_->ops.size();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<ActivationRanges> seen(
        size_t(n), {std::vector<float>(ops, inf), std::vector<float>(ops, -inf)});
    forEachSample(n, o.threads, [&](std::int64_t i) { runner.one(inputs, i, &seen[size_t(i)]); });
    ActivationRanges all{std::vector<float>(ops, inf), std::vector<float>(ops, -inf)};
    for (const auto& s : seen)
        for (size_t k = 0; k < ops; ++k) {
            all.lo[k] = std::min(all.lo[k], s.lo[k]);
            all.hi[k] = std::max(all.hi[k], s.hi[k]);
        }
    return all;
}

}  // namespace cle::core
