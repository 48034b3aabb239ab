"""tools/misc/download_checkpoints.py on local files (no network)."""
import hashlib
import importlib.util
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO_ROOT, 'tools', 'misc', 'download_checkpoints.py')


@pytest.fixture
def tool():
    spec = importlib.util.spec_from_file_location('download_checkpoints',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_release(tmp_path, tool, monkeypatch):
    """A local 'release' folder whose vit_b file the tool's table names."""
    release = tmp_path / 'release'
    release.mkdir()
    payload = os.urandom(3 * (1 << 20) + 17)  # > one read chunk
    filename = tool.KNOWN_CHECKPOINTS['sam_vit_b'].filename
    (release / filename).write_bytes(payload)
    info = tool.CheckpointInfo(filename, 'sam', (release / filename).as_uri(),
                               hashlib.sha256(payload).hexdigest(),
                               hashlib.md5(payload).hexdigest())
    monkeypatch.setitem(tool.KNOWN_CHECKPOINTS, 'sam_vit_b', info)
    return release / filename


def test_known_table_is_consistent(tool):
    for name, info in tool.KNOWN_CHECKPOINTS.items():
        assert info.url.endswith(f'/{info.filename}')
        if name.startswith('sam_vit'):
            assert info.filename.startswith(f'{name}_')
            assert len(info.sha256) == 64 and len(info.md5) == 32
            # Meta's names carry the start of the file's md5 digest.
            assert info.md5.startswith(info.filename[-10:-4])
        elif name == 'vgg16':
            # torchvision's names carry the start of the sha256 digest.
            assert info.filename == f'vgg16-{info.sha256}.pth'
        else:
            assert not info.sha256 and info.sam2_config


def test_digests_of_a_local_file(tool, fake_release):
    payload = fake_release.read_bytes()
    assert tool.file_digests(str(fake_release)) == (
        hashlib.sha256(payload).hexdigest(), hashlib.md5(payload).hexdigest())


def test_verify_only(tool, fake_release, tmp_path, capsys):
    assert tool.identify_checkpoint(str(fake_release)) == 'sam_vit_b'
    renamed = tmp_path / 'my_sam.pth'  # unknown name: identified by digest
    renamed.write_bytes(fake_release.read_bytes())
    assert tool.main(['--verify-only', str(renamed)]) == 0
    assert 'OK, sam_vit_b' in capsys.readouterr().out

    corrupt = tmp_path / fake_release.name
    corrupt.write_bytes(fake_release.read_bytes()[:-1])
    with pytest.raises(tool.ChecksumError) as error:
        tool.identify_checkpoint(str(corrupt))
    assert str(corrupt) in str(error.value)
    assert tool.KNOWN_CHECKPOINTS['sam_vit_b'].sha256 in str(error.value)

    assert tool.main(['--verify-only', str(corrupt),
                      str(tmp_path / 'absent.pth')]) == 1
    err = capsys.readouterr().err
    assert 'corrupt or incomplete' in err and 'absent.pth' in err


def test_download_from_a_local_url(tool, fake_release, tmp_path):
    out_dir = tmp_path / 'checkpoints'
    path = tool.download_checkpoint('sam_vit_b', str(out_dir))
    assert path == str(out_dir / 'sam' / fake_release.name)
    assert open(path, 'rb').read() == fake_release.read_bytes()
    # Already present and verified: kept (no second download).
    fake_release.unlink()
    assert tool.download_checkpoint('sam_vit_b', str(out_dir)) == path


def test_download_with_a_wrong_checksum_leaves_no_file(tool, fake_release,
                                                       tmp_path, monkeypatch):
    info = tool.KNOWN_CHECKPOINTS['sam_vit_b']
    monkeypatch.setitem(tool.KNOWN_CHECKPOINTS, 'sam_vit_b',
                        info._replace(sha256='0' * 64))
    out_dir = tmp_path / 'checkpoints'
    with pytest.raises(tool.ChecksumError, match='hash'):
        tool.download_checkpoint('sam_vit_b', str(out_dir))
    assert not (out_dir / 'sam' / info.filename).exists()


@pytest.mark.slow
def test_command_line_reports_unofficial_files(tmp_path):
    stray = tmp_path / 'weights.pth'
    stray.write_bytes(b'not a checkpoint')
    result = subprocess.run(
        [sys.executable, TOOL, '--verify-only', str(stray)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'not a known checkpoint' in result.stderr
    assert str(stray) in result.stderr


def test_vgg16_is_verified_by_its_published_sha256_prefix(tool, tmp_path,
                                                          monkeypatch):
    payload = os.urandom(1 << 16)
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    info = tool.KNOWN_CHECKPOINTS['vgg16']._replace(
        filename=f'vgg16-{prefix}.pth', sha256=prefix)
    monkeypatch.setitem(tool.KNOWN_CHECKPOINTS, 'vgg16', info)
    good = tmp_path / info.filename
    good.write_bytes(payload)
    assert tool.identify_checkpoint(str(good)) == 'vgg16'
    good.write_bytes(payload[:-1])
    with pytest.raises(tool.ChecksumError, match=prefix):
        tool.identify_checkpoint(str(good))


def test_sam2_file_is_verified_by_structure(tool, tmp_path):
    import torch
    from sam2.build_sam import build_sam2
    info = tool.KNOWN_CHECKPOINTS['sam2_hiera_b+']
    good = tmp_path / info.filename
    model = build_sam2(info.sam2_config, ckpt_path=None, device='cpu')
    torch.save({'model': model.state_dict()}, good)
    assert tool.identify_checkpoint(str(good)) == 'sam2_hiera_b+'
    state = model.state_dict()
    state.pop(next(iter(state)))
    torch.save({'model': state}, good)
    with pytest.raises(tool.ChecksumError, match='keys / shapes differ'):
        tool.identify_checkpoint(str(good))
    good.write_bytes(b'truncated')
    with pytest.raises(tool.ChecksumError, match='does not load'):
        tool.identify_checkpoint(str(good))
