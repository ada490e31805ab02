#include "hdf5/global_heap.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "cle/core/error.h"
#include "hdf5/h5.h"

namespace cle::core::h5 {

namespace {

// The opaque memory type that H5Aread fills with an attribute's bytes as stored: a conversion
// registered for it (variable-length string -> this tag) leaves them as they are.
constexpr const char* kStoredTag = "cle: variable-length string as stored";

herr_t keepStored(hid_t src, hid_t dst, H5T_cdata_t* cdata, size_t, size_t, size_t, void*, void*,
                  hid_t) {
    // Converting: source and destination have the same size, so the bytes stay where they are.
    if (cdata->command != H5T_CONV_INIT) return 0;
    if (H5Tget_class(dst) != H5T_OPAQUE || H5Tis_variable_str(src) <= 0) return -1;
    char* tag = H5Tget_tag(dst);
    bool ours = tag && std::strcmp(tag, kStoredTag) == 0;
    H5free_memory(tag);
    if (!ours || H5Tget_size(src) != H5Tget_size(dst)) return -1;
    cdata->need_bkg = H5T_BKG_NO;
    return 0;
}

void registerKeepStored() {
    static const bool registered = [] {
        Handle src(H5Tcopy(H5T_C_S1));
        H5Tset_size(src.get(), H5T_VARIABLE);
        Handle dst(H5Tcreate(H5T_OPAQUE, 16));
        H5Tset_tag(dst.get(), kStoredTag);
        return H5Tregister(H5T_PERS_SOFT, "cle keep stored", src.get(), dst.get(), keepStored) >= 0;
    }();
    (void)registered;
}

std::uint64_t littleEndian(const unsigned char* p, size_t n) {
    std::uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

// How HDF5 reads an open file: through a descriptor (sec2 driver), from a memory image (core
// driver), or otherwise.
struct Driver {
    int fd = -1;
    bool core = false;
};

Driver driverOf(hid_t file) {
    Handle fapl(H5Fget_access_plist(file));
    hid_t driver = H5Pget_driver(fapl.get());
    void* handle = nullptr;
    if (driver == H5FD_SEC2 && H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) >= 0 && handle)
        return {*static_cast<int*>(handle), false};
    return {-1, driver == H5FD_CORE};
}

// The bytes of an open file as HDF5 reads them: its descriptor, or its memory image (copied on
// first use).
class FileBytes {
public:
    explicit FileBytes(hid_t file) : file_(file) {
        Driver d = driverOf(file);
        fd_ = d.fd;
        core_ = d.core;
        if (fd_ >= 0) size_ = storedBytes(file);
    }
    bool usable() const { return fd_ >= 0 || core_; }
    std::uint64_t size() {
        loadImage();
        return size_;
    }
    bool read(std::uint64_t at, size_t n, std::vector<unsigned char>& out) {
        if (at > size() || n > size_ - at) return false;
        out.resize(n);
        if (core_) {
            std::memcpy(out.data(), image_.data() + at, n);
            return true;
        }
        for (size_t done = 0; done < n;) {
            ssize_t got = pread(fd_, out.data() + done, n - done, off_t(at + done));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return false;
            done += size_t(got);
        }
        return true;
    }

private:
    void loadImage() {
        if (!core_ || loaded_) return;
        loaded_ = true;
        ssize_t n = H5Fget_file_image(file_, nullptr, 0);
        if (n <= 0) return;
        image_.resize(size_t(n));
        if (H5Fget_file_image(file_, image_.data(), image_.size()) != n) image_.clear();
        size_ = image_.size();
    }

