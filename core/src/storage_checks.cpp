// Layers whose data the export could not rewrite safely: stored in another file through an HDF5
// external link, or sharing one HDF5 dataset with another layer.
#include <map>
#include <utility>

#include "formats.h"
#include "h5.h"

namespace cle::core::formats {

namespace {

void refuse(LayerInfo& l, const std::string& reason) {
    if (!l.supported) return;
    l.supported = false;
    l.unsupportedReason = reason;
}

struct Use {
    size_t layer;
    const char* role;
};

// True when the dataset's data was never written: HDF5 would return its fill value for any size
// it claims, so a tiny file could claim gigabytes.
bool neverWritten(hid_t file, const std::string& path) {
    h5::Handle d = h5::openLocalDataset(file, path);
    H5D_space_status_t status;
    return d && H5Dget_space_status(d.get(), &status) >= 0 &&
           status == H5D_SPACE_STATUS_NOT_ALLOCATED;
}

}  // namespace

void markUnsafeStorage(hid_t file, std::vector<LayerInfo>& layers) {
    for (auto& l : layers) {
        if (l.supported && neverWritten(file, l.weightPath))
            refuse(l, "the file stores no data for its weights (" + l.weightPath +
                          " was never written)");
        for (auto [path, role] : {std::pair{l.weightPath, "weights"}, {l.biasPath, "bias"}})
            if (!path.empty() && h5::crossesExternalLink(file, path))
                refuse(l, std::string("its ") + role + " '" + path +
                              "' is an HDF5 external link to another file, which is never written");
    }
    std::map<haddr_t, Use> first;
    for (size_t i = 0; i < layers.size(); ++i) {
        auto& l = layers[i];
        for (auto [path, role] : {std::pair{l.weightPath, "weights"}, {l.biasPath, "bias"}}) {
            if (path.empty()) continue;
            auto address = h5::objectAddress(file, path);
            if (!address) continue;
            auto [it, fresh] = first.emplace(*address, Use{i, role});
            if (fresh) continue;
            auto& other = layers[it->second.layer];
            auto shared = [](const char* mine, const char* theirs, const std::string& name) {
                return std::string("its ") + mine + " and the " + theirs + " of '" + name +
                       "' are one HDF5 dataset (shared storage): changing one would change the "
                       "other";
            };
            refuse(l, shared(role, it->second.role, other.name));
            refuse(other, shared(it->second.role, role, l.name));
        }
    }
}

}  // namespace cle::core::formats
