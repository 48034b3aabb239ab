"""FMB visible-infrared segmentation dataset (Liu et al., ICCV 2023)."""
from mmseg.registry import DATASETS

from .paired_folders import PairedFolderDataset

FMB_CLASSES = ('unlabeled', 'Road', 'Sidewalk', 'Building', 'Lamp', 'Sign',
               'Vegetation', 'Sky', 'Person', 'Car', 'Truck', 'Bus',
               'Motorcycle', 'Bicycle', 'Pole')
FMB_PALETTE = [[0, 0, 0], [128, 64, 128], [244, 35, 232], [70, 70, 70],
               [250, 170, 30], [220, 220, 0], [107, 142, 35], [70, 130, 180],
               [220, 20, 60], [0, 0, 142], [0, 0, 70], [0, 60, 100],
               [0, 0, 230], [119, 11, 32], [153, 153, 153]]


@DATASETS.register_module()
class FMBDataset(PairedFolderDataset):
    """FMB: separate visible and infrared PNGs, 15 label values (0..14).

    Layout (a ``color/`` folder of RGB label renderings may exist; ignored)::

        data_root/{train,test}/Visible/<stem>.png    # RGB, 600x800
        data_root/{train,test}/Infrared/<stem>.png   # grey, 1 or 3 channels
        data_root/{train,test}/Label/<stem>.png      # values 0..14

    By default ``unlabeled`` is counted as a class (15 classes), the
    convention of the numbers FusionSAM compares against. With
    ``count_unlabeled=False`` the 14-class convention is used: ``unlabeled``
    pixels become ``ignore_index`` (255) and the other ids shift down by one
    (through mmseg's ``label_map``).

    Args:
        split (str): ``'train'`` or ``'test'``: shorthand for the
            ``data_prefix`` folders. Defaults to ``'train'``.
        count_unlabeled (bool): Count ``unlabeled`` as a class. Defaults to
            True.
        **kwargs: ``ann_file`` (optional stem list), ``data_prefix`` and the
            rest of :class:`PairedFolderDataset` /
            :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(classes=FMB_CLASSES, palette=FMB_PALETTE)
    FOLDERS = dict(
        img_path='Visible', thermal_path='Infrared', seg_map_path='Label')

    def __init__(self,
                 split: str = 'train',
                 count_unlabeled: bool = True,
                 metainfo: dict = None,
                 **kwargs) -> None:
        if not count_unlabeled and metainfo is None:
            metainfo = dict(classes=FMB_CLASSES[1:], palette=FMB_PALETTE[1:])
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(split=split, metainfo=metainfo, **kwargs)
