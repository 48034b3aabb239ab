"""fusionsam_mmseg.import_patches: each import-time change to another library
is applied by ``import fusionsam_mmseg`` and no other module patches at
import. Patch 3 (segment_anything without torchvision): the normal import
and the fallback return the same classes (each case in a fresh interpreter).
Patch 1 is also exercised by tests/test_safe_checkpoint.py, patch 2 by
tests/test_distributed.py and tests/test_process_group_exit.py."""
import ast
import glob
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHES = os.path.join(REPO_ROOT, 'fusionsam_mmseg', 'import_patches.py')
CLASSES = ('ImageEncoderViT', 'PromptEncoder', 'MaskDecoder',
           'TwoWayTransformer', 'Sam')

# Loads import_patches.py by path (not through the plugin package, whose
# import would already apply it) and reports what patch 3 returned.
PROBE = textwrap.dedent(f"""
    import importlib.util, json, sys
    spec = importlib.util.spec_from_file_location('patches', {PATCHES!r})
    patches = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(patches)
    modeling = patches.import_segment_anything_modeling()
    package = sys.modules['segment_anything']
    print(json.dumps(dict(
        classes={{name: [getattr(modeling, name).__module__,
                        getattr(modeling, name).__qualname__,
                        sys.modules[getattr(modeling, name).__module__]
                        .__file__] for name in {CLASSES!r}}},
        partial=getattr(package, '__fusionsam_partial_import__', False),
        has_predictor=hasattr(package, 'SamPredictor'),
        torchvision='torchvision' in sys.modules)))
""")

FAKE_TORCHVISION = {
    '__init__.py': '',
    'transforms/__init__.py': '',
    'transforms/functional.py': textwrap.dedent("""
        def resize(img, size, *args, **kwargs):
            raise RuntimeError('fake torchvision: resize is not implemented')

        def to_pil_image(pic, mode=None):
            raise RuntimeError('fake torchvision: to_pil_image is not '
                               'implemented')
    """),
    # segment_anything/automatic_mask_generator.py imports these at import
    # time as well.
    'ops/__init__.py': '',
    'ops/boxes.py': textwrap.dedent("""
        def batched_nms(boxes, scores, idxs, iou_threshold):
            raise RuntimeError('fake torchvision: batched_nms')

        def box_area(boxes):
            raise RuntimeError('fake torchvision: box_area')
    """),
}
BROKEN_TORCHVISION = {
    '__init__.py': ("raise RuntimeError('operator torchvision::nms does not "
                    "exist')\n"),
}
MISSING_TORCHVISION = {
    '__init__.py': ("raise ModuleNotFoundError(\"No module named "
                    "'torchvision'\", name='torchvision')\n"),
}


def write_package(root, files: dict) -> str:
    for relative, text in files.items():
        path = root / 'torchvision' / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def probe(extra_path: str = None) -> dict:
    env = dict(os.environ)
    paths = [extra_path] if extra_path else []
    env['PYTHONPATH'] = os.pathsep.join(
        paths + [p for p in [env.get('PYTHONPATH')] if p])
    result = subprocess.run([sys.executable, '-c', PROBE], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def fallback_without_torchvision(tmp_path_factory):
    result = probe(write_package(tmp_path_factory.mktemp('broken'),
                                 BROKEN_TORCHVISION))
    return result


@pytest.mark.slow
def test_normal_import_with_a_minimal_torchvision(
        tmp_path, fallback_without_torchvision):
    result = probe(write_package(tmp_path, FAKE_TORCHVISION))
    assert result['torchvision'] and result['has_predictor']
    assert not result['partial']
    assert result['classes'] == fallback_without_torchvision['classes']


@pytest.mark.slow
def test_fallback_with_a_broken_torchvision(fallback_without_torchvision):
    result = fallback_without_torchvision
    assert result['partial'] and not result['has_predictor']
    assert set(result['classes']) == set(CLASSES)
    assert all(module.startswith('segment_anything.modeling.')
               for module, _, _ in result['classes'].values())


@pytest.mark.slow
def test_fallback_without_torchvision(tmp_path, fallback_without_torchvision):
    # ``import torchvision`` fails as on the pinned CPU stack (none there),
    # whatever this environment has installed.
    result = probe(write_package(tmp_path, MISSING_TORCHVISION))
    assert result['partial'] and not result['torchvision']
    assert result['classes'] == fallback_without_torchvision['classes']


def test_import_applies_every_patch():
    from mmengine.dist import utils as dist_utils
    from mmengine.logging import HistoryBuffer

    import fusionsam_mmseg
    from fusionsam_mmseg.engine.cpu_launcher import init_dist_pytorch
    assert fusionsam_mmseg.__version__
    assert HistoryBuffer in torch.serialization.get_safe_globals()
    assert dist_utils._init_dist_pytorch is init_dist_pytorch
    assert 'segment_anything.modeling' in sys.modules


def _module_level_patches(path: str) -> list:
    """Top-level calls and attribute / item assignments of a source file."""
    found = []
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            found.append(f'{path}:{node.lineno} call')
        targets = getattr(node, 'targets', [getattr(node, 'target', None)])
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and any(
                isinstance(t, (ast.Attribute, ast.Subscript)) for t in targets):
            found.append(f'{path}:{node.lineno} assignment')
    return found


def test_no_other_module_patches_at_import():
    package = os.path.join(REPO_ROOT, 'fusionsam_mmseg')
    found = []
    for path in glob.glob(os.path.join(package, '**', '*.py'),
                          recursive=True):
        found += _module_level_patches(path)
    # The package __init__ applies the patches, nothing else acts at import.
    assert found == [f'{os.path.join(package, "__init__.py")}:11 call']
