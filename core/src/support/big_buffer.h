#pragma once
// Large weight buffers: backed by transparent huge pages where the system allows it, so that
// filling a buffer of hundreds of megabytes costs a few hundred page faults instead of a few
// hundred thousand.
#include <cstddef>
#include <vector>

namespace cle::core {

/// Buffers from this size on are advised to use huge pages.
inline constexpr std::size_t kHugePageThreshold = std::size_t(4) << 20;

/// Asks the kernel to back [data, data + bytes) with transparent huge pages (madvise
/// MADV_HUGEPAGE on the whole pages inside it) when bytes >= kHugePageThreshold. Returns whether
/// the advice was given and taken.
bool adviseHugePages(const void* data, std::size_t bytes);

/// n elements (zero), allocated and advised before they are first written.
template <typename T>
std::vector<T> largeBuffer(std::size_t n) {
    std::vector<T> v;
    v.reserve(n);
    adviseHugePages(v.data(), n * sizeof(T));
    v.resize(n);
    return v;
}

}  // namespace cle::core
