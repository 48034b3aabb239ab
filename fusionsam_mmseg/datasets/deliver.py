"""DELIVER: RGB, depth (HHA), event and LiDAR in CARLA (Zhang et al., 2023)."""
import glob
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

from mmseg.registry import DATASETS

from .rgbt_base import MultiModalBaseDataset

DELIVER_CLASSES = ('Building', 'Fence', 'Other', 'Pedestrian', 'Pole',
                   'RoadLine', 'Road', 'SideWalk', 'Vegetation', 'Cars',
                   'Wall', 'TrafficSign', 'Sky', 'Ground', 'Bridge',
                   'RailTrack', 'GroundRail', 'TrafficLight', 'Static',
                   'Dynamic', 'Water', 'Terrain', 'TwoWheeler', 'Bus',
                   'Truck')
DELIVER_PALETTE = [[70, 70, 70], [100, 40, 40], [55, 90, 80], [220, 20, 60],
                   [153, 153, 153], [157, 234, 50], [128, 64, 128],
                   [244, 35, 232], [107, 142, 35], [0, 0, 142],
                   [102, 102, 156], [220, 220, 0], [70, 130, 180],
                   [81, 0, 81], [150, 100, 100], [230, 150, 140],
                   [180, 165, 180], [250, 170, 30], [110, 190, 160],
                   [170, 120, 50], [45, 60, 150], [145, 170, 100],
                   [0, 0, 230], [0, 60, 100], [0, 0, 70]]
# Modality -> (data_prefix key, file-name suffix that replaces ``rgb``).
DELIVER_MODALITIES = dict(
    rgb=('img_path', 'rgb'),
    depth=('depth_path', 'depth'),
    event=('event_path', 'event'),
    lidar=('lidar_path', 'lidar'))
DELIVER_PREFIX = dict(
    img_path='img',
    seg_map_path='semantic',
    depth_path='hha',
    event_path='event',
    lidar_path='lidar')


