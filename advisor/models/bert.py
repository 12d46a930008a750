"""A lean BERT encoder: the same function as ``transformers.BertModel`` (eval mode, no pooler), written as a few
plain tensor operations so that it can be captured as a CUDA graph and carries no per-call Python overhead.

Why not the transformers model itself: its forward builds masks and checks them with host-side branches, which a
CUDA graph cannot capture, and at batch 1 its Python overhead is larger than the model's GPU time. The weights are
read from safetensors only (no pickle), the query/key/value projections are fused into one matrix product, and
attention runs through ``scaled_dot_product_attention`` (flash / memory-efficient kernels on GPU).

Only what all-MiniLM-L6-v2-class models use is supported (``model_type: bert``, absolute positions, GELU);
``supports(config)`` says so, and the fast path falls back to the transformers model for anything else.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

SUPPORTED_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh")


def supports(config: dict[str, Any]) -> str | None:
    """None when the lean module computes exactly what transformers computes for ``config``, else why not."""
    if config.get("model_type") != "bert":
        return f"model_type {config.get('model_type')!r} is not bert"
    if config.get("position_embedding_type", "absolute") != "absolute":
        return f"position_embedding_type {config.get('position_embedding_type')!r} is not absolute"
    if config.get("hidden_act") not in SUPPORTED_ACTIVATIONS:
        return f"hidden_act {config.get('hidden_act')!r} is not supported"
    if config.get("is_decoder") or config.get("add_cross_attention"):
        return "decoder configurations are not supported"
    return None


def _strip_prefix(state: dict, prefixes: tuple[str, ...] = ("bert.", "model.", "0.auto_model.")) -> dict:
    for prefix in prefixes:
        if any(k.startswith(prefix + "embeddings.") for k in state):
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def load_state(folder: Path) -> dict:
    """Weights from ``model.safetensors`` (never a pickle)."""
    from safetensors.torch import load_file

    path = Path(folder) / "model.safetensors"
    return _strip_prefix(load_file(str(path)))


def build(folder: Path) -> "LeanBert":
    config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    reason = supports(config)
    if reason:
        raise ValueError(reason)
    return LeanBert(config, load_state(folder))


@lru_cache(maxsize=None)
def _module_class() -> type:
    import torch
    import torch.nn.functional as F

    def p_empty(like: torch.Tensor) -> torch.nn.Parameter:
        return torch.nn.Parameter(torch.empty(0, dtype=like.dtype), requires_grad=False)

    class _LeanBert(torch.nn.Module):
        def __init__(self, config: dict[str, Any], state: dict) -> None:
            super().__init__()
            self.hidden = int(config["hidden_size"])
            self.heads = int(config["num_attention_heads"])
            self.head_dim = self.hidden // self.heads
            self.eps = float(config.get("layer_norm_eps", 1e-12))
            self.layers = int(config["num_hidden_layers"])
            self.max_positions = int(config.get("max_position_embeddings", 512))
            act = config.get("hidden_act", "gelu")
            self.gelu_approx = "none" if act == "gelu" else "tanh"
            p = torch.nn.Parameter

            def w(name: str) -> torch.nn.Parameter:
                return p(state[name].float(), requires_grad=False)

            def linear(weight: torch.Tensor, bias: torch.Tensor) -> torch.nn.Linear:
                # nn.Linear (not bare parameters) so that torch's dynamic int8 quantization can swap it.
                layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
                layer.weight, layer.bias = p(weight.float(), requires_grad=False), p(bias.float(), requires_grad=False)
                return layer

            def norm(prefix: str) -> torch.nn.LayerNorm:
                layer = torch.nn.LayerNorm(self.hidden, eps=self.eps)
                layer.weight, layer.bias = w(prefix + ".weight"), w(prefix + ".bias")
                return layer

            self.word = w("embeddings.word_embeddings.weight")
            self.pos = w("embeddings.position_embeddings.weight")
            self.type0 = p(state["embeddings.token_type_embeddings.weight"][0].float(), requires_grad=False)
            self.emb_ln = norm("embeddings.LayerNorm")
            self.blocks = torch.nn.ModuleList()
            for i in range(self.layers):
                pre = f"encoder.layer.{i}."
                att = pre + "attention.self."
                block = torch.nn.Module()
                block.qkv = linear(torch.cat([state[att + f"{x}.weight"] for x in ("query", "key", "value")]),
                                   torch.cat([state[att + f"{x}.bias"] for x in ("query", "key", "value")]))
                block.out = linear(state[pre + "attention.output.dense.weight"],
                                   state[pre + "attention.output.dense.bias"])
                block.ln1 = norm(pre + "attention.output.LayerNorm")
                block.ff1 = linear(state[pre + "intermediate.dense.weight"], state[pre + "intermediate.dense.bias"])
                block.ff2 = linear(state[pre + "output.dense.weight"], state[pre + "output.dense.bias"])
                block.ln2 = norm(pre + "output.LayerNorm")
                self.blocks.append(block)

            self.onednn: list[tuple[torch.Tensor, ...]] | None = None  # packed weights (``use_onednn``)

        def use_onednn(self, rows: int = 4096) -> None:
            """Run the linear layers as oneDNN kernels with their epilogues fused, on weights packed once for the
            CPU (the module's dtype, bf16 in practice): bias inside the matrix product instead of a copy before it
            (``addmm``), GELU inside the first feed-forward product, each residual add inside the product before
            it. The dense weights are dropped (the packed ones replace them). CPU only; one way."""
            pack = torch.ops.mkldnn._reorder_linear_weight
            packed = []
            for blk in self.blocks:
                packed.append(tuple(pack(layer.weight.detach(), rows) for layer in (blk.qkv, blk.out, blk.ff1,
                                                                                    blk.ff2)))
                for layer in (blk.qkv, blk.out, blk.ff1, blk.ff2):
                    layer.weight = p_empty(layer.weight)
            self.onednn = packed

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            """Last hidden states (B, L, H) for right-padded ``input_ids``; ``attention_mask`` is 1 for real tokens."""
            b, n = input_ids.shape
            x = F.embedding(input_ids, self.word) + self.pos[:n].unsqueeze(0) + self.type0
            x = self.emb_ln(x)
            # Additive mask in the compute dtype: 0 for real keys, a large negative number for padding.
            bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
            scale = 1.0 / math.sqrt(self.head_dim)
            if self.onednn is not None:
                return self._forward_onednn(x, bias, scale)
            for blk in self.blocks:
                q, k, v = blk.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale)
                x = blk.ln1(x + blk.out(a.transpose(1, 2).reshape(b, n, self.hidden)))
                x = blk.ln2(x + blk.ff2(F.gelu(blk.ff1(x), approximate=self.gelu_approx)))
            return x

        def _forward_onednn(self, x: torch.Tensor, bias: torch.Tensor, scale: float) -> torch.Tensor:
            linear, linear_add = torch.ops.mkldnn._linear_pointwise, torch.ops.mkldnn._linear_pointwise.binary
            b, n, _ = x.shape
            rows = x.reshape(b * n, self.hidden)
            for blk, (w_qkv, w_out, w_ff1, w_ff2) in zip(self.blocks, self.onednn):
                qkv = linear(rows, w_qkv, blk.qkv.bias, "none", [], "")
                q, k, v = qkv.view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale)
                a = a.transpose(1, 2).reshape(b * n, self.hidden)
                rows = blk.ln1(linear_add(a, rows, w_out, blk.out.bias, "add"))
                h = linear(rows, w_ff1, blk.ff1.bias, "gelu", [], self.gelu_approx)
                rows = blk.ln2(linear_add(h, rows, w_ff2, blk.ff2.bias, "add"))
            return rows.view(b, n, self.hidden)

    return _LeanBert


def LeanBert(config: dict[str, Any], state: dict) -> Any:  # noqa: N802 - a factory that reads like a class
    """Build the module (the class is defined lazily so that importing this file does not import torch)."""
    return _module_class()(config, state)
