#include "export/direct_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>

#include "cle/core/error.h"
#include "hdf5/dtype_io.h"
#include "hdf5/h5.h"

namespace cle::core::direct {

namespace {

// A changed dataset's bytes in the file: `bytes` at `offset`, in `dtype`, byte-swapped from the
// machine's order when `swap`.
struct Block {
    size_t change = 0;
    std::uint64_t offset = 0, bytes = 0;
    DType dtype = DType::Float32;
    bool swap = false;
};

// The block of a dataset stored contiguously, unfiltered, in the file itself, holding exactly
// `t`'s values; nothing for any other storage or any doubt.
std::optional<Block> contiguousBlock(hid_t d, const Tensor& t, std::uint64_t fileSize) {
    auto dtype = io::floatType(d);
    if (!dtype || h5::datasetShape(d) != t.shape || t.values.empty() ||
        std::int64_t(t.values.size()) != t.size())
        return std::nullopt;
    h5::Handle dcpl(H5Dget_create_plist(d));
    if (!dcpl || H5Pget_layout(dcpl.get()) != H5D_CONTIGUOUS ||
        H5Pget_external_count(dcpl.get()) != 0 || H5Pget_nfilters(dcpl.get()) != 0)
        return std::nullopt;
    h5::Handle type(H5Dget_type(d));
    std::uint64_t bytes = std::uint64_t(t.values.size()) * H5Tget_size(type.get());
    haddr_t offset = H5Dget_offset(d);
    if (offset == HADDR_UNDEF || H5Dget_storage_size(d) != bytes || offset > fileSize ||
        bytes > fileSize - offset)
        return std::nullopt;
    // Opaque bfloat16 is written as the machine's bytes, as HDF5 writes it.
    bool big = H5Tget_class(type.get()) == H5T_FLOAT && H5Tget_order(type.get()) == H5T_ORDER_BE;
    bool swap =
        H5Tget_class(type.get()) == H5T_FLOAT && big != (std::endian::native == std::endian::big);
    return Block{0, offset, bytes, *dtype, swap};
}

// The changes stored as plain blocks of the file open at `fd`, by offset; none when in doubt.
std::vector<Block> planBlocks(int fd, std::uint64_t fileSize,
                              const std::vector<DatasetChange>& changes) {
    h5::Silence quiet;
    // The descriptor the copy is made from, so the plan is of the bytes copied.
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!file) return {};
    h5::Handle fcpl(H5Fget_create_plist(file.get()));
    hsize_t userblock = 0;
    if (!fcpl || H5Pget_userblock(fcpl.get(), &userblock) < 0 || userblock != 0) return {};
    std::set<haddr_t> objects;
    std::vector<Block> blocks;
    for (size_t i = 0; i < changes.size(); ++i) {
        // Through an external link it does not open: HDF5's path refuses it.
        h5::Handle d = h5::openLocalDataset(file.get(), changes[i].path);
        if (!d) continue;
        H5O_info_t info;
        if (H5Oget_info2(d.get(), &info, H5O_INFO_BASIC) < 0 || !objects.insert(info.addr).second)
            return {};  // shared storage: HDF5's path refuses the whole export
        if (auto b = contiguousBlock(d.get(), *changes[i].values, fileSize)) {
            b->change = i;
            blocks.push_back(*b);
        }
    }
    std::sort(blocks.begin(), blocks.end(),
              [](const Block& a, const Block& b) { return a.offset < b.offset; });
    for (size_t i = 1; i < blocks.size(); ++i)
        if (blocks[i].offset < blocks[i - 1].offset + blocks[i - 1].bytes) return {};
    return blocks;
}

[[noreturn]] void writeError(const std::string& output, int err) {
    throw inputError("cannot write '" + output + "': " + std::strerror(err));
}

void writeAll(int fd, const void* data, size_t size, off_t at, const std::string& output) {
    const char* p = static_cast<const char*>(data);
    for (size_t done = 0; done < size;) {
        ssize_t n = ::pwrite(fd, p + done, size - done, at + off_t(done));
        if (n < 0 && errno != EINTR) writeError(output, errno);
        if (n > 0) done += size_t(n);
    }
}

// Copies bytes [from, to) of `in` to the same offsets of `out`.
void copyRange(int in, int out, off_t from, off_t to, const std::string& input,
               const std::string& output) {
    bool fallback = false;
    while (from < to && !fallback) {
        off_t src = from, dst = from;
        ssize_t n = copy_file_range(in, &src, out, &dst, size_t(to - from), 0);
        if (n > 0) from += n;
        if (n == 0)
            throw inputError("'" + input +
                             "' changed while it was being equalized; nothing written");
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
            fallback = true;
        else if (n < 0)
            writeError(output, errno);
    }
    std::vector<char> buf(size_t(1) << 20);
    while (from < to) {
        ssize_t n = ::pread(in, buf.data(), std::min<size_t>(buf.size(), size_t(to - from)), from);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw inputError("cannot read '" + input + "': " + std::strerror(errno));
        if (n == 0)
            throw inputError("'" + input +
                             "' changed while it was being equalized; nothing written");
        writeAll(out, buf.data(), size_t(n), from, output);
        from += n;
    }
}

template <typename Bits>
void store(Bits bits, bool swap, unsigned char* out) {
    if (swap) {
        if constexpr (sizeof(Bits) == 2) bits = __builtin_bswap16(bits);
        if constexpr (sizeof(Bits) == 4) bits = __builtin_bswap32(bits);
        if constexpr (sizeof(Bits) == 8) bits = __builtin_bswap64(bits);
    }
    std::memcpy(out, &bits, sizeof bits);
}

// `n` values in the stored form, rounded to nearest even as the HDF5 path does; a value a 16-bit
// type cannot hold is the same Error.
template <typename Half>
void encodeHalf(const float* in, size_t n, bool swap, unsigned char* out,
                const std::string& subject, const char* typeName) {
    for (size_t i = 0; i < n; ++i) {
        Half h(in[i]);
        if (std::isinf(static_cast<float>(h)) && !std::isinf(in[i]))
            throw inputError("value " + std::to_string(in[i]) + " of " + subject +
                             " does not fit in " + typeName);
        store(Eigen::numext::bit_cast<std::uint16_t>(h), swap, out + 2 * i);
    }
}

void encode(const float* in, size_t n, const Block& b, unsigned char* out,
            const std::string& subject) {
    switch (b.dtype) {
        case DType::Float16:
            return encodeHalf<Eigen::half>(in, n, b.swap, out, subject, "float16");
        case DType::BFloat16:
            return encodeHalf<Eigen::bfloat16>(in, n, b.swap, out, subject, "bfloat16");
        case DType::Float32:
            for (size_t i = 0; i < n; ++i)
                store(std::bit_cast<std::uint32_t>(in[i]), b.swap, out + 4 * i);
            return;
        case DType::Float64:
            for (size_t i = 0; i < n; ++i)
                store(std::bit_cast<std::uint64_t>(double(in[i])), b.swap, out + 8 * i);
            return;
    }
}

// Writes a change's values into its block, a slice at a time when they need converting.
void writeBlock(int fd, const Block& b, const DatasetChange& c, const std::string& output) {
    const auto& values = c.values->values;
    // A slice at a time: on Linux 6.x writes of 1 MiB are several times faster than one write of
    // a whole large dataset into fresh page cache.
    constexpr size_t kSlice = size_t(1) << 18;
    if (b.dtype == DType::Float32 && !b.swap) {
        for (size_t start = 0; start < values.size(); start += kSlice)
            writeAll(fd, values.data() + start, 4 * std::min(kSlice, values.size() - start),
                     off_t(b.offset + 4 * start), output);
        return;
    }
    size_t width = b.bytes / values.size();
    std::vector<unsigned char> buf(std::min(values.size(), kSlice) * width);
    for (size_t start = 0; start < values.size(); start += kSlice) {
        size_t n = std::min(kSlice, values.size() - start);
        encode(values.data() + start, n, b, buf.data(), c.subject);
        writeAll(fd, buf.data(), n * width, off_t(b.offset + start * width), output);
    }
}

// Copies everything outside the blocks, then writes the blocks in the order of the changes.
void fill(int in, int out, std::uint64_t size, const std::vector<Block>& blocks,
          const std::vector<DatasetChange>& changes, const std::string& input,
          const std::string& output, const std::atomic<bool>* cancel) {
    // Blocks reserved at once: writing into a new file's unallocated tail is several times slower
    // than a copy on ext4 (delayed allocation), writing into reserved blocks is not.
    if (size > 0 && fallocate(out, 0, 0, off_t(size)) != 0 && errno != EOPNOTSUPP &&
        errno != ENOSYS && errno != EINTR)
        writeError(output, errno);
    std::uint64_t at = 0;
    for (const auto& b : blocks) {
        copyRange(in, out, off_t(at), off_t(b.offset), input, output);
        at = b.offset + b.bytes;
    }
    copyRange(in, out, off_t(at), off_t(size), input, output);
    std::vector<const Block*> byChange;
    for (const auto& b : blocks) byChange.push_back(&b);
    std::sort(byChange.begin(), byChange.end(),
              [](const Block* a, const Block* b) { return a->change < b->change; });
    for (const Block* b : byChange) {
        if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "export cancelled");
        writeBlock(out, *b, changes[b->change], output);
    }
}

}  // namespace

