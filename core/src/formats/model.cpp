#include "cle/core/model.h"

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <utility>

#include "cle/core/error.h"
#include "hdf5/dtype_io.h"
#include "hdf5/h5.h"

namespace cle::core {

const Layer* Model::find(const std::string& name) const {
    // `layers` follows info.layers: its index finds the position.
    std::ptrdiff_t i = info.position(name);
    if (i >= 0 && size_t(i) < layers.size() && layers[size_t(i)].info.name == name)
        return &layers[size_t(i)];
    for (const auto& l : layers)
        if (l.info.name == name) return &l;
    return nullptr;
}

Layer* Model::find(const std::string& name) {
    return const_cast<Layer*>(std::as_const(*this).find(name));
}

std::int64_t availableMemory() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::int64_t kb = 0;
    while (in >> key >> kb) {
        if (key == "MemAvailable:") return kb * 1024;
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? std::int64_t(pages) * size : 0;
}

namespace {

std::string megabytes(std::int64_t bytes) {
    return std::to_string(bytes / (1 << 20) + (bytes % (1 << 20) != 0)) + " MB";  // rounded up
}

// Compares the memory the supported layers claim with the limit before any of them is read.
void checkClaimedSize(const ModelInfo& info, std::int64_t maxBytes) {
    std::int64_t limit = maxBytes > 0 ? maxBytes : availableMemory();
    if (limit <= 0) return;
    std::int64_t total = 0, largest = 0;
    const LayerInfo* big = nullptr;
    for (const auto& l : info.layers) {
        if (!l.supported) continue;
        std::int64_t bytes = 4;
        for (auto d : l.shape)  // finishLayer has refused counts that overflow
            bytes = d > 0 && bytes > INT64_MAX / d ? INT64_MAX : bytes * d;
        if (bytes > largest) largest = bytes, big = &l;
        std::int64_t bias = 0, layer = 0;
        if (__builtin_mul_overflow(std::int64_t(4), l.biasSize, &bias) ||
            __builtin_add_overflow(bytes, bias, &layer) ||
            __builtin_add_overflow(total, layer, &total))
            total = INT64_MAX;
    }
    if (total <= limit) return;
    throw inputError("the weights of '" + info.path + "' need " + megabytes(total) +
                     " of memory, more than the " + megabytes(limit) +
                     (maxBytes > 0 ? " allowed" : " available") + " (largest: dataset " +
                     big->weightPath + " of layer '" + big->name + "', " + megabytes(largest) +
                     "); --max-memory sets the limit");
}

}  // namespace

Model loadModel(const std::string& path, std::optional<Layout> layout, std::int64_t maxBytes) {
    Model model;
    model.info = inspectFile(path, layout);
    checkClaimedSize(model.info, maxBytes);
    if (model.info.format == Format::Onnx) {
        for (const auto& info : model.info.layers) {
            Layer layer;
            layer.info = info;
            if (info.supported) {
                layer.weight = readDataset(path, info.weightPath);
                if (info.hasBias()) layer.bias = readDataset(path, info.biasPath);
            } else {
                layer.weight.shape = info.shape;
            }
            model.layers.push_back(std::move(layer));
        }
        if (fileIdentity(path) != model.info.identity)
            throw inputError("'" + path + "' changed while it was being read");
        return model;
    }
    h5::Silence quiet;
    h5::Handle file = h5::openExisting(path, false);
    model.layers.reserve(model.info.layers.size());
    for (const auto& info : model.info.layers) {
        Layer layer;
        layer.info = info;
        // Layers that can never be equalized (integer weights) are listed without their data.
        if (info.supported) {
            layer.weight = io::readTensor(file.get(), info.weightPath, path);
            if (info.hasBias()) layer.bias = io::readTensor(file.get(), info.biasPath, path);
        } else {
            layer.weight.shape = info.shape;
        }
        model.layers.push_back(std::move(layer));
    }
    if (fileIdentity(path) != model.info.identity)
        throw inputError("'" + path + "' changed while it was being read");
    return model;
}

void applyLayers(Model& model, const std::vector<Layer>& changed) {
    for (const auto& c : changed) {
        Layer* target = model.find(c.info.name);
        if (!target) throw inputError("layer '" + c.info.name + "' is not in the model");
        target->weight = c.weight;
        target->bias = c.bias;
    }
}

}  // namespace cle::core
