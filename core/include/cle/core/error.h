#pragma once
// Errors raised by the core. Every expected failure (bad file, bad layer name, bad option) is a
// cle::core::Error whose message is one sentence naming the file, dataset or layer concerned.
#include <stdexcept>
#include <string>

namespace cle::core {

/// What kind of mistake an error is: a usage error is the caller's (bad option, bad pair list),
/// an input error is the data's or the file system's.
enum class ErrorKind { Usage, Input, Cancelled };

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

inline Error usageError(const std::string& m) { return Error(ErrorKind::Usage, m); }
inline Error inputError(const std::string& m) { return Error(ErrorKind::Input, m); }

}  // namespace cle::core
