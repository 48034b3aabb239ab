"""The install script and the demo-data command line."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest

from conftest import REPO_ROOT, run_tool


@pytest.mark.slow
def test_stack_check_passes_for_this_checkout(tmp_path):
    """`make install` skips work only when this checkout is what's installed."""
    proc = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', 'install', 'check_stack.py'),
         REPO_ROOT],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_stack_check_flags_another_checkout(tmp_path):
    proc = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', 'install', 'check_stack.py'),
         str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'fusionsam_mmseg is installed from' in proc.stdout


@pytest.mark.slow
def test_install_refuses_unsupported_python(tmp_path):
    fake_python = tmp_path / 'python3.9'
    fake_python.write_text('#!/bin/sh\n'
                           'if [ "$1" = "--version" ]; then '
                           'echo "Python 3.9.18"; exit 0; fi\nexit 1\n')
    fake_python.chmod(0o755)
    proc = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'install', 'install_stack.sh')],
        env=dict(os.environ, PYTHON=str(fake_python)),
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert 'supports Python 3.10-3.12' in proc.stderr
    assert '3.9.18' in proc.stderr


@pytest.mark.slow
def test_make_demo_rgbt_cli_fmb(tmp_path):
    out = tmp_path / 'fmb'
    proc = run_tool(['tools/dataset_converters/make_demo_rgbt.py', '--out',
                     str(out), '--format', 'fmb', '--num-train', '2',
                     '--num-test', '1', '--height', '60', '--width', '80'])
    assert 'wrote fmb demo dataset' in proc.stdout
    for folder in ('Visible', 'Infrared', 'Label'):
        assert len(os.listdir(out / 'train' / folder)) == 2
        assert len(os.listdir(out / 'test' / folder)) == 1
    label = cv2.imread(str(out / 'train' / 'Label' / '00001D.png'),
                       cv2.IMREAD_UNCHANGED)
    assert label.shape == (60, 80) and label.max() <= 14
