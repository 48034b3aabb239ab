# Stock mmseg EncoderDecoder (ResNet-18-style, in_channels=4, FCN head) on
# the bundled MFNet-layout demo data, CPU. A plugin-free RGB-T baseline.
_base_ = [
    '../_base_/models/fcn_tiny_rgbt.py', '../_base_/datasets/mfnet_demo.py',
    '../_base_/cpu_runtime.py', '../_base_/schedules/schedule_demo_cpu.py'
]
crop_size = (96, 128)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
