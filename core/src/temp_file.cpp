#include "temp_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cle/core/error.h"
#include "cle/core/exporter.h"

namespace cle::core {

namespace {
// Written only from the main flow, read by signal handlers: a fixed buffer, no allocation.
char g_pending[4096] = {0};
}  // namespace

const char* pendingExportFile() { return g_pending[0] ? g_pending : nullptr; }

TempFile::TempFile(const std::string& destination) : destination_(destination) {
    std::filesystem::path dest(destination);
    std::filesystem::path dir = dest.parent_path().empty() ? "." : dest.parent_path();
    std::string pattern = (dir / ("." + dest.filename().string() + ".tmp-XXXXXX")).string();
    int fd = mkstemp(pattern.data());
    if (fd < 0)
        throw inputError("cannot create a temporary file in '" + dir.string() +
                         "': " + std::strerror(errno));
    fchmod(fd, 0644);
    close(fd);
    path_ = pattern;
    if (path_.size() < sizeof g_pending) std::memcpy(g_pending, path_.c_str(), path_.size() + 1);
}

TempFile::~TempFile() {
    if (!committed_) std::remove(path_.c_str());
    g_pending[0] = 0;
}

void TempFile::commit() {
    // On disk before it takes the destination's name: a crash never leaves a truncated file there.
    int fd = open(path_.c_str(), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (std::rename(path_.c_str(), destination_.c_str()) != 0)
        throw inputError("cannot write '" + destination_ + "': " + std::strerror(errno));
    committed_ = true;
    g_pending[0] = 0;
}

}  // namespace cle::core
