# Sourced by the build scripts: compile through ccache when it is installed, with paths taken
# relative to the checkout, so that a fresh clone elsewhere reuses what an earlier one compiled.
launcher=()
if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
    # Debug builds (the sanitizers, the fuzzers) too: their sources are named relative to the
    # build directory, and only the debug info's working directory may name an earlier clone.
    export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
fi
