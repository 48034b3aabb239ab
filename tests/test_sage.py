"""SAGE: student, teacher (SPA), losses, bi-level alternation, prediction,
mask-prior loading, student extraction and the train / test acceptance."""
import json
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS, TRANSFORMS
from mmseg.structures import SegDataSample

from conftest import run_tool
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset
from fusionsam_mmseg.datasets.transforms.mask_priors import (
    MANIFEST, mask_prior_path)
from fusionsam_mmseg.models.fusion.persistent_attention import (
    PersistentTransformer, RepositoryAttention)
from fusionsam_mmseg.models.pretrained_file import RECORD_KEY
from fusionsam_mmseg.models.sam import (SAMArchitecture,
                                        build_sam_image_encoder)

TINY_ENCODER = dict(embed_dim=32, depth=3, num_heads=2,
                    global_attn_indexes=(2, ), window_size=4, patch_size=8)
NUM_MASKS = 2


def tiny_sage(**overrides) -> torch.nn.Module:
    cfg = dict(
        type='SAGE',
        num_masks=NUM_MASKS,
        teacher=dict(type='SAGETeacher', channels=16, num_heads=2,
                     head_channels=8, feature_channels=8),
        student=dict(type='SAGEStudent', channels=8),
        loss_semantic=dict(type='ContrastiveSemanticLoss', sam_type='custom',
                           encoder_cfg=TINY_ENCODER),
        data_preprocessor=dict(type='SegDataPreProcessor', size_divisor=16))
    cfg.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def raw_inputs(batch=2, height=32, width=48, with_priors=True, seed=0):
    """(B, 4 [+ 2k], H, W) raw 0..255 inputs; masks 0 / 255."""
    generator = torch.Generator().manual_seed(seed)
    sources = torch.rand(batch, 4, height, width, generator=generator) * 255
    if not with_priors:
        return sources
    masks = (torch.rand(batch, 2 * NUM_MASKS, height, width,
                        generator=generator) > 0.5).float() * 255
    return torch.cat([sources, masks], 1)


# --------------------------------------------------------------- networks


def test_student_is_a_bounded_sam_free_unet():
    student = MODELS.build(dict(type='SAGEStudent', channels=8))
    fused, features = student(torch.rand(2, 1, 32, 48), torch.rand(2, 1, 32,
                                                                  48))
    assert fused.shape == (2, 1, 32, 48)
    assert fused.abs().max() <= 1.0  # Tanh
    assert [tuple(f.shape[-2:]) for f in features] == [(32, 48), (16, 24),
                                                       (8, 12), (16, 24),
                                                       (32, 48)]
    assert not any('encoder' in name or 'sam' in name
                   for name, _ in student.named_parameters())


def test_teacher_features_match_the_students():
    sage = tiny_sage()
    sources = sage.sources(raw_inputs(), with_priors=True)
    fused, teacher_features = sage.teach(sources)
    _, student_features = sage.fuse(sources)
    assert fused.shape == (2, 1, 32, 48)
    assert [f.shape for f in teacher_features] == \
        [f.shape for f in student_features]
    assert len(sage.teacher.stages) == 1  # one SPA for the 5 stages
    unshared = MODELS.build(dict(type='SAGETeacher', channels=16,
                                 head_channels=8, shared_stages=False))
    assert len(unshared.stages) == 5


def test_repository_attention_reprojects_the_kept_keys_and_values():
    torch.manual_seed(0)
    attention = RepositoryAttention(channels=8, num_heads=2)
    x, keys, values = torch.randn(3, 1, 5, 8).unbind(0)
    out, (k, v) = attention(x, (keys, values))
    q = attention.to_q(x).view(1, 5, 2, 4).transpose(1, 2)
    k_expected = attention.to_k(keys)
    v_expected = attention.to_v(values)
    weights = (q @ k_expected.view(1, 5, 2, 4).permute(0, 2, 3, 1) /
               2.0).softmax(-1)
    expected = attention.to_out(
        (weights @ v_expected.view(1, 5, 2, 4).transpose(1, 2)).transpose(
            1, 2).flatten(2))
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(k, k_expected) and torch.equal(v, v_expected)
    self_out, _ = attention(x)
    assert not torch.allclose(self_out, out)


