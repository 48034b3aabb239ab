"""Train with MMSegmentation's own ``tools/train.py`` (same arguments).

``import fusionsam_mmseg`` happens first (the configs' ``custom_imports``
would do it too), then mmseg's unmodified script runs, e.g.::

    python tools/train.py configs/fusionsam_tiny_demo.py --work-dir work_dirs/x
    python tools/train.py CONFIG --resume
"""
import fusionsam_mmseg  # noqa: F401  (registers the plugin)
from fusionsam_mmseg.engine.mmseg_scripts import run_mmseg_tool

if __name__ == '__main__':
    run_mmseg_tool('train.py')
