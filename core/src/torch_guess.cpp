// Pairs for files without a layer graph (PyTorch state dicts and the like): consecutive layers in
// name order whose channels match, and batch norms matched to layers by the usual naming.
#include <algorithm>
#include <cctype>

#include "cle/core/pairs.h"
#include "h5.h"
#include "topology_detail.h"

namespace cle::core::detail {

namespace {

constexpr double kTorchEpsilon = 1e-5;

bool isDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

struct Norm {
    BatchNormRef ref;
    std::int64_t channels = 0;
    bool used = false;
};

std::vector<std::int64_t> shapeOf(hid_t file, const std::string& path) {
    if (!h5::isDataset(file, path)) return {};
    h5::Handle d(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
    return d ? h5::datasetShape(d.get()) : std::vector<std::int64_t>{};
}

std::string vectorPath(hid_t file, const std::string& path) {
    return shapeOf(file, path).size() == 1 ? path : "";
}

// Every `<bn>.running_mean` with its `<bn>.running_var` (and `.weight` / `.bias` when present).
std::vector<Norm> findNorms(hid_t file) {
    static const std::string mean = "running_mean";
    std::vector<Norm> norms;
    for (const auto& d : h5::listDatasets(file)) {
        if (d.size() <= mean.size() + 1 || !d.ends_with(mean)) continue;
        std::string prefix = d.substr(0, d.size() - mean.size());  // keeps the '.' or '/'
        char sep = prefix.back();
        auto shape = shapeOf(file, d);
        if ((sep != '.' && sep != '/') || shape.size() != 1) continue;
        if (vectorPath(file, prefix + "running_var").empty()) continue;
        Norm n;
        n.channels = shape[0];
        n.ref.name = prefix.substr(1, prefix.size() - 2);
        std::replace(n.ref.name.begin(), n.ref.name.end(), '/', '.');
        n.ref.meanPath = d;
        n.ref.varPath = prefix + "running_var";
        n.ref.gammaPath = vectorPath(file, prefix + "weight");
        n.ref.betaPath = vectorPath(file, prefix + "bias");
        n.ref.epsilon = kTorchEpsilon;
        norms.push_back(std::move(n));
    }
    return norms;
}

// Names a batch norm after `layer` usually has: the next index in the same container
// (`features.3` -> `features.4`, `downsample.0` -> `downsample.1`), or `conv1` -> `bn1`.
std::vector<std::string> normNames(const std::string& layer) {
    std::vector<std::string> names;
    auto dot = layer.find_last_of('.');
    std::string parent = dot == std::string::npos ? "" : layer.substr(0, dot + 1);
    std::string last = dot == std::string::npos ? layer : layer.substr(dot + 1);
    if (!last.empty() && std::all_of(last.begin(), last.end(), isDigit) && last.size() < 10)
        names.push_back(parent + std::to_string(std::stoll(last) + 1));
    if (auto pos = last.find("conv"); pos != std::string::npos)
        names.push_back(parent + last.substr(0, pos) + "bn" + last.substr(pos + 4));
    return names;
}

void matchNorms(const ModelInfo& info, std::vector<Norm>& norms, Topology& t) {
    for (const auto& layer : info.layers) {
        if (layer.rank() < 2) continue;
        for (const auto& name : normNames(layer.name)) {
            auto it = std::find_if(norms.begin(), norms.end(), [&](const Norm& n) {
                return !n.used && n.ref.name == name && n.channels == layer.outChannels();
            });
            if (it == norms.end()) continue;
            it->used = true;
            BatchNormRef ref = it->ref;
            ref.after = layer.name;
            t.batchNorms_.push_back(std::move(ref));
            break;
        }
    }
}

}  // namespace

bool naturalLess(const std::string& a, const std::string& b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (isDigit(a[i]) && isDigit(b[j])) {
            size_t ie = i, je = j;
            while (ie < a.size() && isDigit(a[ie])) ++ie;
            while (je < b.size() && isDigit(b[je])) ++je;
            std::string x = a.substr(i, ie - i), y = b.substr(j, je - j);
            x.erase(0, std::min(x.find_first_not_of('0'), x.size() - 1));
            y.erase(0, std::min(y.find_first_not_of('0'), y.size() - 1));
            if (x.size() != y.size()) return x.size() < y.size();
            if (x != y) return x < y;
            i = ie;
            j = je;
        } else {
            if (a[i] != b[j]) return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    if (i < a.size() || j < b.size()) return j < b.size() && i == a.size();
    return a < b;  // equal but for leading zeros
}

void guessPairs(const ModelInfo& info, hid_t file, bool sortByName, Topology& t) {
    t.known_ = false;
    for (const auto& l : info.layers) t.order_.push_back(l.name);
    if (sortByName) std::stable_sort(t.order_.begin(), t.order_.end(), naturalLess);
    auto norms = findNorms(file);
    matchNorms(info, norms, t);
    for (size_t i = 0; i + 1 < t.order_.size(); ++i) {
        Link link;
        link.first = t.order_[i];
        link.second = t.order_[i + 1];
        link.guessed = true;
        for (const auto& bn : t.batchNorms_)
            if (bn.after == link.first) link.batchNorm = bn;
        if (auto problem = pairProblem(info, link.first, link.second))
            t.rejected_.push_back({{link.first, link.second}, *problem});
        else
            t.links_.push_back(std::move(link));
    }
}

}  // namespace cle::core::detail
