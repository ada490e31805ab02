#include "support/big_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace cle::core {

bool adviseHugePages(const void* data, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
    if (!data || bytes < kHugePageThreshold) return false;
    static const std::uintptr_t page = std::uintptr_t(sysconf(_SC_PAGESIZE));
    const std::uintptr_t begin = (std::uintptr_t(data) + page - 1) / page * page;
    const std::uintptr_t end = (std::uintptr_t(data) + bytes) / page * page;
    if (end <= begin) return false;
    return madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) == 0;
#else
    (void)data;
    (void)bytes;
    return false;
#endif
}

}  // namespace cle::core
