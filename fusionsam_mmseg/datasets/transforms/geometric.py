"""A fixed crop that defines the valid region of every sample."""
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CropMargins(BaseTransform):
    """Remove fixed margins from the image and every label map.

    For datasets whose files hold a band that no modality covers (MCubeS:
    the left 192 columns of the warped NIR image). The cropped region *is*
    the sample: ``img_shape`` and ``ori_shape`` become its size, so
    evaluation runs at the native resolution of that region. Place it right
    after the loading steps.

    Args:
        top (int): Rows removed at the top. Defaults to 0.
        bottom (int): Rows removed at the bottom. Defaults to 0.
        left (int): Columns removed on the left. Defaults to 0.
        right (int): Columns removed on the right. Defaults to 0.
    """

    def __init__(self,
                 top: int = 0,
                 bottom: int = 0,
                 left: int = 0,
                 right: int = 0) -> None:
        if min(top, bottom, left, right) < 0:
            raise ValueError('CropMargins: margins must be >= 0, got '
                             f'top={top}, bottom={bottom}, left={left}, '
                             f'right={right}.')
        self.top, self.bottom = top, bottom
        self.left, self.right = left, right

    def transform(self, results: dict) -> dict:
        """Crop ``img`` and every ``seg_fields`` entry."""
        height, width = results['img'].shape[:2]
        if self.top + self.bottom >= height or self.left + self.right >= width:
            raise ValueError(
                f'CropMargins: {results.get("img_path", "the image")} is '
                f'{(height, width)} (H, W); expected more than the margins '
                f'top + bottom = {self.top + self.bottom} rows and left + '
                f'right = {self.left + self.right} columns.')
        rows = slice(self.top, height - self.bottom)
        columns = slice(self.left, width - self.right)
        results['img'] = results['img'][rows, columns]
        for key in results.get('seg_fields', []):
            results[key] = results[key][rows, columns]
        results['img_shape'] = results['img'].shape[:2]
        results['ori_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(top={self.top}, bottom={self.bottom}, '
                f'left={self.left}, right={self.right})')
