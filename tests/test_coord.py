import numpy as np
import pytest

from scalinglab.coord import LAYERS, coord_check, width_slopes
from scalinglab.model import GPTConfig

WIDTHS = (32, 64, 128, 256)


def checks(parameterization):
    fields = {"parameterization": "mup", "base_width": 32} if parameterization == "mup" else {}
    return [coord_check(GPTConfig(n_layer=2, d_model=d, n_head=2, context=32, **fields), steps=4, lr=1e-2,
                        batch_size=4, corpus="prose") for d in WIDTHS]


def test_coord_check_records_every_layer_at_every_step():
    [check] = [coord_check(GPTConfig(n_layer=2, d_model=32, n_head=2, context=32), steps=3, corpus="prose")]
    assert set(check) == set(LAYERS) and all(len(v) == 3 and np.all(np.isfinite(v)) for v in check.values())


def test_logits_grow_with_width_under_sp_and_keep_their_size_under_mup():
    sp, mup = width_slopes(WIDTHS, checks("sp")), width_slopes(WIDTHS, checks("mup"))
    assert sp["logits"] > 0.3 and abs(mup["logits"]) < 0.15
    assert abs(mup["embedding"]) < 0.1 and abs(sp["embedding"]) < 0.1  # the embedding's init is the same in both


def test_width_slopes_are_exact_for_power_laws():
    fake = [{layer: [1.0, 2.0 * w ** 0.5] for layer in LAYERS} for w in WIDTHS]
    assert width_slopes(WIDTHS, fake) == pytest.approx({layer: 0.5 for layer in LAYERS})
