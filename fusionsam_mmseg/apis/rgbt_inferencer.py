"""Inference with any multi-modal segmentation config (RGB-T, RGB-D-E-L, ...)."""
import copy
import math
import os.path as osp
import warnings
from typing import Dict, List, Optional, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config, ConfigDict
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmengine.visualization import Visualizer
from mmseg.apis import MMSegInferencer
from mmseg.registry import DATASETS, TRANSFORMS
from mmseg.structures import SegDataSample
from rich.progress import track

from ..visualization import MultiModalSegLocalVisualizer, fused_image_to_rgb
from .rgbt_inputs import MultiModalInput, resolve_inputs, stack_modalities

ConfigLike = Union[str, Config, ConfigDict, dict]
_MAX_LISTED_KEYS = 5


def _is_annotation_loader(transform: dict) -> bool:
    transform_type = str(transform.get('type', ''))
    return transform_type.startswith('Load') and 'Annotation' in transform_type


def _test_metainfo(cfg: ConfigLike) -> dict:
    """Metainfo of the config's test dataset, built without reading files.

    The dataset is built with ``lazy_init=True``, so constructor switches
    that change the classes (e.g. FMB's ``count_unlabeled``) or the
    modalities (DELIVER's ``modalities``) are honoured.
    """
    if 'test_dataloader' not in cfg:
        raise ValueError('the config has no test_dataloader; expected one '
                         'whose dataset names the classes and whose '
                         'pipeline loads images with '
                         'LoadMultiModalImageFromFile.')
    dataset_cfg = copy.deepcopy(cfg['test_dataloader']['dataset'])
    dataset_cfg.update(lazy_init=True, pipeline=[])
    return DATASETS.build(dataset_cfg).metainfo


def dataset_meta_from_config(cfg: ConfigLike) -> Dict[str, list]:
    """Classes and palette of the config's test dataset.

    Returns:
        dict: ``classes`` and ``palette``.
    """
    metainfo = _test_metainfo(cfg)
    return dict(
        classes=list(metainfo['classes']), palette=list(metainfo['palette']))


