#!/usr/bin/env bash
# Installs what OnAir needs on Debian 12 / Ubuntu, only what is missing.
# Usage: scripts/deps.sh run|test
set -euo pipefail

# Building the Tauri app (WebKitGTK, GTK, the tray's appindicator, xdo for
# hotkeys, libdbus for the Secret Service); the tray dlopens the runtime
# libayatana-appindicator3-1 and panics without it.
want=(ca-certificates build-essential pkg-config libssl-dev libdbus-1-dev
      libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libsoup-3.0-dev
      libayatana-appindicator3-dev libayatana-appindicator3-1 libxdo-dev)
if [ "${1:-run}" = test ]; then
  # Real OBS headless, a loopback RTMP ingest, and a private desktop session:
  # display, D-Bus, a notification server, a Secret Service, key presses, and a
  # reference AppIndicator for the dbusmenu harness's own test, an XEmbed system
  # tray (trayer); Node.js runs the window's JavaScript unit tests.
  want+=(obs-studio xvfb xauth nginx-light libnginx-mod-rtmp dbus dbus-x11 procps
         dunst gnome-keyring libsecret-tools xdotool libnotify-bin trayer
         python3-gi gir1.2-ayatanaappindicator3-0.1 gir1.2-gtk-3.0 webkit2gtk-driver
         nodejs)
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
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

# The window through WebDriver (tests only): tauri-driver in front of WebKitGTK's
# WebKitWebDriver, a cargo install, so after the toolchain above.
if [ "${1:-run}" = test ]; then
  # The test command checks formatting and lints first.
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    echo "deps: adding rustfmt and clippy to the toolchain" >&2
    rustup component add rustfmt clippy
  fi
  if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "deps: installing tauri-driver with cargo" >&2
    cargo install tauri-driver --locked
  fi
  case ":$PATH:" in
    *":$HOME/.cargo/bin:"*) ;;
    *) export PATH="$HOME/.cargo/bin:$PATH" ;;
  esac
fi
