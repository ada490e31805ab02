// Normalization parameter sets in files without a layer graph, whatever their names, and which
// layer each one follows: the user's word first, then the usual PyTorch naming.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <unordered_map>
#include <vector>

#include "cle/core/error.h"
#include "formats/formats.h"
#include "graph/topology_detail.h"
#include "hdf5/h5.h"

namespace cle::core::detail {

namespace {

constexpr double kTorchEpsilon = 1e-5;
constexpr double kKerasEpsilon = 1e-3;

struct Found {
    BatchNormRef ref;
    std::int64_t channels = 0;
    bool foldable = true;
    int vectors = 4;
    bool byName = false;  ///< PyTorch naming may attribute it
};

bool isDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::vector<std::int64_t> shapeOf(hid_t file, const std::string& path) {
    if (!h5::isDataset(file, path)) return {};
    h5::Handle d(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
    return d ? h5::datasetShape(d.get()) : std::vector<std::int64_t>{};
}

std::string vectorPath(hid_t file, const std::string& path) {
    return shapeOf(file, path).size() == 1 ? path : "";
}

// Datasets `<prefix><mean><suffix>` with a `<prefix><var><suffix>` vector beside them; `gamma`
// and `beta` are optional. PyTorch: running_mean / running_var / weight / bias; Keras 2:
// moving_mean:0 / moving_variance:0 / gamma:0 / beta:0.
void findByStatistics(hid_t file, const std::vector<std::string>& datasets, const std::string& mean,
                      const std::string& var, const std::string& gamma, const std::string& beta,
                      bool torch, std::vector<Found>& out) {
    for (const auto& d : datasets) {
        if (d.size() <= mean.size() + 1 || !d.ends_with(mean)) continue;
        std::string prefix = d.substr(0, d.size() - mean.size());  // keeps the '.' or '/'
        char sep = prefix.back();
        auto shape = shapeOf(file, d);
        if ((sep != '.' && sep != '/') || (!torch && sep != '/') || shape.size() != 1) continue;
        if (vectorPath(file, prefix + var).empty()) continue;
        Found n;
        n.channels = shape[0];
        std::string group = prefix.substr(0, prefix.size() - 1);
        if (torch) {
            n.ref.name = group.substr(1);
            std::replace(n.ref.name.begin(), n.ref.name.end(), '/', '.');
        } else {  // model_weights/bn/bn/moving_mean:0 is the layer "bn"
            n.ref.name = group.substr(group.find_last_of('/') + 1);
        }
        n.ref.meanPath = d;
        n.ref.varPath = prefix + var;
        n.ref.gammaPath = vectorPath(file, prefix + gamma);
        n.ref.betaPath = vectorPath(file, prefix + beta);
        n.ref.epsilon = torch ? kTorchEpsilon : kKerasEpsilon;
        n.byName = torch;
        out.push_back(std::move(n));
    }
}

// Keras 3: `layers/<name>/vars/0..k-1` holding 2 to 4 vectors of one length. Only four of them
// can be told apart (gamma, beta, moving mean, moving variance); fewer come from a batch norm
// with scale or center off, or from another normalization.
void findKeras3(hid_t file, const std::string& group, const std::string& name,
                std::vector<Found>& out, std::set<haddr_t>& visited, int depth) {
    auto address = formats::groupAddress(file, group);
    if (!address || !visited.insert(*address).second || depth > formats::kMaxKeras3Depth) return;
    std::string vars = group + "/vars";
    if (h5::isGroup(file, vars)) {
        auto names = h5::listChildren(file, vars);
        std::int64_t n = -1;
        bool vectors = names.size() >= 2 && names.size() <= 4;
        for (const auto& v : names) {
            auto shape = shapeOf(file, vars + "/" + v);
            vectors = vectors && shape.size() == 1 && (n < 0 || shape[0] == n);
            if (!shape.empty()) n = shape[0];
        }
        for (int i = 0; vectors && i < int(names.size()); ++i)
            vectors = std::find(names.begin(), names.end(), std::to_string(i)) != names.end();
        if (vectors) {
            Found f;
            f.ref.name = name;
            f.channels = n;
            f.vectors = int(names.size());
            f.foldable = names.size() == 4;
            if (f.foldable) {
                f.ref.gammaPath = vars + "/0";
                f.ref.betaPath = vars + "/1";
                f.ref.meanPath = vars + "/2";
                f.ref.varPath = vars + "/3";
            }
            f.ref.epsilon = kKerasEpsilon;
            out.push_back(std::move(f));
        }
    }
    for (const auto& child : h5::listChildren(file, group)) {
        std::string path = group + "/" + child;
        if (child == "vars" || !h5::isGroup(file, path)) continue;
        // layers/functional/layers/dense is the layer "functional/dense", as formats.cpp names it.
        std::string own = formats::keras3Name(file, path, child);
        std::string inner = name.empty() ? own : name + "/" + own;
        bool container = child == "layers" || child == formats::kLegacyLayers;
        findKeras3(file, path, container ? name : inner, out, visited, depth + 1);
    }
}

std::vector<Found> findNorms(hid_t file, std::optional<double> epsilon) {
    std::vector<Found> found;
    const auto datasets = h5::listDatasets(file);
    findByStatistics(file, datasets, "running_mean", "running_var", "weight", "bias", true, found);
    findByStatistics(file, datasets, "moving_mean:0", "moving_variance:0", "gamma:0", "beta:0",
                     false, found);
    if (auto container = formats::keras3Container(file); !container.empty()) {
        std::set<haddr_t> visited;
        findKeras3(file, "/" + container, "", found, visited, 0);
    }
    if (epsilon)
        for (auto& f : found) f.ref.epsilon = *epsilon;
    return found;
}

// Names a batch norm after `layer` usually has: the next index in the same container
// (`features.3` -> `features.4`, `downsample.0` -> `downsample.1`), `conv1` -> `bn1`, or the
// layer's name with a suffix (`block_1_expand_BN`, `conv.bn`, `conv.BatchNorm`).
std::vector<std::string> normNames(const std::string& layer) {
    std::vector<std::string> names;
    auto dot = layer.find_last_of('.');
    std::string parent = dot == std::string::npos ? "" : layer.substr(0, dot + 1);
    std::string last = dot == std::string::npos ? layer : layer.substr(dot + 1);
    if (!last.empty() && std::all_of(last.begin(), last.end(), isDigit) && last.size() < 10)
        names.push_back(parent + std::to_string(std::stoll(last) + 1));
    if (auto pos = last.find("conv"); pos != std::string::npos)
        names.push_back(parent + last.substr(0, pos) + "bn" + last.substr(pos + 4));
    for (const char* suffix : {"_BN", "_bn", ".bn", ".BatchNorm", "_BatchNorm"})
        names.push_back(layer + suffix);
    return names;
}

std::string attribution(const std::string& layer, const std::string& bn) {
    return "--fold-bn " + layer + "=" + bn + ": ";
}

// The user's attributions; marks the batch norms and layers they take.
void attributeByUser(const ModelInfo& info, const TopologyOptions& options,
                     std::vector<Found>& found, std::vector<bool>& used,
                     std::set<std::string>& claimed, Topology& t) {
    for (const auto& [layer, bn] : options.foldBn) {
        const LayerInfo* l = info.find(layer);
        if (!l)
            throw usageError(attribution(layer, bn) + "'" + info.path + "' has no layer '" + layer +
                             "' (see 'cle inspect' for the layer names)");
        auto it = std::find_if(found.begin(), found.end(),
                               [&bn = bn](const Found& f) { return f.ref.name == bn; });
        if (it == found.end()) {
            std::string names;
            for (const auto& f : found) names += (names.empty() ? "'" : ", '") + f.ref.name + "'";
            throw usageError(attribution(layer, bn) + "'" + info.path + "' has no batch norm '" +
                             bn + "'" + (names.empty() ? "" : "; it has " + names));
        }
        if (!it->foldable)
            throw usageError(attribution(layer, bn) + "'" + bn + "' holds " +
                             std::to_string(it->vectors) +
                             " vectors, not the four of a batch norm (gamma, beta, moving mean, "
                             "moving variance), so it cannot be folded");
        if (it->channels != l->outChannels())
            throw usageError(attribution(layer, bn) + "batch norm '" + bn + "' has " +
                             std::to_string(it->channels) + " channels but layer '" + layer +
                             "' has " + std::to_string(l->outChannels()) + " output channels");
        size_t i = size_t(it - found.begin());
        if (used[i] || !claimed.insert(layer).second)
            throw usageError(attribution(layer, bn) + "'" + (used[i] ? bn : layer) +
                             "' is attributed twice");
        used[i] = true;
        BatchNormRef ref = it->ref;
        ref.after = layer;
        t.batchNorms_.push_back(std::move(ref));
    }
}

}  // namespace

void attributeNorms(const ModelInfo& info, hid_t file, const TopologyOptions& options,
                    Topology& t) {
    auto found = findNorms(file, options.bnEpsilon);
    std::vector<bool> used(found.size(), false);
    std::set<std::string> claimed;
    attributeByUser(info, options, found, used, claimed, t);
    std::unordered_map<std::string, std::vector<size_t>> byName;  // in the order found
    for (size_t i = 0; i < found.size(); ++i) byName[found[i].ref.name].push_back(i);
    for (const auto& layer : info.layers) {
        if (layer.rank() < 2 || claimed.count(layer.name)) continue;
        for (const auto& name : normNames(layer.name)) {
            auto candidates = byName.find(name);
            if (candidates == byName.end()) continue;
            size_t i = found.size();
            for (size_t c : candidates->second)
                if (found[c].byName && !used[c] && found[c].foldable &&
                    found[c].channels == layer.outChannels()) {
                    i = c;
                    break;
                }
            if (i == found.size()) continue;
            used[i] = true;
            BatchNormRef ref = found[i].ref;
            ref.after = layer.name;
            t.batchNorms_.push_back(std::move(ref));
            break;
        }
    }
    for (size_t i = 0; i < found.size(); ++i) {
        if (used[i]) continue;
        UnattributedNorm n{
            found[i].ref.name, found[i].channels, found[i].foldable, found[i].vectors, {}};
        for (const auto& layer : info.layers)
            if (layer.rank() >= 2 && layer.outChannels() == n.channels)
                n.couldFollow.push_back(layer.name);
        t.unattributed_.push_back(std::move(n));
    }
}

std::string unattributedReason(const UnattributedNorm& n, const std::string& layer) {
    std::string channels = std::to_string(n.channels);
    if (n.foldable)
        return "batch norm '" + n.name + "' (" + channels +
               " channels) is not attributed to a layer and could follow '" + layer +
               "'; attribute it with --fold-bn " + layer + "=" + n.name;
    return "normalization '" + n.name + "' (" + std::to_string(n.vectors) + " vectors of " +
           channels + " values) is not attributed to a layer and could follow '" + layer +
           "'; its vectors cannot be told apart (a batch norm with scale or center off, or "
           "another normalization), so it cannot be folded and '" +
           layer + "' can be paired only with the model's layer graph";
}

}  // namespace cle::core::detail
