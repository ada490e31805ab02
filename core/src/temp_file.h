#pragma once
// A temporary file beside a destination, removed unless committed; commit renames it into place
// so readers never see a half-written destination.
#include <string>

namespace cle::core {

class TempFile {
public:
    explicit TempFile(const std::string& destination);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    const std::string& path() const { return path_; }
    /// Renames the temporary file to the destination. Throws Error on failure.
    void commit();

private:
    std::string destination_;
    std::string path_;
    bool committed_ = false;
};

}  // namespace cle::core
