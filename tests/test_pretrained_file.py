"""Checkpoints leave out the frozen weights of pretrained files and put them
back from the file on load (fusionsam_mmseg.models.pretrained_file)."""
import io

import pytest
import torch
from mmengine.runner.checkpoint import (get_state_dict, load_state_dict,
                                        weights_to_cpu)
from segment_anything.modeling import MaskDecoder, Sam, TwoWayTransformer

import fusionsam_mmseg  # noqa: F401
from fusionsam_mmseg.models import sam
from fusionsam_mmseg.models.decode_heads import SAMPromptHead, StockSAMHead
from fusionsam_mmseg.models.losses import PerceptualLoss
from fusionsam_mmseg.models.pretrained_file import RECORD_KEY, decode_record

TINY_SAM = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1, ),
                window_size=4, prompt_embed_dim=32, mask_in_chans=8,
                decoder_depth=1, decoder_mlp_dim=64, decoder_num_heads=2,
                iou_head_hidden_dim=32)


def write_official_sam(path, seed: int) -> str:
    """A tiny SAM in segment_anything's own layout (stock 4-token decoder)."""
    torch.manual_seed(seed)
    arch = sam.resolve_sam_architecture('custom', TINY_SAM)
    model = Sam(
        image_encoder=sam.build_sam_image_encoder(arch, 64, attention='stock'),
        prompt_encoder=sam.build_sam_prompt_encoder(arch, 64),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=32,
                                          mlp_dim=64, num_heads=2),
            transformer_dim=32, iou_head_hidden_dim=32))
    torch.save(model.state_dict(), path)
    return str(path)


def head(checkpoint, head_type=SAMPromptHead, seed=1):
    torch.manual_seed(seed)
    built = head_type(16, 9, sam_type='custom', encoder_cfg=TINY_SAM,
                      image_size=64, checkpoint=checkpoint)
    if checkpoint is not None:
        built.init_weights()
    return built


def saved(module) -> dict:
    """A state dict through mmengine's checkpoint path and back from disk."""
    buffer = io.BytesIO()
    torch.save(weights_to_cpu(get_state_dict(module)), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def same_weights(a, b) -> bool:
    named_b = dict(b.named_parameters())
    return all(torch.equal(value, named_b[key])
               for key, value in a.named_parameters())


def test_frozen_file_weights_are_left_out_and_put_back(tmp_path):
    sam_file = write_official_sam(tmp_path / 'sam.pth', seed=0)
    trained = head(sam_file)
    state = saved(trained)
    assert not any(key.startswith('image_encoder.') for key in state)
    assert any(key.startswith('prompt_encoder.') for key in state)
    record = decode_record(state[RECORD_KEY])
    assert record['path'] == str(tmp_path / 'sam.pth')
    assert len(record['sha256']) == 64
    assert record['keys'] == sorted(
        f'image_encoder.{key}'
        for key in trained.image_encoder.state_dict())
    # A fresh head configured with the file (tools/test.py: no init_weights)
    fresh = head(None, seed=2)
    fresh.checkpoint = sam_file
    assert not same_weights(fresh, trained)
    load_state_dict(fresh, state, strict=True)
    assert same_weights(fresh, trained)
    # A head with no file configured re-reads the recorded one.
    load_state_dict(head(None, seed=3), state, strict=True)
    # Saving again stays slim.
    assert RECORD_KEY in saved(fresh)


def test_another_file_or_a_missing_one_is_refused(tmp_path):
    sam_file = write_official_sam(tmp_path / 'sam.pth', seed=0)
    state = saved(head(sam_file))
    other = write_official_sam(tmp_path / 'other.pth', seed=5)
    wrong = head(None)
    wrong.checkpoint = other
    with pytest.raises(ValueError) as error:
        load_state_dict(wrong, state, strict=True)
    assert sam_file in str(error.value) and other in str(error.value)
    (tmp_path / 'sam.pth').unlink()
    with pytest.raises(FileNotFoundError, match='sam.pth'):
        load_state_dict(head(None), state, strict=True)


def test_a_random_encoder_stays_in_the_checkpoint():
    random_head = head(None)
    state = saved(random_head)
    assert RECORD_KEY not in state
    assert any(key.startswith('image_encoder.') for key in state)
    restored = head(None, seed=4)
    load_state_dict(restored, state, strict=True)
    assert same_weights(restored, random_head)


def test_full_checkpoints_still_load(tmp_path):
    sam_file = write_official_sam(tmp_path / 'sam.pth', seed=0)
    random_head = head(None)
    full = saved(random_head)
    configured = head(sam_file)
    load_state_dict(configured, full, strict=True)
    assert same_weights(configured, random_head)


def test_stock_sam_head_leaves_out_the_whole_sam(tmp_path):
    sam_file = write_official_sam(tmp_path / 'sam.pth', seed=0)
    state = saved(head(sam_file, head_type=StockSAMHead))
    assert sorted({key.split('.')[0] for key in state}) == [
        'conv_seg', RECORD_KEY, 'readout']


def test_perceptual_loss_leaves_out_vgg(tmp_path):
    vgg = PerceptualLoss(layer_weights=(1.0, 0, 0, 0, 0),
                         allow_random_init=True).vgg
    path = str(tmp_path / 'vgg16-stage1.pth')
    torch.save(vgg.state_dict(), path)
    loss = PerceptualLoss(layer_weights=(1.0, 0, 0, 0, 0),
                          init_cfg=dict(type='Pretrained', checkpoint=path))
    loss.init_weights()
    state = saved(loss)
    assert list(state) == [RECORD_KEY]
    restored = PerceptualLoss(
        layer_weights=(1.0, 0, 0, 0, 0),
        init_cfg=dict(type='Pretrained', checkpoint=path))
    load_state_dict(restored, state, strict=True)
    assert all(torch.equal(a, b) for a, b in zip(
        restored.vgg.state_dict().values(), vgg.state_dict().values()))
