"""fusion_mask_classes: the fusion mask (and so the box and point prompts)
covers objects, not every labelled pixel."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS
from PIL import Image

from conftest import REPO_ROOT
from fusionsam_mmseg.datasets import FMBDataset, MFNetDataset
from fusionsam_mmseg.models.sam import SAMInputFrame

FMB_PAPER = osp.join(REPO_ROOT, 'configs', 'fusionsam_vith_fmb.py')
MFNET_PAPER = osp.join(REPO_ROOT, 'configs', 'fusionsam_vith_mfnet.py')
TINY = osp.join(REPO_ROOT, 'configs', 'fusionsam_tiny_demo.py')
HEIGHT, WIDTH = 48, 64
SKY, BUILDING, ROAD, PERSON, CAR = 7, 3, 1, 8, 9  # FMB label ids


def _label_ids(dataset_type, names):
    classes = dataset_type.METAINFO['classes']
    return tuple(sorted(classes.index(name) for name in names))


def test_paper_configs_name_their_datasets_object_classes():
    fmb = Config.fromfile(FMB_PAPER)
    assert fmb.model.fusion_mask_classes == _label_ids(
        FMBDataset, ('Person', 'Car', 'Truck', 'Bus', 'Motorcycle',
                     'Bicycle'))
    assert FMBDataset.METAINFO['fusion_mask_classes'] == (
        'Person', 'Car', 'Truck', 'Bus', 'Motorcycle', 'Bicycle')
    mfnet = Config.fromfile(MFNET_PAPER)
    classes = MFNetDataset.METAINFO['classes']
    assert mfnet.model.fusion_mask_classes == _label_ids(
        MFNetDataset, MFNetDataset.METAINFO['fusion_mask_classes'])
    assert mfnet.model.fusion_mask_classes == tuple(
        i for i, name in enumerate(classes) if name != 'unlabeled')


@pytest.fixture(scope='module')
def fmb_street(tmp_path_factory):
    """One FMB-layout test pair: sky, building and road fill the image; a
    car (rows 30..41, columns 10..25) and a person (rows 20..35, columns
    40..47) are the only things."""
    root = tmp_path_factory.mktemp('fmb_street')
    label = np.full((HEIGHT, WIDTH), ROAD, np.uint8)
    label[:16] = SKY
    label[16:32] = BUILDING
    label[30:42, 10:26] = CAR
    label[20:36, 40:48] = PERSON
    rng = np.random.default_rng(0)
    images = dict(
        Visible=rng.integers(0, 256, (HEIGHT, WIDTH, 3), np.uint8),
        Infrared=rng.integers(0, 256, (HEIGHT, WIDTH), np.uint8),
        Label=label)
    for folder, array in images.items():
        (root / 'test' / folder).mkdir(parents=True)
        Image.fromarray(array).save(root / 'test' / folder / 'street.png')
    pipeline = Config.fromfile(FMB_PAPER).test_pipeline
    dataset = DATASETS.build(
        dict(type='FMBDataset', data_root=str(root), split='test',
             pipeline=pipeline))
    return dataset[0]['data_samples'].gt_sem_seg.data


def _fusion_mask_box(fusion_mask_classes, labels):
    """Box prompt (x0, y0, x1, y1) from a fusion mask that equals its
    training target, in a SAM frame of the image's own size."""
    cfg = Config.fromfile(TINY)
    cfg.model.decode_head.num_classes = 15
    cfg.model.decode_head.image_size = WIDTH
    cfg.model.fusion_mask_classes = fusion_mask_classes
    model = MODELS.build(cfg.model)
    target = model.fusion_mask_target(labels)
    logits = torch.where(target == 1, 10.0, -10.0).float()[:, None]
    frame = SAMInputFrame.for_image(HEIGHT, WIDTH, WIDTH)
    boxes = model.decode_head.prompt_sampler.from_logits(logits, frame).boxes
    return boxes[0].tolist()


def test_box_prompt_hugs_the_things_of_an_fmb_street(fmb_street):
    things = Config.fromfile(FMB_PAPER).model.fusion_mask_classes
    assert _fusion_mask_box(things, fmb_street) == [10.0, 20.0, 47.0, 41.0]
    # "Any labelled pixel": the road and the sky make it the whole image.
    assert _fusion_mask_box(None, fmb_street) == [0.0, 0.0, 63.0, 47.0]


def test_fusion_mask_classes_must_be_label_ids():
    cfg = Config.fromfile(TINY)
    cfg.model.fusion_mask_classes = (3, 9)
    with pytest.raises(ValueError, match=r'fusion_mask_classes=\(3, 9\).*'
                       r'\[0, 9\).*\[9\]'):
        MODELS.build(cfg.model)
