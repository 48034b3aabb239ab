"""The GPU kit (tools/gpu): its manifest, its report, and
``tools/gpu/run.sh --cpu-smoke``, which runs every part of the device run at
tiny sizes on the CPU and must fill every field of parts (a)-(d)."""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT

RUN_SH = os.path.join(REPO_ROOT, 'tools', 'gpu', 'run.sh')
# What the device run reports for each part; every value a positive number
# unless listed in NOT_NUMBERS.
PART_FIELDS = {
    'encoder': {'image_size', 'batch_size', 'warmup', 'iters', 'stock',
                'ours', 'models', 'target'},
    'fusionsam_train': {'config', 'batch_size', 'image_hw', 'iterations',
                        'train_images_per_s', 'peak_memory_gib',
                        'memory_kind', 'encoder', 'encoder_time_share',
                        'encoder_images_per_s', 'target'},
    'memorysam_train': {'config', 'batch_size', 'image_hw', 'iterations',
                        'modality_channels', 'train_images_per_s',
                        'peak_memory_gib', 'memory_kind'},
    'fusionsam_inference': {'config', 'batch_size', 'image_hw', 'iterations',
                            'images_per_s', 'peak_memory_gib',
                            'memory_kind'},
}
POSITIVE = ('batch_size', 'iterations', 'train_images_per_s',
            'peak_memory_gib', 'encoder_images_per_s', 'images_per_s',
            'image_size', 'iters')
ENCODER_MODEL_FIELDS = {'stock_images_per_s', 'ours_images_per_s', 'ratio',
                        'best_variant', 'max_abs_diff', 'variants'}
ENCODER_VARIANT_FIELDS = {'images_per_s', 'ratio', 'max_abs_diff',
                          'first_call_s'}
SMOKE_SIZES = {
    'fusionsam_train': dict(batch_size=2, image_hw=[64, 96], iterations=2),
    'memorysam_train': dict(batch_size=2, image_hw=[64, 64], iterations=2,
                            modality_channels=[3, 3, 3, 3]),
    'fusionsam_inference': dict(batch_size=2, image_hw=[64, 96],
                                iterations=2),
}


