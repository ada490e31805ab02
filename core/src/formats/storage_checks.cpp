// Layers whose data the export could not rewrite safely, or should not read: stored in another
// file through an HDF5 external link, one HDF5 dataset shared with another layer, never written.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "formats/formats.h"
#include "hdf5/h5.h"

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
    bool external = false;      // reached through an external link (not opened)
    bool neverWritten = false;  // only a claimed shape: HDF5 would return fill values
    hsize_t stored = 0;         // bytes of storage the dataset claims in the file
    hsize_t needed = 0;         // bytes its shape and type need, when stored unfiltered
    std::optional<haddr_t> address;
};

Probe probe(hid_t file, const std::string& path) {
    Probe p;
    h5::Handle d = h5::openLocalDataset(file, path, &p.external);
    if (!d) return p;
    H5O_info_t info;
    if (H5Oget_info2(d.get(), &info, H5O_INFO_BASIC) >= 0) p.address = info.addr;
    H5D_space_status_t status;
    p.neverWritten =
        H5Dget_space_status(d.get(), &status) >= 0 && status == H5D_SPACE_STATUS_NOT_ALLOCATED;
    p.stored = H5Dget_storage_size(d.get());
    h5::Handle plist(H5Dget_create_plist(d.get())), type(H5Dget_type(d.get())),
        space(H5Dget_space(d.get()));
    H5D_layout_t layout = plist ? H5Pget_layout(plist.get()) : H5D_LAYOUT_ERROR;
    hssize_t points = space ? H5Sget_simple_extent_npoints(space.get()) : -1;
    size_t size = type ? H5Tget_size(type.get()) : 0;
    if ((layout == H5D_CONTIGUOUS || layout == H5D_COMPACT) && points > 0 &&
        __builtin_mul_overflow(hsize_t(points), hsize_t(size), &p.needed))
        p.needed = ~hsize_t(0);
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
    hsize_t fileSize = 0;
    if (H5Fget_filesize(file, &fileSize) < 0) fileSize = 0;
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
                refuse(l,
                       "the file stores no data for its weights (" + path + " was never written)");
            // A damaged layout: HDF5 would read past what is stored, or past the file's end.
            hsize_t claimed = std::max(p.stored, p.needed);
            if ((fileSize > 0 && claimed > fileSize) || (p.needed > 0 && p.needed > p.stored))
                refuse(l, std::string("its ") + role + " (" + path + ") need " +
                              std::to_string(claimed) + " bytes but the file stores " +
                              std::to_string(std::min(p.stored, fileSize)) +
                              " for them (a damaged file)");
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
