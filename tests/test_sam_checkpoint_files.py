"""The two official-checkpoint readers of models/sam and their messages."""
import os.path as osp
import pickle

import pytest
import torch

from fusionsam_mmseg.models.sam import load_sam2_checkpoint
from fusionsam_mmseg.models.sam.official_checkpoint import OfficialCheckpoint
from fusionsam_mmseg.models.sam.sam2_checkpoint import read_sam2_checkpoint
from fusionsam_mmseg.models.sam.sam_checkpoint import read_sam_checkpoint
from test_memorysam import TINY_OVERRIDES, random_sam2
from test_safe_checkpoint import _Payload

READERS = dict(sam=read_sam_checkpoint, sam2=read_sam2_checkpoint)


@pytest.mark.parametrize('kind', sorted(READERS))
def test_readers_refuse_a_pickled_payload(kind, tmp_path):
    marker, evil = str(tmp_path / 'payload_ran'), str(tmp_path / 'evil.pt')
    state = {'image_encoder.x': _Payload(marker)}
    torch.save(state if kind == 'sam' else {'model': state}, evil)
    with pytest.raises(pickle.UnpicklingError, match='weights_only'):
        READERS[kind](evil, 'Reader')
    assert not osp.exists(marker)


@pytest.mark.parametrize('kind, download', [
    ('sam', 'download_checkpoints.py --models sam_vit_h'),
    ('sam2', 'download_checkpoints.py --models sam2_hiera_b+')])
def test_a_missing_file_is_named_with_what_was_expected(kind, download,
                                                        tmp_path):
    path = str(tmp_path / 'absent.pt')
    with pytest.raises(FileNotFoundError) as error:
        READERS[kind](path, 'Reader')
    assert str(error.value).startswith(
        f"Reader: {kind.upper()} checkpoint '{path}' does not exist; "
        'expected ')
    assert download in str(error.value)


def test_sam_reader_refuses_keys_of_another_layout(tmp_path):
    path = str(tmp_path / 'training.pth')
    torch.save({'image_encoder.a': torch.zeros(1),
                'optimizer.lr': torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"training\.pth' is not in the "
                       r"official segment_anything layout.*'optimizer\.lr'"):
        read_sam_checkpoint(path, 'Reader')
    torch.save(torch.zeros(1), path)
    with pytest.raises(ValueError, match='found none'):
        read_sam_checkpoint(path, 'Reader')


def test_sam_reader_reads_a_sam2_file_in_sam_layout(tmp_path):
    path = str(tmp_path / 'sam2.pt')
    one = torch.ones(1)
    torch.save({'model': {
        'image_encoder.trunk.w': one, 'no_mem_embed': one,
        'sam_prompt_encoder.p': one,
        'sam_mask_decoder.transformer.layers.0.mlp.layers.1.weight': one,
        'sam_mask_decoder.conv_s0.weight': one,
        'memory_encoder.m': one}}, path)
    assert sorted(read_sam_checkpoint(path, 'Reader')) == [
        'image_encoder.no_mem_embed', 'image_encoder.trunk.w',
        'mask_decoder.transformer.layers.0.mlp.lin2.weight',
        'prompt_encoder.p']


def test_check_fits_names_the_key_shapes_and_the_file():
    file = OfficialCheckpoint('/w/sam.pth', 'Head', 'SAM')
    own = {'a': torch.zeros(2), 'b.lora_A': torch.zeros(1)}
    with pytest.raises(ValueError, match=r"^Head: SAM checkpoint '/w/sam\.pth"
                       r"': key 'a' has shape \(3,\) but the configured "
                       r"model expects \(2,\)\. The file looks like X; set "
                       'sam_type to match it'):
        file.check_fits(own, {'a': torch.zeros(3)}, 'X', 'sam_type')
    file.check_fits(own, {'a': torch.zeros(2)}, 'X', 'sam_type',
                    lambda key: '.lora_' in key)
    extra = {f'k{i}': torch.zeros(1) for i in range(6)}
    with pytest.raises(ValueError, match=r"missing keys \['b\.lora_A'\], "
                       r"unexpected keys \['k0', .*'k4'\] \.\.\."):
        file.check_fits(own, dict(extra, a=torch.zeros(2)), 'X', 'sam_type')


def test_whole_sam2_load_takes_a_fitting_file_and_names_others(tmp_path):
    model, source = random_sam2(seed=1), random_sam2(seed=2)
    path = str(tmp_path / 'sam2.pt')
    torch.save({'model': source.state_dict()}, path)
    load_sam2_checkpoint(path, model, 'StockSAM2Head')
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    wider = [o.replace('trunk.embed_dim=8', 'trunk.embed_dim=16')
             .replace('list=[64,32,16,8]', 'list=[128,64,32,16]')
             for o in TINY_OVERRIDES]
    torch.save({'model': random_sam2(overrides=wider).state_dict()}, path)
    with pytest.raises(ValueError, match=r"StockSAM2Head: SAM2 checkpoint "
                       r"'.*sam2\.pt': key .* embed_dim=16 .*sam2_config"):
        load_sam2_checkpoint(path, model, 'StockSAM2Head')
