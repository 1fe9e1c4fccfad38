#!/usr/bin/env bash
# Headless Chromium for the play page's browser test (tests/test_play_browser.py): Debian's `chromium` and
# `chromium-driver` packages, which Selenium drives (no browser or driver download of its own).
#
# Idempotent; never fails the build: where it cannot act (no apt-get, not root and no sudo, no network) it says why
# and exits 0; the browser test then skips and says so, or fails under RLA_GYM_REQUIRE_BROWSER=1 (CI).
set -euo pipefail
note() { echo "setup_browser: $*" >&2; }
give_up() {
  note "$*; Chromium NOT installed (the browser test will skip, or fail under RLA_GYM_REQUIRE_BROWSER=1)"
  exit 0
}
if command -v chromedriver >/dev/null 2>&1 \
  && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
  exit 0  # already there
fi
command -v apt-get >/dev/null 2>&1 || give_up "no apt-get (not Debian?): install Chromium and its chromedriver yourself"
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
    give_up "not root and no sudo: cannot apt-get install chromium chromium-driver; ask an admin to, then rerun"
  fi
fi
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
pkgs=(chromium chromium-driver)
apt_install() { "${sudo[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1; }
if ! apt_install; then  # stale or missing lists: refresh once and retry
  { "${sudo[@]}" apt-get update -q >/dev/null 2>&1 && apt_install; } || give_up "apt-get install ${pkgs[*]} failed"
fi
note "$(chromium --version 2>/dev/null | head -n 1) and its chromedriver installed ($(($(date +%s) - start)) s)"
