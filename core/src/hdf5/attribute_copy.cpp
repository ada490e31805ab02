#include "hdf5/attribute_copy.h"

#include <set>
#include <vector>

#include "cle/core/error.h"
#include "hdf5/global_heap.h"
#include "hdf5/h5.h"

namespace cle::core::h5 {

namespace {

std::string attributeName(hid_t attr) {
    std::string name(size_t(std::max<ssize_t>(0, H5Aget_name(attr, 0, nullptr))), '\0');
    H5Aget_name(attr, name.size() + 1, name.data());
    return name;
}

// Whether the object `obj` keeps its attributes in dense storage and one holds variable-length
// strings.
bool denseVariableStrings(hid_t obj) {
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS | H5O_INFO_META_SIZE) < 0) return false;
    if (info.meta_size.attr.heap_size == 0 && info.meta_size.attr.index_size == 0) return false;
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
        Handle attr(
            H5Aopen_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT));
        Handle type(attr ? H5Aget_type(attr.get()) : H5I_INVALID_HID);
        if (type && H5Tis_variable_str(type.get()) > 0) return true;
    }
    return false;
}

// The objects at and below `path` (hard links, each object once, by its first path), and whether
// one of them keeps variable-length strings in dense attribute storage.
bool collect(hid_t loc, const std::string& path, std::vector<std::string>& out) {
    bool dense = false;
    std::set<haddr_t> seen;
    std::vector<std::string> todo{path};
    while (!todo.empty()) {
        std::string at = todo.back();
        todo.pop_back();
        Handle obj(H5Oopen(loc, at.c_str(), H5P_DEFAULT));
        H5O_info_t info;
        if (!obj || H5Oget_info2(obj.get(), &info, H5O_INFO_BASIC) < 0) continue;
        if (!seen.insert(info.addr).second) continue;
        out.push_back(at);
        dense = dense || denseVariableStrings(obj.get());
        if (info.type != H5O_TYPE_GROUP) continue;
        for (const auto& child : listChildren(loc, at)) {
            std::string below = at + "/" + child;
            H5L_info_t link;
            if (H5Lget_info(loc, below.c_str(), &link, H5P_DEFAULT) >= 0 &&
                link.type == H5L_TYPE_HARD)
                todo.push_back(below);
        }
    }
    return dense;
}

// Writes the attribute `attr` (of the object at `at`) to `to` under the same name and type.
void copyAttribute(hid_t attr, hid_t from, hid_t to, const std::string& at,
                   const std::string& file) {
    const std::string name = attributeName(attr);
    auto fail = [&] {
        return inputError("cannot copy the attribute '" + name + "' of " + at + " in '" + file +
                          "': " + lastError());
    };
    checkAttributeSize(attr, at + "@" + name);
    Handle type(H5Aget_type(attr)), space(H5Aget_space(attr));
    Handle out(H5Acreate2(to, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    if (!type || !space || !out) throw fail();
    if (H5Tis_variable_str(type.get()) > 0) {
        auto values = readStringsAttribute(from, name);  // checked before it is read
        std::vector<const char*> pointers;
        for (const auto& v : values) pointers.push_back(v.c_str());
        Handle mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem.get(), H5T_VARIABLE);
        H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
        if (pointers.empty() || H5Awrite(out.get(), mem.get(), pointers.data()) < 0) throw fail();
        return;
    }
    // Any other type is copied as stored: the buffer is what the file holds for it.
    std::vector<unsigned char> bytes(size_t(H5Aget_storage_size(attr)));
    if (H5Sget_simple_extent_npoints(space.get()) * hssize_t(H5Tget_size(type.get())) !=
        hssize_t(bytes.size()))
        throw inputError("cannot copy the attribute '" + name + "' of " + at + " in '" + file +
                         "': its stored size does not match its type and shape");
    if (bytes.empty()) return;
    if (H5Aread(attr, type.get(), bytes.data()) < 0 ||
        H5Awrite(out.get(), type.get(), bytes.data()) < 0)
        throw fail();
}

}  // namespace

void copyObject(hid_t src, hid_t dst, const std::string& path, const std::string& file) {
    Silence quiet;
    std::vector<std::string> objects;
    const bool dense = collect(src, path, objects);
    Handle options(H5Pcreate(H5P_OBJECT_COPY));
    if (dense) H5Pset_copy_object(options.get(), H5O_COPY_WITHOUT_ATTR_FLAG);
    if (H5Ocopy(src, path.c_str(), dst, path.c_str(), options.get(), H5P_DEFAULT) < 0)
        throw inputError("cannot read " + path + " in the shard '" + file + "': " + lastError());
    if (!dense) return;
    for (const auto& at : objects) {
        Handle from(H5Oopen(src, at.c_str(), H5P_DEFAULT)),
            to(H5Oopen(dst, at.c_str(), H5P_DEFAULT));
        if (!from || !to) throw inputError("cannot copy " + at + " in '" + file + "'");
        H5O_info_t info;
        if (H5Oget_info2(from.get(), &info, H5O_INFO_NUM_ATTRS) < 0) continue;
        for (hsize_t i = 0; i < info.num_attrs; ++i) {
            Handle attr(H5Aopen_by_idx(from.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT,
                                       H5P_DEFAULT));
            if (!attr) throw inputError("cannot read an attribute of " + at + " in '" + file + "'");
            copyAttribute(attr.get(), from.get(), to.get(), at, file);
        }
    }
}

}  // namespace cle::core::h5
