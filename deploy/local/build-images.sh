#!/usr/bin/env bash
# Images for `make deploy-check` on a machine that cannot pull from a container registry: a
# Debian bookworm base with Python 3.11 (wasl-base:local, for the Dockerfile's PYTHON_IMAGE) and
# Caddy from Debian's package (wasl-caddy:local), both made from Debian's packages with
# debootstrap (as root). Each is built once; delete it (`docker image rm`) to build it again.
#
# A machine behind a TLS-inspecting proxy has its CA certificates in
# /usr/local/share/ca-certificates: they are copied into the base, and pip is told to use the
# system's CA bundle, so that the image build can reach the package index.
set -euo pipefail

ROOTFS=${WASL_ROOTFS:-/var/tmp/wasl-rootfs}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=wasl-base:local
CADDY=wasl-caddy:local

have() { docker image inspect "$1" > /dev/null 2>&1; }

in_root() {  # run a command in a root file system, with the host's name resolution
    local root=$1
    shift
    cp /etc/hosts "$root/etc/hosts"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    chroot "$root" env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

slim() {  # what an image does not need: package lists, caches, documentation
    local root=$1
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/tmp/*
    : > "$root/etc/hosts"
    : > "$root/etc/resolv.conf"
}

if ! have "$BASE" || ! have "$CADDY"; then
    command -v debootstrap > /dev/null || { echo "debootstrap is needed: apt-get install -y debootstrap" >&2; exit 1; }
    if [ ! -x "$ROOTFS/usr/bin/python3.11" ]; then
        rm -rf "$ROOTFS"
        debootstrap --variant=minbase --include=python3.11,python3-venv,ca-certificates \
            bookworm "$ROOTFS" "$MIRROR"
    fi
    if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
        in_root "$ROOTFS" update-ca-certificates > /dev/null
        printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$ROOTFS/etc/pip.conf"
    fi
fi

if ! have "$BASE"; then
    slim "$ROOTFS"
    tar -C "$ROOTFS" -c . | docker import -c 'CMD ["python3"]' - "$BASE"
fi

if ! have "$CADDY"; then
    caddy_root="$ROOTFS-caddy"
    rm -rf "$caddy_root"
    cp -a "$ROOTFS" "$caddy_root"
    printf '#!/bin/sh\nexit 101\n' > "$caddy_root/usr/sbin/policy-rc.d"  # start no service
    chmod +x "$caddy_root/usr/sbin/policy-rc.d"
    in_root "$caddy_root" apt-get update -q
    in_root "$caddy_root" apt-get install -y -q --no-install-recommends caddy
    rm "$caddy_root/usr/sbin/policy-rc.d"
    slim "$caddy_root"
    mkdir -p "$caddy_root/data" "$caddy_root/config" "$caddy_root/etc/caddy"
    # As the official image: its state in /data and /config, its configuration in /etc/caddy.
    tar -C "$caddy_root" -c . | docker import \
        -c 'ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data' \
        -c 'WORKDIR /srv' \
        -c 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]' \
        - "$CADDY"
    rm -rf "$caddy_root"
fi

docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^wasl-(base|caddy):local '
