# Sourced by the build scripts: compile through ccache when it is installed, with paths taken
# relative to the checkout, so that a fresh clone elsewhere reuses what an earlier one compiled.
launcher=()
if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
fi
