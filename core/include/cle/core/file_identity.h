#pragma once
// What identifies the contents of a file on disk, to notice a file replaced or rewritten under us.
#include <cstdint>
#include <optional>
#include <string>

namespace cle::core {

/// A replaced or rewritten file differs in one of these.
struct FileIdentity {
    std::uint64_t device = 0, inode = 0;
    std::int64_t size = 0, mtimeNs = 0;
    bool operator==(const FileIdentity&) const = default;
};

/// The identity of the file at `path`, or nothing when it cannot be read.
std::optional<FileIdentity> fileIdentity(const std::string& path);
/// The identity of an open file descriptor, or nothing when it cannot be read.
std::optional<FileIdentity> fileIdentity(int fd);

}  // namespace cle::core
