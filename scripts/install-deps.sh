#!/usr/bin/env bash
# Every Debian package berth's build and tests need, installed on a fresh Debian 12 as root.
# Idempotent: skips apt entirely when everything is already present.
set -euo pipefail
packages=(build-essential git pkg-config zlib1g-dev libzstd-dev busybox-static runc iproute2 iptables util-linux attr zstd python3 conntrack docker-registry skopeo apache2-utils openssl mmdebstrap debian-archive-keyring curl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v node >/dev/null 2>&1 || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
  echo "berth needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
