#include "hdf5/h5.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "cle/core/error.h"
#include "hdf5/global_heap.h"

namespace cle::core::h5 {

void Handle::reset() { close(); }

herr_t Handle::close() {
    if (id_ < 0) return 0;
    herr_t status = 0;
    switch (H5Iget_type(id_)) {
        case H5I_FILE:
            status = H5Fclose(id_);
            break;
        case H5I_GROUP:
            status = H5Gclose(id_);
            break;
        case H5I_DATASET:
            status = H5Dclose(id_);
            break;
        case H5I_DATATYPE:
            status = H5Tclose(id_);
            break;
        case H5I_DATASPACE:
            status = H5Sclose(id_);
            break;
        case H5I_ATTR:
            status = H5Aclose(id_);
            break;
        case H5I_GENPROP_LST:
            status = H5Pclose(id_);
            break;
        default:
            status = H5Idec_ref(id_) < 0 ? -1 : 0;
            break;
    }
    id_ = H5I_INVALID_HID;
    return status;
}

Silence::Silence() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Silence::~Silence() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

namespace {
herr_t deepest(unsigned n, const H5E_error2_t* err, void* out) {
    // Walking upward starts at the innermost call: its entry is the deepest cause.
    auto* s = static_cast<std::string*>(out);
    if (n == 0 && err->desc) *s = err->desc;
    return 0;
}
}  // namespace

std::string fileName(hid_t obj) {
    std::string name(4096, '\0');
    ssize_t n = H5Fget_name(obj, name.data(), name.size());
    name.resize(n > 0 ? std::min(size_t(n), name.size() - 1) : 0);
    return name;
}

std::string lastError() {
    std::string msg;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, deepest, &msg);
    return msg;
}

bool isHdf5File(const std::string& path) {
    Silence quiet;
    return H5Fis_hdf5(path.c_str()) > 0;
}

// Why `path` cannot be opened as HDF5, in one sentence.
Handle openFile(const std::string& path, bool writable) {
    Silence quiet;
    return Handle(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT));
}

bool exists(hid_t loc, const std::string& path) {
    Silence quiet;
    if (path == "/" || path.empty()) return true;
    // Check every prefix: H5Lexists fails (rather than answering no) on a missing intermediate.
    std::string::size_type pos = path[0] == '/' ? 1 : 0;
    while (true) {
        auto next = path.find('/', pos);
        std::string prefix = path.substr(0, next);
        if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
        if (next == std::string::npos) break;
        pos = next + 1;
    }
    return H5Oexists_by_name(loc, path.c_str(), H5P_DEFAULT) > 0;
}

static H5O_type_t objectType(hid_t loc, const std::string& path) {
    if (!exists(loc, path)) return H5O_TYPE_UNKNOWN;
    Silence quiet;
    H5O_info_t info;
    if (H5Oget_info_by_name2(loc, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        return H5O_TYPE_UNKNOWN;
    return info.type;
}

bool isGroup(hid_t loc, const std::string& path) { return objectType(loc, path) == H5O_TYPE_GROUP; }
bool isDataset(hid_t loc, const std::string& path) {
    return objectType(loc, path) == H5O_TYPE_DATASET;
}

bool hasAttribute(hid_t obj, const std::string& name) {
    Silence quiet;
    return H5Aexists(obj, name.c_str()) > 0;
}

std::vector<std::string> readStringsAttribute(hid_t obj, const std::string& name) {
    Silence quiet;
    std::vector<std::string> out;
    auto damaged = [&](const std::string& why) {
        return inputError("cannot read the attribute '" + name + "' of '" + fileName(obj) + "': " +
                          (why.empty() ? "HDF5 cannot decode it" : why) + "; the file is damaged");
    };
    Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
    if (!attr) {
        // Present but not decodable (HDF5 checks the stored type and shape when it opens one).
        if (H5Aexists(obj, name.c_str()) > 0) throw damaged(lastError());
        return out;
    }
    checkAttributeSize(attr.get(), name);
    Handle type(H5Aget_type(attr.get()));
    if (H5Tget_class(type.get()) != H5T_STRING) return out;
    Handle space(H5Aget_space(attr.get()));
    hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n <= 0) return out;
    if (H5Tis_variable_str(type.get()) > 0) {
        Handle mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem.get(), H5T_VARIABLE);
        H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
        checkVariableStrings(attr.get(), name);
        std::vector<char*> buf(static_cast<size_t>(n), nullptr);
        if (H5Aread(attr.get(), mem.get(), buf.data()) < 0) throw damaged(lastError());
        for (char* s : buf) out.emplace_back(s ? s : "");
        H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, buf.data());
    } else {
        // The buffer is what the file stores, never what its type and shape claim (a product
        // that can overflow, or gigabytes for a few bytes).
        size_t size = H5Tget_size(type.get());
        hsize_t stored = H5Aget_storage_size(attr.get());
        if (size == 0 || static_cast<hsize_t>(n) > stored / size ||
            stored != size * static_cast<hsize_t>(n))
            throw damaged("it claims " + std::to_string(n) + " strings of " + std::to_string(size) +
                          " bytes but stores " + std::to_string(stored));
        std::vector<char> buf(size * static_cast<size_t>(n));
        Handle mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem.get(), size);
        H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
        if (H5Aread(attr.get(), mem.get(), buf.data()) < 0) throw damaged(lastError());
        for (hssize_t i = 0; i < n; ++i) {
            const char* p = buf.data() + size * static_cast<size_t>(i);
            size_t len = 0;
            while (len < size && p[len] != '\0') ++len;
            std::string s(p, len);
            while (!s.empty() && s.back() == ' ') s.pop_back();  // space-padded strings
            out.push_back(s);
        }
    }
    return out;
}

