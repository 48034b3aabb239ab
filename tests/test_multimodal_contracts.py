"""N-modality contracts: the MultiModal* names (old RGBT* names still build),
``modality_paths`` as the one key for separate modality files, and
FusionLoss judging each non-visible modality as a source of its own."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS, TRANSFORMS, VISUALIZERS

import fusionsam_mmseg  # noqa: F401  (registers the components)
from conftest import REPO_ROOT
from fusionsam_mmseg.datasets import (FMBDataset, LoadMultiModalImageFromFile,
                                      MultiModalPhotoMetricDistortion)
from fusionsam_mmseg.models.layers.image_space import to_unit_range
from fusionsam_mmseg.models.losses.fusion_loss import FusionLoss
from fusionsam_mmseg.visualization import MultiModalSegLocalVisualizer


@pytest.mark.parametrize('registry, old, new', [
    (TRANSFORMS, 'LoadRGBTImageFromFile', LoadMultiModalImageFromFile),
    (TRANSFORMS, 'RGBTPhotoMetricDistortion',
     MultiModalPhotoMetricDistortion),
    (VISUALIZERS, 'RGBTSegLocalVisualizer', MultiModalSegLocalVisualizer),
])
def test_old_rgbt_names_still_build(registry, old, new):
    assert registry.get(old) is new
    assert registry.get(new.__name__) is new


def test_a_config_with_the_old_loader_name_loads_a_sample(mfnet_demo_root):
    dataset = DATASETS.build(
        dict(type='MFNetDataset', data_root=mfnet_demo_root,
             ann_file='train.txt',
             pipeline=[dict(type='LoadRGBTImageFromFile')]))
    image = dataset[0]['img']
    assert image.ndim == 3 and image.shape[2] == 4


def test_separate_thermal_files_are_modality_paths(fmb_demo_root):
    info = FMBDataset(data_root=fmb_demo_root, split='test',
                      pipeline=[]).get_data_info(0)
    assert 'thermal_path' not in info
    [thermal] = info['modality_paths']
    assert osp.basename(osp.dirname(thermal)) == 'Infrared'
    loaded = LoadMultiModalImageFromFile()(dict(info))
    assert loaded['img'].shape[2] == 4
    with pytest.raises(ValueError, match=r'thermal_path=.*expected '
                       r'modality_paths=\[<thermal file>\]'):
        LoadMultiModalImageFromFile()(
            dict(img_path=info['img_path'], thermal_path=thermal))


def _grey(intensity):
    return intensity.expand(-1, 3, -1, -1)


def test_fusion_loss_judges_each_source_on_its_own():
    # left half bright in one source, right half in the other; a uniform
    # 0.5 grey misses each source's bright half by 0.5 (mean 0.5), while
    # the channel mean of both sources (0.5 everywhere) would score 0.
    left = torch.zeros(1, 1, 8, 8)
    left[..., :4] = 1.0
    right = 1.0 - left
    visible = _grey(torch.zeros(1, 1, 8, 8))
    fused = _grey(torch.full((1, 1, 8, 8), 0.5))
    loss = FusionLoss(gradient_weight=0, chroma_weight=0)
    assert loss(fused, visible, [left, right]).item() == pytest.approx(0.5)
    assert loss(fused, visible, torch.cat([left, right], 1)).item() == \
        pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match='share'):
        loss(fused, visible, [left, right[..., :4]])
    with pytest.raises(ValueError, match='no source besides'):
        loss(fused, visible, [])


def test_fusionsam_passes_one_source_per_modality():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'fusionsam_tiny_deliver_demo.py'))
    cfg.model.loss_fusion_image.chroma_weight = 0.0
    model = MODELS.build(cfg.model)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, 12, 16, 20, generator=generator)
    fused = torch.rand(2, 3, 16, 20, generator=generator)
    [value] = model._fusion_image_loss(fused, inputs).values()
    sources = to_unit_range(inputs, model.data_preprocessor)
    per_source = FusionLoss(chroma_weight=0.0)
    expected = np.mean([
        per_source(fused, sources[:, :3], sources[:, s:s + 3]).item()
        for s in (3, 6, 9)
    ])
    assert value.item() == pytest.approx(expected, rel=1e-6)
