"""Panel visualizer for multi-modal (visible + N) segmentation results."""
from itertools import accumulate
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from ..datasets.transforms import LoadMultiModalImageFromFile

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def fused_image_to_rgb(fused_image: PixelData) -> np.ndarray:
    """Convert a (3, H, W) float image in [0, 1] to (H, W, 3) uint8 RGB."""
    fused = fused_image.data
    if isinstance(fused, torch.Tensor):
        fused = fused.detach().float().cpu().numpy()
    fused = np.clip(fused.transpose(1, 2, 0) * 255, 0, 255)
    return np.ascontiguousarray(fused.round().astype(np.uint8))


@VISUALIZERS.register_module(
    name=['MultiModalSegLocalVisualizer', 'RGBTSegLocalVisualizer'])
class MultiModalSegLocalVisualizer(SegLocalVisualizer):
    """Draw multi-modal results as one panel of equally sized tiles.

    The panel reads, left to right: one tile per modality group (visible,
    then thermal / depth / event / ... as the data sample's
    ``modality_channels`` and ``modality_names`` split the image) | fused
    image (when the data sample carries ``fused_image``) | prediction
    overlaid on the visible image | ground truth overlaid on the visible
    image (when drawn), above a legend strip naming the palette colour of
    every class present. A 1-channel group is drawn grey, a 3-channel one
    in colour, others from their first channels (zero-filled to 3).

    It draws the image it is given: the stacked ``(H, W, sum C_m)`` array
    of :class:`LoadMultiModalImageFromFile` (after any transform), or only its
    visible ``(H, W, 3)`` part. Two mmseg tools pass 3 channels:
    ``browse_dataset.py`` (the transformed sample's first three input
    channels, reversed for mmseg's BGR convention, so its panels show R and
    B swapped) and ``SegVisualizationHook`` (the file at ``img_path`` read
    as RGB). In the second case the other modalities are read from the
    sample's files (``img_path`` / ``modality_paths`` in the metainfo)
    when every one is an image file and their visible image equals the
    given one pixel for pixel, i.e. the sample was not transformed;
    otherwise the panel shows the given visible image only.

    Args:
        name (str): Instance name. Defaults to ``'visualizer'``.
        image (np.ndarray, optional): Initial RGB image. Defaults to None.
        vis_backends (list[dict], optional): Visual backend configs.
            Defaults to None.
        save_dir (str, optional): Save directory of the backends.
            Defaults to None.
        classes (list[str], optional): Class names. Defaults to None
            (mmseg's default, overwritten by the dataset's metainfo).
        palette (list[list[int]], optional): RGB colour per class.
            Defaults to None.
        dataset_name (str, optional): mmseg dataset alias for classes and
            palette. Defaults to None.
        alpha (float): Opacity of the class colours in the overlays.
            Defaults to 0.6.
        show_titles (bool): Caption each tile. Defaults to True.
        show_legend (bool): Append the legend strip. Defaults to True.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[List[str]] = None,
                 palette: Optional[List[List[int]]] = None,
                 dataset_name: Optional[str] = None,
                 alpha: float = 0.6,
                 show_titles: bool = True,
                 show_legend: bool = True,
                 **kwargs) -> None:
        super().__init__(
            name=name,
            image=image,
            vis_backends=vis_backends,
            save_dir=save_dir,
            alpha=alpha,
            **kwargs)
        # SegLocalVisualizer.__init__ passes classes and palette swapped.
        self.set_dataset_meta(
            classes=classes, palette=palette, dataset_name=dataset_name)
        self.show_titles = show_titles
        self.show_legend = show_legend

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: bool = False) -> None:
        """Draw the panel of one sample and save it to the backends.

        Args:
            name (str): Image identifier (window title / backend key).
            image (np.ndarray): The stacked (H, W, sum C_m) array (R, G,
                B, then the other modalities), or its (H, W, 3) visible part
                (see the class docstring).
            data_sample (SegDataSample, optional): Prediction
                (``pred_sem_seg``, optional ``fused_image``) and/or ground
                truth (``gt_sem_seg``). Defaults to None.
            draw_gt (bool): Draw the ground-truth tile. Defaults to True.
            draw_pred (bool): Draw the prediction tile. Defaults to True.
            show (bool): Display the panel in a window. Defaults to False.
            wait_time (float): Display time in seconds. Defaults to 0.
            out_file (str, optional): Write the panel here instead of to
                the backends. Defaults to None.
            step (int): Global step for the backends. Defaults to 0.
            with_labels (bool): Also write class names inside the overlays
                (the legend already names the colours). Defaults to False.
        """
        panel = self.draw_panel(image, data_sample, draw_gt, draw_pred,
                                with_labels)
        self.set_image(panel)
        if show:
            self.show(panel, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(panel), out_file)
        else:
            self.add_image(name, panel, step)

    def draw_panel(self,
                   image: np.ndarray,
                   data_sample: Optional[SegDataSample] = None,
                   draw_gt: bool = True,
                   draw_pred: bool = True,
                   with_labels: bool = False) -> np.ndarray:
        """Return the RGB panel of one sample.

        Args:
            image (np.ndarray): See :meth:`add_datasample`.
            data_sample (SegDataSample, optional): See
                :meth:`add_datasample`.
            draw_gt (bool): Draw the ground-truth tile. Defaults to True.
            draw_pred (bool): Draw the prediction tile. Defaults to True.
            with_labels (bool): Class names inside the overlays.
                Defaults to False.

        Returns:
            np.ndarray: (H + legend height, num_tiles * W, 3) uint8 RGB.
        """
        if data_sample is None:
            data_sample = SegDataSample()
        image, groups, names = self._stacked_image(image, data_sample)
        visible = np.ascontiguousarray(image[..., :3])
        bounds = list(accumulate(groups, initial=0))
        tiles = [(names[0], visible)]
        for name, start, stop in zip(names[1:], bounds[1:-1], bounds[2:]):
            tiles.append((name, self._modality_tile(image[..., start:stop])))
        if 'fused_image' in data_sample:
            fused = self._fused_tile(data_sample.fused_image,
                                     visible.shape[:2])
            tiles.append(('fused', fused))
        seg_maps = []
        if draw_pred and 'pred_sem_seg' in data_sample:
            seg_maps.append(('prediction', data_sample.pred_sem_seg))
        if draw_gt and 'gt_sem_seg' in data_sample:
            seg_maps.append(('ground truth', data_sample.gt_sem_seg))
        for title, sem_seg in seg_maps:
            tiles.append((title, self._overlay(visible, sem_seg, with_labels)))
        if self.show_titles:
            tiles = [(title, self._caption(tile, title))
                     for title, tile in tiles]
        panel = np.concatenate([tile for _, tile in tiles], axis=1)
        if self.show_legend and seg_maps:
            class_ids = self._present_class_ids(
                [sem_seg for _, sem_seg in seg_maps])
            legend = self._legend(class_ids, panel.shape[1], panel.shape[0])
            panel = np.concatenate([panel, legend], axis=0)
        return panel

    def _stacked_image(
            self, image: np.ndarray, data_sample: SegDataSample
    ) -> Tuple[np.ndarray, Tuple[int, ...], Tuple[str, ...]]:
        """The uint8 image to draw, its channel groups and their names."""
        if image.ndim == 2:
            image = image[..., None]
        metainfo = data_sample.metainfo
        groups = tuple(metainfo.get('modality_channels', ()))
        if not groups:
            groups = (3, image.shape[2] - 3) if image.shape[2] > 3 else (3, )
        if image.shape[2] == 3 and sum(groups) > 3:
            image, groups = self._complete_from_files(image, metainfo, groups)
        if image.shape[2] != sum(groups) or groups[0] != 3:
            raise ValueError(
                f'{type(self).__name__}: got an image of shape {image.shape}'
                f' for modality_channels={groups}; expected (H, W, '
                f'{sum(groups)}) with R, G, B first, or its (H, W, 3) '
                'visible part.')
        names = tuple(metainfo.get('modality_names', ()))[:len(groups)]
        if len(names) != len(groups):
            names = ('visible', 'thermal', *(
                f'modality {i}' for i in range(2, len(groups))))[:len(groups)]
        if image.dtype != np.uint8:
            image = np.clip(np.round(image), 0, 255).astype(np.uint8)
        return image, groups, names

    @staticmethod
    def _complete_from_files(
            visible: np.ndarray, metainfo: dict,
            groups: Tuple[int, ...]) -> Tuple[np.ndarray, Tuple[int, ...]]:
        """The sample's files when their visible image is ``visible``.

        Returns the stacked image and ``groups``, or ``visible`` and
        ``(3, )`` when the files are not image files or show other pixels
        (a transformed sample).
        """
        keys = ('img_path', 'modality_paths', 'modality_names',
                'modality_channels')
        results = {key: metainfo[key] for key in keys if key in metainfo}
        sources = [results.get('img_path'),
                   *(results.get('modality_paths') or ())]
        paths = [p for source in sources if source is not None
                 for p in ([source] if isinstance(source, str) else source)]
        if 'img_path' not in results or \
                any(path.endswith('.npy') for path in paths):
            return visible, (3, )
        try:
            stacked = LoadMultiModalImageFromFile(
                thermal_channels=sum(groups[1:]))(results)['img']
        except ValueError as error:
            if len(paths) > 1:
                raise
            raise ValueError(
                f'{error} MultiModalSegLocalVisualizer reads the other '
                "modalities from the data sample's metainfo: for datasets "
                "with separate modality files, list 'modality_paths' in the "
                'meta_keys of PackSegInputs.') from error
        if stacked.shape[:2] != visible.shape[:2] or \
                not np.array_equal(stacked[..., :3], visible):
            return visible, (3, )
        return stacked, groups

    @staticmethod
    def _modality_tile(group: np.ndarray) -> np.ndarray:
        """(H, W, C) channel group -> (H, W, 3) tile."""
        if group.shape[2] == 1:
            return np.repeat(group, 3, axis=2)
        tile = np.zeros(group.shape[:2] + (3, ), np.uint8)
        channels = min(3, group.shape[2])
        tile[..., :channels] = group[..., :channels]
        return tile

    @staticmethod
    def _fused_tile(fused_image: PixelData, size: tuple) -> np.ndarray:
        """(3, h, w) float image in [0, 1] -> (H, W, 3) uint8 tile."""
        fused = fused_image_to_rgb(fused_image)
        if fused.shape[:2] != tuple(size):
            fused = mmcv.imresize(fused, (size[1], size[0]))
        return fused

    def _overlay(self, visible: np.ndarray, sem_seg: PixelData,
                 with_labels: bool) -> np.ndarray:
        """Blend the palette colours of ``sem_seg`` over the visible image."""
        return self._draw_sem_seg(visible, sem_seg,
                                  self.dataset_meta['classes'],
                                  self.dataset_meta['palette'], with_labels)

    def _present_class_ids(self, sem_segs: Sequence[PixelData]) -> List[int]:
        """Valid class ids that occur in any of the label maps."""
        num_classes = len(self.dataset_meta['classes'])
        ids = set()
        for sem_seg in sem_segs:
            ids.update(np.unique(sem_seg.cpu().numpy().data).tolist())
        return sorted(i for i in ids if 0 <= i < num_classes)

    @staticmethod
    def _text_style(tile_height: int) -> Tuple[float, int]:
        """Font scale and thickness readable at the given tile height."""
        scale = max(0.35, tile_height / 800)
        return scale, 1 if scale < 0.8 else 2

    def _caption(self, tile: np.ndarray, title: str) -> np.ndarray:
        """Write ``title`` on a dark box in the tile's top-left corner."""
        scale, thickness = self._text_style(tile.shape[0])
        (width, height), baseline = cv2.getTextSize(title, _FONT, scale,
                                                    thickness)
        margin = max(2, height // 3)
        tile = tile.copy()
        cv2.rectangle(tile, (0, 0),
                      (width + 2 * margin, height + baseline + 2 * margin),
                      (0, 0, 0), -1)
        cv2.putText(tile, title, (margin, height + margin), _FONT, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
        return tile

    def _legend(self, class_ids: Sequence[int], width: int,
                tile_height: int) -> np.ndarray:
        """Strip of colour swatches and class names, wrapped to ``width``."""
        classes = self.dataset_meta['classes']
        palette = self.dataset_meta['palette']
        scale, thickness = self._text_style(tile_height)
        _, text_height = cv2.getTextSize('Ag', _FONT, scale, thickness)[0]
        swatch = text_height + 4
        pad = max(4, swatch // 2)
        rows: List[List[Tuple[int, int]]] = [[]]
        x = pad
        for class_id in class_ids:
            text_width = cv2.getTextSize(
                str(classes[class_id]), _FONT, scale, thickness)[0][0]
            entry_width = swatch + pad // 2 + text_width + pad
            if rows[-1] and x + entry_width > width:
                rows.append([])
                x = pad
            rows[-1].append((class_id, x))
            x += entry_width
        row_height = swatch + pad
        legend = np.full((len(rows) * row_height + pad, width, 3),
                         255,
                         dtype=np.uint8)
        for row_index, row in enumerate(rows):
            top = pad + row_index * row_height
            for class_id, left in row:
                color = tuple(int(c) for c in palette[class_id])
                cv2.rectangle(legend, (left, top),
                              (left + swatch, top + swatch), color, -1)
                cv2.rectangle(legend, (left, top),
                              (left + swatch, top + swatch), (128, 128, 128),
                              1)
                cv2.putText(legend, str(classes[class_id]),
                            (left + swatch + pad // 2, top + swatch - 2),
                            _FONT, scale, (0, 0, 0), thickness, cv2.LINE_AA)
        return legend
