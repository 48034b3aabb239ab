"""MSRS visible-infrared dataset (Tang et al.; derived from MFNet)."""
from mmseg.registry import DATASETS

from .mfnet import MFNetDataset
from .paired_folders import PairedFolderDataset


@DATASETS.register_module()
class MSRSDataset(PairedFolderDataset):
    """MSRS: aligned visible / infrared PNGs with MFNet's 9 classes.

    Layout (stems end in ``D`` for day, ``N`` for night)::

        data_root/{train,test}/vi/<stem>.png                   # RGB, 480x640
        data_root/{train,test}/ir/<stem>.png                   # 1 channel
        data_root/{train,test}/Segmentation_labels/<stem>.png  # values 0..8

    The fusion benchmark of SAGE; its labels make it a segmentation set with
    MFNet's classes and convention (``unlabeled`` counted). MSRS ships no
    validation split.

    Args:
        split (str): ``'train'`` or ``'test'``: shorthand for the
            ``data_prefix`` folders. Defaults to ``'train'``.
        **kwargs: ``ann_file`` (optional stem list), ``data_prefix`` and the
            rest of :class:`PairedFolderDataset` /
            :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = MFNetDataset.METAINFO
    FOLDERS = dict(
        img_path='vi', thermal_path='ir', seg_map_path='Segmentation_labels')

    def __init__(self, split: str = 'train', **kwargs) -> None:
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(split=split, **kwargs)
