#!/usr/bin/env bash
# Brings a Debian 12 machine (as root) to what naas-sdn needs, idempotently: Debian packages,
# the project's virtualenv, and a running Open vSwitch. Used by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(openvswitch-switch mininet iperf3 iputils-ping ethtool tcpdump iproute2 psmisc
          isc-dhcp-client busybox traceroute netcat-openbsd
          postgresql
          chromium chromium-driver
          python3-venv python3-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
# The project, and the example third-party plugin its tests load (tests/plugins/example).
stamp=".venv/.installed-$(cat pyproject.toml tests/plugins/example/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing the project into .venv"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[test]' -e tests/plugins/example
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# Open vSwitch: userspace datapath only (no kernel module needed), started if not running.
if ! ovs-vsctl --timeout=3 show >/dev/null 2>&1; then
    echo "setup: starting Open vSwitch"
    /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random 2>&1 | grep -v ulimit || true
fi
ovs-vsctl --timeout=5 show >/dev/null
