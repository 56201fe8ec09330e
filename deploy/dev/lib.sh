# shellcheck shell=bash
# Helpers shared by the deploy/dev scripts (sourced, not run). They install what is missing on a
# Debian or Ubuntu machine and are silent when everything is already there.

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages non-interactively, running `apt-get update` once per script. Everything apt and dpkg
# print goes to stderr: the ensure-* scripts print only a path on stdout, which callers capture.
apt_updated=
apt_install() {
  echo "==> installing with apt-get: $*" >&2
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq >&2
    apt_updated=yes
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp needs no client).
port_answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True when PostgreSQL server binaries are installed where aegis looks for them.
server_binaries_installed() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null
}

# The C toolchain that crates such as ring compile with, and the rustfmt and clippy components
# (a minimal rustup profile has neither).
ensure_build_tools() {
  local missing=()
  command -v cc >/dev/null || missing+=(gcc libc6-dev)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}
ensure_rust_components() {
  local missing=()
  cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
  if [ ${#missing[@]} -gt 0 ]; then rustup component add "${missing[@]}"; fi
}

# Node.js and npm for web/, only when there is a web/package.json.
ensure_npm() {
  command -v npm >/dev/null || apt_install nodejs npm
}