std::vector<DatasetChange> copyWithChanges(const std::string& input,
                                           const std::optional<FileIdentity>& expected,
                                           TempFile& temp,
                                           const std::vector<DatasetChange>& changes,
                                           const std::string& output,
                                           const std::atomic<bool>* cancel) {
    int in = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throw inputError("cannot open '" + input + "': " + std::strerror(errno));
    struct stat st {};
    if (fstat(in, &st) != 0 || (expected && fileIdentity(in) != expected)) {
        ::close(in);
        throw inputError("'" + input + "' changed while it was being equalized; nothing written");
    }
    std::uint64_t size = std::uint64_t(st.st_size);
    std::vector<Block> blocks = planBlocks(in, size, changes);
    int out = ::open(temp.path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (out < 0) {
        int err = errno;
        ::close(in);
        writeError(output, err);
    }
    try {
        fill(in, out, size, blocks, changes, input, output, cancel);
        // A read-only input must still give a writable copy.
        if (fchmod(out, (st.st_mode & 07777) | S_IRUSR | S_IWUSR) != 0) writeError(output, errno);
    } catch (...) {
        ::close(out);
        ::close(in);
        throw;
    }
    ::close(in);
    if (::close(out) != 0) writeError(output, errno);
    std::vector<bool> done(changes.size(), false);
    for (const auto& b : blocks) done[b.change] = true;
    std::vector<DatasetChange> rest;
    for (size_t i = 0; i < changes.size(); ++i)
        if (!done[i]) rest.push_back(changes[i]);
    return rest;
}

}  // namespace cle::core::direct
