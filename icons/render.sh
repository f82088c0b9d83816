#!/usr/bin/env sh
# Re-render every PNG in this folder from its SVG source.
# Needs rsvg-convert (Debian/Ubuntu: apt-get install librsvg2-bin).
# The PNGs are committed, so the build itself never needs this script.
set -eu
cd "$(dirname "$0")"

command -v rsvg-convert >/dev/null 2>&1 || {
  echo "render.sh: rsvg-convert not found (apt-get install librsvg2-bin)" >&2
  exit 1
}

render() { # render SVG SIZE OUT
  rsvg-convert --format=png --width="$2" --height="$2" --keep-aspect-ratio \
    --background-color=none --output="$3" "$1"
}

# Tray states: 64x64 RGBA.
for state in not-connected offline live reconnecting recording live-recording alert error; do
  render "tray-$state.svg" 64 "tray-$state.png"
done

# App icon sizes Tauri's bundler expects.
render icon.svg 512 icon.png
render icon.svg 32 32x32.png
render icon.svg 128 128x128.png
render icon.svg 256 128x128@2x.png

# The hicolor theme's sizes for the Linux packages (the bundler files each PNG
# by its size; 32, 128 and 512 are above). The SVG goes in as scalable/.
for size in 16 22 24 48 64 256; do
  render icon.svg "$size" "${size}x${size}.png"
done

echo "render.sh: rendered $(ls -1 ./*.png | wc -l) PNGs"
