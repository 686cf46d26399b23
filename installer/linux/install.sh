#!/usr/bin/env bash
# Installs algd as a systemd service, or removes it. Usage: install.sh --help.
# The unit comes from algd.service.in next to this script; what it allows
# and why is in installer/README.md.
set -euo pipefail
# ${var//pattern/replacement} below must not treat & in a replacement as the match (bash 5.2).
shopt -u patsub_replacement 2>/dev/null || true

readonly EXIT_OK=0 EXIT_FAILED=1 EXIT_USAGE=2 EXIT_PREREQUISITE=3
readonly UNIT_NAME=algd.service
readonly UNIT_PATH=/etc/systemd/system/$UNIT_NAME
readonly BIN_LINK=/usr/local/bin/algd
# The marker that makes a folder removable by `uninstall`: only what install wrote.
readonly MARKER=.algd-installed
# What a built algd tree needs at run time (node_modules links into sdk/ and plugins/).
readonly PAYLOAD=(package.json README.md dist node_modules sdk plugins installer)

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$script_dir/../.." && pwd)

usage() {
  cat <<EOF
Usage: install.sh install   [--prefix DIR] [--config FILE] [--node PATH] [--no-start] [--dry-run]
       install.sh uninstall [--prefix DIR] [--dry-run]
       install.sh unit      [--prefix DIR] [--config FILE] [--node PATH]
       install.sh --help

  install     copy this built algd to the prefix, link $BIN_LINK, write
              $UNIT_PATH, enable and start it
  uninstall   stop and disable the service, remove the unit, the link and the
              prefix (only a prefix install wrote); the configuration and the
              logs stay
  unit        print the systemd unit install would write, change nothing

  --prefix DIR    where algd is installed (default /opt/algd)
  --config FILE   the configuration the service runs with (default
                  /etc/algd/algd.json); it must exist and be valid
  --node PATH     the Node.js 20+ binary (default: node on PATH)
  --no-start      enable the service but do not start it now
  --dry-run       print what would be done, change nothing (no root needed)

Exit codes: 0 done, 1 a step failed, 2 bad command line or configuration
(nothing changed), 3 a prerequisite is missing: root, systemd, Node.js 20+,
a built algd (nothing changed).
EOF
}

die() { # code message
  echo "install.sh: $2" >&2
  exit "$1"
}
usage_error() {
  echo "install.sh: $1" >&2
  echo "Try 'install.sh --help'." >&2
  exit $EXIT_USAGE
}

