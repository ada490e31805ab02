#pragma once
// Runs the `cle` command line in-process and captures what it prints.
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"

namespace cle::test {

struct Outcome {
    int code;
    std::string out, err;
};

inline Outcome runCle(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    int code = cli::run(args, out, err);
    return {code, out.str(), err.str()};
}

}  // namespace cle::test