std::vector<std::string> readSplitStrings(hid_t obj, const std::string& name) {
    if (hasAttribute(obj, name)) return readStringsAttribute(obj, name);
    std::vector<std::string> all;
    for (int i = 0; hasAttribute(obj, name + std::to_string(i)); ++i) {
        auto part = readStringsAttribute(obj, name + std::to_string(i));
        all.insert(all.end(), part.begin(), part.end());
    }
    return all;
}

namespace {
struct Walk {
    std::vector<std::string> datasets;
};
herr_t visit(hid_t, const char* name, const H5O_info_t* info, void* data) {
    if (info->type == H5O_TYPE_DATASET && std::string(name) != ".")
        static_cast<Walk*>(data)->datasets.push_back(std::string("/") + name);
    return 0;
}
herr_t child(hid_t, const char* name, const H5L_info_t*, void* data) {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
}
}  // namespace

std::vector<std::string> listDatasets(hid_t file, const std::string& root) {
    Silence quiet;
    Walk walk;
    Handle group(H5Gopen2(file, root.c_str(), H5P_DEFAULT));
    if (!group) return {};
    H5Ovisit2(group.get(), H5_INDEX_NAME, H5_ITER_INC, visit, &walk, H5O_INFO_BASIC);
    if (root != "/") {
        for (auto& d : walk.datasets) d = root + d;
    }
    return walk.datasets;
}

namespace {
herr_t test(hid_t, const char* name, const H5O_info_t* info, void* data) {
    if (info->type != H5O_TYPE_DATASET || std::string(name) == ".") return 0;
    return (*static_cast<const std::function<bool(const std::string&)>*>(data))(std::string("/") +
                                                                                name)
               ? 1
               : 0;
}
}  // namespace

bool anyDataset(hid_t file, const std::function<bool(const std::string&)>& predicate) {
    Silence quiet;
    Handle group(H5Gopen2(file, "/", H5P_DEFAULT));
    if (!group) return false;
    auto* data = const_cast<std::function<bool(const std::string&)>*>(&predicate);
    return H5Ovisit2(group.get(), H5_INDEX_NAME, H5_ITER_INC, test, data, H5O_INFO_BASIC) > 0;
}

std::vector<std::string> listChildren(hid_t file, const std::string& group) {
    Silence quiet;
    std::vector<std::string> out;
    Handle g(H5Gopen2(file, group.c_str(), H5P_DEFAULT));
    if (!g) return out;
    H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, child, &out);
    return out;
}

std::vector<std::int64_t> datasetShape(hid_t dataset) {
    Handle space(H5Dget_space(dataset));
    int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) return {};
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    std::vector<std::int64_t> shape;
    // A claimed dimension beyond int64 is kept as the largest int64: the element count then
    // overflows and the layer is refused for it.
    for (hsize_t d : dims)
        shape.push_back(d > hsize_t(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(d));
    return shape;
}

namespace {
// Called by HDF5 before it follows an external link: records the crossing and refuses it.
herr_t refuseExternal(const char*, const char*, const char*, const char*, unsigned*, hid_t,
                      void* crossed) {
    *static_cast<bool*>(crossed) = true;
    return -1;
}
}  // namespace

Handle openLocalDataset(hid_t loc, const std::string& path, bool* crossedExternal) {
    Silence quiet;
    bool crossed = false;
    Handle access(H5Pcreate(H5P_DATASET_ACCESS));
    H5Pset_elink_cb(access.get(), refuseExternal, &crossed);
    Handle d(H5Dopen2(loc, path.c_str(), access.get()));
    if (crossedExternal) *crossedExternal = crossed;
    return d;
}

}  // namespace cle::core::h5
