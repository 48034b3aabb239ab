"""Test with MMSegmentation's own ``tools/test.py`` (same arguments).

Prints the per-class IoU table and writes the metrics json to
``<work_dir>/<timestamp>/<timestamp>.json``, e.g.::

    python tools/test.py configs/fusionsam_tiny_demo.py CHECKPOINT
"""
import fusionsam_mmseg  # noqa: F401  (registers the plugin)
from fusionsam_mmseg.engine.mmseg_scripts import run_mmseg_tool

if __name__ == '__main__':
    run_mmseg_tool('test.py')
