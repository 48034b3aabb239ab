"""Your own multi-modal data: one folder per modality, described in the config."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmseg.registry import DATASETS

from .rgbt_base import MultiModalBaseDataset

LABEL_FORMATS = ('id', 'color')


@DATASETS.register_module()
class MultiModalFolderDataset(MultiModalBaseDataset):
    """Samples stored as one file per modality, matched by file stem.

    Layout (every folder name and suffix comes from the config)::

        data_root/<folder of modality 0>/<stem><suffix 0>   # visible, 3 ch.
        data_root/<folder of modality 1>/<stem><suffix 1>   # e.g. thermal
        ...
        data_root/<seg_map_path>/<stem><seg_map_suffix>     # labels
        data_root/<ann_file>                                # stems, 1 a line

    ``tools/dataset_converters/prepare_own_dataset.py`` checks such a
    folder, turns colour labels into id labels and writes the split files.

    Example::

        dataset = dict(
            type='MultiModalFolderDataset',
            data_root='data/my_rgbt',
            metainfo=dict(classes=('background', 'person', 'car'),
                          palette=[[0, 0, 0], [220, 20, 60], [0, 0, 142]]),
            modalities=[
                dict(name='rgb', folder='visible', suffix='.jpg',
                     channels=3),
                dict(name='thermal', folder='infrared', channels=1)],
            data_prefix=dict(seg_map_path='labels'),
            label_format='color',
            ann_file='splits/train.txt')

    Every sample's files are checked when the dataset is built (a missing
    file names the split line it came from); sizes, channels and label
    values are checked when a sample is loaded, by
    :class:`LoadMultiModalImageFromFile` and :class:`LoadCheckedAnnotations`.

    Args:
        modalities (Sequence[dict]): One dict per modality, in stacking
            order, visible first: ``name`` (what the model and
            :class:`DropModality` call it), ``folder`` (relative to
            ``data_root``), ``channels`` (3 for the visible modality; a grey
            image stored in 3 equal channels counts as 1) and ``suffix``
            (default ``'.png'``; ``'.npy'`` files need
            ``npy_value_ranges`` in the loader).
        metainfo (dict): mmseg's keyword; must give ``classes`` and
            ``palette`` (one R, G, B colour per class, in class order).
        label_format (str): ``'id'``: single-channel PNGs of class ids
            (255 ignored); ``'color'``: RGB PNGs of palette colours, mapped to
            the ids of the palette's order when loaded (every colour must be
            in the palette). Defaults to ``'id'``.
        ann_file (str): mmseg's keyword: a list of stems (one per line,
            relative to ``data_root``); ``''`` takes every file of the first
            modality's folder. Defaults to ``''``.
        data_prefix (dict, optional): mmseg's keyword; ``seg_map_path`` is
            the label folder. Defaults to ``dict(seg_map_path='labels')``.
        seg_map_suffix (str): Label file suffix. Defaults to ``'.png'``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    def __init__(self,
                 modalities: Sequence[dict],
                 metainfo: Optional[dict] = None,
                 label_format: str = 'id',
                 ann_file: str = '',
                 data_prefix: Optional[dict] = None,
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        self.modalities = self._check_modality_specs(modalities)
        self.modality_names = tuple(m['name'] for m in self.modalities)
        self.modality_channels = tuple(m['channels'] for m in self.modalities)
        self._check_metainfo(metainfo, label_format)
        self.label_format = label_format
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_prefix={
                'seg_map_path': 'labels',
                **(data_prefix or {}), 'img_path': self.modalities[0]['folder']
            },
            img_suffix=self.modalities[0]['suffix'],
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    @staticmethod
    def _check_modality_specs(modalities: Sequence[dict]) -> List[dict]:
        """Validate ``modalities``; fill in the default suffix."""
        specs = [{'suffix': '.png', **m} for m in modalities or ()]
        keys = {'name', 'folder', 'channels', 'suffix'}
        problems = [
            f'entry {index} {dict(spec)} ' + (
                f'lacks {sorted(keys - set(spec))}' if keys - set(spec) else
                f'has unknown keys {sorted(set(spec) - keys)}')
            for index, spec in enumerate(specs) if set(spec) != keys
        ]
        names = [spec.get('name') for spec in specs]
        if not specs or problems or len(set(names)) != len(names) or \
                specs[0].get('channels') != 3:
            raise ValueError(
                'MultiModalFolderDataset: modalities='
                f'{[dict(m) for m in modalities or ()]}'
                f'{": " + "; ".join(problems) if problems else ""}; expected '
                "one dict(name=..., folder=..., channels=..., suffix='.png') "
                'per modality, distinct names, the 3-channel visible one '
                'first.')
        return specs

    @staticmethod
    def _check_metainfo(metainfo: Optional[dict], label_format: str) -> None:
        """Classes and palette must be given and agree; known label format."""
        if label_format not in LABEL_FORMATS:
            raise ValueError(
                f'MultiModalFolderDataset: label_format={label_format!r}; '
                f'expected one of {LABEL_FORMATS}.')
        classes = (metainfo or {}).get('classes')
        palette = (metainfo or {}).get('palette')
        if not classes or palette is None or len(palette) != len(classes) \
                or any(len(colour) != 3 for colour in palette):
            raise ValueError(
                'MultiModalFolderDataset: metainfo='
                f'{metainfo}; expected metainfo=dict(classes=(...), '
                'palette=[[R, G, B], ...]) with one colour per class.')
        if len({tuple(colour) for colour in palette}) != len(palette):
            raise ValueError(
                f'MultiModalFolderDataset: palette {list(palette)} repeats '
                'a colour; expected one distinct colour per class (colour '
                'labels are read through it).')

    def _num_label_values(self) -> int:
        return len(self._metainfo['classes']) + int(self.reduce_zero_label)

    def _folder(self, spec: dict) -> str:
        return osp.join(self.data_root or '', spec['folder'])

    def _layout_hint(self) -> str:
        folders = ', '.join(
            f'{self._folder(m)}/<stem>{m["suffix"]} ({m["name"]})'
            for m in self.modalities)
        return (f'MultiModalFolderDataset layout: {folders} and '
                f'{self.data_prefix["seg_map_path"]}/<stem>'
                f'{self.seg_map_suffix} (labels), as its `modalities` and '
                '`data_prefix` say')

    def _listed_stems(self) -> List[Tuple[str, str]]:
        """``(stem, origin)`` of every file in the first modality's folder."""
        first = self.modalities[0]
        folder = self._folder(first)
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'MultiModalFolderDataset: folder {folder} does not exist; '
                f'expected the {self._layout_hint()}.')
        stems = sorted(name[:-len(first['suffix'])]
                       for name in os.listdir(folder)
                       if name.endswith(first['suffix']))
        if not stems:
            raise ValueError(
                f'MultiModalFolderDataset: folder {folder} holds no '
                f'*{first["suffix"]} file; expected the '
                f'{self._layout_hint()}.')
        return [(stem, f'{folder} ({stem!r})') for stem in stems]

    def load_data_list(self) -> List[dict]:
        """List the samples and check every file of each."""
        self._check_data_root()
        entries = self._read_split_file() if self.ann_file else \
            self._listed_stems()
        data_list = []
        for stem, origin in entries:
            paths = [
                osp.join(self._folder(m), stem + m['suffix'])
                for m in self.modalities
            ]
            data_info = self._make_data_info(
                img_path=paths[0],
                seg_map_path=osp.join(self.data_prefix['seg_map_path'],
                                      stem + self.seg_map_suffix),
                modality_paths=paths[1:],
                origin=origin)
            if self.label_format == 'color':
                data_info['label_palette'] = [
                    list(colour) for colour in self._metainfo['palette']
                ]
            data_list.append(data_info)
        return data_list
