#!/usr/bin/env bash
# Copy the offline ManiSkill robot assets (UR10e, xArm6) into .cache so ManiSkill can write beside them.
# Usage: setup_assets.sh SOURCE_DIR. A user with internet can instead run ManiSkill's own download command.
set -euo pipefail
src=${1:-../shared/maniskill_assets}
dst=.cache/maniskill_assets
if [ -d "$dst/data/robots/ur10e" ]; then exit 0; fi
if [ ! -d "$src/data/robots" ]; then
  echo "note: no offline robot assets at $src; ManiSkill will need 'python -m mani_skill.utils.download_asset ur10e' (and xarm6)" >&2
  exit 0
fi
mkdir -p "$dst" && cp -r "$src/." "$dst/" && chmod -R u+w "$dst"
