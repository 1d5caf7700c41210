"""The MNIST classifier whose penultimate representation (p = 9216) the GMM chapter studies."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

FEATURE_DIM = 64 * 12 * 12  # 9216


class MnistCNN(nn.Module):
    """Two 3x3 convolutions (32, 64 channels) and a 2x2 max pool -> 9216 features -> 128 -> 10 logits."""

    def __init__(self, dropout: float = 0.25) -> None:
        """Create the two convolutions and the two linear layers after the representation."""
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(FEATURE_DIM, 128)
        self.fc2 = nn.Linear(128, 10)
        self.dropout = nn.Dropout(dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation x_rep (B, 9216): conv-ReLU, conv-ReLU, max pool, flatten."""
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return torch.flatten(x, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 10)."""
        h = F.relu(self.fc1(self.dropout(self.features(x))))
        return self.fc2(self.dropout(h))
