// `cle equalize` holds the weights once: the run takes the planned layers out of the loaded model
// instead of copying them, so its peak memory grows by about the file's size, not twice that.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"

extern char** environ;

namespace {

// A PyTorch-layout chain of `layers` square Linear layers with biases, `width` wide.
std::string chain(const cle::test::TempDir& dir, const std::string& name, int layers, int width) {
    const std::string path = dir.file(name);
    cle::test::H5Writer w(path);
    for (int k = 0; k < layers; ++k) {
        const std::string layer = "/fc" + std::to_string(k);
        auto v = cle::test::randomValues(size_t(width) * size_t(width), 1.0, unsigned(k + 1));
        for (size_t o = 0; o < size_t(width); ++o)  // channels of different ranges
            for (size_t i = 0; i < size_t(width); ++i)
                v[o * size_t(width) + i] *= 1 + double(o % 7);
        w.dataset(layer + ".weight", {width, width}, v);
        w.dataset(layer + ".bias", {width}, cle::test::randomValues(size_t(width), 1.0, 99));
    }
    return path;
}

// The peak resident memory in bytes of `cle equalize` on `in`, every layer paired; -1 when it
// fails.
long peakEqualizeBytes(const cle::test::TempDir& dir, const std::string& in, int layers) {
    std::string pairs;
    for (int k = 0; k < layers; ++k) pairs += (k ? ",fc" : "fc") + std::to_string(k);
    std::vector<std::string> all{
        CLE_BINARY,     "equalize", in,        "-o", dir.file("out.h5"), "--force", "--quiet",
        "--max-sweeps", "2",        "--pairs", pairs};
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) return -1;
    int status = 0;
    rusage usage{};
    if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status)) return -1;
    const int code = WEXITSTATUS(status);
    if (code != 0 && code != 3) return -1;  // converged or stopped at the sweep limit
    return usage.ru_maxrss * 1024L;
}

}  // namespace

TEST(CliMemory, EqualizeHoldsTheWeightsOnce) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "a sanitizer's allocator (shadow memory, quarantine) measures its own memory";
#endif
    cle::test::TempDir dir;
    const int layers = 8;
    const std::string small = chain(dir, "small.h5", layers, 16);
    const std::string large = chain(dir, "large.h5", layers, 1400);  // 15.7 M weights, 63 MB
    const long fixed = peakEqualizeBytes(dir, small, layers);        // the process without weights
    const long peak = peakEqualizeBytes(dir, large, layers);
    ASSERT_GT(fixed, 0);
    ASSERT_GT(peak, 0);
    const double file = double(std::filesystem::file_size(large));
    // Copying the planned layers would add the file's size once more (2x).
    EXPECT_LT(double(peak - fixed), 1.3 * file)
        << "peak " << peak << " bytes, without weights " << fixed << ", file " << file;
}
