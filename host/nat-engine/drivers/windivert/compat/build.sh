#!/bin/sh
# Builds libwindivert-compat.so, the WinDivert API over NFQUEUE used to run
# algd's windivert driver on Linux (tests, the lab). Needs gcc and the
# libnetfilter_queue headers (Debian: gcc, libnetfilter-queue-dev).
#
#   build.sh [OUTPUT_DIR]     default: <repository>/dist/compat (gitignored)
#
# Prints the path of the library it wrote.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../../.." && pwd)
out=${1:-"$root/dist/compat"}
cc=${CC:-gcc}

mkdir -p "$out"
tmp="$out/.libwindivert-compat.so.$$"
trap 'rm -f "$tmp"' EXIT
# -fvisibility=hidden: only the WinDivert* functions (marked in windivert-compat.h) are exported.
"$cc" -std=gnu11 -Wall -Wextra -Werror -O2 -fPIC -shared -fvisibility=hidden \
  -o "$tmp" \
  "$here/windivert-compat.c" "$here/wdc-filter.c" "$here/wdc-packet.c" "$here/wdc-rules.c" \
  -lnetfilter_queue -lnfnetlink -lpthread
# Renamed into place, so a process that has the old library loaded keeps a valid mapping.
mv -f "$tmp" "$out/libwindivert-compat.so"
trap - EXIT
echo "$out/libwindivert-compat.so"