# Paths go into the unit unquoted: absolute, and only characters systemd
# takes literally (no spaces, quotes, %, $, \ or ;).
check_path() { # option value
  [[ $2 =~ ^/[A-Za-z0-9._/+-]*$ ]] || usage_error "$1 must be an absolute path of letters, digits and . _ / + - (got '$2')"
  [[ /$2/ != */../* && /$2/ != */./* ]] || usage_error "$1 must not contain . or .. segments (got '$2')"
}
# ProtectHome= hides these from the service.
check_not_home() { # what path
  case "$2/" in
    /home/* | /root/* | /run/user/*) die $EXIT_USAGE "$1 $2 is under /home, /root or /run/user, which the service cannot see (ProtectHome=yes)" ;;
  esac
}

action=''
prefix=/opt/algd
config=/etc/algd/algd.json
node=''
start=1
dry_run=0
given=()

if [ $# -eq 0 ]; then usage_error 'an action is required: install, uninstall or unit'; fi
case "$1" in
  -h | --help) usage; exit $EXIT_OK ;;
  install | uninstall | unit) action=$1; shift ;;
  *) usage_error "unknown action '$1'" ;;
esac
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix | --config | --node)
      [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"
      case "$1" in --prefix) prefix=$2 ;; --config) config=$2 ;; --node) node=$2 ;; esac
      given+=("$1")
      shift 2
      ;;
    --prefix=* | --config=* | --node=*) usage_error "write '${1%%=*} VALUE', not '$1'" ;;
    --no-start) start=0; given+=("$1"); shift ;;
    --dry-run) dry_run=1; given+=("$1"); shift ;;
    -h | --help) usage; exit $EXIT_OK ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
# Each action takes only the options that mean something to it.
case "$action" in
  install) allowed=' --prefix --config --node --no-start --dry-run ' ;;
  uninstall) allowed=' --prefix --dry-run ' ;;
  unit) allowed=' --prefix --config --node ' ;;
esac
for option in ${given[@]+"${given[@]}"}; do
  [[ $allowed == *" $option "* ]] || usage_error "$action does not take $option"
done
check_path --prefix "$prefix"
[ "$prefix" != / ] || usage_error '--prefix must not be /'
prefix=${prefix%/}
check_not_home --prefix "$prefix"

# Runs a command, or with --dry-run prints it; a failure stops the install.
run() {
  if [ $dry_run -eq 1 ]; then
    echo "would run: $*"
  else
    echo "running: $*"
    "$@" || die $EXIT_FAILED "failed: $*"
  fi
}

require_root() {
  [ $dry_run -eq 1 ] || [ "$(id -u)" -eq 0 ] || die $EXIT_PREREQUISITE 'run as root (it writes /etc/systemd/system and the prefix)'
  [ $dry_run -eq 1 ] || command -v systemctl >/dev/null 2>&1 || die $EXIT_PREREQUISITE 'systemctl not found: this installer needs systemd'
}

find_node() {
  if [ -z "$node" ]; then
    node=$(command -v node 2>/dev/null) || die $EXIT_PREREQUISITE 'node not found on PATH: install Node.js 20 or newer, or pass --node'
  fi
  check_path --node "$node"
  check_not_home --node "$node"
  [ -x "$node" ] || die $EXIT_PREREQUISITE "--node $node is not an executable"
  local major
  major=$(timeout 10 "$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || die $EXIT_PREREQUISITE "$node does not run"
  [ "$major" -ge 20 ] 2>/dev/null || die $EXIT_PREREQUISITE "algd needs Node.js 20 or newer, $node is $major"
}

# The file and every folder above it must be readable by the service's made-up user.
check_world_readable() { # file
  local p=$1 mode
  mode=$(stat -c %a "$p")
  (( (8#$mode & 4) != 0 )) || die $EXIT_USAGE "$p is not readable by others (mode $mode): the service runs as its own user (DynamicUser=yes); chmod o+r it"
  p=$(dirname "$p")
  while :; do
    mode=$(stat -c %a "$p")
    (( (8#$mode & 1) != 0 )) || die $EXIT_USAGE "folder $p is not searchable by others (mode $mode): chmod o+x it"
    [ "$p" != / ] || break
    p=$(dirname "$p")
  done
}

# Validates the configuration with the algd being installed and sets
# runtime_dir and logs_dir (relative to /run and /var/log) from it.
read_config() {
  check_path --config "$config"
  check_not_home --config "$config"
  [ -f "$config" ] || die $EXIT_USAGE "--config $config does not exist: write the configuration first (README.md, Configuration)"
  check_world_readable "$config"
  local checked fields
  checked=$(timeout 30 "$node" "$source_dir/dist/host/cli/algd.js" config check "$config" --json) || die $EXIT_USAGE "the configuration $config is not valid (algd config check says why, above)"
  fields=$(printf '%s' "$checked" | timeout 10 "$node" -e '
    const c = JSON.parse(require("node:fs").readFileSync(0, "utf8")).config;
    process.stdout.write([c.driver, c.adminSocket, c.logging?.file?.path ?? ""].join("\n"));')
  local driver socket logfile
  { IFS= read -r driver; IFS= read -r socket; IFS= read -r logfile || true; } <<<"$fields"
  [ "$driver" = nfqueue ] || die $EXIT_USAGE "the configuration's driver is '$driver': the systemd service runs the nfqueue driver"
  # The service may write only these two places (ProtectSystem=strict): systemd creates them for its user.
  case "$(dirname "$socket")/" in
    /run/?*/) runtime_dir=${socket#/run/}; runtime_dir=${runtime_dir%/*} ;;
    *) die $EXIT_USAGE "adminSocket $socket must be in a folder under /run (e.g. /run/algd/algd.sock): the service writes nowhere else" ;;
  esac
  logs_dir=''
  if [ -n "$logfile" ]; then
    case "$(dirname "$logfile")/" in
      /var/log/?*/) logs_dir=${logfile#/var/log/}; logs_dir=${logs_dir%/*} ;;
      *) die $EXIT_USAGE "logging.file.path $logfile must be in a folder under /var/log (e.g. /var/log/algd/algd.log): the service writes nowhere else" ;;
    esac
  fi
  check_path adminSocket "/run/$runtime_dir"
  [ -z "$logs_dir" ] || check_path logging.file.path "/var/log/$logs_dir"
}

