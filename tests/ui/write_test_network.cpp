// Writes the MobileNetV2-like test network to a file, for screenshots and trying the application
// on a network of real size: write_test_network OUT.h5 [BLOCKS]
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "mobilenet_fixture.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OUT.h5 [BLOCKS]\n", argv[0]);
        return 2;
    }
    try {
        cle::test::writeMobileNetLike(argv[1], argc > 2 ? std::atoi(argv[2]) : 16);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
