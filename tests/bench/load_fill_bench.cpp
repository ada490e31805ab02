// Loading weights into zero-filled buffers (std::vector<float>, what Tensor::values is) against
// buffers left uninitialized before HDF5 overwrites them. Not used by the tests:
//
//     ./build/tests/bench/load_fill_bench FILE.h5 [REPEATS]
//
// Reads every float32 dataset at the root of FILE (a chain written by chain_scaling.py) REPEATS
// times each way, interleaved, every buffer freed before the next read (large blocks come back
// from the kernel as fresh pages, as in a new process). Prints each pass and, per repetition,
// the ratios zero-filled / uninitialized and zero-filled / zero-filled a block at a time (what
// io::readFloats does for contiguous float32 datasets), with their min and median.
#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

// An allocator that default-initializes: a vector<float> of it leaves new elements unset.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
    template <typename U>
    struct rebind {
        using other = DefaultInitAllocator<U>;
    };
    DefaultInitAllocator() = default;
    template <typename U>
    DefaultInitAllocator(const DefaultInitAllocator<U>&) {}
    template <typename U>
    void construct(U* p) {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... A>
    void construct(U* p, A&&... a) {
        ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
    }
};

std::vector<std::string> datasetNames(hid_t file) {
    std::vector<std::string> names;
    H5Literate(
        file, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr,
        [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
            static_cast<std::vector<std::string>*>(data)->push_back(name);
            return 0;
        },
        &names);
    return names;
}

template <typename Vector>
double readAll(hid_t file, const std::vector<std::string>& names, double& checksum) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<Vector> kept;  // all held at once, as a loaded model holds them
    for (const auto& name : names) {
        hid_t d = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
        hid_t space = H5Dget_space(d);
        const auto n = static_cast<size_t>(H5Sget_simple_extent_npoints(space));
        H5Sclose(space);
        Vector v(n);
        H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        H5Dclose(d);
        kept.push_back(std::move(v));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const auto& v : kept) checksum += v.empty() ? 0.0 : double(v[v.size() / 2]);
    return seconds;
}

// Zero-filled, but a block of rows at a time just before HDF5 reads that block: the zeros are
// written into cache, not as a separate pass over memory.
double readAllInBlocks(hid_t file, const std::vector<std::string>& names, double& checksum) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::vector<float>> kept;
    for (const auto& name : names) {
        hid_t d = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
        hid_t space = H5Dget_space(d);
        const int rank = H5Sget_simple_extent_ndims(space);
        std::vector<hsize_t> dims(size_t(std::max(rank, 1)), 1);
        H5Sget_simple_extent_dims(space, dims.data(), nullptr);
        const auto n = static_cast<size_t>(H5Sget_simple_extent_npoints(space));
        const size_t row = dims[0] ? n / dims[0] : 0;
        const hsize_t rowsPerBlock = std::max<hsize_t>(1, (1u << 18) / std::max<size_t>(row, 1));
        std::vector<float> v;
        v.reserve(n);
        for (hsize_t r = 0; r < dims[0]; r += rowsPerBlock) {
            const hsize_t rows = std::min(rowsPerBlock, dims[0] - r);
            std::vector<hsize_t> at(dims.size(), 0), count = dims;
            at[0] = r;
            count[0] = rows;
            H5Sselect_hyperslab(space, H5S_SELECT_SET, at.data(), nullptr, count.data(), nullptr);
            const hsize_t m = rows * row;
            hid_t mem = H5Screate_simple(1, &m, nullptr);
            const size_t old = v.size();
            v.resize(old + size_t(m));
            H5Dread(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, v.data() + old);
            H5Sclose(mem);
        }
        H5Sclose(space);
        H5Dclose(d);
        kept.push_back(std::move(v));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const auto& v : kept) checksum += v.empty() ? 0.0 : double(v[v.size() / 2]);
    return seconds;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE.h5 [REPEATS]\n", argv[0]);
        return 2;
    }
    const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;
    hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return 1;
    const auto names = datasetNames(file);
    double checksum = 0;
    std::vector<double> zeroed, uninit, ratio;
    readAll<std::vector<float>>(file, names, checksum);  // warm the page cache
    std::vector<double> blocks, blockRatio;
    for (int r = 0; r < repeats; ++r) {  // the order turns with every repetition
        double a = 0, b = 0, c = 0;
        for (int k = 0; k < 3; ++k) {
            switch ((k + r) % 3) {
                case 0:
                    a = readAll<std::vector<float>>(file, names, checksum);
                    break;
                case 1:
                    b = readAll<std::vector<float, DefaultInitAllocator<float>>>(file, names,
                                                                                 checksum);
                    break;
                default:
                    c = readAllInBlocks(file, names, checksum);
            }
        }
        zeroed.push_back(a);
        uninit.push_back(b);
        blocks.push_back(c);
        ratio.push_back(a / b);
        blockRatio.push_back(a / c);
        std::printf(
            "repetition %d: zero-filled %.3f s, uninitialized %.3f s, zero-filled by "
            "blocks %.3f s; ratios %.3f, %.3f\n",
            r + 1, a, b, c, a / b, a / c);
    }
    std::printf("zero-filled by blocks: min %.3f s, median %.3f s\n",
                *std::min_element(blocks.begin(), blocks.end()), median(blocks));
    std::printf("zero-filled / zero-filled by blocks: min %.3f, median %.3f\n",
                *std::min_element(blockRatio.begin(), blockRatio.end()), median(blockRatio));
    std::printf("zero-filled: min %.3f s, median %.3f s\n",
                *std::min_element(zeroed.begin(), zeroed.end()), median(zeroed));
    std::printf("uninitialized: min %.3f s, median %.3f s\n",
                *std::min_element(uninit.begin(), uninit.end()), median(uninit));
    std::printf("zero-filled / uninitialized: min %.3f, median %.3f (checksum %g)\n",
                *std::min_element(ratio.begin(), ratio.end()), median(ratio), checksum);
    H5Fclose(file);
    return 0;
}
