"""SAM's input-frame geometry.

SAM resizes an image so that its longest side is ``image_size`` (1024 for the
official models), keeps the aspect ratio and pads bottom/right to a square.
:class:`SAMInputFrame` records where the image lies in that square and maps
any map covering the same field of view (fusion features, fusion-mask logits,
labels) onto grids over the square, or back. SAM2 uses the same geometry
and pixel statistics here, so both model families see the same inputs.
"""
import dataclasses
import math
from typing import Tuple

import torch.nn.functional as F
from mmseg.models.utils import resize
from torch import Tensor

#: ImageNet pixel statistics on 0..255, as ``segment_anything.Sam`` (and
#: SAM2's transforms) normalise.
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


@dataclasses.dataclass(frozen=True)
class SAMInputFrame:
    """Where an image lies in SAM's square input frame.

    Args:
        image_size (int): Side of the square frame, in SAM input pixels.
        valid_h (int): Height of the resized image (top-left of the frame).
        valid_w (int): Width of the resized image.
    """

    image_size: int
    valid_h: int
    valid_w: int

    @classmethod
    def for_image(cls, height: int, width: int,
                  image_size: int) -> 'SAMInputFrame':
        """Frame of a ``height`` x ``width`` image (SAM's
        ``ResizeLongestSide.get_preprocess_shape`` rounding)."""
        scale = image_size / max(height, width)
        return cls(image_size, int(height * scale + 0.5),
                   int(width * scale + 0.5))

    def valid_cells(self, grid_size: int) -> Tuple[int, int]:
        """Rows and columns of a ``grid_size``-cell grid over the frame that
        overlap the image (partly covered border cells count)."""
        return (math.ceil(self.valid_h * grid_size / self.image_size),
                math.ceil(self.valid_w * grid_size / self.image_size))

    def fit(self, maps: Tensor, grid_size: int) -> Tensor:
        """Resize (B, C, h, w) ``maps`` to the image's cells of the grid."""
        return resize(maps, size=self.valid_cells(grid_size),
                      mode='bilinear', align_corners=False)

    def pad(self, maps: Tensor, grid_size: int) -> Tensor:
        """Zero-pad fitted maps bottom/right to (B, C, grid, grid)."""
        return F.pad(maps, (0, grid_size - maps.shape[-1], 0,
                            grid_size - maps.shape[-2]))

    def paste(self, maps: Tensor, grid_size: int) -> Tensor:
        """Place (B, C, h, w) ``maps`` on a (grid_size, grid_size) grid over
        the frame: resized onto the image's cells, zeros elsewhere."""
        return self.pad(self.fit(maps, grid_size), grid_size)

    def crop(self, maps: Tensor) -> Tensor:
        """Keep the cells of (B, C, g, g) frame-grid ``maps`` that overlap
        the image: (B, C, ceil(valid_h*g/S), ceil(valid_w*g/S))."""
        rows, cols = self.valid_cells(maps.shape[-1])
        return maps[..., :rows, :cols]

    def pixel_scale(self, map_size: Tuple[int, int]) -> Tuple[float, float]:
        """(x, y) frame pixels per pixel of a map covering the image."""
        return self.valid_w / map_size[1], self.valid_h / map_size[0]

    def to_sam_input(self, image: Tensor) -> Tensor:
        """SAM's preprocessing of a [0, 1] RGB image.

        Longest side resized to ``image_size``, SAM's pixel mean/std,
        zero padding bottom/right after normalisation (as ``Sam.preprocess``).

        Args:
            image (Tensor): (B, 3, H, W) in [0, 1], the image this frame was
                made for.

        Returns:
            Tensor: (B, 3, image_size, image_size) fp32.
        """
        resized = self.fit(image.float(), self.image_size) * 255.0
        mean = resized.new_tensor(SAM_PIXEL_MEAN).view(-1, 1, 1)
        std = resized.new_tensor(SAM_PIXEL_STD).view(-1, 1, 1)
        return self.pad((resized - mean) / std, self.image_size)
