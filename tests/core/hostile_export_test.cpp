// Faults while exporting: a full disk, a file size limit, an input replaced during the run, a
// concurrent run writing the same output, a report that cannot be written. Never a committed
// output that is wrong, never a file left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "cle/core/equalizer.h"
#include "cle/core/error.h"
#include "cle/core/exporter.h"
#include "cli_runner.h"
#include "hostile_files.h"
#include "support/temp_file.h"

using namespace cle;
using test::bytes;
using test::contains;
using test::Hostile;
using test::layer;
using test::torchPair;

namespace {

// Writes fail with EFBIG once the file grows past `limit` bytes: a full disk without root.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t limit) {
        getrlimit(RLIMIT_FSIZE, &old_);
        oldHandler_ = signal(SIGXFSZ, SIG_IGN);
        rlimit now = old_;
        now.rlim_cur = limit;
        setrlimit(RLIMIT_FSIZE, &now);
    }
    ~FileSizeLimit() {
        setrlimit(RLIMIT_FSIZE, &old_);
        signal(SIGXFSZ, oldHandler_);
    }

private:
    rlimit old_{};
    sighandler_t oldHandler_;
};

TEST_F(Hostile, AnOutputLargerThanTheSpaceLeftLeavesNothing) {
    torchPair(in, true);
    auto model = core::loadModel(in);
    auto result = core::equalize(model, {{"fc1", "fc2"}});
    auto before = dir.entries();
    {
        // A copy of the input would fit; the equalized chunks compress worse and do not (the
        // write HDF5 used to do only when closing the dataset, with its result ignored).
        FileSizeLimit limit(rlim_t(std::filesystem::file_size(in) + 4096));
        try {
            core::exportWeights(in, result.layers, out);
            ADD_FAILURE() << "a failed write was committed";
        } catch (const core::Error& e) {
            EXPECT_TRUE(contains(e.what(), out)) << e.what();
            EXPECT_TRUE(contains(e.what(), "File too large")) << e.what();
        }
    }
    EXPECT_EQ(dir.entries(), before);
    // Without the limit the same export works.
    core::exportWeights(in, result.layers, out);
    EXPECT_EQ(test::readFloats(out, "/fc2.weight"), result.layers[1].weight.values);
}

// A 1 MB tmpfs with `free` bytes left (root only; the test is skipped elsewhere).
class SmallDisk {
public:
    SmallDisk(const std::string& where, std::size_t free) : path_(where) {
        std::filesystem::create_directory(path_);
        mounted_ = mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=1m") == 0;
        if (!mounted_) return;
        struct statvfs st {};
        statvfs(path_.c_str(), &st);
        std::size_t avail = std::size_t(st.f_bavail) * st.f_frsize;
        int fd = open((path_ + "/filler").c_str(), O_CREAT | O_WRONLY, 0600);
        posix_fallocate(fd, 0, off_t(avail - free));
        close(fd);
    }
    ~SmallDisk() {
        if (mounted_) umount2(path_.c_str(), MNT_DETACH);
    }
    bool mounted() const { return mounted_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path_))
            names.push_back(e.path().filename().string());
        return names;
    }

private:
    std::string path_;
    bool mounted_ = false;
};

TEST_F(Hostile, ADiskThatFillsUpGivesExitOneAndLeavesNothing) {
    torchPair(in, true);
    // Room for a copy of the input, not for the equalized chunks (which compress worse).
    SmallDisk disk(dir.file("disk"), std::filesystem::file_size(in) + 4096);
    if (!disk.mounted()) GTEST_SKIP() << "mounting a tmpfs needs root";
    std::string target = disk.file("out.h5");
    auto r = test::runCle({"equalize", in, "-o", target, "--pairs", "fc1,fc2", "-q"});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, target) && contains(r.err, "No space left on device")) << r.err;
    EXPECT_EQ(disk.entries(), std::vector<std::string>{"filler"});
}

TEST_F(Hostile, ASpaceSmallerThanTheInputLeavesNothing) {
    torchPair(in);
    auto model = core::loadModel(in);
    FileSizeLimit limit(rlim_t(std::filesystem::file_size(in) / 2));
    try {
        core::exportWeights(in, {model.layers[0]}, out);
        ADD_FAILURE() << "a truncated copy was committed";
    } catch (const core::Error& e) {
        EXPECT_TRUE(contains(e.what(), "File too large")) << e.what();
    }
    EXPECT_EQ(dir.entries().size(), 1u);
}

