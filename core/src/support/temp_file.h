#pragma once
// A temporary file beside a destination, removed unless committed; commit renames it into place
// so readers never see a half-written destination. It is named `.NAME.cle-tmp-PID-XXXXXX`; making
// one removes those of NAME left by processes that no longer run (killed during an export).
#include <optional>
#include <string>

#include "cle/core/file_identity.h"

namespace cle::core {

class TempFile {
public:
    explicit TempFile(const std::string& destination);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    const std::string& path() const { return path_; }
    /// Replaces the temporary file's contents with `size` bytes and sets its permission bits.
    /// Every write is checked: throws Error naming the destination and the cause (disk full).
    void write(const void* data, size_t size, unsigned mode);
    const std::string& destination() const { return destination_; }
    /// Renames the temporary file to the destination. With `replace` false an existing destination
    /// (also one that appeared after any earlier check) is an error and is left untouched. Throws
    /// Error on failure.
    void commit(bool replace = true);

private:
    std::string destination_;
    std::string path_;
    bool committed_ = false;
    int slot_ = -1;  ///< its entry for pendingExportFile()
};

/// While alive, a signal handler's abandonPendingExport() leaves the temporary files alone (the
/// commit's renames finish first). Entered while a handler is abandoning the export, it waits for
/// the process to end.
class CommitSection {
public:
    CommitSection();
    ~CommitSection();
    CommitSection(const CommitSection&) = delete;
    CommitSection& operator=(const CommitSection&) = delete;
};

/// Copies `path` into `temp` from one descriptor that is first checked to be `expected` (when
/// given): a file replaced or changed since it was loaded is an Error. The copy keeps the
/// permission bits and is writable by its owner. Every write is checked (disk full).
void copyVerified(const std::string& path, const std::optional<FileIdentity>& expected,
                  TempFile& temp);

}  // namespace cle::core
