# Sourced before tests and jobs: offline hubs, the local robot assets and the software Vulkan driver.
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
export MS_SKIP_ASSET_DOWNLOAD_PROMPT=1
if [ -z "${MS_ASSET_DIR:-}" ] && [ -d .cache/maniskill_assets ]; then export MS_ASSET_DIR=$PWD/.cache/maniskill_assets; fi
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f .cache/vulkan/lvp_icd.json ]; then export VK_ICD_FILENAMES=$PWD/.cache/vulkan/lvp_icd.json; fi
