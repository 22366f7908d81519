#!/usr/bin/env bash
# Install Octopus Photos as a systemd service on a Debian-family machine (Debian, Ubuntu, Mint,
# Raspberry Pi OS), from this checkout:
#
#   sudo bash packaging/install-debian.sh            # install (or upgrade) and start
#   bash packaging/install-debian.sh --root /tmp/st  # stage into a folder: no user, no systemctl
#
# What it does: a system user `octopus`; the program in a virtual environment under
# /opt/octopus-photos with exactly the versions of uv.lock; the hardened unit
# packaging/systemd/octopus-photos.service; /etc/octopus-photos/octopus.env for this machine's
# settings; `systemctl enable --now`. The data dir is /var/lib/octopus-photos (made by systemd,
# mode 0700). Running it again upgrades the program in place; the data is never touched.
# docs/install.md explains each step.
set -euo pipefail
cd "$(dirname "$0")/.."

root=""
if [ "${1:-}" = "--root" ]; then
    root="${2:?--root needs a folder}"
    mkdir -p "$root"
    root="$(cd "$root" && pwd)"
elif [ -n "${1:-}" ]; then
    echo "install-debian.sh: unknown argument $1 (use --root DIR to stage)" >&2
    exit 2
fi
die() { echo "install-debian.sh: error: $*" >&2; exit 1; }
say() { echo "install-debian.sh: $*" >&2; }

if [ -z "$root" ]; then
    [ "$(id -u)" = 0 ] || die "run it as root (sudo bash $0)"
    command -v systemctl >/dev/null || die "systemd is not running this machine; see docs/install.md for other ways"
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        say "installing python3 and python3-venv with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11 or newer is needed ($(python3 -V 2>&1))"

venv="$root/opt/octopus-photos"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say "making the program's environment in $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
uv="$(command -v uv || true)"
if [ -z "$uv" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check uv
    uv="$venv/bin/uv"
fi
# Exactly the locked versions (with their hashes), then the program itself without dependencies.
"$uv" export --quiet --frozen --no-dev --no-emit-project --no-header -o "$work/requirements.txt"
"$uv" build --quiet --wheel -o "$work/dist" .
"$uv" pip install --quiet --python "$venv/bin/python" -r "$work/requirements.txt"
"$uv" pip install --quiet --python "$venv/bin/python" --no-deps --reinstall "$work"/dist/octopus_events-*.whl
"$venv/bin/octopus" --help >/dev/null || die "the installed program does not start"

say "installing the unit and /etc/octopus-photos/octopus.env"
install -D -m 0644 packaging/systemd/octopus-photos.service "$root/etc/systemd/system/octopus-photos.service"
if [ ! -e "$root/etc/octopus-photos/octopus.env" ]; then
    install -d -m 0755 "$root/etc/octopus-photos"
    cat > "$root/etc/octopus-photos/octopus.env" <<'ENV'
# Settings of this machine for Octopus Photos (config.example.toml lists every key; each is
# OCTOPUS_<SECTION>_<KEY>). After a change: sudo systemctl restart octopus-photos
#
# Serve the whole home network (phones, other computers), not only this computer:
#OCTOPUS_SERVER_HOST=0.0.0.0
#OCTOPUS_SERVER_PORT=8000
ENV
fi
install -d -m 0755 "$root/usr/local/bin"
ln -sf /opt/octopus-photos/bin/octopus "$root/usr/local/bin/octopus"

if [ -n "$root" ]; then
    say "staged into $root (no user made, systemd not told)"
    exit 0
fi
if ! id octopus >/dev/null 2>&1; then
    say "making the system user octopus"
    useradd --system --home-dir /var/lib/octopus-photos --no-create-home --shell /usr/sbin/nologin octopus
fi
systemctl daemon-reload
systemctl enable --now octopus-photos.service
systemctl restart octopus-photos.service  # an upgrade: the new program
say "running: systemctl status octopus-photos; open http://127.0.0.1:8000/ to create the first account"
