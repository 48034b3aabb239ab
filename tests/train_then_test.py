"""Run ``tools/train.py`` and then ``tools/test.py`` on its last checkpoint,
in one interpreter (the config matrix saves a second start-up per config).

    python tests/train_then_test.py CONFIG WORK_DIR [TEST ARGS] \
        --cfg-options KEY=VALUE ...

Both scripts get the same ``--cfg-options``; ``TEST ARGS`` (e.g. ``--out
DIR``) go to ``tools/test.py`` only.
"""
import os.path as osp
import runpy
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_script(name: str, argv: list) -> None:
    path = osp.join(REPO_ROOT, 'tools', name)
    sys.argv = [path, *argv]
    runpy.run_path(path, run_name='__main__')


def main() -> None:
    config, work_dir, *rest = sys.argv[1:]
    split = rest.index('--cfg-options')
    test_args, options = rest[:split], rest[split:]
    run_script('train.py', [config, '--work-dir', work_dir, *options])
    with open(osp.join(work_dir, 'last_checkpoint')) as file:
        checkpoint = file.read().strip()
    run_script('test.py',
               [config, checkpoint, '--work-dir', work_dir, *test_args,
                *options])


if __name__ == '__main__':
    main()