    hid_t file_;
    int fd_ = -1;
    bool core_ = false, loaded_ = false;
    std::vector<unsigned char> image_;
    std::uint64_t size_ = 0;
};

// No string read from a weight file (a model_config, names) comes near this.
constexpr std::uint64_t kLargestCollection = std::uint64_t(256) << 20;

// Record index -> record size of the global heap collection at byte `at`, walked as HDF5 1.10's
// H5HG__cache_heap_deserialize walks it; "" in `why` when the collection is sound.
std::map<std::uint32_t, std::uint64_t> walkCollection(FileBytes& bytes, std::uint64_t at,
                                                      size_t sizeofSize, std::string& why) {
    std::map<std::uint32_t, std::uint64_t> records;
    // Both headers are padded to 8 bytes (H5HG_SIZEOF_HDR, H5HG_SIZEOF_OBJHDR).
    const size_t header = (8 + sizeofSize + 7) & ~size_t(7), recordHeader = header;
    std::vector<unsigned char> buf;
    if (!bytes.read(at, header, buf)) {
        why = "points to byte " + std::to_string(at) + ", past the end of the file (" +
              std::to_string(bytes.size()) + " bytes)";
        return records;
    }
    if (std::memcmp(buf.data(), "GCOL", 4) != 0 || buf[4] != 1) {
        why = "points to byte " + std::to_string(at) + ", where no global heap collection starts";
        return records;
    }
    std::uint64_t size = littleEndian(buf.data() + 8, sizeofSize);
    if (size > kLargestCollection) {
        why = "points to a global heap collection at byte " + std::to_string(at) + " of " +
              std::to_string(size) + " bytes, more than the strings read from weight files " +
              "need (" + std::to_string(kLargestCollection >> 20) + " MiB)";
        return records;
    }
    if (size < header || !bytes.read(at, size_t(std::min<std::uint64_t>(size, SIZE_MAX)), buf)) {
        why = "points to a global heap collection at byte " + std::to_string(at) + " that claims " +
              std::to_string(size) + " bytes, more than the file holds";
        return records;
    }
    for (std::uint64_t p = header; p < size;) {
        if (size - p < recordHeader) break;  // too small for a record: free space
        auto index = std::uint32_t(littleEndian(buf.data() + p, 2));
        std::uint64_t length = littleEndian(buf.data() + p + 8, sizeofSize);
        // A record's size counts its header for free space (index 0) only.
        std::uint64_t need = length;
        if (index > 0) need = length > size ? 0 : recordHeader + ((length + 7) & ~std::uint64_t(7));
        if (need < recordHeader || need > size - p) {
            why = "points to a global heap collection at byte " + std::to_string(at) +
                  " whose record at byte " + std::to_string(at + p) + " is damaged";
            return records;
        }
        // HDF5 keeps the last of two records with one index: a string would read another's bytes.
        if (index > 0 && !records.emplace(index, length).second) {
            why = "points to a global heap collection at byte " + std::to_string(at) +
                  " that holds record " + std::to_string(index) + " twice";
            return records;
        }
        p += need;
    }
    return records;
}

}  // namespace

std::uint64_t storedBytes(hid_t obj) {
    Silence quiet;
    Handle file(H5Iget_file_id(obj));
    Driver d = driverOf(file.get());
    if (d.fd >= 0) {
        struct stat st {};
        return fstat(d.fd, &st) == 0 ? std::uint64_t(st.st_size) : 0;
    }
    if (d.core) {
        ssize_t n = H5Fget_file_image(file.get(), nullptr, 0);
        return n > 0 ? std::uint64_t(n) : 0;
    }
    hsize_t size = 0;
    return H5Fget_filesize(file.get(), &size) >= 0 ? size : 0;
}

void checkAttributeSize(hid_t attr, const std::string& name) {
    const hsize_t claimed = H5Aget_storage_size(attr);
    const std::uint64_t file = storedBytes(attr);
    if (file > 0 && claimed > file)
        throw inputError("cannot read the attribute '" + name + "' of '" + fileName(attr) +
                         "': it claims " + std::to_string(claimed) + " bytes, more than the " +
                         "whole file holds (" + std::to_string(file) + "); the file is damaged");
}

void checkVariableStrings(hid_t attr, const std::string& name) {
    Silence quiet;
    Handle file(H5Iget_file_id(attr));
    Handle fcpl(H5Fget_create_plist(file.get()));
    size_t sizeofAddr = 0, sizeofSize = 0;
    hsize_t base = 0;
    auto fail = [&](const std::string& why) {
        return inputError("cannot read the attribute '" + name + "' of '" + fileName(attr) +
                          "': " + why + "; the file is damaged");
    };
    if (!fcpl || H5Pget_sizes(fcpl.get(), &sizeofAddr, &sizeofSize) < 0 ||
        H5Pget_userblock(fcpl.get(), &base) < 0)
        throw fail("its file's address sizes cannot be read");
    if (sizeofAddr == 0 || sizeofAddr > 8 || sizeofSize == 0 || sizeofSize > 8)
        throw inputError("cannot read the attribute '" + name + "' of '" + fileName(attr) +
                         "': the file stores addresses of " + std::to_string(sizeofAddr) +
                         " bytes and lengths of " + std::to_string(sizeofSize) +
                         "; variable-length strings are read from files of up to 8 each");
    // HDF5 reads length x character size bytes per string: a character is one byte.
    Handle type(H5Aget_type(attr));
    Handle character(type ? H5Tget_super(type.get()) : H5I_INVALID_HID);
    if (!character || H5Tget_size(character.get()) != 1)
        throw fail("its characters are " +
                   (character ? std::to_string(H5Tget_size(character.get())) + " bytes"
                              : std::string("of no size")) +
                   " each, not one");
    const size_t stored = 4 + sizeofAddr + 4;
    Handle space(H5Aget_space(attr));
    hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n <= 0) return;
    if (H5Aget_storage_size(attr) != hsize_t(n) * stored)
        throw fail("its stored size does not match its " + std::to_string(n) + " strings");
    registerKeepStored();
    Handle raw(H5Tcreate(H5T_OPAQUE, stored));
    H5Tset_tag(raw.get(), kStoredTag);
    std::vector<unsigned char> elements(size_t(n) * stored);
    if (!raw || H5Aread(attr, raw.get(), elements.data()) < 0)
        throw fail("its stored strings cannot be read (" + lastError() + ")");

