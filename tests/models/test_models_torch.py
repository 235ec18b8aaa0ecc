"""Tests of the torch base of the models: device and eval mode, chunked forward, state dicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aesens.errors import AesensError
from aesens.models.torch_model import TorchModel
from aesens.models.weights import WeightsFile, load_state_dict

torch = pytest.importorskip("torch")

SPEC = WeightsFile(model="toy", filename="toy.pth", url="https://example.org/toy.pth",
                   env_var="AESENS_TOY_WEIGHTS")


def test_on_device_puts_the_network_in_eval_mode():
    network = torch.nn.Dropout(0.5).train()
    assert TorchModel("cpu", 2).on_device(network) is network and not network.training


@pytest.mark.parametrize("inputs", [np.arange(14, dtype=np.float64).reshape(7, 2),
                                    torch.arange(14, dtype=torch.float64).reshape(7, 2)])
def test_forward_chunks_runs_batch_size_rows_at_a_time_in_order_without_grad(inputs):
    sizes = []

    def forward(chunk):
        assert not torch.is_grad_enabled()
        sizes.append(len(chunk))
        return chunk * 2

    rows = TorchModel("cpu", 3).forward_chunks(forward, inputs)
    assert sizes == [3, 3, 1]
    assert rows.dtype == np.float32
    np.testing.assert_array_equal(rows, np.arange(14).reshape(7, 2) * 2)


def test_load_state_dict_names_the_file_the_network_and_the_published_one():
    network = torch.nn.Linear(2, 3)
    with pytest.raises(AesensError, match=r"^/w/x\.pth does not fit the toy network \(.*size "
                                          r"mismatch.*\); it is not toy\.pth: download it from "
                                          r"https://example\.org/toy\.pth$"):
        load_state_dict(network, {"weight": torch.zeros(4, 2), "bias": torch.zeros(3)},
                        Path("/w/x.pth"), SPEC, "the toy network")


def test_load_state_dict_returns_the_missing_keys_unless_strict():
    network = torch.nn.Linear(2, 3)
    state = {"weight": torch.ones(3, 2)}
    assert load_state_dict(network, state, Path("x.pth"), SPEC, "it", strict=False) == ["bias"]
    assert torch.equal(network.weight, torch.ones(3, 2))
    with pytest.raises(AesensError, match="Missing key"):
        load_state_dict(network, state, Path("x.pth"), SPEC, "it")