@DATASETS.register_module()
class DELIVERDataset(MultiModalBaseDataset):
    """DELIVER: 1042x1042 CARLA frames, 25 classes, up to four modalities.

    Layout (``<case>`` in cloud, fog, night, rain, sun; ``<split>`` in
    train, val, test)::

        data_root/img/<case>/<split>/<sequence>/<id>_rgb_front.png
        data_root/hha/<case>/<split>/<sequence>/<id>_depth_front.png
        data_root/event/<case>/<split>/<sequence>/<id>_event_front.png
        data_root/lidar/<case>/<split>/<sequence>/<id>_lidar_front.png
        data_root/semantic/<case>/<split>/<sequence>/<id>_semantic_front.png

    RGB is the anchor, as in the public loader: the split's samples are
    ``img/*/<split>/*/*.png`` and the other files are found by replacing the
    folder and the ``rgb`` name part. Depth is read from ``hha/`` (3-channel
    HHA encoding). Every modality keeps its 3 channels.

    Labels: channel 0 (R) of the semantic PNG (set ``label_channel=0`` in
    :class:`LoadCheckedAnnotations`); raw 0 is void and 1..25 are the
    classes, so mmseg's ``reduce_zero_label=True`` maps 0 -> 255 (ignored)
    and k -> k - 1, as the public loader does.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'test'``; shorthand used to
            list the samples when ``ann_file`` is empty. Defaults to
            ``'train'``.
        modalities (Sequence[str]): Modalities to load, ``'rgb'`` first,
            then any of ``'depth'``, ``'event'``, ``'lidar'`` in the order
            they are stacked. Defaults to all four.
        case (str | Sequence[str], optional): Keep only these ``<case>``
            folders (e.g. ``'night'``). Defaults to None (all).
        ann_file (str): mmseg's keyword: an optional list file relative to
            ``data_root``, one RGB image per line given relative to
            ``data_prefix['img_path']`` without the suffix (e.g.
            ``cloud/train/MAP_1_point2/045050_rgb_front``). Defaults to
            ``''``.
        data_prefix (dict, optional): mmseg's keyword: folders relative to
            ``data_root``; given keys override those of ``DELIVER_PREFIX``
            (``img_path``, ``seg_map_path``, ``depth_path``, ``event_path``,
            ``lidar_path``). Defaults to None.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`
            (``reduce_zero_label`` defaults to True).
    """
    METAINFO = dict(classes=DELIVER_CLASSES, palette=DELIVER_PALETTE)
    CASES = ('cloud', 'fog', 'night', 'rain', 'sun')

    def __init__(self,
                 split: str = 'train',
                 modalities: Sequence[str] = ('rgb', 'depth', 'event',
                                              'lidar'),
                 case: Union[str, Sequence[str], None] = None,
                 ann_file: str = '',
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        self.split = split
        self.modality_names = self._check_modalities(modalities,
                                                     DELIVER_MODALITIES)
        self.modality_channels = (3, ) * len(self.modality_names)
        self.cases = (case, ) if isinstance(case, str) else \
            None if case is None else tuple(case)
        kwargs.setdefault('reduce_zero_label', True)
        super().__init__(
            ann_file=ann_file,
            data_prefix={**DELIVER_PREFIX, **(data_prefix or {})},
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def _layout_hint(self) -> str:
        return ('DELIVER layout <data_root>/{img,hha,event,lidar,semantic}/'
                '<case>/<split>/<sequence>/<id>_{rgb,depth,event,lidar,'
                'semantic}_front.png')

    def _listed_images(self) -> List[Tuple[str, str]]:
        """``(rgb path, origin)`` from ``ann_file`` or the split folders."""
        img_dir = self.data_prefix['img_path']
        if self.ann_file:
            return [(osp.join(img_dir, name + self.img_suffix), origin)
                    for name, origin in self._read_split_file()]
        pattern = osp.join(img_dir, '*', self.split, '*',
                           '*' + self.img_suffix)
        paths = sorted(glob.glob(pattern))
        if not paths:
            raise ValueError(
                f'DELIVERDataset: no images match {pattern} '
                f'(split={self.split!r}); expected the {self._layout_hint()}.')
        return [(path, f'{pattern} ({osp.basename(path)!r})')
                for path in paths]

    def _keep_cases(self, entries: List[Tuple[str, str]]
                    ) -> List[Tuple[str, str]]:
        """Entries of the requested ``<case>`` folders."""
        if self.cases is None:
            return entries
        img_dir = self.data_prefix['img_path']
        case_of = {path: osp.relpath(path, img_dir).split(osp.sep)[0]
                   for path, _ in entries}
        kept = [entry for entry in entries if case_of[entry[0]] in self.cases]
        if not kept:
            raise ValueError(
                f'DELIVERDataset: case={self.cases} matches none of the '
                f'{len(entries)} {self.split!r} images under {img_dir}; '
                f'their cases are {sorted(set(case_of.values()))}.')
        return kept

    def _sample(self, rgb_path: str, origin: str) -> dict:
        """The data info of one RGB image and the files named after it."""
        folder, name = osp.split(
            osp.relpath(rgb_path, self.data_prefix['img_path']))
        if '_rgb' not in name:
            raise ValueError(
                f'DELIVERDataset: image {rgb_path} (listed in {origin}) has '
                "no '_rgb' in its name; expected <id>_rgb_front.png so the "
                'other modalities can be found by name.')
        head, tail = name.rsplit('_rgb', 1)
        tail = tail[:-len(self.img_suffix)]

        def named(key: str, suffix: str, extension: str) -> str:
            return osp.join(self.data_prefix[key], folder,
                            f'{head}_{suffix}{tail}{extension}')

        return self._make_data_info(
            img_path=rgb_path,
            seg_map_path=named('seg_map_path', 'semantic',
                               self.seg_map_suffix),
            modality_paths=[
                named(*DELIVER_MODALITIES[modality], self.img_suffix)
                for modality in self.modality_names[1:]
            ],
            origin=origin)

    def load_data_list(self) -> List[dict]:
        """List the split's RGB images and check every modality's file."""
        self._check_data_root()
        entries = self._keep_cases(self._listed_images())
        return [self._sample(path, origin) for path, origin in entries]
