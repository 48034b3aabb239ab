"""How strongly the prototype loss pulls against the cross-entropy.

MemorySAM trains with OHEM cross-entropy plus the SPMM prototype loss. For
each training batch of a MemorySAM config this measures, over the trained
parameters (LoRA, mask decoder), the gradient norm of

- the cross-entropy of the config's decode head (``loss_decode`` with its
  pixel sampler),
- :class:`PrototypeMemoryLoss` in our form at weight 1,
- :class:`PrototypeMemoryLoss` with ``official_compat=True`` at weight 1
  (the official formula, x 65536),

each loss keeping its own prototype memory across the batches, and prints
the ratios ||grad prototype|| / ||grad CE|| per batch, their medians, and the
``loss_weight`` that gives our form the official form's median ratio. The
first batch only fills the memories and is not counted. The model is not
trained: the figures describe the start of a run.

``--image-size`` sets SAM2's input side (backbone and head); at 1024 the
stride-4 features the prototype loss reads are 256 x 256, the pixel counts
of the official 1024 x 1024 crops, whatever the data's size::

    python tools/dataset_converters/make_demo_rgbt.py --format deliver \
        --out data/demo_deliver
    python tools/analysis/prototype_gradient_ratio.py \
        configs/memorysam/memorysam_tiny_demo.py \
        --data-root data/demo_deliver --image-size 1024 --batches 9
"""
import argparse
import statistics
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.runner import Runner, set_random_seed
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

import fusionsam_mmseg  # noqa: F401  (registers the plugin)

FORMS = {'ours': False, 'official': True}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='a MemorySAM config')
    parser.add_argument('--data-root', help='override the train data root')
    parser.add_argument(
        '--image-size', type=int,
        help="SAM2's input side (backbone and head); default: the config's")
    parser.add_argument('--batches', type=int, default=9,
                        help='training batches to measure (default: 9)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed of the weights and the data '
                        'augmentations (default: 0)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (default: 1)')
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> Config:
    """The config with random SAM2 weights and the overrides asked for."""
    cfg = Config.fromfile(args.config)
    for part in ('backbone', 'decode_head'):
        cfg.model[part].checkpoint = None
        if args.image_size:
            cfg.model[part].image_size = args.image_size
    if args.data_root:
        cfg.train_dataloader.dataset.data_root = args.data_root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    return cfg


def gradient_norm(loss: torch.Tensor,
                  params: List[torch.nn.Parameter]) -> float:
    """L2 norm of d loss / d params over all of them."""
    grads = torch.autograd.grad(loss, params, retain_graph=True,
                                allow_unused=True)
    squares = [grad.pow(2).sum() for grad in grads if grad is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


def batch_ratios(model, batch: dict,
                 prototype_losses: Dict[str, torch.nn.Module],
                 params: List[torch.nn.Parameter]) -> Dict[str, float]:
    """Gradient-norm ratio of each prototype form to the cross-entropy."""
    data = model.data_preprocessor(batch, training=True)
    head = model.decode_head
    logits, features = head.forward_frames(model.extract_feat(data['inputs']))
    losses = head.loss_by_feat(torch.stack(logits).mean(dim=0),
                               data['data_samples'])
    ce = gradient_norm(losses[head.loss_decode.loss_name], params)
    features = torch.stack(features).mean(dim=0)
    labels = head._stack_batch_gt(data['data_samples'])
    return {name: gradient_norm(loss(features, labels), params) / ce
            for name, loss in prototype_losses.items()}


def measure(cfg: Config, batches: int,
            seed: int = 0) -> List[Dict[str, float]]:
    """Per batch after the first, the ratio of each form."""
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    head = model.decode_head
    prototype_losses = {
        name: MODELS.build(
            dict(type='PrototypeMemoryLoss', num_classes=head.num_classes,
                 feature_channels=head.loss_prototype.feature_channels,
                 ignore_index=head.ignore_index, loss_weight=1.0,
                 official_compat=compat))
        for name, compat in FORMS.items()
    }
    params = [param for param in model.parameters() if param.requires_grad]
    loader = iter(Runner.build_dataloader(cfg.train_dataloader,
                                           seed=seed))
    ratios = []
    for index in range(batches):
        ratio = batch_ratios(model, next(loader), prototype_losses, params)
        if index:
            ratios.append(ratio)
    return ratios


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; prints the table and returns 0."""
    args = parse_args(argv)
    set_random_seed(args.seed)  # weights and augmentations alike
    torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    cfg = load_config(args)
    ratios = measure(cfg, args.batches, args.seed)
    print('batch  ours/CE    official/CE')
    for index, ratio in enumerate(ratios, start=2):
        print(f'{index:5d}  {ratio["ours"]:.4g}  {ratio["official"]:.4g}')
    medians = {name: statistics.median(r[name] for r in ratios)
               for name in FORMS}
    print(f'median ours/CE = {medians["ours"]:.4g}, official/CE = '
          f'{medians["official"]:.4g}; loss_weight of ours at the official '
          f'ratio = {medians["official"] / medians["ours"]:.4g}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
