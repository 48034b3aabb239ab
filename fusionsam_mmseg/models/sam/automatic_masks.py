"""SAM's automatic mask generation without torchvision.

``segment_anything.SamAutomaticMaskGenerator`` imports torchvision (its
NMS and ``SamPredictor``'s resizing), which no CPU torch 2.13 build has.
:class:`AutomaticMaskGenerator` runs the same algorithm on the plugin's SAM
modules: a grid of single-point prompts per image crop through the prompt
encoder and SAM's stock mask decoder (3 multimask outputs), filters by
predicted IoU and stability score, drops masks touching a crop edge, box
NMS within and between crops (``mmcv.ops.batched_nms``), and removes small
holes / islands. Its helpers come from ``segment_anything.utils.amg`` (torch
and numpy only); SAM's input geometry from
:class:`~fusionsam_mmseg.models.sam.frame.SAMInputFrame` (bilinear resize of
the longest side, where ``SamPredictor`` resizes with PIL).
"""
import dataclasses
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.ops import batched_nms
from segment_anything.utils import amg
from torch import Tensor, nn

from .frame import SAMInputFrame

#: SAM's mask logit threshold (``Sam.mask_threshold``).
MASK_THRESHOLD = 0.0


@dataclasses.dataclass(frozen=True)
class AutomaticMaskSettings:
    """Settings of :class:`AutomaticMaskGenerator` (names and meaning of
    ``SamAutomaticMaskGenerator``'s arguments).

    The defaults are those of SAGE's official mask priors: ViT-B with 128
    points per side, IoU 0.86, stability 0.92, one crop layer with half as
    many points per side, holes / islands under 100 pixels removed.

    Args:
        points_per_side (int): Grid points along each side of the image.
        points_per_batch (int): Prompts decoded at once.
        pred_iou_thresh (float): Keep masks whose predicted IoU exceeds it.
        stability_score_thresh (float): Keep masks at least this stable.
        stability_score_offset (float): Logit shift of the stability score.
        box_nms_thresh (float): Box IoU of NMS within a crop.
        crop_n_layers (int): Crop layers (layer i has 4 ** i crops).
        crop_nms_thresh (float): Box IoU of NMS between crops.
        crop_overlap_ratio (float): Overlap of neighbouring crops.
        crop_n_points_downscale_factor (int): Points per side shrink by this
            factor per crop layer.
        min_mask_region_area (int): Holes and islands smaller than this are
            removed (0: off).
    """

    points_per_side: int = 128
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.86
    stability_score_thresh: float = 0.92
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 1
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 2
    min_mask_region_area: int = 100


def _nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Indices kept by class-agnostic box NMS, highest score first."""
    _, keep = batched_nms(
        boxes.float(), scores.float(), torch.zeros(len(boxes)),
        dict(type='nms', iou_threshold=iou_threshold), class_agnostic=True)
    return keep


def _box_area(boxes: Tensor) -> Tensor:
    """Areas of (N, 4) xyxy boxes."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


