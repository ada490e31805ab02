#include "support/temp_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "cle/core/error.h"
#include "cle/core/pending_export.h"
#include "cle/core/text_file.h"

namespace cle::core {

namespace {
// Written only from the main flow, read by signal handlers: fixed buffers, no allocation. One
// per temporary file alive at once (the output and its report). A slot's state says who may touch
// its buffer: the main flow fills a free slot and empties a ready one; a signal handler takes a
// ready one to remove its file, after which the slot is never given back (the process ends).
enum Slot : int { kFree, kFilling, kReady, kTaken };
char g_pending[kPendingExportFiles][4096] = {};
std::atomic<int> g_slot[kPendingExportFiles] = {};
static_assert(std::atomic<int>::is_always_lock_free);

// Set once a temporary file has taken its final name.
std::atomic<bool> g_committed{false};

// The number of exports committing now, or -1 once a signal handler has abandoned them.
std::atomic<int> g_exportState{0};

// Waits for a signal handler running on another thread to end the process.
[[noreturn]] void awaitExit() {
    for (;;) pause();
}

int claimSlot(const std::string& path) {
    if (path.size() >= sizeof g_pending[0]) return -1;
    for (int i = 0; i < kPendingExportFiles; ++i) {
        int expected = kFree;
        if (!g_slot[i].compare_exchange_strong(expected, kFilling)) continue;
        std::memcpy(g_pending[i], path.c_str(), path.size() + 1);
        g_slot[i].store(kReady);
        return i;
    }
    return -1;
}

void releaseSlot(int slot) {
    if (slot < 0) return;
    int expected = kReady;
    if (!g_slot[slot].compare_exchange_strong(expected, kFree)) awaitExit();
}

// A name `.NAME.cle-tmp-PID-XXXXXX` beside `destination` whose process no longer runs.
bool isStaleTemporary(const std::string& entry, const std::string& prefix) {
    if (entry.compare(0, prefix.size(), prefix) != 0) return false;
    const char* p = entry.c_str() + prefix.size();
    char* end = nullptr;
    errno = 0;
    long pid = std::strtol(p, &end, 10);
    if (errno != 0 || end == p || pid <= 0 || *end != '-' || std::strlen(end + 1) != 6)
        return false;
    return pid != getpid() && kill(pid_t(pid), 0) != 0 && errno == ESRCH;
}

// Removes the temporary files that runs writing `destination` left when they were killed.
void removeStaleTemporaries(const std::filesystem::path& dir, const std::string& name) {
    std::string prefix = "." + name + ".cle-tmp-";
    DIR* d = opendir(dir.c_str());
    if (!d) return;
    while (const dirent* e = readdir(d)) {
        struct stat st {};
        if (isStaleTemporary(e->d_name, prefix) &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

}  // namespace

const char* pendingExportFile(int slot) {
    if (slot < 0 || slot >= kPendingExportFiles) return nullptr;
    return g_slot[slot].load() == kReady ? g_pending[slot] : nullptr;
}

bool abandonPendingExport() noexcept {
    int expected = 0;
    if (!g_exportState.compare_exchange_strong(expected, -1)) return expected < 0;
    for (int i = 0; i < kPendingExportFiles; ++i) {
        int ready = kReady;
        if (g_slot[i].compare_exchange_strong(ready, kTaken)) unlink(g_pending[i]);
    }
    return true;
}

bool exportCommitted() noexcept { return g_committed.load(); }

CommitSection::CommitSection() {
    int now = g_exportState.load();
    do {
        if (now < 0) awaitExit();
    } while (!g_exportState.compare_exchange_weak(now, now + 1));
}

CommitSection::~CommitSection() { g_exportState.fetch_sub(1); }

TempFile::TempFile(const std::string& destination) : destination_(destination) {
    std::filesystem::path dest(destination);
    std::filesystem::path dir = dest.parent_path().empty() ? "." : dest.parent_path();
    std::string name = dest.filename().string();
    removeStaleTemporaries(dir, name);
    // The name is claimed for the signal handlers before the file exists, so that a signal at
    // any moment finds every file this process created (unlinking a name not yet created is
    // harmless). The six characters are chosen as mkstemp() chooses them; O_EXCL makes the file
    // this process's own.
    const std::string prefix =
        (dir / ("." + name + ".cle-tmp-" + std::to_string(getpid()) + "-")).string();
    static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device random;
    int err = EEXIST;
    for (int attempt = 0; attempt < 100 && err == EEXIST; ++attempt) {
        std::string candidate = prefix;
        for (int i = 0; i < 6; ++i) candidate += kChars[random() % (sizeof kChars - 1)];
        int slot = claimSlot(candidate);
        int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            fchmod(fd, 0644);  // whatever the umask, as the output it becomes
            close(fd);
            path_ = candidate;
            slot_ = slot;
            return;
        }
        err = errno;
        releaseSlot(slot);
    }
    throw inputError("cannot create a temporary file in '" + dir.string() +
                     "': " + std::strerror(err));
}

TempFile::~TempFile() {
    if (!committed_) std::remove(path_.c_str());
    releaseSlot(slot_);
}

void TempFile::commit(bool replace) {
    // On disk before it takes the destination's name: a crash never leaves a truncated file there.
    int fd = open(path_.c_str(), O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        throw inputError("cannot write '" + destination_ + "': " + std::strerror(err));
    }
    close(fd);
    if (replace) {
        if (std::rename(path_.c_str(), destination_.c_str()) != 0)
            throw inputError("cannot write '" + destination_ + "': " + std::strerror(errno));
    } else {
        // Atomic no-replace: a destination that appeared meanwhile (a concurrent run) stays.
        int status =
            renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, destination_.c_str(), RENAME_NOREPLACE);
        if (status != 0 && errno == EINVAL && link(path_.c_str(), destination_.c_str()) == 0) {
            unlink(path_.c_str());  // file systems without renameat2 flags: link + unlink
            status = 0;
        }
        if (status != 0 && errno == EEXIST)
            throw inputError("output file '" + destination_ +
                             "' appeared while it was being written (use --force to overwrite)");
        if (status != 0)
            throw inputError("cannot write '" + destination_ + "': " + std::strerror(errno));
    }
    committed_ = true;
    g_committed.store(true);
    releaseSlot(slot_);
    slot_ = -1;
}

void TempFile::write(const void* data, size_t size, unsigned mode) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    const char* p = static_cast<const char*>(data);
    for (size_t done = 0; err == 0 && done < size;) {
        ssize_t n = ::write(fd, p + done, size - done);
        if (n < 0 && errno != EINTR) err = errno;
        if (n > 0) done += size_t(n);
    }
    if (fd >= 0 && err == 0 && fchmod(fd, mode_t(mode)) != 0) err = errno;
    if (fd >= 0 && ::close(fd) != 0 && err == 0) err = errno;
    if (err != 0) throw inputError("cannot write '" + destination_ + "': " + std::strerror(err));
}

namespace {

// Copies everything from `in` to `out`; 0 or the errno of the failure (reading or writing).
int copyAll(int in, int out, bool& readFailed) {
    readFailed = false;
    // copy_file_range where the file systems allow it, read/write otherwise.
    while (true) {
        ssize_t n = copy_file_range(in, nullptr, out, nullptr, size_t(1) << 30, 0);
        if (n == 0) return 0;
        if (n > 0) continue;
        if (errno == EINTR) continue;
        if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
        return errno;
    }
    std::vector<char> buf(size_t(1) << 20);
    while (true) {
        ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return readFailed = true, errno;
        if (n == 0) return 0;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = ::write(out, buf.data() + done, size_t(n - done));
            if (w < 0 && errno != EINTR) return errno;
            if (w > 0) done += w;
        }
    }
}

}  // namespace

void copyVerified(const std::string& path, const std::optional<FileIdentity>& expected,
                  TempFile& temp) {
    int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throw inputError("cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    fstat(in, &st);
    if (expected && fileIdentity(in) != expected) {
        ::close(in);
        throw inputError("'" + path + "' changed while it was being equalized; nothing written");
    }
    int out = ::open(temp.path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    bool readFailed = false;
    int err = out < 0 ? errno : copyAll(in, out, readFailed);
    // A read-only input must still give a writable copy.
    if (out >= 0 && err == 0 && fchmod(out, (st.st_mode & 07777) | S_IRUSR | S_IWUSR) != 0)
        err = errno;
    if (out >= 0 && ::close(out) != 0 && err == 0) err = errno;
    ::close(in);
    if (readFailed) throw inputError("cannot read '" + path + "': " + std::strerror(err));
    if (err != 0)
        throw inputError("cannot write '" + temp.destination() + "': " + std::strerror(err));
}

void writeTextFileAtomically(const std::string& path, const std::string& text) {
    TempFile temp(path);
    {
        std::ofstream out(temp.path(), std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw inputError("cannot write '" + path + "'");
    }
    temp.commit();
}

}  // namespace cle::core