def test_persistent_transformer_reads_the_repository():
    torch.manual_seed(0)
    transformer = PersistentTransformer(in_channels=8, num_heads=2,
                                        head_channels=4)
    torch.nn.init.normal_(transformer.proj_out.weight)  # zero at init
    image, other_image, masks = torch.randn(3, 1, 8, 4, 6).unbind(0)
    _, repository = transformer(image)
    with_image_kv, _ = transformer(masks, repository)
    # (a permuted image would give the same key / value set)
    _, other_repository = transformer(other_image)
    with_other_kv, _ = transformer(masks, other_repository)
    assert not torch.allclose(with_image_kv, with_other_kv)


# ----------------------------------------------------------------- losses


def test_fusion_fidelity_loss_terms():
    loss = MODELS.build(dict(type='FusionFidelityLoss',
                             mse_weights=(3.0, 2.0, 4.0),
                             gradient_weights=(9.0, 3.0)))
    zeros, ones = torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    terms = loss(zeros, ones, zeros, reference=ones)
    assert terms['pixel'].item() == pytest.approx(3.0 + 4.0)
    assert terms['gradient'].item() == 0.0  # flat images have no edges
    edge = torch.zeros(1, 1, 8, 8)
    edge[..., 4:] = 1.0
    terms = loss(zeros, edge, zeros, reference=zeros)
    assert terms['gradient'].item() > 0
    with pytest.raises(ValueError, match='no reference'):
        loss(zeros, ones, zeros)


def test_feature_cosine_loss():
    loss = MODELS.build(dict(type='FeatureCosineLoss', loss_weight=0.5))
    features = [torch.randn(2, 4, 3, 3), torch.randn(2, 4, 2, 2)]
    assert loss(features, features).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(features, [-f for f in features]).item() == pytest.approx(
        0.5 * 2 * 2)
    with pytest.raises(ValueError, match='feature_channels'):
        loss(features, [features[0], torch.randn(2, 5, 2, 2)])


def semantic_loss(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='ContrastiveSemanticLoss',
                             sam_type='custom', num_blocks=2,
                             encoder_cfg=TINY_ENCODER, **kwargs))


def test_contrastive_semantic_loss_is_zero_at_the_reference():
    loss = semantic_loss()
    fused, source = torch.rand(2, 2, 1, 32, 48).unbind(0)
    priors = torch.rand(2, NUM_MASKS, 32, 48)
    assert loss(fused, fused, source, source, priors, priors).item() == \
        pytest.approx(0.0, abs=1e-6)
    fused.requires_grad_(True)
    value = loss(fused, torch.rand(2, 1, 32, 48), source, source, priors,
                 priors)
    value.backward()
    assert value.item() > 0 and fused.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.encoder.parameters())
    empty = torch.zeros_like(priors)
    assert loss(fused, source, source, source, empty, empty).item() == 0.0


def official_layout_file(path: str) -> dict:
    """A random tiny SAM image encoder saved with the official keys."""
    arch = SAMArchitecture(**TINY_ENCODER)
    torch.manual_seed(1)
    encoder = build_sam_image_encoder(arch, image_size=64, attention='stock')
    state = {f'image_encoder.{k}': v for k, v in encoder.state_dict().items()}
    torch.save(state, path)
    return state


def test_semantic_encoder_weights_come_from_the_sam_file(tmp_path):
    path = str(tmp_path / 'sam_tiny.pth')
    state = official_layout_file(path)
    loss = semantic_loss(checkpoint=path)
    loss.init_weights()
    block = loss.encoder.blocks[1].attn.qkv.weight
    assert torch.equal(block, state['image_encoder.blocks.1.attn.qkv.weight'])
    saved = loss.state_dict()
    assert RECORD_KEY in saved
    assert not any(key.startswith('encoder.') for key in saved)
    fresh = semantic_loss(checkpoint=path)
    fresh.load_state_dict(saved)
    assert torch.equal(fresh.encoder.blocks[1].attn.qkv.weight, block)
    with pytest.raises(FileNotFoundError, match='download_checkpoints'):
        semantic_loss(checkpoint=str(tmp_path / 'missing.pth')).init_weights()