class MultiModalSegInferencer(MMSegInferencer):
    """Segment multi-modal samples; return label maps and fused images.

    The model reads the modalities its config's test dataset names
    (``modality_names`` / ``modality_channels`` of the dataset's metainfo:
    ``('rgb', 'thermal')`` for RGB-T data, ``('rgb', 'depth', 'event',
    'lidar')`` for DELIVER RGB-D-E-L, ...). The test pipeline comes from the
    config with its ``LoadMultiModalImageFromFile`` step taken out: the
    inferencer stacks every input itself into the (H, W, sum C_m) array
    that transform produces (file inputs go through the config's own
    loader, so ``.npy`` files are scaled as in training), records ``modality_channels`` and
    ``modality_names`` and runs the rest of the pipeline.

    Inputs (see :func:`resolve_inputs`; a list holds several and may mix
    them): per sample a dict ``{modality name: path, paths, folder or
    array}`` or a tuple in ``modality_names`` order (``(visible, thermal)``
    and ``dict(visible=, thermal=)`` for two-modality models), folders
    matched by file stem, a stacked image path (MFNet's 4-channel PNG) or a
    folder of them, a stacked array. A missing, extra or misnamed modality
    is an error naming the ones the model expects.

    Args:
        model (str | Config | dict): Config path or object.
        weights (str, optional): Checkpoint path. None runs the randomly
            initialised model (with a warning). Defaults to None.
        device (str, optional): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``;
            None picks the available one. Defaults to None.
        visible_order (str): Channel order of visible numpy inputs:
            ``'rgb'`` (PIL, matplotlib, this package's stacked arrays) or
            ``'bgr'`` (``cv2.imread``). Defaults to ``'rgb'``.
        scope (str): Registry scope. Defaults to ``'mmseg'``.

    Example:
        >>> inferencer = MultiModalSegInferencer(
        ...     'configs/fusionsam_tiny_demo.py', weights='iter_160.pth')
        >>> result = inferencer(('vi/00003N.png', 'ir/00003N.png'),
        ...                     out_dir='outputs')
        >>> result['predictions'].shape, result['fused_images'].shape
        ((480, 640), (480, 640, 3))
        >>> inferencer = MultiModalSegInferencer(
        ...     'configs/memorysam/memorysam_tiny_demo.py', weights='m.pth')
        >>> result = inferencer(dict(rgb='a_rgb.png', depth='a_depth.png',
        ...                          event='a_event.png', lidar='a_lidar.png'))
    """

    def __init__(self,
                 model: ConfigLike,
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 visible_order: str = 'rgb',
                 scope: str = 'mmseg') -> None:
        if visible_order not in ('rgb', 'bgr'):
            raise ValueError(f'visible_order={visible_order!r}; expected '
                             "'rgb' or 'bgr'.")
        if isinstance(model, str) and not osp.isfile(model):
            raise FileNotFoundError(f'config file {model} does not exist.')
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(
                f'checkpoint {weights} does not exist; expected a .pth file '
                'saved by tools/train.py.')
        self.visible_order = visible_order
        self.config_name = model if isinstance(model, str) else 'the config'
        self.weights = weights
        super().__init__(
            model=model, weights=weights, device=device, scope=scope)
        self.visualizer.set_dataset_meta(**self.model.dataset_meta)

    def _load_weights_to_model(self, model: torch.nn.Module,
                               checkpoint: Optional[dict],
                               cfg: ConfigLike) -> None:
        """Load weights after checking they fit the config's classes."""
        model.dataset_meta = dataset_meta_from_config(cfg)
        if checkpoint is None:
            warnings.warn('no checkpoint given: the predictions come from a '
                          'randomly initialised model.')
            return
        self._check_checkpoint_classes(checkpoint, model.dataset_meta)
        self._check_checkpoint_shapes(model, checkpoint)
        _load_checkpoint_to_model(model, checkpoint)

    def _check_checkpoint_classes(self, checkpoint: dict,
                                  config_meta: dict) -> None:
        """Raise when the checkpoint was trained on other classes."""
        dataset_meta = checkpoint.get('meta', {}).get('dataset_meta') or {}
        trained = dataset_meta.get('classes')
        if trained is not None and list(trained) != config_meta['classes']:
            raise ValueError(
                f'checkpoint {self.weights} was trained on {len(trained)} '
                f'classes {list(trained)} but {self.config_name} defines '
                f'{len(config_meta["classes"])} classes '
                f'{config_meta["classes"]}; expected the config the '
                'checkpoint was trained with.')

    def _check_checkpoint_shapes(self, model: torch.nn.Module,
                                 checkpoint: dict) -> None:
        """Raise when checkpoint tensors do not fit the model's shapes."""
        state_dict = checkpoint.get('state_dict', checkpoint)
        model_state = model.state_dict()
        mismatched = []
        for key, value in state_dict.items():
            key = key[len('module.'):] if key.startswith('module.') else key
            if key in model_state and hasattr(value, 'shape') and \
                    tuple(value.shape) != tuple(model_state[key].shape):
                mismatched.append(f'{key}: {tuple(value.shape)} in the '
                                  'checkpoint, '
                                  f'{tuple(model_state[key].shape)} in the '
                                  'model')
        if mismatched:
            shown = '; '.join(mismatched[:_MAX_LISTED_KEYS])
            if len(mismatched) > _MAX_LISTED_KEYS:
                shown += (f'; ... ({len(mismatched) - _MAX_LISTED_KEYS} more '
                          'tensors)')
            raise ValueError(
                f'checkpoint {self.weights} does not fit the model of '
                f'{self.config_name} (trained with another num_classes or '
                f'model size?): {shown}.')

    def _init_visualizer(self, cfg: ConfigLike) -> Visualizer:
        """A backend-free panel visualizer; panels go to ``out_dir``."""
        return MultiModalSegLocalVisualizer.get_instance(
            f'rgbt_inferencer_{id(self)}')

    def _init_pipeline(self, cfg: ConfigLike) -> Compose:
        """The config's test pipeline without loading steps.

        The config's ``LoadMultiModalImageFromFile`` is kept as ``self.loader``
        for file inputs; annotation loaders are dropped. The modalities the
        model reads are set here from the test dataset's metainfo.
        """
        pipeline_cfg = copy.deepcopy(
            cfg['test_dataloader']['dataset']['pipeline'])
        loader_index = self._get_transform_idx(pipeline_cfg,
                                               'LoadMultiModalImageFromFile')
        if loader_index == -1:
            raise ValueError(
                f'the test pipeline of {self.config_name} has no '
                'LoadMultiModalImageFromFile step; expected an RGB-T config '
                'whose test_dataloader.dataset.pipeline loads images with '
                "dict(type='LoadMultiModalImageFromFile').")
        self.loader = TRANSFORMS.build(pipeline_cfg.pop(loader_index))
        metainfo = _test_metainfo(cfg)
        self.modality_names = tuple(
            metainfo.get('modality_names', ('rgb', 'thermal')))
        self.modality_channels = tuple(
            metainfo.get('modality_channels',
                         (3, self.loader.thermal_channels)))
        return Compose([
            transform for transform in pipeline_cfg
            if not _is_annotation_loader(transform)
        ])

    def load(self, item: MultiModalInput, name: str = 'input') -> dict:
        """Stack one sample as LoadMultiModalImageFromFile stacks its files.

        Args:
            item (MultiModalInput): The sample.
            name (str): Its name in error messages. Defaults to 'input'.

        Returns:
            dict: ``img`` (H, W, sum C_m) on the 0..255 scale (uint8 for
            8-bit inputs), visible R, G, B first, ``img_shape``,
            ``ori_shape``, ``modality_channels``, ``modality_names`` and,
            for file inputs, ``img_path`` / ``modality_paths``.
        """
        layout = dict(
            modality_names=self.modality_names,
            modality_channels=self.modality_channels)
        if isinstance(item.sources[0], str):
            results = dict(img_path=item.sources[0], **layout)
            if not item.stacked:
                results['modality_paths'] = item.sources[1:]
            return self.loader(results)
        image = stack_modalities(item.sources, self.modality_names,
                                 self.modality_channels, self.visible_order,
                                 self.loader.npy_value_ranges,
                                 f'input {name}')
        return dict(
            img=image,
            img_shape=image.shape[:2],
            ori_shape=image.shape[:2],
            **layout)

    def _pack(self, results: dict) -> Tuple[dict, np.ndarray]:
        """Run the pipeline; also return the image to draw the panel from.

        That image is the last one, before packing, whose size is the
        sample's ``ori_shape`` (the size predictions come back at): the
        loaded image, or the region a cropping step such as ``CropMargins``
        keeps.
        """
        panel_image = results['img']
        for transform in self.pipeline.transforms:
            if 'img' in results and tuple(results['img'].shape[:2]) == \
                    tuple(results['ori_shape'][:2]):
                panel_image = results['img']
            results = transform(results)
        return results, panel_image

    def _predict(
            self,
            loaded: List[dict]) -> Tuple[List[SegDataSample], List[np.ndarray]]:
        """Run the pipeline and the model; one prediction per input.

        Inputs whose pipeline outputs differ in size are forwarded in
        separate batches (mmseg's test-time preprocessor needs one size).

        Returns:
            tuple: the predictions and the images their panels show.
        """
        packed, panel_images = zip(
            *[self._pack(copy.copy(results)) for results in loaded])
        groups: Dict[Tuple[int, ...], List[int]] = {}
        for index, data in enumerate(packed):
            groups.setdefault(tuple(data['inputs'].shape), []).append(index)
        preds: List[Optional[SegDataSample]] = [None] * len(packed)
        for indices in groups.values():
            batch = self.collate_fn([packed[i] for i in indices])
            for index, pred in zip(indices, self.forward(batch)):
                preds[index] = pred
        return preds, list(panel_images)

    def __call__(self,
                 inputs,
                 batch_size: int = 1,
                 out_dir: str = '',
                 return_logits: bool = False,
                 return_vis: bool = False,
                 return_datasamples: bool = False,
                 opacity: float = 0.6,
                 show: bool = False,
                 wait_time: float = 0,
                 show_progress: Optional[bool] = None) -> dict:
        """Segment the inputs.

        Args:
            inputs: Samples given per modality, stacked paths, folders or
                arrays (class docstring).
            batch_size (int): Images per forward pass. Defaults to 1.
            out_dir (str): When set, write ``pred/<name>.png`` (class ids),
                ``mask/<name>.png`` (palette colours), ``vis/<name>.png``
                (panel) and ``fused/<name>.png`` (fused image, when the
                model makes one). Names are the first modality's file
                stems, or a running number for arrays. Defaults to ``''``.
            return_logits (bool): Also return per-class logits (C, H, W).
                Defaults to False.
            return_vis (bool): Also return the panels (RGB). Defaults to
                False.
            return_datasamples (bool): Return the
                :class:`SegDataSample` predictions instead of the dict
                (files are still written). Defaults to False.
            opacity (float): Opacity of the class colours in the panel.
                Defaults to 0.6.
            show (bool): Display each panel in a window. Defaults to False.
            wait_time (float): Display time in seconds. Defaults to 0.
            show_progress (bool, optional): Show a progress bar; None shows
                it when the inputs span more than one batch. Defaults to
                None.

        Returns:
            dict: ``names``, ``predictions`` ((H, W) int64 label maps) and,
            when available or asked for, ``fused_images`` ((H, W, 3) uint8
            RGB), ``logits`` and ``visualization``. Each value is a list,
            or a single item when ``inputs`` was one image.
        """
        items, single = resolve_inputs(inputs, self.modality_names)
        self.visualizer.alpha = opacity
        results: Dict[str, list] = dict(names=[], predictions=[])
        all_preds = []
        chunks = self._get_chunk_data(items, batch_size)
        if show_progress or (show_progress is None
                             and len(items) > batch_size):
            chunks = track(
                chunks,
                total=math.ceil(len(items) / batch_size),
                description='Inference')
        for chunk in chunks:
            names = [
                item.name or f'{self.num_pred_imgs + index:08d}'
                for index, item in enumerate(chunk)
            ]
            self.num_pred_imgs += len(chunk)
            loaded = [
                self.load(item, name) for item, name in zip(chunk, names)
            ]
            for name, pred, image in zip(names, *self._predict(loaded)):
                all_preds.append(pred)
                outputs = self._outputs(name, pred, return_logits)
                if out_dir:
                    self._save(out_dir, outputs)
                if out_dir or return_vis or show:
                    self.visualizer.add_datasample(
                        name,
                        image,
                        pred,
                        draw_gt=False,
                        show=show,
                        wait_time=wait_time,
                        out_file=osp.join(out_dir, 'vis', f'{name}.png')
                        if out_dir else None)
                if return_vis:
                    outputs['visualization'] = self.visualizer.get_image()
                for key, value in outputs.items():
                    results.setdefault(key, []).append(value)
        if return_datasamples:
            return all_preds[0] if single else all_preds
        return {key: value[0] for key, value in results.items()} \
            if single else results

    @staticmethod
    def _outputs(name: str, pred: SegDataSample,
                 return_logits: bool) -> Dict[str, Union[str, np.ndarray]]:
        """Numpy outputs of one prediction, keyed like the results dict."""
        outputs = dict(
            names=name, predictions=pred.pred_sem_seg.data[0].cpu().numpy())
        if 'fused_image' in pred:
            outputs['fused_images'] = fused_image_to_rgb(pred.fused_image)
        if return_logits:
            outputs['logits'] = pred.seg_logits.data.detach().cpu().float(
            ).numpy()
        return outputs

    def _save(self, out_dir: str, outputs: dict) -> None:
        """Write the label map, colour mask and fused image of one input."""
        name, label = outputs['names'], outputs['predictions']
        palette = np.asarray(self.model.dataset_meta['palette'], np.uint8)
        dtype = np.uint8 if len(palette) <= 256 else np.uint16
        mmcv.imwrite(
            label.astype(dtype), osp.join(out_dir, 'pred', f'{name}.png'))
        mmcv.imwrite(
            mmcv.rgb2bgr(palette[label]),
            osp.join(out_dir, 'mask', f'{name}.png'))
        if 'fused_images' in outputs:
            mmcv.imwrite(
                mmcv.rgb2bgr(outputs['fused_images']),
                osp.join(out_dir, 'fused', f'{name}.png'))


# The earlier name, kept so existing scripts keep working.
RGBTSegInferencer = MultiModalSegInferencer
