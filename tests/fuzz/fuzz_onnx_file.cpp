// libFuzzer entry point for cle::fuzz::onnxFile (see targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    cle::fuzz::onnxFile(data, size);
    return 0;
}
