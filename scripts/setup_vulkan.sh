#!/usr/bin/env bash
# Software Vulkan (Mesa lavapipe) so ManiSkill/SAPIEN can render on a CPU-only Debian 12 machine.
#
# Why: Debian 12's own lavapipe (Mesa 22) lacks descriptorBindingPartiallyBound, which SAPIEN needs;
# Mesa 25 from bookworm-backports works. We fetch that one package into .cache/vulkan WITHOUT
# touching the machine's apt sources or lists, and point an ICD json at its libvulkan_lvp.so
# (scripts/sim_env.sh exports VK_ICD_FILENAMES to it). Idempotent; skipped where SAPIEN already
# renders (GPU driver). Never fails the build: where it cannot act (no apt, not root, no network) it
# prints why and exits 0; the simulator tests then skip, or fail under RLA_GYM_REQUIRE_SIM=1.
set -euo pipefail
cd "$(dirname "$0")/.."
dst=$PWD/.cache/vulkan
icd=$dst/lvp_icd.json
note() { echo "setup_vulkan: $*" >&2; }
give_up() {
  note "$*; software Vulkan NOT installed (ManiSkill tests will skip, or fail under RLA_GYM_REQUIRE_SIM=1)"
  exit 0
}
start=$(date +%s)

installed() {
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1; done
}
pkgs=(libvulkan1 mesa-vulkan-drivers)
if [ -f "$icd" ] && [ -n "$(find "$dst/root" -name libvulkan_lvp.so -print -quit 2>/dev/null)" ] \
  && installed "${pkgs[@]}"; then
  exit 0  # already done
fi
# SAPIEN already renders here (GPU driver, or a recent enough system Mesa)? Then nothing to do.
renders() {  # $1 = SAPIEN device: cuda or cpu; needs the project's venv
  [ -x .venv/bin/python ] && env -u VK_ICD_FILENAMES .venv/bin/python -c \
    "import sapien; sapien.render.RenderSystem(sapien.Device('$1'))" >/dev/null 2>&1
}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  if renders cuda || { [ ! -x .venv/bin/python ] && ls /usr/share/vulkan/icd.d/nvidia_icd.json \
    /etc/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1; }; then
    note "NVIDIA GPU with Vulkan: software Vulkan not needed"
    exit 0
  fi
  note "NVIDIA GPU but SAPIEN finds no Vulkan for it (no nvidia_icd.json?); adding software Vulkan as fallback"
elif renders cpu; then
  note "a Vulkan driver SAPIEN can use is already installed: software Vulkan not needed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  give_up "no apt-get/dpkg-deb (not Debian?): install a Vulkan driver yourself (Mesa >= 23 lavapipe" \
    "or a GPU driver) and set VK_ICD_FILENAMES"
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); fi
fi

# 1. The Vulkan loader and the libraries lavapipe links against, from the machine's own suite.
if installed "${pkgs[@]}"; then
  : # already there
elif [ "$(id -u)" = 0 ] || [ ${#sudo[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { "${sudo[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1; }
  if ! apt_install; then  # stale lists: refresh once and retry
    "${sudo[@]}" apt-get update -q >/dev/null 2>&1 && apt_install || give_up "apt-get install ${pkgs[*]} failed"
  fi
else
  give_up "not root and no sudo: cannot apt-get install ${pkgs[*]}; ask an admin to install them, then rerun"
fi

# 2. Mesa 25 lavapipe from bookworm-backports, downloaded with private apt state.
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
uri=${uri:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
apt_dir=$dst/apt
rm -rf "$apt_dir" "$dst/root"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" "$dst/root"
echo "deb [signed-by=$keyring] $uri bookworm-backports main" >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Sandbox::User=$(id -un)" -o "Debug::NoLocking=1"
)
apt-get "${apt_opts[@]}" update -q >/dev/null 2>&1 || give_up "apt-get update of bookworm-backports at $uri failed"
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download -q mesa-vulkan-drivers/bookworm-backports >/dev/null 2>&1) \
  || give_up "apt-get download mesa-vulkan-drivers/bookworm-backports failed"
deb=$(find "$apt_dir/debs" -name 'mesa-vulkan-drivers_*.deb' -print -quit)
dpkg-deb -x "$deb" "$dst/root"
lib=$(find "$dst/root" -name libvulkan_lvp.so -print -quit)
[ -n "$lib" ] || give_up "no libvulkan_lvp.so inside $deb"

# 3. The ICD json that VK_ICD_FILENAMES points to.
cat >"$icd" <<EOF
{"file_format_version": "1.0.0", "ICD": {"api_version": "1.4.305", "library_path": "$lib"}}
EOF
rm -rf "$apt_dir"
note "lavapipe $(basename "$deb") ready in $dst ($(($(date +%s) - start)) s); source scripts/sim_env.sh"
