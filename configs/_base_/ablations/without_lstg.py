# Ablation (A) of the paper (Fig. 4, "omitting the LSTG module"; 35.6 / 41.4
# mIoU on MFNet / FMB): no vector-quantised latent tokens at all. Each
# modality reaches FMP through a plain patch embedding of LSTG's stride
# (1/4) and width; no codebook, no reconstruction decoders, no VQ /
# reconstruction / perceptual / GAN losses, and so no stage-1 checkpoint to
# start from (one stage). configs/ablations/*_no_lstg.py use it as their
# model, with the modalities (modality_channels / modality_names) of the
# model base they inherit.
without_lstg = dict(
    backbone=dict(
        _delete_=True,
        type='ModalityPatchEmbed',
        embed_dims=256,
        num_downsamples=2),
    part_checkpoints=dict(backbone=None))
