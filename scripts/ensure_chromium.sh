#!/usr/bin/env bash
# Install Debian's Chromium for the report's browser test (tests/test_report.py) when it is missing.
# Quiet; needs root (CI containers) or sudo. Does nothing when /usr/bin/chromium is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
  else
    echo "ensure_chromium: /usr/bin/chromium is missing and we are not root; browser tests will skip" >&2
    exit 0
  fi
fi
# env: sudo does not pass the caller's environment on
APT="env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get -qq"
$SUDO $APT update >/dev/null
$SUDO $APT install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version 2>/dev/null
