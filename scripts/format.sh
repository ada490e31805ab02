#!/usr/bin/env bash
# Checks that every C++ source and header follows the root .clang-format (clang-format 14, the
# Debian 12 version); with --fix, formats them in place. Exit 1 lists the files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || {
    echo "Installing clang-format"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang-format
}
mapfile -t files < <(git ls-files '*.cpp' '*.h')
if [[ ${1:-} == --fix ]]; then
    clang-format -i "${files[@]}"
    exit 0
fi
bad=()
for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
    echo "Not formatted (bash scripts/format.sh --fix):"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "All ${#files[@]} C++ files follow .clang-format"