render_unit() {
  local unit logs
  unit=$(<"$script_dir/algd.service.in")
  if [ -n "$logs_dir" ]; then
    logs="# The log file of logging.file.path.
LogsDirectory=$logs_dir
LogsDirectoryMode=0750"
  else
    logs='# No logging.file.path: algd logs to the journal only.'
  fi
  unit=${unit//@PREFIX@/$prefix}
  unit=${unit//@NODE@/$node}
  unit=${unit//@CONFIG@/$config}
  unit=${unit//@RUNTIME_DIR@/$runtime_dir}
  unit=${unit//@LOGS_DIRECTORY@/$logs}
  printf '%s\n' "$unit"
}

do_unit() {
  find_node
  [ -f "$source_dir/dist/host/cli/algd.js" ] || die $EXIT_PREREQUISITE "$source_dir is not built (npm install && npm run build)"
  read_config
  render_unit
}

do_install() {
  require_root
  find_node
  [ -f "$source_dir/dist/host/cli/algd.js" ] || die $EXIT_PREREQUISITE "$source_dir is not built (npm install && npm run build)"
  read_config
  [ $dry_run -eq 0 ] || echo 'install.sh: dry run, nothing is changed'
  if [ "$(realpath -m "$prefix")" = "$source_dir" ]; then
    echo "algd is already in $prefix: nothing to copy"
  else
    if [ -e "$prefix" ] && [ ! -e "$prefix/$MARKER" ]; then
      die $EXIT_USAGE "$prefix exists and was not written by this installer: choose another --prefix or remove it"
    fi
    run rm -rf "$prefix"
    run mkdir -p "$prefix"
    local item
    for item in "${PAYLOAD[@]}"; do run cp -a "$source_dir/$item" "$prefix/"; done
    run touch "$prefix/$MARKER"
  fi
  run chmod 0755 "$prefix/dist/host/cli/algd.js"
  run ln -sfn "$prefix/dist/host/cli/algd.js" "$BIN_LINK"
  if [ $dry_run -eq 1 ]; then
    echo "would write $UNIT_PATH:"
    render_unit | sed 's/^/  /'
  else
    render_unit >"$UNIT_PATH.tmp" && chmod 0644 "$UNIT_PATH.tmp" && mv "$UNIT_PATH.tmp" "$UNIT_PATH" || die $EXIT_FAILED "cannot write $UNIT_PATH"
    echo "wrote $UNIT_PATH"
  fi
  run systemctl daemon-reload
  if [ $start -eq 1 ]; then run systemctl enable --now "$UNIT_NAME"; else run systemctl enable "$UNIT_NAME"; fi
  echo "algd installed; status: algd status --config $config"
}

do_uninstall() {
  require_root
  [ $dry_run -eq 0 ] || echo 'install.sh: dry run, nothing is changed'
  if [ -e "$UNIT_PATH" ]; then
    # Stopping sends SIGTERM: algd removes its rules, table and sysctl changes before it exits.
    run systemctl disable --now "$UNIT_NAME"
    run rm -f "$UNIT_PATH"
    run systemctl daemon-reload
  else
    echo "no $UNIT_PATH: no service to remove"
  fi
  if [ -L "$BIN_LINK" ] && [ "$(readlink "$BIN_LINK")" = "$prefix/dist/host/cli/algd.js" ]; then run rm -f "$BIN_LINK"; fi
  if [ -e "$prefix/$MARKER" ]; then
    run rm -rf "$prefix"
  elif [ -e "$prefix" ]; then
    echo "$prefix was not written by this installer: left in place"
  fi
  echo 'algd removed; the configuration and the logs are kept'
}

case "$action" in
  install) do_install ;;
  uninstall) do_uninstall ;;
  unit) do_unit ;;
esac
exit $EXIT_OK
