"""Packaging for fusionsam_mmseg (an MMSegmentation 1.x plugin).

The heavy stack (torch, mmcv built with ops) is installed by
``make install``; see README.md. ``install_requires`` lists what pip can
resolve without pulling a CUDA torch.
"""
from setuptools import find_packages, setup

setup(
    name='fusionsam_mmseg',
    version='0.1.0',
    description='FusionSAM (SAM-driven visible + infrared fusion segmentation) '
    'for MMSegmentation 1.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['fusionsam_mmseg', 'fusionsam_mmseg.*']),
    python_requires='>=3.10,<3.13',
    install_requires=[
        'mmengine==0.10.7',
        'mmsegmentation==1.2.2',
        'mmpretrain==1.2.0',
        'segment-anything==1.0',
        'torchmetrics==1.9.0',
        'ftfy',
        'regex',
    ],
    extras_require={
        'sam2': ['hydra-core', 'iopath', 'tqdm'],
        'tests': ['pytest'],
    },
    license='Apache-2.0',
)
