#!/usr/bin/env bash
# Installs the Debian 12 packages CLE Studio needs to build, test and run (as root, or with sudo).
set -euo pipefail
packages=(cmake g++ make pkg-config qt6-base-dev qt6-svg-dev libqcustomplot-dev libgraphviz-dev
          libeigen3-dev libhdf5-dev libzip-dev libonnx-dev libprotobuf-dev
          hdf5-tools nlohmann-json3-dev libcli11-dev libgtest-dev libbenchmark-dev
          xvfb xauth imagemagick)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