# ------------------------------------------------------ bi-level training


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()
            if v.is_floating_point()}


def changed(module, before):
    return any(not torch.equal(v, module.state_dict()[k])
               for k, v in before.items())


def adam_steps(wrapper):
    """Distinct Adam step counts of a wrapper's parameters."""
    return sorted({int(state['step'])
                   for state in wrapper.optimizer.state.values()})


def test_train_step_alternates_student_and_teacher():
    sage = tiny_sage()
    wrappers = build_optim_wrapper(sage, dict(
        constructor='MultiOptimWrapperConstructor',
        teacher=dict(type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=1e-3)),
        student=dict(type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=1e-3))))
    inputs = raw_inputs()
    data = dict(inputs=list(inputs),
                data_samples=[SegDataSample() for _ in range(2)])
    hub = MessageHub.get_current_instance()
    for iteration, name in ((0, 'student'), (1, 'teacher')):
        hub.update_info('iter', iteration)
        other = 'teacher' if name == 'student' else 'student'
        before = {n: snapshot(getattr(sage, n)) for n in (name, other)}
        log_vars = sage.train_step(dict(data), wrappers)
        assert changed(getattr(sage, name), before[name])
        # BN running stats of the frozen student move in the teacher step
        # (its forward runs in train mode, as the official code); its
        # weights do not
        frozen = {k: v for k, v in before[other].items()
                  if 'running' not in k}
        assert not changed(getattr(sage, other), frozen)
        assert all(key.startswith(f'loss_{name}') or key == 'loss'
                   for key in log_vars)
        assert adam_steps(wrappers[name]) == [iteration // 2 + 1]
        assert adam_steps(wrappers[other]) == ([1] if name == 'teacher'
                                               else [])


def test_predict_attaches_the_students_fused_image_at_original_size():
    sage = tiny_sage(teacher=None)
    assert not hasattr(sage, 'loss_semantic')
    inputs = raw_inputs(batch=1, height=32, width=48, with_priors=False)
    sample = SegDataSample(metainfo=dict(ori_shape=(30, 45),
                                         img_shape=(32, 48),
                                         padding_size=[0, 3, 0, 2]))
    sage.eval()
    [out] = sage.predict(inputs, [sample])
    fused = out.fused_image.data
    assert fused.shape == (3, 30, 45)
    assert 0.0 <= fused.min() and fused.max() <= 1.0
    # the authors' protocol: the student's Y with the visible image's
    # OpenCV Cr, Cb, back to RGB with their YCrCb2RGB coefficients
    with torch.no_grad():
        student_y = sage.fuse(sage.sources(inputs, False))[0][0, 0, :30, :45]
    visible = torch.round(inputs[0, :3, :30, :45]).permute(1, 2, 0)
    ycrcb = cv2.cvtColor(visible.numpy().astype(np.uint8),
                         cv2.COLOR_RGB2YCrCb) / 255.0
    cr, cb = (torch.from_numpy(ycrcb[..., index] - 0.5).float()
              for index in (1, 2))
    expected = torch.stack([student_y + 1.403 * cr,
                            student_y - 0.714 * cr - 0.344 * cb,
                            student_y + 1.773 * cb])
    assert torch.allclose(fused, expected.clamp(0, 1), atol=1e-5)
    with pytest.raises(RuntimeError, match='deployment'):
        sage.train_step(dict(inputs=list(inputs), data_samples=[sample]),
                        None)


def test_training_inputs_need_the_priors():
    sage = tiny_sage()
    with pytest.raises(ValueError, match='LoadSAMMaskPriors'):
        sage.sources(raw_inputs(with_priors=False), with_priors=True)


# --------------------------------------------------------- mask priors


def write_cache(split_dir, stems, shape, counts, complete=True, top_k=3):
    folder = osp.join(split_dir, 'sam_mask_priors')
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem in stems:
        masks = {key: rng.random((count, *shape)) > 0.5
                 for key, count in zip(('visible', 'infrared'), counts)}
        np.savez_compressed(osp.join(folder, f'{stem}.npz'), **masks)
    with open(osp.join(folder, MANIFEST), 'w') as file:
        json.dump(dict(complete=complete, top_k=top_k), file)
    return folder


def loaded_sample(root, stem='00001D'):
    img_path = osp.join(root, 'train', 'vi', f'{stem}.png')
    results = TRANSFORMS.build(dict(type='LoadMultiModalImageFromFile'))(
        dict(img_path=img_path,
             modality_paths=[osp.join(root, 'train', 'ir', f'{stem}.png')]))
    return results


def test_priors_are_appended_and_missing_masks_filled(msrs_demo_root,
                                                      tmp_path):
    root = str(tmp_path / 'msrs')
    shutil.copytree(msrs_demo_root, root)
    results = loaded_sample(root)
    shape = results['img'].shape[:2]
    folder = write_cache(osp.join(root, 'train'), ['00001D', '00002N'],
                         shape, counts=(3, 1))
    assert osp.dirname(mask_prior_path(results['img_path'])) == folder
    transform = TRANSFORMS.build(dict(type='LoadSAMMaskPriors', num_masks=2))
    out = transform(results)
    with np.load(osp.join(folder, '00001D.npz')) as cached:
        visible, infrared = cached['visible'], cached['infrared']
    image = out['img']
    assert image.shape == (*shape, 4 + 2 + 2)
    assert out['modality_channels'] == (3, 1, 2, 2)
    assert np.array_equal(image[..., 4] == 255, visible[0])
    assert np.array_equal(image[..., 5] == 255, visible[1])
    assert np.array_equal(image[..., 6] == 255, infrared[0])
    assert (image[..., 7] == 255).all()  # one infrared mask: filled
    assert out['num_sam_masks'] == (2, 1)


def test_training_refuses_a_missing_or_incomplete_cache(msrs_demo_root,
                                                        tmp_path):
    root = str(tmp_path / 'msrs')
    shutil.copytree(msrs_demo_root, root)
    transform = TRANSFORMS.build(dict(type='LoadSAMMaskPriors'))
    with pytest.raises(FileNotFoundError,
                       match=re.escape(f'sam_mask_priors.py --data-root '
                                       f'{root} --split train')):
        transform(loaded_sample(root))
    shape = loaded_sample(root)['img'].shape[:2]
    write_cache(osp.join(root, 'train'), ['00001D'], shape, (4, 4),
                complete=False)
    with pytest.raises(FileNotFoundError, match='incomplete'):
        TRANSFORMS.build(dict(type='LoadSAMMaskPriors'))(loaded_sample(root))
    write_cache(osp.join(root, 'train'), ['00001D'], (shape[0] - 1,
                                                       shape[1]), (4, 4))
    with pytest.raises(ValueError, match='00001D.npz.*image size'):
        TRANSFORMS.build(dict(type='LoadSAMMaskPriors',
                              num_masks=3))(loaded_sample(root))


# ------------------------------------------ tools (subprocess, slow)


@pytest.mark.slow
def test_extracted_student_has_only_student_weights(tmp_path):
    sage = tiny_sage()
    checkpoint = str(tmp_path / 'sage.pth')
    torch.save(dict(state_dict=sage.state_dict(), meta=dict()), checkpoint)
    out = str(tmp_path / 'student.pth')
    run_tool(['tools/model_converters/extract_sage_student.py', checkpoint,
              out])
    extracted = torch.load(out, weights_only=True)['state_dict']
    assert extracted.keys() == sage.student.state_dict().keys()
    for key, value in extracted.items():
        assert torch.equal(value, sage.student.state_dict()[key])
    student = MODELS.build(dict(type='SAGEStudent', channels=8,
                                init_cfg=dict(type='Pretrained',
                                              checkpoint=out)))
    student.init_weights()
    assert torch.equal(student.out.weight, sage.student.out.weight)
    bad = run_tool(['tools/model_converters/extract_sage_student.py', out,
                    str(tmp_path / 'x.pth')], check=False)
    assert bad.returncode != 0 and "no 'student.*'" in bad.stderr


@pytest.fixture(scope='module')
def random_official_vit_b(tmp_path_factory) -> str:
    """A randomly initialised SAM ViT-B in the official key layout, built by
    segment_anything's own ``build_sam_vit_b`` (not the plugin's)."""
    import importlib
    build_sam = importlib.import_module('segment_anything.build_sam')
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('sam') / 'sam_vit_b_random.pth')
    torch.save(build_sam.build_sam_vit_b().state_dict(), path)
    return path


