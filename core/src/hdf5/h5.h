#pragma once
// Thin RAII layer over the HDF5 C API, with HDF5's own error printing muted while in use and the
// deepest message of its error stack available for our own errors.
#include <hdf5.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace cle::core::h5 {

/// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
public:
    Handle() = default;
    explicit Handle(hid_t id) : id_(id) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = std::exchange(o.id_, H5I_INVALID_HID);
        }
        return *this;
    }
    ~Handle() { reset(); }
    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }
    explicit operator bool() const { return valid(); }
    void reset();
    /// Closes now and returns the close's status: writes that HDF5 buffers (chunk caches,
    /// metadata) happen here, so a writer must check it.
    herr_t close();

private:
    hid_t id_ = H5I_INVALID_HID;
};

/// Mutes HDF5's automatic error printing for its lifetime (HighFive's SilenceHDF5).
class Silence {
public:
    Silence();
    ~Silence();
    Silence(const Silence&) = delete;
    Silence& operator=(const Silence&) = delete;

private:
    H5E_auto2_t func_ = nullptr;
    void* data_ = nullptr;
};

/// The name of the file holding the object `obj` ("" when unknown).
std::string fileName(hid_t obj);
/// The deepest message on the current HDF5 error stack ("" when empty).
std::string lastError();

bool isHdf5File(const std::string& path);
Handle openFile(const std::string& path, bool writable);
// Opening an input (HDF5, Keras archive or sharded set): formats/open_input.h.
bool exists(hid_t loc, const std::string& path);
bool isGroup(hid_t loc, const std::string& path);
bool isDataset(hid_t loc, const std::string& path);
bool hasAttribute(hid_t obj, const std::string& name);
/// String or string-array attribute (fixed or variable length), one entry per element.
std::vector<std::string> readStringsAttribute(hid_t obj, const std::string& name);
/// A string-array attribute that Keras may split when it is large: `name`, or else `name0`,
/// `name1`, ... concatenated.
std::vector<std::string> readSplitStrings(hid_t obj, const std::string& name);
/// Every dataset below `root` (absolute paths), in HDF5's (alphabetical) order.
std::vector<std::string> listDatasets(hid_t file, const std::string& root = "/");
std::vector<std::string> listChildren(hid_t file, const std::string& group);
/// Whether some dataset of the file (absolute path, in HDF5's order) satisfies `test`; the visit
/// stops at the first one that does.
bool anyDataset(hid_t file, const std::function<bool(const std::string&)>& test);
std::vector<std::int64_t> datasetShape(hid_t dataset);

/// Opens a dataset that must live in the file of `loc`: external links are not followed (the
/// open fails, and `crossedExternal`, when given, is set). Invalid handle on failure.
Handle openLocalDataset(hid_t loc, const std::string& path, bool* crossedExternal = nullptr);

}  // namespace cle::core::h5
