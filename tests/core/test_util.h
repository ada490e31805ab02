#pragma once
// Helpers for core tests: scratch directories and small HDF5 files written with the C API.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cle/core/model.h"

namespace cle::test {

std::string dataPath(const std::string& relative);    ///< under tests/data
std::string samplePath(const std::string& relative);  ///< under resources/

/// A fresh directory, removed with everything in it at destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    const std::string& path() const { return path_; }
    /// Names of the entries in the directory.
    std::vector<std::string> entries() const;

private:
    std::string path_;
};

/// Writes an HDF5 file dataset by dataset.
class H5Writer {
public:
    explicit H5Writer(const std::string& path);
    ~H5Writer();
    /// `fileType` e.g. H5T_IEEE_F32LE, H5T_IEEE_F64BE, halfType(); values given as doubles.
    void dataset(const std::string& path, const std::vector<std::int64_t>& shape,
                 const std::vector<double>& values, hid_t fileType = H5T_IEEE_F32LE,
                 bool chunkedCompressed = false);
    void intDataset(const std::string& path, const std::vector<std::int64_t>& shape);
    void group(const std::string& path);
    /// String attribute on the object at `object`; an array unless `scalar`.
    void strings(const std::string& object, const std::string& name,
                 const std::vector<std::string>& values, bool variableLength, bool scalar = false);
    hid_t id() const { return file_; }

private:
    hid_t file_;
};

/// A 16-bit IEEE float type (HDF5 1.10 has none predefined). Caller closes it.
hid_t halfType();

/// Deterministic pseudo-random values in [-scale, scale).
std::vector<double> randomValues(std::size_t n, double scale, unsigned seed);

std::vector<float> readFloats(const std::string& file, const std::string& dataset);
/// A string attribute of the root group (first element).
std::string readRootString(const std::string& file, const std::string& attribute);
/// The raw bytes of a dataset as stored (file type), for byte-for-byte comparisons.
std::vector<unsigned char> rawBytes(const std::string& file, const std::string& dataset);

/// Keras Conv2D, 'valid' padding, stride 1: x [h, w, in] row-major, kernel [kh, kw, in, out].
std::vector<double> kerasConv(const std::vector<double>& x, long h, long w, const core::Tensor& k,
                              const core::Tensor& b);

}  // namespace cle::test
