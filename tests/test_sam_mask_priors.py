"""SAM automatic masks without torchvision and the mask-prior cache tool."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from conftest import run_tool
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset
from fusionsam_mmseg.models.sam import (AutomaticMaskGenerator,
                                        AutomaticMaskSettings,
                                        SAMArchitecture,
                                        build_sam_image_encoder,
                                        build_sam_mask_decoder,
                                        build_sam_prompt_encoder)
from fusionsam_mmseg.models.sam.automatic_masks import _nms

TINY_SAM = SAMArchitecture(
    embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1, ),
    window_size=4, patch_size=8, prompt_embed_dim=32, decoder_depth=1,
    decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=16)
OPEN = dict(pred_iou_thresh=0.0, stability_score_thresh=0.0,
            crop_n_layers=0, min_mask_region_area=0)
TOOL = 'tools/dataset_converters/sam_mask_priors.py'


def tiny_generator(**settings) -> AutomaticMaskGenerator:
    torch.manual_seed(0)
    values = dict(OPEN, points_per_side=4)
    values.update(settings)
    return AutomaticMaskGenerator(
        build_sam_image_encoder(TINY_SAM, 64),
        build_sam_prompt_encoder(TINY_SAM, 64),
        build_sam_mask_decoder(TINY_SAM), 64,
        AutomaticMaskSettings(**values))


def scene(height=48, width=64) -> np.ndarray:
    image = np.full((height, width, 3), 30, np.uint8)
    cv2.rectangle(image, (8, 8), (30, 30), (220, 40, 40), -1)
    cv2.circle(image, (48, 30), 10, (40, 200, 90), -1)
    return image


def greedy_nms(boxes, scores, threshold):
    """Textbook NMS, written out."""
    order = sorted(range(len(boxes)), key=lambda i: -float(scores[i]))
    keep = []
    for i in order:
        x0, y0, x1, y1 = boxes[i].tolist()
        suppressed = False
        for j in keep:
            a0, b0, a1, b1 = boxes[j].tolist()
            w = max(0.0, min(x1, a1) - max(x0, a0))
            h = max(0.0, min(y1, b1) - max(y0, b0))
            inter = w * h
            union = (x1 - x0) * (y1 - y0) + (a1 - a0) * (b1 - b0) - inter
            if inter / union > threshold:
                suppressed = True
                break
        if not suppressed:
            keep.append(i)
    return keep


def test_mmcv_nms_is_greedy_box_nms():
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(40, 2, generator=generator) * 50
    sizes = torch.rand(40, 2, generator=generator) * 20 + 1
    boxes = torch.cat([corners, corners + sizes], 1)
    scores = torch.rand(40, generator=generator)
    assert _nms(boxes, scores, 0.5).tolist() == greedy_nms(boxes, scores,
                                                          0.5)


def test_masks_are_full_size_boolean_with_their_areas():
    masks = tiny_generator().generate(scene())
    assert masks, 'open thresholds keep some masks'
    for record in masks:
        mask = record['segmentation']
        assert mask.dtype == bool and mask.shape == (48, 64)
        assert record['area'] == int(mask.sum())
        x, y, w, h = record['bbox']
        rows, cols = np.nonzero(mask)
        assert (x, y) == (cols.min(), rows.min())


def test_thresholds_filter_masks():
    assert tiny_generator(pred_iou_thresh=1e9).generate(scene()) == []
    assert tiny_generator(stability_score_thresh=1.01).generate(
        scene()) == []


def test_small_regions_are_removed():
    """No island and no hole under the area remains (a mask made only of
    small islands keeps its largest, as SAM's own post-processing)."""
    area = 200
    records = tiny_generator(min_mask_region_area=area).generate(scene())
    assert records
    for record in records:
        mask = record['segmentation'].astype(np.uint8)
        for regions in (mask, 1 - mask):  # islands, then holes
            count, _, stats, _ = cv2.connectedComponentsWithStats(
                regions, connectivity=8)
            sizes = stats[1:, cv2.CC_STAT_AREA]
            assert count <= 2 or (sizes >= area).all()


def test_crop_layers_add_crops():
    one_layer = tiny_generator(crop_n_layers=1, points_per_side=2)
    assert len(one_layer.point_grids) == 2
    masks = one_layer.generate(scene())
    assert all(record['segmentation'].shape == (48, 64) for record in masks)


def test_rejects_non_rgb_uint8_images():
    with pytest.raises(ValueError, match='uint8 RGB'):
        tiny_generator().generate(scene()[..., 0])


# ------------------------------------------------------ the tool (slow)

FAST = ['--sam-type', 'vit_b', '--checkpoint', 'none', '--image-size',
        '256', '--points-per-side', '4', '--crop-n-layers', '0',
        '--pred-iou-thresh', '0', '--stability-score-thresh', '0']


@pytest.mark.slow
def test_tool_caches_top_k_by_area_and_resumes(tmp_path):
    root = make_demo_dataset(str(tmp_path / 'msrs'), 'msrs', num_train=2,
                             num_test=1, seed=2)
    args = [TOOL, '--data-root', root, '--split', 'train', '--top-k', '3']
    run_tool(args + FAST)
    folder = osp.join(root, 'train', 'sam_mask_priors')
    manifest = json.load(open(osp.join(folder, 'manifest.json')))
    assert manifest['complete'] and manifest['top_k'] == 3
    assert manifest['checkpoint'] is None
    assert sorted(manifest['masks']) == ['00001D', '00002N']
    files = sorted(os.listdir(folder))
    assert files == ['00001D.npz', '00002N.npz', 'manifest.json']
    with np.load(osp.join(folder, '00001D.npz')) as cached:
        for key in ('visible', 'infrared'):
            masks = cached[key]
            assert masks.dtype == bool and masks.shape[1:] == (120, 160)
            assert 1 <= len(masks) <= 3
            assert manifest['masks']['00001D'][key] == len(masks)
            areas = masks.sum((1, 2))
            assert (np.diff(areas) <= 0).all()  # largest first
    first = osp.join(folder, '00001D.npz')
    second = osp.join(folder, '00002N.npz')
    stamp = os.stat(first).st_mtime_ns
    os.remove(second)  # an interrupted run
    resumed = run_tool(args + FAST)
    assert os.stat(first).st_mtime_ns == stamp
    assert osp.isfile(second)
    assert 'wrote the SAM mask priors of 2 samples' in resumed.stdout
    other = run_tool([TOOL, '--data-root', root, '--split', 'train',
                      '--top-k', '5'] + FAST, check=False)
    assert other.returncode != 0
    assert 'other settings (top_k: 3)' in other.stderr
    assert '--overwrite' in other.stderr


@pytest.mark.slow
def test_tool_names_a_checkpoint_of_the_wrong_size(tmp_path):
    root = make_demo_dataset(str(tmp_path / 'msrs'), 'msrs', num_train=1,
                             num_test=1, seed=2)
    bad = str(tmp_path / 'sam_small.pth')
    torch.save({'image_encoder.patch_embed.proj.weight':
                torch.zeros(8, 3, 16, 16)}, bad)
    result = run_tool([TOOL, '--data-root', root, '--split', 'train',
                       '--sam-type', 'vit_b', '--checkpoint', bad,
                       '--image-size', '256'], check=False)
    assert result.returncode != 0
    assert 'sam_small.pth' in result.stderr and 'shape' in result.stderr
