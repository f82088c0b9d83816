#!/usr/bin/env bash
# Installs what OnAir needs on Debian 12 / Ubuntu, only what is missing.
# Usage: scripts/deps.sh run|test
set -euo pipefail

want=(ca-certificates pkg-config gcc)
if [ "${1:-run}" = test ]; then
  # Real OBS headless, a loopback RTMP ingest, a private D-Bus session.
  want+=(obs-studio xvfb xauth nginx-light libnginx-mod-rtmp dbus procps)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: installing the Rust toolchain with rustup" >&2
  if command -v curl >/dev/null 2>&1 || { $sudo apt-get install -y -q curl; }; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
  command -v cargo >/dev/null 2>&1 || { echo "deps: no cargo; install Rust 1.80 or newer from https://rustup.rs" >&2; exit 1; }
fi
