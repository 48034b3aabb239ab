"""PST900 RGB-thermal subterranean dataset (Shivakumar et al., ICRA 2020)."""
from mmseg.registry import DATASETS

from .paired_folders import PairedFolderDataset


@DATASETS.register_module()
class PST900Dataset(PairedFolderDataset):
    """PST900: RGB and 8-bit thermal PNGs, 5 classes (0..4).

    Layout (``thermal_raw/`` (16-bit) and ``depth/`` may exist: ignored)::

        data_root/{train,test}/rgb/<name>.png       # RGB, 720x1280
        data_root/{train,test}/thermal/<name>.png   # 8-bit, 1 channel
        data_root/{train,test}/labels/<name>.png    # values 0..4

    ``background`` is class 0 and counted in mIoU, as in the published
    tables. PST900 ships no validation split.

    Args:
        split (str): ``'train'`` or ``'test'``: shorthand for the
            ``data_prefix`` folders. Defaults to ``'train'``.
        **kwargs: ``ann_file`` (optional stem list), ``data_prefix`` and the
            rest of :class:`PairedFolderDataset` /
            :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(
        classes=('background', 'fire_extinguisher', 'backpack', 'hand_drill',
                 'rescue_randy'),
        palette=[[0, 0, 0], [220, 20, 60], [0, 90, 200], [250, 170, 30],
                 [60, 180, 75]])
    FOLDERS = dict(
        img_path='rgb', thermal_path='thermal', seg_map_path='labels')

    def __init__(self, split: str = 'train', **kwargs) -> None:
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(split=split, **kwargs)