    FileBytes bytes(file.get());
    std::map<std::uint64_t, std::map<std::uint32_t, std::uint64_t>> collections;
    for (size_t i = 0; i < size_t(n); ++i) {
        const unsigned char* e = elements.data() + i * stored;
        std::uint64_t length = littleEndian(e, 4);
        std::uint64_t addr = littleEndian(e + 4, sizeofAddr);
        auto index = std::uint32_t(littleEndian(e + 4 + sizeofAddr, 4));
        if (addr == 0) continue;  // a null string: HDF5 does not read the heap
        if (!bytes.usable()) throw fail("its file's bytes cannot be checked");
        std::string element = n > 1 ? "its string " + std::to_string(i) + " " : "it ";
        if (addr > UINT64_MAX - base) throw fail(element + "points past the end of the file");
        std::uint64_t at = base + addr;
        auto found = collections.find(at);
        if (found == collections.end()) {
            std::string why;
            auto records = walkCollection(bytes, at, sizeofSize, why);
            if (!why.empty()) throw fail(element + why);
            found = collections.emplace(at, std::move(records)).first;
        }
        auto record = found->second.find(index);
        if (record == found->second.end())
            throw fail(element + "names record " + std::to_string(index) +
                       " of the global heap collection at byte " + std::to_string(at) +
                       ", which it does not hold");
        if (record->second != length)
            throw fail(element + "is " + std::to_string(length) + " bytes long but its record " +
                       "holds " + std::to_string(record->second));
    }
}

namespace {

// Checks the attributes of the open object `obj` (its path `at` names it in errors).
void checkAttributes(hid_t obj, const std::string& at, const std::string& file) {
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) return;
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
        Handle attr(
            H5Aopen_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT));
        if (!attr) continue;  // H5Ocopy fails on it in turn, with HDF5's reason
        std::string name(size_t(std::max<ssize_t>(0, H5Aget_name(attr.get(), 0, nullptr))), '\0');
        H5Aget_name(attr.get(), name.size() + 1, name.data());
        checkAttributeSize(attr.get(), at + "@" + name);
        Handle type(H5Aget_type(attr.get()));
        if (H5Tis_variable_str(type.get()) > 0)
            checkVariableStrings(attr.get(), at + "@" + name);
        else if (H5Tdetect_class(type.get(), H5T_VLEN) > 0)
            throw inputError("cannot read the attribute '" + name + "' of " + at + " in '" + file +
                             "': it holds variable-length data, which weight files do not");
    }
}

}  // namespace

void checkBeforeCopy(hid_t loc, const std::string& path, int maxDepth, const std::string& file) {
    Silence quiet;
    std::vector<std::pair<std::string, int>> todo{{path, 0}};
    std::set<haddr_t> seen;
    while (!todo.empty()) {
        auto [at, depth] = todo.back();
        todo.pop_back();
        Handle obj(H5Oopen(loc, at.c_str(), H5P_DEFAULT));
        if (!obj) continue;  // H5Ocopy fails on it in turn
        H5O_info_t info;
        if (H5Oget_info2(obj.get(), &info, H5O_INFO_BASIC) < 0) continue;
        if (!seen.insert(info.addr).second) continue;
        checkAttributes(obj.get(), at, file);
        if (info.type == H5O_TYPE_DATASET) {
            Handle type(H5Dget_type(obj.get()));
            if (H5Tis_variable_str(type.get()) > 0 || H5Tdetect_class(type.get(), H5T_VLEN) > 0)
                throw inputError("cannot read " + at + " in '" + file +
                                 "': it holds variable-length data, not weights");
        }
        if (info.type != H5O_TYPE_GROUP) continue;
        if (depth >= maxDepth)
            throw inputError("cannot read '" + file + "': its groups are nested more than " +
                             std::to_string(maxDepth) + " levels deep");
        for (const auto& child : listChildren(loc, at)) {
            std::string below = at + "/" + child;
            H5L_info_t link;
            // Soft and external links are copied as links: nothing behind them is read.
            if (H5Lget_info(loc, below.c_str(), &link, H5P_DEFAULT) >= 0 &&
                link.type == H5L_TYPE_HARD)
                todo.push_back({below, depth + 1});
        }
    }
}

}  // namespace cle::core::h5
