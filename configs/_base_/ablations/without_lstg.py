# Ablation (A) of the paper (Fig. 4, "omitting the LSTG module"; 35.6 / 41.4
# mIoU on MFNet / FMB): no vector-quantised latent tokens at all. Each
# modality reaches FMP through a plain patch embedding of LSTG's stride
# (1/4) and width; no codebook, no reconstruction decoders, no VQ /
# reconstruction / perceptual / GAN losses. Used as
# `model = {{_base_.without_lstg}}` by configs/ablations/*_no_lstg.py.
without_lstg = dict(
    backbone=dict(
        _delete_=True,
        type='ModalityPatchEmbed',
        modality_channels=(3, 1),
        modality_names=('rgb', 'thermal'),
        embed_dims=256,
        num_downsamples=2))
