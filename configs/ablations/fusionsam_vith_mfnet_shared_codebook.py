# Codebook ablation on MFNet: one codebook for both modalities
# (LSTG `share_codebook=True`), as the paper's text reads ("a learned
# codebook Z" that "aligns similar features from both modalities"). The
# paper configs keep one codebook per modality, as the authors' code trains
# it (see ../_base_/fusionsam_paper.py). Everything else (settings, data,
# protocol) is ../fusionsam_vith_mfnet.py.
#
# Stage 1 trains the shared codebook too (a per-modality stage-1 checkpoint
# does not load into one codebook): the recipe of docs/lstg.md with
#   python tools/train.py configs/lstg/lstg_vqgan_perceptual_mfnet.py \
#       --cfg-options model.backbone.share_codebook=True
# and its checkpoint at `lstg_checkpoint`.
_base_ = '../fusionsam_vith_mfnet.py'

lstg_checkpoint = (
    'checkpoints/lstg/lstg_vqgan_perceptual_mfnet_shared_codebook.pth')
model = dict(
    backbone=dict(share_codebook=True),
    part_checkpoints=dict(backbone=lstg_checkpoint))
