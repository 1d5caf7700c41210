"""Multi-head self-attention over the pixels of an image, written from the definition.

An image (C, H, W) is read as a sequence of HW tokens of dimension C. Head h projects every token to
a query, key and value of dimension d, mixes the values with the row-wise softmax of the scaled
query-key products, and a last linear layer maps the K concatenated heads (Kd) back to C channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def pixel_attention(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    b_q: torch.Tensor,
    b_k: torch.Tensor,
    b_v: torch.Tensor,
    w_o: torch.Tensor,
    b_o: torch.Tensor,
    n_heads: int,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Attend over pixels: w_q/w_k/w_v are (C, K*d) (head h in columns h*d:(h+1)*d), w_o is (K*d, C)."""
    n, c, h, w = x.shape
    if w_q.shape[0] != c or w_q.shape[1] % n_heads:
        raise ValueError(f"projection of shape {tuple(w_q.shape)} does not fit C={c} and {n_heads} heads")
    d = w_q.shape[1] // n_heads
    tokens = x.reshape(n, c, h * w).transpose(1, 2)  # (N, HW, C): one row per pixel
    outputs, weights = [], []
    for head in range(n_heads):
        cols = slice(head * d, (head + 1) * d)
        q = tokens @ w_q[:, cols] + b_q[cols]  # (N, HW, d)
        k = tokens @ w_k[:, cols] + b_k[cols]
        v = tokens @ w_v[:, cols] + b_v[cols]
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1)  # (N, HW, HW), rows sum to one
        outputs.append(a @ v)
        weights.append(a)
    y_tokens = torch.cat(outputs, dim=-1) @ w_o + b_o  # (N, HW, C)
    y = y_tokens.transpose(1, 2).reshape(n, c, h, w)
    return (y, torch.stack(weights, dim=1)) if return_weights else y


class PixelSelfAttention(nn.Module):
    """Multi-head self-attention on an image (N, C, H, W) -> (N, C, H, W), parameters as in the definition."""

    def __init__(self, channels: int, n_heads: int = 1, head_dim: int | None = None) -> None:
        """Create K heads of dimension d (default C / K) with nn.Linear-style initialisation."""
        super().__init__()
        head_dim = channels // n_heads if head_dim is None else head_dim
        if head_dim < 1:
            raise ValueError(f"head dimension must be positive (channels={channels}, heads={n_heads})")
        self.n_heads = n_heads
        inner = n_heads * head_dim
        self.qkv = nn.Linear(channels, 3 * inner)
        self.out = nn.Linear(inner, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the attention of the definition."""
        w_q, w_k, w_v = self.qkv.weight.T.chunk(3, dim=1)
        b_q, b_k, b_v = self.qkv.bias.chunk(3)
        return pixel_attention(x, w_q, w_k, w_v, b_q, b_k, b_v, self.out.weight.T, self.out.bias, self.n_heads)


def weights_from_torch(mha: nn.MultiheadAttention) -> dict[str, torch.Tensor]:
    """Read an nn.MultiheadAttention's packed parameters in the definition's (C, K*d) layout."""
    if not mha._qkv_same_embed_dim or mha.in_proj_bias is None:
        raise ValueError("only nn.MultiheadAttention with one embed_dim and biases is supported")
    w_q, w_k, w_v = mha.in_proj_weight.chunk(3, dim=0)  # torch computes x @ W^T + b
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
    return {
        "w_q": w_q.T,
        "w_k": w_k.T,
        "w_v": w_v.T,
        "b_q": b_q,
        "b_k": b_k,
        "b_v": b_v,
        "w_o": mha.out_proj.weight.T,
        "b_o": mha.out_proj.bias,
    }


def torch_pixel_attention(mha: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """Run nn.MultiheadAttention (batch_first) on the pixel sequence of x and fold it back to (N, C, H, W)."""
    n, c, h, w = x.shape
    tokens = x.reshape(n, c, h * w).transpose(1, 2)
    y, _ = mha(tokens, tokens, tokens, need_weights=False)
    return y.transpose(1, 2).reshape(n, c, h, w)