class AutomaticMaskGenerator:
    """Masks of everything in an image from a grid of point prompts.

    Args:
        image_encoder (nn.Module): SAM's image encoder.
        prompt_encoder (nn.Module): SAM's prompt encoder.
        mask_decoder (nn.Module): SAM's stock ``MaskDecoder``.
        image_size (int): Side of SAM's square input (1024 officially).
        settings (AutomaticMaskSettings): The generation settings.
    """

    def __init__(self, image_encoder: nn.Module, prompt_encoder: nn.Module,
                 mask_decoder: nn.Module, image_size: int,
                 settings: AutomaticMaskSettings) -> None:
        self.image_encoder = image_encoder.eval()
        self.prompt_encoder = prompt_encoder.eval()
        self.mask_decoder = mask_decoder.eval()
        self.image_size = image_size
        self.settings = settings
        self.point_grids = amg.build_all_layer_point_grids(
            settings.points_per_side, settings.crop_n_layers,
            settings.crop_n_points_downscale_factor)

    @property
    def device(self) -> torch.device:
        return next(self.image_encoder.parameters()).device

    @torch.no_grad()
    def generate(self, image: np.ndarray) -> List[Dict]:
        """Masks of an (H, W, 3) uint8 RGB image.

        Returns:
            list[dict]: One record per mask: ``segmentation`` (H, W) bool,
            ``area`` (int), ``bbox`` (x, y, w, h), ``predicted_iou``,
            ``stability_score``; in no particular order.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                'AutomaticMaskGenerator: expected an (H, W, 3) uint8 RGB '
                f'image, got {image.dtype} {image.shape}.')
        data = self._generate_masks(image)
        if self.settings.min_mask_region_area > 0:
            data = self._remove_small_regions(data)
        return [
            dict(segmentation=amg.rle_to_mask(rle),
                 area=amg.area_from_rle(rle),
                 bbox=amg.box_xyxy_to_xywh(box).tolist(),
                 predicted_iou=float(iou),
                 stability_score=float(stability))
            for rle, box, iou, stability in zip(
                data['rles'], data['boxes'], data['iou_preds'],
                data['stability_score'])
        ]

    def _generate_masks(self, image: np.ndarray) -> amg.MaskData:
        """Masks of every crop, duplicates between crops removed."""
        original_size = image.shape[:2]
        crop_boxes, layer_indices = amg.generate_crop_boxes(
            original_size, self.settings.crop_n_layers,
            self.settings.crop_overlap_ratio)
        data = amg.MaskData()
        for crop_box, layer_index in zip(crop_boxes, layer_indices):
            data.cat(self._process_crop(image, crop_box, layer_index))
        if len(crop_boxes) > 1 and len(data['rles']):
            # prefer masks from smaller crops
            scores = 1 / _box_area(data['crop_boxes'])
            data.filter(_nms(data['boxes'], scores,
                             self.settings.crop_nms_thresh))
        data.to_numpy()
        return data

    def _embed(self, crop: np.ndarray) -> Tuple[Tensor, SAMInputFrame]:
        """SAM image embedding (1, C, E, E) of an RGB crop."""
        height, width = crop.shape[:2]
        frame = SAMInputFrame.for_image(height, width, self.image_size)
        pixels = torch.from_numpy(crop).to(self.device).permute(
            2, 0, 1)[None].float() / 255.0
        return self.image_encoder(frame.to_sam_input(pixels)), frame

    def _process_crop(self, image: np.ndarray, crop_box: List[int],
                      layer_index: int) -> amg.MaskData:
        x0, y0, x1, y1 = crop_box
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        embedding, frame = self._embed(crop)
        crop_size = crop.shape[:2]
        points = self.point_grids[layer_index] * np.array(crop_size)[None,
                                                                      ::-1]
        data = amg.MaskData()
        for (batch, ) in amg.batch_iterator(self.settings.points_per_batch,
                                            points):
            data.cat(self._process_batch(batch, embedding, frame, crop_box,
                                         crop_size, image.shape[:2]))
        if len(data['rles']):
            data.filter(_nms(data['boxes'], data['iou_preds'],
                             self.settings.box_nms_thresh))
        data['boxes'] = amg.uncrop_boxes_xyxy(data['boxes'], crop_box)
        data['points'] = amg.uncrop_points(data['points'], crop_box)
        data['crop_boxes'] = torch.tensor(crop_box).repeat(
            len(data['rles']), 1)
        return data

    def _predict(self, points: np.ndarray, embedding: Tensor,
                 frame: SAMInputFrame,
                 crop_size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """Multimask logits (N, 3, h, w) over the crop and IoU (N, 3)."""
        scale_x, scale_y = frame.pixel_scale(crop_size)
        coords = torch.as_tensor(
            points * np.array([scale_x, scale_y]), dtype=torch.float32,
            device=self.device)[:, None, :]
        labels = torch.ones(coords.shape[:2], dtype=torch.int,
                            device=self.device)
        sparse, dense = self.prompt_encoder(
            points=(coords, labels), boxes=None, masks=None)
        low_res, iou_preds = self.mask_decoder(
            image_embeddings=embedding,
            image_pe=self.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True)
        frame_masks = F.interpolate(
            low_res, (self.image_size, self.image_size), mode='bilinear',
            align_corners=False)[..., :frame.valid_h, :frame.valid_w]
        masks = F.interpolate(frame_masks, crop_size, mode='bilinear',
                              align_corners=False)
        return masks, iou_preds

    def _process_batch(self, points: np.ndarray, embedding: Tensor,
                       frame: SAMInputFrame, crop_box: List[int],
                       crop_size: Tuple[int, int],
                       original_size: Tuple[int, int]) -> amg.MaskData:
        masks, iou_preds = self._predict(points, embedding, frame, crop_size)
        settings = self.settings
        data = amg.MaskData(
            masks=masks.flatten(0, 1).cpu(),
            iou_preds=iou_preds.flatten(0, 1).cpu(),
            points=torch.as_tensor(points.repeat(masks.shape[1], axis=0)))
        if settings.pred_iou_thresh > 0:
            data.filter(data['iou_preds'] > settings.pred_iou_thresh)
        data['stability_score'] = amg.calculate_stability_score(
            data['masks'], MASK_THRESHOLD, settings.stability_score_offset)
        if settings.stability_score_thresh > 0:
            data.filter(
                data['stability_score'] >= settings.stability_score_thresh)
        data['masks'] = data['masks'] > MASK_THRESHOLD
        data['boxes'] = amg.batched_mask_to_box(data['masks'])
        height, width = original_size
        inside = ~amg.is_box_near_crop_edge(data['boxes'], crop_box,
                                            [0, 0, width, height])
        if not torch.all(inside):
            data.filter(inside)
        data['masks'] = amg.uncrop_masks(data['masks'], crop_box, height,
                                         width)
        data['rles'] = amg.mask_to_rle_pytorch(data['masks'])
        del data['masks']
        return data

    def _remove_small_regions(self, data: amg.MaskData) -> amg.MaskData:
        """Remove holes and islands under ``min_mask_region_area``, then
        NMS again, preferring masks that needed no change."""
        if not len(data['rles']):
            return data
        area = self.settings.min_mask_region_area
        masks, scores = [], []
        for rle in data['rles']:
            mask, holes_changed = amg.remove_small_regions(
                amg.rle_to_mask(rle), area, mode='holes')
            mask, islands_changed = amg.remove_small_regions(
                mask, area, mode='islands')
            masks.append(torch.as_tensor(mask)[None])
            scores.append(float(not (holes_changed or islands_changed)))
        masks = torch.cat(masks)
        boxes = amg.batched_mask_to_box(masks)
        keep = _nms(boxes, torch.as_tensor(scores),
                    max(self.settings.box_nms_thresh,
                        self.settings.crop_nms_thresh))
        for index in keep.tolist():
            if scores[index] == 0.0:
                data['rles'][index] = amg.mask_to_rle_pytorch(
                    masks[index][None])[0]
                data['boxes'][index] = boxes[index]
        data.filter(keep)
        return data
