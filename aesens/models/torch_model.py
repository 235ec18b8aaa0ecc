"""The base of the PyTorch models: their device, eval mode and chunked no-grad forward pass.

``torch`` is imported only when a network is run, so that this module (and
the package) imports without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class TorchModel:
    """Device and forward-pass size of a model that runs a PyTorch network.

    Parameters
    ----------
    device : str
        Torch device.
    batch_size : int
        Inputs (clips or frames) per forward pass.
    """

    def __init__(self, device: str, batch_size: int) -> None:
        self.device = device
        self.batch_size = batch_size

    def on_device(self, network: torch.nn.Module) -> torch.nn.Module:
        """``network`` moved to the model's device and put in eval mode."""
        return network.to(self.device).eval()

    def forward_chunks(self, forward: Callable[[torch.Tensor], torch.Tensor],
                       inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """``forward`` on ``inputs`` in chunks of ``batch_size`` along the first axis, no grad.

        Each chunk is moved to the device; each output is made float32 and
        brought back to the CPU, and the outputs are concatenated in order.

        Parameters
        ----------
        forward : callable
            Tensor of one chunk -> tensor with one row per input.
        inputs : numpy.ndarray or torch.Tensor
            At least one input (a numpy array is wrapped without a copy).

        Returns
        -------
        numpy.ndarray
            The rows of all chunks.
        """
        import torch

        inputs = torch.as_tensor(inputs)
        rows = []
        with torch.no_grad():
            for start in range(0, len(inputs), self.batch_size):
                chunk = inputs[start:start + self.batch_size].to(self.device)
                rows.append(forward(chunk).float().cpu().numpy())
        return np.concatenate(rows)
