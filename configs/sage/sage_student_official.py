# SAGE's released student (RollingPlain/SAGE_IVIF, MIT, commit 377fdbe:
# checkpoints/checkpoints.pt) in the authors' own setting: they train on FMB,
# so this is sage_fmb.py, whose student is the released architecture (width
# 32, a bias on every conv). Convert the official file once:
#   python tools/model_converters/sage_official_to_mmseg.py \
#       ../shared/data/sage_official/checkpoints.pt \
#       checkpoints/sage/sage_student_official.pth
# Fuse pairs by the authors' test protocol (native size, OpenCV YCrCb, their
# colour conversion and rounding), e.g. their M3FD pairs:
#   python demo/fusion_demo.py configs/sage/sage_student_official.py \
#       checkpoints/sage/sage_student_official.pth \
#       --visible ../shared/data/sage_official/Vis \
#       --infrared ../shared/data/sage_official/Ir --out-dir work_dirs/fused
# FMB test split (FusionQualityMetric): tools/test.py with the same two
# arguments; fine-tuning teacher and student from the released student:
#   python tools/train.py configs/sage/sage_student_official.py \
#       --cfg-options load_from=checkpoints/sage/sage_student_official.pth
_base_ = ['./sage_fmb.py']
model = dict(student=dict(type='SAGEStudent', channels=32, conv_bias=True))