def load_kit_tool(name: str):
    """Import ``tools/gpu/<name>.py`` (a script, not a package)."""
    path = os.path.join(REPO_ROOT, 'tools', 'gpu', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'gpu_kit_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_kit(args, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    env.update(env_extra or {})
    env.pop('OUT', None)
    return subprocess.run(['bash', RUN_SH, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp('gpu_kit_smoke')
    proc = run_kit(['--cpu-smoke', '--out', str(out)])
    report_path = out / 'gpu_kit.json'
    assert report_path.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(report_path.read_text()), out


@pytest.mark.slow
@pytest.mark.parametrize('part', sorted(PART_FIELDS))
def test_cpu_smoke_fills_every_field_of_each_part(smoke, part):
    _, report, _ = smoke
    record = report['parts'][part]
    assert record['status'] == 'ok', record.get('error')
    assert 0 < record['seconds'] <= record['budget_s']
    assert 'cpu' in record['machine']['device']
    result = record['result']
    assert not PART_FIELDS[part] - set(result), (
        f'{part} lacks {sorted(PART_FIELDS[part] - set(result))}')
    for field in PART_FIELDS[part] & set(POSITIVE):
        assert result[field] > 0, (part, field, result[field])
    for field, value in SMOKE_SIZES.get(part, {}).items():
        assert result[field] == value, (part, field)


@pytest.mark.slow
def test_cpu_smoke_encoder_compares_every_variant(smoke):
    result = smoke[1]['parts']['encoder']['result']
    assert set(result['models']) == {'tiny'}
    summary = result['models']['tiny']
    assert not ENCODER_MODEL_FIELDS - set(summary)
    assert set(summary['variants']) == {'bf16', 'bf16_compile'}
    for variant in summary['variants'].values():
        assert not ENCODER_VARIANT_FIELDS - set(variant)
        assert variant['images_per_s'] > 0 and variant['first_call_s'] > 0
        # bf16 autocast against the fp32 stock encoder, same weights
        assert 0 < variant['max_abs_diff'] < 0.15
    best = summary['variants'][summary['best_variant']]
    assert summary['ratio'] == best['ratio'] == max(
        variant['ratio'] for variant in summary['variants'].values())
    assert summary['ratio'] == pytest.approx(
        summary['ours_images_per_s'] / summary['stock_images_per_s'])
    # the ViT-H target is reported, unmeasured at tiny sizes
    assert result['target'] == dict(model='vit_h', min_ratio=8.0,
                                    ratio=None, met=None)


@pytest.mark.slow
def test_cpu_smoke_writes_the_three_files(smoke):
    proc, report, out = smoke
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert report['mode'] == 'cpu-smoke'
    assert {name: record['status'] for name, record in
            report['setup'].items()} == {'install': 'skipped',
                                         'mmcv_build': 'skipped'}
    train = report['parts']['fusionsam_train']['result']
    assert 0 < train['encoder_time_share'] < 1
    assert train['encoder'] == 'decode_head.image_encoder'
    markdown = (out / 'gpu_kit.md').read_text()
    log = (out / 'gpu_kit.log').read_text()
    for part in PART_FIELDS:
        assert f'| {part} | ok |' in markdown
        assert f'----- {part} (exit 0,' in log
    assert sorted(path.name for path in out.iterdir()) == [
        'gpu_kit.json', 'gpu_kit.log', 'gpu_kit.md']


def test_a_failing_part_keeps_the_others(tmp_path):
    """A stand-in for python fails part (b): (c) and (d) still run, the
    report says which failed and why, and run.sh exits non-zero."""
    fake_python = tmp_path / 'python'
    fake_python.write_text(
        '#!/usr/bin/env bash\n'
        'case "$*" in\n'
        '  *write_report.py*) exec "$REAL_PYTHON" "$@" ;;\n'
        '  *fusionsam_train*) echo "CUDA out of memory (planted)" >&2;'
        ' exit 3 ;;\n'
        '  *) json=${@: -2:1}\n'
        '     echo \'{"complete": true, "device": "cpu", "result": {"x": 1}}\''
        ' > "$json" ;;\n'
        'esac\n')
    fake_python.chmod(0o755)
    out = tmp_path / 'out'
    proc = run_kit(['--cpu-smoke', '--out', str(out)],
                   dict(PYTHON=str(fake_python), REAL_PYTHON=sys.executable))
    assert proc.returncode != 0
    parts = json.loads((out / 'gpu_kit.json').read_text())['parts']
    assert {name: record['status'] for name, record in parts.items()} == {
        'encoder': 'ok', 'fusionsam_train': 'failed',
        'memorysam_train': 'ok', 'fusionsam_inference': 'ok'}
    assert 'CUDA out of memory (planted)' in parts['fusionsam_train']['error']
    assert parts['memorysam_train']['result'] == {'x': 1}


def test_report_marks_a_part_stopped_at_its_budget(tmp_path):
    write_report = load_kit_tool('write_report')
    (tmp_path / 'steps.tsv').write_text(
        'install\t0\t20.5\t120\nmmcv_build\t1\t300.0\t420\n'
        'encoder\t124\t240.2\t240\n')
    (tmp_path / 'encoder.json').write_text(json.dumps(dict(
        complete=False, device='H200', result=dict(models={}, target={}))))
    (tmp_path / 'mmcv_build.log').write_text('error: command g++ failed\n')
    report = write_report.main([
        '--work', str(tmp_path), '--out', str(tmp_path / 'out'), '--mode',
        'device', '--deadline-s', '540', '--wall-s', '530'])
    assert report['setup']['install']['status'] == 'ok'
    assert report['setup']['mmcv_build']['status'] == 'failed'
    assert 'g++ failed' in report['setup']['mmcv_build']['error']
    assert report['parts']['encoder']['status'] == 'timeout'
    assert report['parts']['encoder']['result'] == dict(models={}, target={})
    assert report['parts']['fusionsam_train']['status'] == 'skipped'
    assert '| encoder | timeout | 240.20 | 240.00 |' in (
        tmp_path / 'out' / 'gpu_kit.md').read_text()


def _fake_wheel(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with zipfile.ZipFile(path, 'w') as wheel:
        wheel.writestr('METADATA', name)
    return path


def test_kit_manifest_checksums_and_refusals(tmp_path):
    kit_manifest = load_kit_tool('kit_manifest')
    packages = tmp_path / 'packages.txt'
    packages.write_text('# kit\nwheel hydra-core==1.3.8\n'
                        'build sam2==1.1.0\nsdist mmcv==2.1.0\n')
    kit = tmp_path / 'kit'
    wheel = _fake_wheel(kit / 'wheels', 'hydra_core-1.3.8-py3-none-any.whl')
    _fake_wheel(kit / 'wheels', 'sam2-1.1.0-py3-none-any.whl')
    (kit / 'sdists').mkdir()
    (kit / 'sdists' / 'mmcv-2.1.0.tar.gz').write_bytes(b'sdist')
    argv = [str(kit), str(packages), '--python-version', '3.12']
    kit_manifest.main(argv)
    manifest = json.loads((kit / 'manifest.json').read_text())
    assert [entry['name'] for entry in manifest['packages']] == [
        'hydra-core', 'sam2', 'mmcv']
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f'{digest}  wheels/{wheel.name}\n' in (
        kit / 'SHA256SUMS').read_text()
    assert manifest['total_bytes'] == sum(
        path.stat().st_size for folder in ('wheels', 'sdists')
        for path in (kit / folder).iterdir())
    with pytest.raises(SystemExit, match='over the 0.0001 MiB limit'):
        kit_manifest.main(argv + ['--max-mib', '0.0001'])
    _fake_wheel(kit / 'wheels', 'hydra_core-1.3.7-py3-none-any.whl')
    with pytest.raises(SystemExit, match='not in'):
        kit_manifest.main(argv)
    (kit / 'wheels' / 'hydra_core-1.3.7-py3-none-any.whl').unlink()
    (kit / 'wheels' / 'sam2-1.1.0-py3-none-any.whl').rename(
        kit / 'wheels' / 'sam2-1.1.0-cp312-cp312-linux_x86_64.whl')
    with pytest.raises(SystemExit, match='must be pure'):
        kit_manifest.main(argv)
