# Sourced before tests and jobs: offline hubs, the local robot assets and the software Vulkan driver.
# Works from any directory (paths are relative to this repo); values already set are kept.
_rla_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
export MS_SKIP_ASSET_DOWNLOAD_PROMPT=1
if [ -z "${MS_ASSET_DIR:-}" ] && [ -d "$_rla_root/.cache/maniskill_assets" ]; then
  export MS_ASSET_DIR=$_rla_root/.cache/maniskill_assets
fi
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$_rla_root/.cache/vulkan/lvp_icd.json" ]; then
  export VK_ICD_FILENAMES=$_rla_root/.cache/vulkan/lvp_icd.json
fi
unset _rla_root
