"""Object pixels: is each task object still there, in its colour, in a render? Whole-frame SSIM cannot say (a
ball of 8 pixels of 4096 can vanish at SSIM 0.98).

Per object, on the frames where the recorded segmentation shows it:
- `rgb_l1`: mean |render - real| over the object's pixels (grey levels, 0-255);
- `contrast_ratio`: the object's colour contrast against the ring of pixels around it, in the render over the
  same in the real frame (RollBall's blue ball rendered grey falls to ~0.4; recognisable >= 0.7);
- `mask_iou`: IoU between the recorded mask and the render's pixels, near the object, whose colour is closer to
  the object's real mean colour than to its surroundings' (a colour detector fitted per frame on the real one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

RING_PX = 2  # the surroundings an object is contrasted against: a ring this wide around its mask
NEAR_PX = 3  # how far from the recorded mask the render's detected pixels are looked for


def _dilate(mask: torch.Tensor, px: int) -> torch.Tensor:
    """(N, H, W) bool -> dilated by a (2 px + 1) square."""
    out = torch.nn.functional.max_pool2d(mask.float()[:, None], kernel_size=2 * px + 1, stride=1, padding=px)
    return out[:, 0] > 0


def _mean_colour(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """frames (N, H, W, 3) float, mask (N, H, W) bool -> (N, 3) mean colour inside the mask (NaN where empty)."""
    m = mask.float()[..., None]
    return (frames * m).sum(dim=(1, 2)) / m.sum(dim=(1, 2))


@dataclass(frozen=True)
class ObjectPixels:
    """Per object: mean over frames where it is seen; `frames` counts them."""

    name: str
    rgb_l1: float
    contrast_real: float
    contrast_render: float
    mask_iou: float
    frames: int

    @property
    def contrast_ratio(self) -> float:
        return self.contrast_render / self.contrast_real if self.contrast_real > 0 else float("nan")

    def row(self) -> dict[str, float | str]:
        return {
            "object": self.name,
            "rgb_l1": self.rgb_l1,
            "contrast_ratio": self.contrast_ratio,
            "mask_iou": self.mask_iou,
            "frames": self.frames,
        }


def object_pixels(
    real: np.ndarray | torch.Tensor, render: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, names
) -> list[ObjectPixels]:
    """real, render (N, H, W, 3) uint8; labels (N, H, W) uint8 (k + 1 on object k) -> one `ObjectPixels` per name."""
    real_t = torch.as_tensor(np.asarray(real)).float()
    render_t = torch.as_tensor(np.asarray(render)).float()
    labels_t = torch.as_tensor(np.asarray(labels))
    if real_t.shape != render_t.shape or real_t.shape[:3] != labels_t.shape:
        raise ValueError(
            f"real {tuple(real_t.shape)}, render {tuple(render_t.shape)} and labels {tuple(labels_t.shape)} must be "
            "(N, H, W, 3), (N, H, W, 3) and (N, H, W)"
        )
    out = []
    for k, name in enumerate(names):
        mask = labels_t == k + 1
        seen = mask.any(dim=(1, 2))
        if not bool(seen.any()):
            out.append(ObjectPixels(name, float("nan"), float("nan"), float("nan"), float("nan"), 0))
            continue
        mask, re, rd = mask[seen], real_t[seen], render_t[seen]
        ring = _dilate(mask, RING_PX) & ~mask
        inside_real, ring_real = _mean_colour(re, mask), _mean_colour(re, ring)
        inside_render, ring_render = _mean_colour(rd, mask), _mean_colour(rd, ring)
        contrast_real = (inside_real - ring_real).norm(dim=-1)
        contrast_render = (inside_render - ring_render).norm(dim=-1)
        err = ((rd - re).abs().mean(-1) * mask).sum() / mask.sum()
        near = _dilate(mask, NEAR_PX)  # the detector looks near the object only
        d_obj = (rd - inside_real[:, None, None]).norm(dim=-1)
        d_bg = (rd - ring_real[:, None, None]).norm(dim=-1)
        detected = near & (d_obj < d_bg)
        iou = (detected & mask).sum(dim=(1, 2)).float() / (detected | mask).sum(dim=(1, 2)).float()
        valid = ~torch.isnan(contrast_real)
        out.append(
            ObjectPixels(
                name,
                float(err),
                float(contrast_real[valid].mean()),
                float(torch.nan_to_num(contrast_render[valid]).mean()),
                float(iou.mean()),
                int(seen.sum()),
            )
        )
    return out
