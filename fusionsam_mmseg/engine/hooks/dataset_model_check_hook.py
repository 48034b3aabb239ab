"""Check that the model's settings fit the dataset before any step runs.

Two mistakes that otherwise surface late or not at all:

* ``num_classes`` of a head differs from the dataset's class count. With
  more classes than the dataset the run trains and reports an mIoU over
  classes that never occur; with fewer, cross-entropy fails deep inside
  torch with a CUDA assert or an index error naming no setting.
* the channels of the input differ from the model's ``modality_channels`` /
  the data preprocessor's mean and std, which fails in a convolution or a
  broadcast far from the config line to fix.

:class:`DatasetModelCheckHook` compares them when training, validation or
testing starts (class counts) and on the first batch of each (channels),
and raises ``ValueError`` naming the setting, the dataset and the file.
"""
from typing import Iterator, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch import nn


def _dataset_description(dataset) -> str:
    root = getattr(dataset, 'data_root', None)
    where = f' (data_root={root!r})' if root else ''
    return f'{type(dataset).__name__}{where}'


def _heads(model: nn.Module) -> Iterator[Tuple[str, nn.Module]]:
    """(config path, head) of every decode / auxiliary head."""
    for attribute in ('decode_head', 'auxiliary_head'):
        head = getattr(model, attribute, None)
        if isinstance(head, nn.ModuleList):
            for index, sub_head in enumerate(head):
                yield f'model.{attribute}[{index}]', sub_head
        elif head is not None:
            yield f'model.{attribute}', head


def check_num_classes(model: nn.Module, dataset, loader_name: str) -> None:
    """Raise ``ValueError`` when a head's ``num_classes`` != dataset classes.

    Args:
        model (nn.Module): the (unwrapped) segmentor.
        dataset: a dataset with ``metainfo['classes']``.
        loader_name (str): the config key of its data loader, for the
            message (e.g. ``'train_dataloader'``).
    """
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    if classes is None:
        return
    for setting, head in _heads(model):
        num_classes = getattr(head, 'num_classes', None)
        if num_classes is not None and num_classes != len(classes):
            raise ValueError(
                f'{setting}.num_classes={num_classes} does not match the '
                f'{len(classes)} classes of {loader_name}.dataset '
                f'{_dataset_description(dataset)}: {list(classes)}. Set '
                f'{setting}.num_classes={len(classes)} or use a dataset '
                f'with {num_classes} classes.')


def _check_modality_channels(backbone: Optional[nn.Module], metainfo: dict,
                             num_channels: int, source: str) -> None:
    """The backbone's channel groups against the sample's and its input."""
    model_modalities: Optional[Sequence[int]] = getattr(
        backbone, 'modality_channels', None)
    if model_modalities is None:
        return
    data_modalities = metainfo.get('modality_channels')
    if data_modalities is not None and \
            tuple(data_modalities) != tuple(model_modalities):
        raise ValueError(
            f'model.backbone.modality_channels={tuple(model_modalities)}'
            f' but {source} has modality_channels='
            f'{tuple(data_modalities)}. Set model.backbone.'
            f'modality_channels={tuple(data_modalities)}.')
    if sum(model_modalities) != num_channels:
        raise ValueError(
            f'model.backbone.modality_channels={tuple(model_modalities)}'
            f' expects {sum(model_modalities)} input channels, but '
            f'{source} has {num_channels}.')


def _check_modality_names(backbone: Optional[nn.Module], metainfo: dict,
                          source: str) -> None:
    """The backbone's modality order against the sample's.

    Groups of equal size (DELIVER: 3 channels each) would otherwise be fed
    to the wrong per-modality encoders without any shape error. Names the
    backbone generated itself (``m0``, ``m1``, ...) are not compared.
    """
    model_names = getattr(backbone, 'modality_names', None)
    data_names = metainfo.get('modality_names')
    if model_names is None or data_names is None:
        return
    model_names, data_names = tuple(model_names), tuple(data_names)
    generated = tuple(f'm{i}' for i in range(len(model_names)))
    if model_names != generated and model_names != data_names:
        raise ValueError(
            f'model.backbone.modality_names={model_names} but {source} '
            f'stacks the modalities {data_names}. Set model.backbone.'
            f'modality_names={data_names} (and modality_channels to match) '
            'or change the dataset\'s `modalities`.')


def check_input_channels(model: nn.Module, data_batch: dict,
                         loader_name: str) -> None:
    """Raise ``ValueError`` when a batch's channels do not fit the model.

    Compares the first sample's channel count (and its ``modality_channels``
    / ``modality_names`` metainfo, when present) with the backbone's
    ``modality_channels`` / ``modality_names`` and the data preprocessor's
    mean / std.

    Args:
        model (nn.Module): the (unwrapped) segmentor.
        data_batch (dict): a collated batch, ``inputs`` a list of
            (C, H, W) tensors or a (B, C, H, W) tensor.
        loader_name (str): config key of the data loader, for the message.
    """
    inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
    if inputs is None or len(inputs) == 0:
        return
    num_channels = int(inputs[0].shape[0])
    samples = data_batch.get('data_samples') or [None]
    metainfo = getattr(samples[0], 'metainfo', {})
    source = f"{metainfo.get('img_path', 'the first sample')} " \
             f'(from {loader_name})'
    backbone = getattr(model, 'backbone', None)
    _check_modality_channels(backbone, metainfo, num_channels, source)
    _check_modality_names(backbone, metainfo, source)
    mean = getattr(getattr(model, 'data_preprocessor', None), 'mean', None)
    if mean is not None and mean.numel() != num_channels:
        raise ValueError(
            f'model.data_preprocessor.mean/std have {mean.numel()} values '
            f'but {source} has {num_channels} channels: give one value per '
            'channel, R, G, B first, then each modality\'s channels in '
            f'modality_channels order ({metainfo.get("modality_channels")}; '
            'rgbt_mean / rgbt_std in the RGB-T configs).')


@HOOKS.register_module()
class DatasetModelCheckHook(Hook):
    """Validate ``num_classes`` and input channels against the data.

    Class counts are checked in ``before_train`` / ``before_val`` /
    ``before_test`` against the corresponding loader's dataset; channels on
    the first batch of each loop, before the data preprocessor runs.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._checked_batches = set()

    def before_train(self, runner) -> None:
        check_num_classes(self._model(runner),
                          runner.train_dataloader.dataset, 'train_dataloader')

    def before_val(self, runner) -> None:
        check_num_classes(self._model(runner), runner.val_dataloader.dataset,
                          'val_dataloader')

    def before_test(self, runner) -> None:
        check_num_classes(self._model(runner),
                          runner.test_dataloader.dataset, 'test_dataloader')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._check_first_batch(runner, data_batch, 'train_dataloader')

    def before_val_iter(self, runner, batch_idx: int,
                        data_batch=None) -> None:
        self._check_first_batch(runner, data_batch, 'val_dataloader')

    def before_test_iter(self, runner, batch_idx: int,
                         data_batch=None) -> None:
        self._check_first_batch(runner, data_batch, 'test_dataloader')

    def _check_first_batch(self, runner, data_batch,
                           loader_name: str) -> None:
        if loader_name in self._checked_batches or data_batch is None:
            return
        self._checked_batches.add(loader_name)
        check_input_channels(self._model(runner), data_batch, loader_name)

    @staticmethod
    def _model(runner) -> nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model