TEST_F(Hostile, AnInputReplacedAfterLoadingIsNotMixedIntoTheOutput) {
    torchPair(in);
    auto model = core::loadModel(in);
    {
        std::string other = dir.file("other.h5");
        test::H5Writer w(other);
        w.dataset("/fc1.weight", {64, 64}, test::randomValues(64 * 64, 3.0, 7));
        w.dataset("/fc2.weight", {64, 64}, test::randomValues(64 * 64, 3.0, 8));
    }
    std::filesystem::rename(dir.file("other.h5"), in);
    core::ExportOptions options;
    options.inputIdentity = model.info.identity;
    try {
        core::exportWeights(in, {model.layers[0]}, out, options);
        ADD_FAILURE() << "exported from a replaced input";
    } catch (const core::Error& e) {
        EXPECT_TRUE(contains(e.what(), "changed while")) << e.what();
    }
    EXPECT_EQ(dir.entries().size(), 1u);
}

TEST_F(Hostile, AnOutputThatAppearsDuringTheExportIsNotReplacedWithoutForce) {
    torchPair(in);
    auto model = core::loadModel(in);
    core::ExportOptions options;
    options.reportPath = dir.file("r.json");
    // Another run creates the output after this one checked for it.
    options.reportText = [&] {
        std::ofstream(out) << "theirs";
        return std::string("{}");
    };
    try {
        core::exportWeights(in, {model.layers[0]}, out, options);
        ADD_FAILURE() << "replaced an output that appeared meanwhile";
    } catch (const core::Error& e) {
        EXPECT_TRUE(contains(e.what(), "appeared")) << e.what();
    }
    EXPECT_EQ(bytes(out), "theirs");
    EXPECT_FALSE(std::filesystem::exists(options.reportPath));
    EXPECT_EQ(dir.entries().size(), 2u);  // in.h5 and the other run's out.h5
}

TEST_F(Hostile, ReportAndOutputAreWrittenTogetherOrNotAtAll) {
    torchPair(in);
    auto model = core::loadModel(in);
    core::ExportOptions options;
    options.reportPath = dir.file("r.json");
    // The report cannot be made: no output either.
    options.reportText = []() -> std::string { throw core::inputError("no report"); };
    EXPECT_THROW(core::exportWeights(in, {model.layers[0]}, out, options), core::Error);
    EXPECT_EQ(dir.entries().size(), 1u);
    // The report's name is taken meanwhile: the output committed just before is removed again.
    options.reportText = [&] {
        std::ofstream(options.reportPath) << "theirs";
        return std::string("{}");
    };
    EXPECT_THROW(core::exportWeights(in, {model.layers[0]}, out, options), core::Error);
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(bytes(options.reportPath), "theirs");
    std::filesystem::remove(options.reportPath);
    options.reportText = [] { return std::string("{\"ok\": true}\n"); };
    core::exportWeights(in, {model.layers[0]}, out, options);
    EXPECT_TRUE(std::filesystem::exists(out));
    EXPECT_EQ(bytes(options.reportPath), "{\"ok\": true}\n");
}

TEST_F(Hostile, BothTemporaryFilesOfAnExportAreKnownToTheSignalHandler) {
    torchPair(in);
    auto model = core::loadModel(in);
    core::ExportOptions options;
    options.reportPath = dir.file("r.json");
    // Cancelled while both temporary files exist: neither is left.
    std::atomic<bool> cancel{false};
    options.cancel = &cancel;
    options.reportText = [&] {
        cancel = true;
        return std::string("{}");
    };
    EXPECT_THROW(core::exportWeights(in, {model.layers[0]}, out, options), core::Error);
    EXPECT_EQ(dir.entries().size(), 1u);
    // Two temporary files at once have two entries.
    std::vector<std::string> pending;
    {
        core::TempFile a(dir.file("a.h5")), b(dir.file("b.json"));
        for (int i = 0; i < core::kPendingExportFiles; ++i)
            if (const char* p = core::pendingExportFile(i)) pending.push_back(p);
        EXPECT_EQ(pending, (std::vector<std::string>{a.path(), b.path()}));
    }
    EXPECT_EQ(core::pendingExportFile(0), nullptr);
    EXPECT_EQ(core::pendingExportFile(1), nullptr);
}

TEST_F(Hostile, ASignalWhileExportsCommitLeavesTheirFilesToTheRenames) {
    // Abandoning (what the signal handler of `cle` does before it ends the process) is refused
    // while any export commits, also two at once; tests/core/signal_test sends real signals.
    core::TempFile temp(out);
    {
        core::CommitSection first;
        {
            core::CommitSection second;
            EXPECT_FALSE(core::abandonPendingExport());
        }
        EXPECT_FALSE(core::abandonPendingExport());
    }
    EXPECT_TRUE(std::filesystem::exists(temp.path()));
    EXPECT_NE(core::pendingExportFile(0), nullptr);
}

}  // namespace
