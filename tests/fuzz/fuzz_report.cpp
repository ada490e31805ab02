// libFuzzer entry point for cle::fuzz::report (see targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    cle::fuzz::report(data, size);
    return 0;
}