@pytest.mark.slow
def test_sage_msrs_trains_and_tests_on_an_msrs_layout_set(
        tmp_path, random_official_vit_b):
    """Acceptance: priors from a random official-layout ViT-B file, then
    tools/train.py configs/sage/sage_msrs.py (model.sam_checkpoint=None)
    and tools/test.py printing the fusion metrics of the student."""
    root = make_demo_dataset(str(tmp_path / 'msrs'), 'msrs', num_train=1,
                             num_test=1, seed=5, height=192, width=256)
    run_tool(['tools/dataset_converters/sam_mask_priors.py', '--data-root',
              root, '--split', 'train', '--sam-type', 'vit_b',
              '--checkpoint', random_official_vit_b, '--points-per-side',
              '2', '--crop-n-layers', '0'])
    manifest = json.load(open(osp.join(root, 'train', 'sam_mask_priors',
                                       MANIFEST)))
    assert manifest['complete'] and manifest['num_samples'] == 1
    work_dir = str(tmp_path / 'work')
    options = [
        '--cfg-options', f'train_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'train_dataloader.batch_size=1', 'train_cfg.max_epochs=2',
        'model.sam_checkpoint=None'
    ]
    train = run_tool(['tools/train.py', 'configs/sage/sage_msrs.py',
                      '--work-dir', work_dir] + options)
    log = train.stdout + train.stderr
    # one batch per epoch: a student step, then a teacher step
    assert re.search(r'Iter\(train\) +\[1/2\].*loss_student', log)
    assert re.search(r'Iter\(train\) +\[2/2\].*loss_teacher', log)
    checkpoint = open(osp.join(work_dir, 'last_checkpoint')).read().strip()
    test = run_tool(['tools/test.py', 'configs/sage/sage_msrs.py',
                     checkpoint, '--work-dir', work_dir] + options)
    line = re.search(r'Iter\(test\).*', test.stdout + test.stderr).group(0)
    for name in ('EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf', 'SSIM',
                 'MS-SSIM'):
        assert re.search(rf'\b{re.escape(name)}: -?[0-9.]+', line), line


