"""FusionSAM under ``test_cfg=dict(mode='slide')``: the fused image rides
through mmseg's sliding window as 3 extra channels of the logits, so each
pixel must be the mean of the whole-inference fused images of the windows
that cover it."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS

from conftest import REPO_ROOT

TINY_CONFIG = osp.join(REPO_ROOT, 'configs', 'fusionsam_tiny_demo.py')
HEIGHT, WIDTH = 48, 64
CROP, STRIDE = (32, 40), (16, 24)
# The windows mmseg's slide inference takes on 48x64 with that crop and
# stride: two rows by two columns, overlapping in a 16x16 centre.
WINDOW_ORIGINS = [(top, left) for top in (0, 16) for left in (0, 24)]


@pytest.fixture(scope='module')
def tiny_fusionsam():
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    model.init_weights()
    return model.eval()


def fused_images(model, inputs, test_cfg):
    """(B, 3, H, W) fused images of ``model.predict`` under ``test_cfg``."""
    model.test_cfg = ConfigDict(test_cfg)
    with torch.no_grad():
        samples = model.predict(inputs)
    return torch.stack([sample.fused_image.data for sample in samples])


def test_slide_fused_image_is_the_mean_of_the_windows(tiny_fusionsam):
    inputs = torch.randn(2, 4, HEIGHT, WIDTH,
                         generator=torch.Generator().manual_seed(0))
    slide = fused_images(tiny_fusionsam, inputs,
                         dict(mode='slide', crop_size=CROP, stride=STRIDE))

    whole = dict(mode='whole')
    total = torch.zeros(2, 3, HEIGHT, WIDTH)
    count = torch.zeros(1, 1, HEIGHT, WIDTH)
    for top, left in WINDOW_ORIGINS:
        window = (..., slice(top, top + CROP[0]), slice(left, left + CROP[1]))
        total[window] += fused_images(tiny_fusionsam, inputs[window], whole)
        count[window] += 1
    assert count.min() == 1 and count.max() == 4
    assert slide.shape == (2, 3, HEIGHT, WIDTH)
    torch.testing.assert_close(slide, total / count)
    # The windows matter: FMP attends over the whole input it is given.
    assert not torch.allclose(
        slide, fused_images(tiny_fusionsam, inputs, whole), atol=1e-3)
