"""FMB visible-infrared segmentation dataset (Liu et al., ICCV 2023)."""
from mmseg.registry import DATASETS

from .paired_folders import PairedFolderDataset

FMB_CLASSES = ('unlabeled', 'Road', 'Sidewalk', 'Building', 'Lamp', 'Sign',
               'Vegetation', 'Sky', 'Person', 'Car', 'Truck', 'Bus',
               'Motorcycle', 'Bicycle', 'Pole')
# The thing classes: those Cityscapes, whose class definitions FMB follows,
# annotates as countable instances. Road, sidewalk, building, vegetation and
# sky fill most of an image; lamps, signs and poles are Cityscapes stuff.
FMB_THING_CLASSES = ('Person', 'Car', 'Truck', 'Bus', 'Motorcycle', 'Bicycle')
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

    ``METAINFO['fusion_mask_classes']`` names the classes FusionSAM's fusion
    mask treats as objects: the thing classes (:data:`FMB_THING_CLASSES`),
    so its box and points fall on objects instead of spanning the road and
    the sky; the configs give their label ids as ``fusion_mask_classes``.

    Args:
        split (str): ``'train'`` or ``'test'``: shorthand for the
            ``data_prefix`` folders. Defaults to ``'train'``.
        count_unlabeled (bool): Count ``unlabeled`` as a class. Defaults to
            True.
        **kwargs: ``ann_file`` (optional stem list), ``data_prefix`` and the
            rest of :class:`PairedFolderDataset` /
            :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(
        classes=FMB_CLASSES,
        palette=FMB_PALETTE,
        fusion_mask_classes=FMB_THING_CLASSES)
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
