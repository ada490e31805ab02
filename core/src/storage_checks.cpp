// Layers whose data the export could not rewrite safely, or should not read: stored in another
// file through an HDF5 external link, one HDF5 dataset shared with another layer, never written.
#include <map>
#include <optional>
#include <string>
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

// What one open of a weight or bias dataset tells.
struct Probe {
    bool external = false;       // reached through an external link (not opened)
    bool neverWritten = false;   // only a claimed shape: HDF5 would return fill values
    std::optional<haddr_t> address;
};

Probe probe(hid_t file, const std::string& path) {
    Probe p;
    h5::Handle d = h5::openLocalDataset(file, path, &p.external);
    if (!d) return p;
    H5O_info_t info;
    if (H5Oget_info2(d.get(), &info, H5O_INFO_BASIC) >= 0) p.address = info.addr;
    H5D_space_status_t status;
    p.neverWritten = H5Dget_space_status(d.get(), &status) >= 0 &&
                     status == H5D_SPACE_STATUS_NOT_ALLOCATED;
    return p;
}

std::string sharedReason(const char* mine, const char* theirs, const std::string& name) {
    return std::string("its ") + mine + " and the " + theirs + " of '" + name +
           "' are one HDF5 dataset (shared storage): changing one would change the other";
}

}  // namespace

void markUnsafeStorage(hid_t file, std::vector<LayerInfo>& layers) {
    h5::Silence quiet;
    std::map<haddr_t, Use> first;
    for (size_t i = 0; i < layers.size(); ++i) {
        auto& l = layers[i];
        for (auto [path, role] : {std::pair{l.weightPath, "weights"}, {l.biasPath, "bias"}}) {
            if (path.empty()) continue;
            Probe p = probe(file, path);
            if (p.external)
                refuse(l, std::string("its ") + role + " (" + path + ") " +
                              (role == std::string("bias") ? "is" : "are") +
                              " in another file, through an HDF5 external link (never written)");
            if (p.neverWritten && role == std::string("weights"))
                refuse(l, "the file stores no data for its weights (" + path + " was never written)");
            if (!p.address) continue;
            auto [it, fresh] = first.emplace(*p.address, Use{i, role});
            if (fresh) continue;
            auto& other = layers[it->second.layer];
            refuse(l, sharedReason(role, it->second.role, other.name));
            refuse(other, sharedReason(it->second.role, role, l.name));
        }
    }
}

}  // namespace cle::core::formats
