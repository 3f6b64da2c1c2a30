"""The coordinate check (Yang et al. 2022, Appendix D): does each layer's output keep its size as the model widens?

A parameterization is right for width when, over the first steps of training, the typical size of
each layer's output, its mean |coordinate|, neither grows nor shrinks with the width. Train models of
several widths for a few Adam steps and compare: under the standard parameterization the logits and
the blocks' outputs grow with width after the first update; under muP they stay put.
"""
import numpy as np
import torch

from scalinglab.data import Batches, load_corpus
from scalinglab.model import GPTConfig, build
from scalinglab.train import TrainConfig, make_optimizer

LAYERS = ("embedding", "attention", "mlp", "logits")


def coord_check(config: GPTConfig, steps=5, lr=1e-2, batch_size=8, seed=0, corpus="poetry"):
    """Mean |activation| of each layer at each of `steps` Adam steps at a constant lr, on the training batch
    of that step before its update (so step 0 is the initialisation).

    Returns {layer: [one value per step]} for embedding (the block input), attention and mlp (the
    blocks' outputs into the residual stream, averaged over blocks) and logits.
    """
    torch.manual_seed(seed)
    model = build(config)
    optimizer = make_optimizer(model, TrainConfig(tokens=steps * batch_size * config.context, lr=lr,
                                                  weight_decay=0.0), "cpu")
    seen = {layer: [] for layer in LAYERS}

    def record(layer):
        def hook(module, inputs, output):
            value = inputs[0] if layer == "embedding" else output[0] if layer == "logits" else output
            seen[layer].append(value.detach().abs().mean().item())
        return hook

    embedding = record("embedding")
    hooks = [model.blocks[0].register_forward_pre_hook(lambda module, inputs: embedding(module, inputs, None)),
             model.register_forward_hook(record("logits"))]
    hooks += [block.attn.register_forward_hook(record("attention")) for block in model.blocks]
    hooks += [block.mlp.register_forward_hook(record("mlp")) for block in model.blocks]
    batches = Batches(load_corpus(corpus, "train"), batch_size, config.context, seed=seed)
    try:
        for _ in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_mult"]
            x, y = next(batches)
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        for hook in hooks:
            hook.remove()
    blocks = len(model.blocks)
    return {layer: (np.mean(np.reshape(values, (steps, blocks)), axis=1) if layer in ("attention", "mlp")
                    else np.array(values)).tolist() for layer, values in seen.items()}


def width_slopes(widths, checks, step=-1):
    """The slope of log mean |activation| against log width, per layer, at one step (default the last):
    about 0 when a layer keeps its size as the model widens. checks: coord_check results, one per width."""
    log_w = np.log(np.asarray(widths, dtype=float))
    return {layer: float(np.polyfit(log_w, np.log([c[layer][step] for c in checks]), 1)[0]) for layer in LAYERS}
