"""Panel visualizer for visible + thermal segmentation results."""
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

from ..datasets.transforms import LoadRGBTImageFromFile

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def fused_image_to_rgb(fused_image: PixelData) -> np.ndarray:
    """Convert a (3, H, W) float image in [0, 1] to (H, W, 3) uint8 RGB."""
    fused = fused_image.data
    if isinstance(fused, torch.Tensor):
        fused = fused.detach().float().cpu().numpy()
    fused = np.clip(fused.transpose(1, 2, 0) * 255, 0, 255)
    return np.ascontiguousarray(fused.round().astype(np.uint8))


@VISUALIZERS.register_module()
class RGBTSegLocalVisualizer(SegLocalVisualizer):
    """Draw RGB-T results as one panel of equally sized tiles.

    The panel reads, left to right: visible | thermal | fused image (when
    the data sample carries ``fused_image``) | prediction overlaid on the
    visible image | ground truth overlaid on the visible image (when drawn),
    above a legend strip naming the palette colour of every class present.

    ``add_datasample`` takes the stacked ``(H, W, 3 + Ct)`` array of
    :class:`LoadRGBTImageFromFile` (R, G, B, thermal). mmseg's
    ``SegVisualizationHook`` instead passes the file at ``img_path`` decoded
    as 3-channel RGB, which loses the thermal (alpha of an MFNet PNG) or
    never reads it (FMB's separate infrared file). When the data sample's
    ``modality_channels`` promise more channels than the image has, the
    stacked image is reloaded from the sample's ``img_path`` (and
    ``thermal_path``) through :class:`LoadRGBTImageFromFile`.

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
            image (np.ndarray): Stacked (H, W, 3 + Ct) R, G, B, thermal
                array, or the (H, W, 3) RGB decoding of ``img_path`` (then
                reloaded, see the class docstring).
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
        image, modality_channels = self._rgbt_image(image, data_sample)
        visible = np.ascontiguousarray(image[..., :3])
        tiles = [('visible', visible)]
        if len(modality_channels) > 1:
            tiles.append(('thermal', self._thermal_tile(image[..., 3:])))
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

    def _rgbt_image(
            self, image: np.ndarray,
            data_sample: SegDataSample) -> Tuple[np.ndarray, Tuple[int, ...]]:
        """Return the stacked uint8 image and its modality channel split."""
        if image.ndim == 2:
            image = image[..., None]
        metainfo = data_sample.metainfo
        modality_channels = tuple(metainfo.get('modality_channels', ()))
        if modality_channels and image.shape[2] != sum(modality_channels):
            image = self._reload_rgbt(image, metainfo, modality_channels)
        if not modality_channels:
            modality_channels = (3, image.shape[2] - 3) \
                if image.shape[2] > 3 else (3, )
        if image.shape[2] < 3:
            raise ValueError(
                f'{type(self).__name__}: got an image of shape '
                f'{image.shape}; expected (H, W, 3 + thermal channels) with '
                'R, G, B first.')
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        return image, modality_channels

    @staticmethod
    def _reload_rgbt(image: np.ndarray, metainfo: dict,
                     modality_channels: Tuple[int, ...]) -> np.ndarray:
        """Reload the stacked RGB-T array from the sample's file paths."""
        img_path = metainfo.get('img_path')
        if img_path is None:
            raise ValueError(
                f'RGBTSegLocalVisualizer: got a {image.shape[2]}-channel '
                f'image but the data sample has modality_channels='
                f'{modality_channels} and no img_path to reload it from; '
                f'expected the stacked (H, W, {sum(modality_channels)}) '
                'R, G, B, thermal array.')
        thermal_path = metainfo.get('thermal_path')
        loader = LoadRGBTImageFromFile(
            thermal_channels=sum(modality_channels[1:]))
        try:
            results = loader(
                dict(img_path=img_path, thermal_path=thermal_path))
        except ValueError as error:
            if thermal_path is not None:
                raise
            raise ValueError(
                f'{error} RGBTSegLocalVisualizer reloads the pair from the '
                "data sample's metainfo: for datasets with separate thermal "
                "files, list 'thermal_path' in the meta_keys of "
                'PackSegInputs.') from error
        return results['img']

    @staticmethod
    def _thermal_tile(thermal: np.ndarray) -> np.ndarray:
        """Show one thermal channel as grey (three channels as colour)."""
        if thermal.shape[2] == 3:
            return np.ascontiguousarray(thermal)
        return np.repeat(thermal[..., :1], 3, axis=2)

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