# ------------------------------------------------------- and beyond


def test_fused_image_backbone_feeds_the_frozen_students_image(tmp_path):
    torch.manual_seed(0)
    student = MODELS.build(dict(type='SAGEStudent', channels=8))
    path = str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=student.state_dict()), path)
    backbone = MODELS.build(dict(
        type='FusedImageBackbone',
        fusion=dict(type='SAGEStudent', channels=8),
        fusion_checkpoint=path,
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                      base_channels=8, num_stages=2, out_indices=(0, 1),
                      strides=(1, 2), dilations=(1, 1))))
    backbone.init_weights()
    assert torch.equal(backbone.fusion.out.weight, student.out.weight)
    backbone.train()
    assert not backbone.fusion.training
    inputs = raw_inputs(batch=1, with_priors=False)
    sage = tiny_sage(teacher=None)
    sage.student.load_state_dict(student.state_dict())
    sage.eval()
    [expected] = sage.predict(inputs, [SegDataSample()])
    assert torch.allclose(backbone.fused_image(inputs)[0],
                          expected.fused_image.data, atol=1e-6)
    features = backbone(inputs)
    features[-1].sum().backward()
    assert all(p.grad is None for p in backbone.fusion.parameters())
    assert any(p.grad is not None for p in backbone.backbone.parameters())
