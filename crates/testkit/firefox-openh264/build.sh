#!/bin/bash
# Builds Firefox's OpenH264 media plugin (GMP) into OUT/gmp-gmpopenh264/2.6.0/.
#
# Firefox has no H.264 of its own for WebRTC: on first use it downloads Cisco's
# OpenH264 plugin. Test machines have no internet, so the tests build the same plugin
# from its source (module/, cisco/openh264 at cf568c83; gmp-api/, mozilla/gmp-api at
# 1f5a2f0; both BSD, see the file headers and LICENSE) against Debian's static
# OpenH264 (libopenh264-dev). Static, because Firefox's plugin sandbox cannot load
# libopenh264.so. Needs g++ and libopenh264-dev.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}/gmp-gmpopenh264/2.6.0
mkdir -p "$out"
g++ -std=c++17 -O2 -fPIC -shared -DNDEBUG \
    -I "$here/gmp-api" -I /usr/include/wels -I "$here/module" \
    "$here/module/gmp-openh264.cpp" -o "$out/libgmpopenh264.so" -Wl,--no-undefined \
    /usr/lib/x86_64-linux-gnu/libopenh264.a -lpthread
printf 'Name: gmpopenh264\nDescription: GMP Plugin for OpenH264.\nVersion: 2.6.0\nAPIs: encode-video[h264], decode-video[h264]\n' \
    > "$out/gmpopenh264.info"
