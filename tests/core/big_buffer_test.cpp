#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "support/big_buffer.h"

using namespace cle;

namespace {

std::string transparentHugePages() {
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string mode;
    std::getline(in, mode);
    return mode;
}

// Kilobytes of anonymous huge pages in this process (smaps_rollup), -1 when unknown.
long anonHugeKiB() {
    std::ifstream in("/proc/self/smaps_rollup");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("AnonHugePages:", 0) == 0) return std::stol(line.substr(14));
    return -1;
}

TEST(BigBuffer, SmallBuffersAreLeftAlone) {
    std::vector<float> small(1000);
    EXPECT_FALSE(core::adviseHugePages(small.data(), small.size() * sizeof(float)));
    EXPECT_FALSE(core::adviseHugePages(nullptr, std::size_t(1) << 30));
}

TEST(BigBuffer, LargeBuffersAreZeroAndUseHugePages) {
    const std::string mode = transparentHugePages();
    if (mode.empty() || mode.find("[never]") != std::string::npos)
        GTEST_SKIP() << "transparent huge pages are off here";
    const long before = anonHugeKiB();
    auto v = core::largeBuffer<float>(std::size_t(32) << 20);  // 128 MiB
    ASSERT_EQ(v.size(), std::size_t(32) << 20);
    for (std::size_t i = 0; i < v.size(); i += 4096) ASSERT_EQ(v[i], 0.f);
    EXPECT_TRUE(core::adviseHugePages(v.data(), v.size() * sizeof(float)));
    // With the mode "madvise" only advised memory gets huge pages: some of these 128 MiB do.
    EXPECT_GT(anonHugeKiB(), before);
}

}  // namespace
