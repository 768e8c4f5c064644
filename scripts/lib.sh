# Shared by scripts/run and scripts/test: idempotent, quiet setup of what the build needs.
# shellcheck shell=bash

# Packages every build needs: C/C++ compilers (ring, openh264), pkg-config for -sys
# crates, cmake (libopus), nasm (openh264's SIMD assembly), ALSA headers (cpal), libclang
# (bindgen, for the V4L2 camera bindings), libvpx (VP8 and VP9, linked from the system).
BUILD_PACKAGES=(build-essential pkg-config ca-certificates cmake nasm libasound2-dev libclang-dev libvpx-dev)
# What the desktop window loads at run time: OpenGL through Mesa (GLX or EGL) and the X11
# libraries winit opens (keyboard, cursors, screens, input).
WINDOW_PACKAGES=(libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_packages PKG...: installs the Debian/Ubuntu packages that are missing, once.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        echo "missing packages: ${missing[*]}; install them with your package manager" >&2
        return 1
    fi
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_rust [COMPONENT...]: makes cargo available (rustup's env) with the components given.
ensure_rust() {
    if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    fi
    if ! command -v cargo >/dev/null; then
        if command -v rustup >/dev/null; then
            rustup default stable >/dev/null
        else
            echo "cargo not found: install Rust with rustup (https://rustup.rs) first" >&2
            return 1
        fi
    fi
    local component subcommand
    for component in "$@"; do
        subcommand=$component
        [ "$component" = rustfmt ] && subcommand=fmt
        if ! cargo "$subcommand" --version >/dev/null 2>&1; then
            say "adding rust component $component"
            rustup component add "$component" >/dev/null
        fi
    done
}
