#include "hdf5/dtype_io.h"

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cle/core/error.h"
#include "hdf5/h5.h"

namespace cle::core::io {

namespace {

// The IEEE 754 (and bfloat16) layouts: HDF5 converts only these exactly, a damaged file's float
// type with other fields (a bit position beyond its size, say) makes HDF5 itself write out of
// bounds when it converts values.
struct FloatLayout {
    DType dtype;
    size_t size, spos, epos, esize, mpos, msize, ebias;
};
constexpr FloatLayout kLayouts[] = {{DType::Float16, 2, 15, 10, 5, 0, 10, 15},
                                    {DType::BFloat16, 2, 15, 7, 8, 0, 7, 127},
                                    {DType::Float32, 4, 31, 23, 8, 0, 23, 127},
                                    {DType::Float64, 8, 63, 52, 11, 0, 52, 1023}};

}  // namespace

std::optional<DType> floatType(hid_t dataset) {
    h5::Handle type(H5Dget_type(dataset));
    if (type && H5Tget_class(type.get()) == H5T_OPAQUE) {
        // Keras 3 writes bfloat16 as 2 opaque bytes (little-endian) with dtype="bfloat16".
        if (H5Tget_size(type.get()) != 2 || !h5::hasAttribute(dataset, "dtype"))
            return std::nullopt;
        auto tag = h5::readStringsAttribute(dataset, "dtype");
        if (tag.size() == 1 && tag[0] == "bfloat16") return DType::BFloat16;
        return std::nullopt;
    }
    if (!type || H5Tget_class(type.get()) != H5T_FLOAT) return std::nullopt;
    size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (H5Tget_fields(type.get(), &spos, &epos, &esize, &mpos, &msize) < 0) return std::nullopt;
    size_t size = H5Tget_size(type.get());
    H5T_order_t order = H5Tget_order(type.get());
    if ((order != H5T_ORDER_LE && order != H5T_ORDER_BE) || H5Tget_offset(type.get()) != 0 ||
        H5Tget_precision(type.get()) != 8 * size || H5Tget_norm(type.get()) != H5T_NORM_IMPLIED)
        return std::nullopt;
    for (const auto& l : kLayouts)
        if (size == l.size && spos == l.spos && epos == l.epos && esize == l.esize &&
            mpos == l.mpos && msize == l.msize && H5Tget_ebias(type.get()) == l.ebias)
            return l.dtype;
    return std::nullopt;
}

namespace {

template <typename Half>
Half fromBits(std::uint16_t bits) {
    return Eigen::numext::bit_cast<Half>(bits);
}

// A memory type with the file's 16-bit float format in native byte order: HDF5 then only swaps
// bytes, and the value conversion is ours.
h5::Handle halfMemoryType(hid_t dataset) {
    h5::Handle type(H5Dget_type(dataset));
    h5::Handle mem(H5Tcopy(type.get()));
    if (H5Tget_class(type.get()) != H5T_OPAQUE) H5Tset_order(mem.get(), H5T_ORDER_LE);
    return mem;
}

template <typename Half>
std::vector<float> readHalf(hid_t dataset, size_t n, const std::string& where) {
    std::vector<std::uint16_t> bits(n);
    h5::Handle mem = halfMemoryType(dataset);
    if (H5Dread(dataset, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data()) < 0)
        throw inputError("cannot read " + where + ": " + h5::lastError());
    std::vector<float> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(fromBits<Half>(bits[i]));
    return out;
}

template <typename Half>
void writeHalf(hid_t dataset, const std::vector<float>& values, const std::string& where,
               const char* typeName) {
    std::vector<std::uint16_t> bits(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        Half h(values[i]);  // round to nearest even
        if (std::isinf(static_cast<float>(h)) && !std::isinf(values[i]))
            throw inputError("value " + std::to_string(values[i]) + " of " + where +
                             " does not fit in " + typeName);
        bits[i] = Eigen::numext::bit_cast<std::uint16_t>(h);
    }
    h5::Handle mem = halfMemoryType(dataset);
    if (H5Dwrite(dataset, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data()) < 0)
        throw inputError("cannot write " + where + ": " + h5::lastError());
}

size_t elementCount(hid_t dataset) {
    h5::Handle space(H5Dget_space(dataset));
    hssize_t n = H5Sget_simple_extent_npoints(space.get());
    return n < 0 ? 0 : static_cast<size_t>(n);
}

}  // namespace

std::vector<float> readFloats(hid_t dataset, DType dtype, const std::string& where) {
    h5::Silence quiet;
    size_t n = elementCount(dataset);
    switch (dtype) {
        case DType::Float16:
            return readHalf<Eigen::half>(dataset, n, where);
        case DType::BFloat16:
            return readHalf<Eigen::bfloat16>(dataset, n, where);
        case DType::Float32: {
            std::vector<float> out(n);
            if (n &&
                H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
                throw inputError("cannot read " + where + ": " + h5::lastError());
            return out;
        }
        case DType::Float64: {
            std::vector<double> wide(n);
            if (n &&
                H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, wide.data()) < 0)
                throw inputError("cannot read " + where + ": " + h5::lastError());
            std::vector<float> out(n);
            for (size_t i = 0; i < n; ++i) {
                if (std::isfinite(wide[i]) &&
                    std::abs(wide[i]) > double(std::numeric_limits<float>::max()))
                    throw inputError("value " + std::to_string(wide[i]) + " of " + where +
                                     " does not fit in float32");
                out[i] = static_cast<float>(wide[i]);
            }
            return out;
        }
    }
    return {};
}

void writeFloats(hid_t dataset, DType dtype, const std::vector<float>& values,
                 const std::string& where) {
    h5::Silence quiet;
    if (values.size() != elementCount(dataset))
        throw inputError("cannot write " + where + ": its size changed");
    herr_t status = 0;
    switch (dtype) {
        case DType::Float16:
            return writeHalf<Eigen::half>(dataset, values, where, "float16");
        case DType::BFloat16:
            return writeHalf<Eigen::bfloat16>(dataset, values, where, "bfloat16");
        case DType::Float32:
            status =
                H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
            break;
        case DType::Float64: {
            std::vector<double> wide(values.begin(), values.end());
            status =
                H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, wide.data());
            break;
        }
    }
    if (status < 0) throw inputError("cannot write " + where + ": " + h5::lastError());
}

Tensor readTensor(hid_t file, const std::string& dataset, const std::string& fileName) {
    h5::Silence quiet;
    std::string where = fileName + ":" + dataset;
    h5::Handle d(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT));
    if (!d) throw inputError("no dataset " + where);
    auto dtype = floatType(d.get());
    if (!dtype) throw inputError(where + " is not a floating-point dataset");
    Tensor t;
    t.shape = h5::datasetShape(d.get());
    t.values = readFloats(d.get(), *dtype, where);
    return t;
}

}  // namespace cle::core::io
