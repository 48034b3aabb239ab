"""Run the scripts shipped in the mmsegmentation wheel (``mmseg/.mim/tools``)."""
import os.path as osp
import runpy

import mmseg


def mmseg_tool_path(relative_path: str) -> str:
    """Absolute path of a script under ``mmseg/.mim/tools``.

    Args:
        relative_path (str): e.g. ``'train.py'``.
    """
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                    relative_path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} does not exist: this mmsegmentation install ships no '
            "'.mim/tools' (install the mmsegmentation==1.2.2 wheel with "
            '`make install`).')
    return path


def run_mmseg_tool(relative_path: str) -> None:
    """Run an mmseg tool as ``__main__`` with the current ``sys.argv``."""
    runpy.run_path(mmseg_tool_path(relative_path), run_name='__main__')
