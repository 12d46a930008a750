"""The fast encode path: what a tuned serving stack does, so that cost figures reflect the model, not a naive loop.

Bulk (``encode``): texts are tokenized once with the Rust tokenizer's ``encode_batch`` in chunks, on a producer
thread that overlaps the device work; each chunk is sorted by token length and cut into batches by a token budget
(so short texts travel in large batches and little padding is computed); the consumer runs the model (fp16/bf16
with SDPA on GPU), pools and normalizes on the device, and keeps the vectors there until the end.

Queries (``encode_one``): batch 1 without padding on CPU; on GPU one CUDA graph per fixed shape bucket
(16, 32, 64, ... tokens), captured once and replayed, so the latency is the model's and not Python's.

BERT-class models run through ``advisor.models.bert`` (a lean module with fused QKV that graphs capture); other
architectures run through ``transformers.AutoModel`` with SDPA where the architecture has it, eager attention
otherwise (``advisor.models.attention``; no graphs). The folder is a
sentence-transformers folder (``modules.json``, ``1_Pooling``) or a plain transformers folder with a
``tokenizer.json``; weights are read from safetensors only and no remote code runs.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence, TypeVar

import numpy as np

from advisor.models.backends import Encoder, Progress, TextKind
from advisor.errors import UserError
from advisor.models.pooling import POOLINGS, pool, read_pooling
from advisor.models.quantize import quantize_int8

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
DEFAULT_TOKEN_BUDGET = {"cpu": 4096, "cuda": 65536}
GRAPH_BUCKETS = (16, 32, 64, 128, 256, 512)
CHUNK_TEXTS = 8192
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "mpnet", "longformer")
T = TypeVar("T")


@dataclass(frozen=True)
class ModelLayout:
    """What a model folder says about how to turn hidden states into a sentence vector."""

    folder: Path
    config: dict[str, Any]
    pooling: str = "mean"
    include_prompt: bool = True
    normalize: bool = False
    max_length: int = 512
    unsupported: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def read(cls, folder: str | Path) -> "ModelLayout":
        folder = Path(folder)
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            if not (folder / name).is_file():
                raise UserError(f"{folder}: no {name}; the fast path needs a transformers folder with "
                                f"config.json, tokenizer.json and model.safetensors")
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        pooling, include_prompt, normalize, unsupported = "mean", True, False, []
        modules_file = folder / "modules.json"
        if modules_file.is_file():
            for module in json.loads(modules_file.read_text(encoding="utf-8")):
                kind = module.get("type", "").rsplit(".", 1)[-1]
                if kind == "Pooling":
                    cfg = read_pooling(folder / module.get("path", "1_Pooling") / "config.json")
                    pooling, include_prompt = cfg.mode, cfg.include_prompt
                elif kind == "Normalize":
                    normalize = True
                elif kind != "Transformer":
                    unsupported.append(kind)
        max_length = int(config.get("max_position_embeddings", 512))
        if config.get("model_type") in OFFSET_POSITIONS:  # positions start after the padding index
            max_length -= int(config.get("pad_token_id") or 1) + 1
        st_config = folder / "sentence_bert_config.json"
        if st_config.is_file():
            max_seq = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
            if max_seq:
                max_length = min(max_length, int(max_seq))
        return cls(folder, config, pooling, include_prompt, normalize, max_length, tuple(unsupported))


def fast_path_unsupported(folder: str | Path) -> str | None:
    """Why the fast path cannot reproduce this sentence-transformers folder (extra Dense modules, an unknown
    pooling), or None when it can. A backend uses this to decide between the fast path and its reference path."""
    try:
        layout = ModelLayout.read(folder)
    except UserError as exc:
        return str(exc)
    if layout.unsupported:
        return f"modules {', '.join(layout.unsupported)} are not supported by the fast path"
    if layout.pooling not in POOLINGS:
        return f"pooling '{layout.pooling}' is not supported by the fast path"
    return None


def make_batches(lengths: np.ndarray, token_budget: int, max_batch: int = 4096) -> list[np.ndarray]:
    """Indices sorted by length (longest first) and cut so that rows x padded length <= token_budget."""
    order = np.argsort(-lengths, kind="stable")
    batches, i = [], 0
    while i < len(order):
        longest = max(int(lengths[order[i]]), 1)
        size = max(1, min(max_batch, token_budget // longest))
        batches.append(order[i:i + size])
        i += size
    return batches


def pad(ids: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded int64 ids and mask for a batch of token id lists."""
    longest = max(len(x) for x in ids)
    out = np.full((len(ids), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), longest), dtype=np.int64)
    for row, seq in enumerate(ids):
        out[row, :len(seq)] = seq
        mask[row, :len(seq)] = 1
    return out, mask


def token_batches(tokenizer: Any, texts: Sequence[str], token_budget: int,
                  pad_id: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(row indices, padded ids, mask) per batch: texts tokenized once by the Rust tokenizer in chunks, each chunk
    sorted by token length and cut by ``token_budget`` (``make_batches``). Every runtime of a transformer model
    batches this way, so runtimes are compared on the same batches."""
    for start in range(0, len(texts), CHUNK_TEXTS):
        encs = tokenizer.encode_batch(list(texts[start:start + CHUNK_TEXTS]))
        ids = [e.ids for e in encs]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        for idx in make_batches(lengths, token_budget):
            arr, mask = pad([ids[i] for i in idx], pad_id)
            yield idx + start, arr, mask


def prefetched(items: Iterator[T], depth: int = 16) -> Iterator[T]:
    """``items`` produced on a background thread (tokenizing the next batches while the model runs), handed over
    in order; an exception on that thread is raised here, and stopping early stops the thread."""
    work: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                work.put(item)
            work.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            work.put(exc)

    thread = threading.Thread(target=produce, name="advisor-tokenizer", daemon=True)
    thread.start()
    try:
        while True:
            item = work.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                work.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


ONEDNN_KERNELS = "oneDNN linear with fused bias, GELU and residual add (weights packed once)"


def onednn_bf16_reason(device: str, weight_precision: str) -> str | None:
    """Why the lean module's bf16 layers cannot run as fused oneDNN kernels here, or None when they can."""
    import torch

    if device != "cpu" or weight_precision != "bf16":
        return "fused oneDNN kernels are for bf16 on CPU"
    if not torch.backends.mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "this torch build or CPU has no oneDNN bf16 kernels"
    if not hasattr(torch.ops.mkldnn, "_linear_pointwise") or not hasattr(torch.ops.mkldnn, "_reorder_linear_weight"):
        return "this torch build has no fused oneDNN linear ops"
    return None


class FastTransformerEncoder(Encoder):
    """An ``advisor.models.backends.Encoder`` over a local model folder with the fast bulk and batch-1 paths.

    ``prompts`` maps "query"/"document" to a prefix added to each text (as sentence-transformers does).
    ``token_budget`` caps rows x padded length per batch, so ``encode`` accepts ``batch_size`` for the Encoder
    contract but lets the budget decide: a fixed row count pads short texts to waste or starves the device.
    """

    def __init__(self, folder: str | Path, *, device: str = "cpu", weight_precision: str = "fp32",
                 prompts: dict[str, str] | None = None, token_budget: int | None = None,
                 max_length: int | None = None, cuda_graphs: bool = True, normalize: bool | None = None,
                 pooling: str | None = None, compile: bool = False) -> None:
        import torch
        from tokenizers import Tokenizer

        self.layout = ModelLayout.read(folder)
        reason = fast_path_unsupported(folder)
        if reason:
            raise UserError(f"{folder}: {reason}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError("--device cuda was asked for but torch sees no CUDA device; use --device cpu")
        if weight_precision not in (*DTYPES, "int8"):
            raise UserError(f"weight precision '{weight_precision}' is not one of fp32, fp16, bf16, int8")
        if weight_precision == "int8" and device != "cpu":
            raise UserError("int8 weights (dynamic quantization) run on cpu only")
        self.device = torch.device(device)
        self.weight_precision = weight_precision
        self.dtype = getattr(torch, DTYPES.get(weight_precision, "float32"))
        self.prompts = dict(prompts or {})
        self.max_length = min(max_length or self.layout.max_length, self.layout.max_length)
        self.normalize = self.layout.normalize if normalize is None else normalize
        self.pooling = pooling or self.layout.pooling
        self.token_budget = token_budget or DEFAULT_TOKEN_BUDGET["cuda" if self.device.type == "cuda" else "cpu"]
        self.tokenizer = Tokenizer.from_file(str(self.layout.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)
        self.pad_id = int(self.layout.config.get("pad_token_id") or 0)
        self.threads = None
        if self.device.type == "cpu":  # every runtime runs at the same budget: the cores this process may use
            from advisor.environment import thread_budget

            self.threads = thread_budget()
            torch.set_num_threads(self.threads)
        self.kernels = "aten"
        self.model, self.lean = self._load_model()
        self.embed_dim = int(self.layout.config["hidden_size"])
        self.use_graphs = cuda_graphs and self.lean and self.device.type == "cuda"
        self._graphs: dict[int, Any] = {}
        self._graph_pool = None
        if compile:
            if weight_precision == "int8":
                raise UserError("torch.compile is not offered for int8 (dynamic quantization) weights")
            self._compile()

    # -- loading -----------------------------------------------------------------------------------------------
    def _load_model(self) -> tuple[Any, bool]:
        import torch

        from advisor.models import attention, bert

        if bert.supports(self.layout.config) is None:
            model, lean = bert.build(self.layout.folder), True
            self.attn_implementation = attention.LEAN
        else:
            from transformers import AutoModel

            folder = str(self.layout.folder)
            model, self.attn_implementation = attention.load_with_attention(
                lambda attn: AutoModel.from_pretrained(folder, attn_implementation=attn, use_safetensors=True,
                                                       trust_remote_code=False))
            lean = False
        model.eval()
        if self.weight_precision == "int8":
            model = quantize_int8(model)
        else:
            model = model.to(device=self.device, dtype=self.dtype)
            if lean and onednn_bf16_reason(self.device.type, self.weight_precision) is None:
                model.use_onednn()
                self.kernels = ONEDNN_KERNELS
        return model, lean

    def _compile(self) -> None:
        """``torch.compile`` (inductor, weights frozen as constants, dynamic shapes): fuses the elementwise work
        around the matrix products. Not the default: the first call of each shape class compiles for a minute or
        more on a small CPU; it reproduces the embeddings (tests/backends) and the benchmark weighs it."""
        import torch

        if self.kernels == ONEDNN_KERNELS:  # inductor packs and fuses itself: compile the plain module
            self.model, self.lean = self._load_model_plain()
        self.model = torch.compile(self.model, dynamic=True, options={"freezing": True})
        self.kernels = "torch.compile (inductor, freezing, dynamic shapes)"
        self.use_graphs = False

    def _load_model_plain(self) -> tuple[Any, bool]:
        from advisor.models import bert

        model = bert.build(self.layout.folder).eval().to(device=self.device, dtype=self.dtype)
        return model, True

    def _hidden(self, ids: Any, mask: Any) -> Any:
        if self.lean:
            return self.model(ids, mask)
        return self.model(input_ids=ids, attention_mask=mask).last_hidden_state

    def _pool(self, hidden: Any, mask: Any) -> Any:
        import torch

        vec = pool(hidden.float(), mask, self.pooling)
        if self.normalize:
            vec = torch.nn.functional.normalize(vec, dim=-1)
        return vec

    def _forward(self, ids: Any, mask: Any) -> Any:
        return self._pool(self._hidden(ids, mask), mask)

    # -- Encoder contract ----------------------------------------------------------------------------------------
    def _with_prompt(self, texts: Sequence[str], kind: TextKind) -> list[str]:
        prefix = self.prompts.get(kind, "")
        return [prefix + t for t in texts] if prefix else list(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], *, kind: TextKind = "document", batch_size: int = 32,
               progress: Progress | None = None) -> np.ndarray:
        """Float32 (n, embed_dim) in input order, through the pipelined token-budget path."""
        import torch

        if isinstance(texts, str):
            raise UserError("encode() takes a list of texts, not a single string")
        texts = self._with_prompt(texts, kind)
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        out = torch.empty((n, self.embed_dim), dtype=torch.float32, device=self.device)
        pin = self.device.type == "cuda"

        def tensors(batches: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Iterator[tuple[Any, Any, Any]]:
            for idx, arr, mask in batches:  # on the producer thread: pinned host memory for an async copy
                t_ids, t_mask = torch.from_numpy(arr), torch.from_numpy(mask)
                if pin:
                    t_ids, t_mask = t_ids.pin_memory(), t_mask.pin_memory()
                yield torch.from_numpy(idx), t_ids, t_mask

        with torch.inference_mode():
            for idx, ids, mask in prefetched(tensors(token_batches(self.tokenizer, texts, self.token_budget,
                                                                   self.pad_id))):
                ids = ids.to(self.device, non_blocking=True)
                mask = mask.to(self.device, non_blocking=True)
                out[idx.to(self.device, non_blocking=True)] = self._forward(ids, mask)
                if progress is not None:
                    progress(len(idx))
        return out.cpu().numpy()

    def encode_one(self, text: str, *, kind: TextKind = "query") -> np.ndarray:
        """One text, batch 1: the serving path whose latency is reported (float32 (embed_dim,))."""
        import torch

        ids = self.tokenizer.encode(self._with_prompt([text], kind)[0]).ids
        if self.use_graphs:
            return self._replay(ids)
        with torch.inference_mode():
            t = torch.tensor([ids], dtype=torch.long, device=self.device)
            return self._forward(t, torch.ones_like(t))[0].cpu().numpy()

    # -- CUDA graphs for batch 1 ---------------------------------------------------------------------------------
    def _bucket(self, length: int) -> int:
        for b in GRAPH_BUCKETS:
            if length <= b and b <= self.max_length:
                return b
        return self.max_length

    def _graph(self, bucket: int) -> dict[str, Any]:
        import torch

        if bucket in self._graphs:
            return self._graphs[bucket]
        if self._graph_pool is None:
            self._graph_pool = torch.cuda.graph_pool_handle()
        ids = torch.zeros((1, bucket), dtype=torch.long, device=self.device)
        mask = torch.zeros((1, bucket), dtype=torch.long, device=self.device)
        mask[0, 0] = 1
        host_ids = torch.zeros((1, bucket), dtype=torch.long).pin_memory()
        host_mask = torch.zeros((1, bucket), dtype=torch.long).pin_memory()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode():
            with torch.cuda.stream(side):
                for _ in range(3):  # warm-up outside the graph: kernels picked, workspaces allocated
                    self._forward(ids, mask)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._graph_pool):
                out = self._forward(ids, mask)
        host_out = torch.empty(out.shape, dtype=out.dtype).pin_memory()
        entry = {"graph": graph, "ids": ids, "mask": mask, "out": out, "host_ids": host_ids,
                 "host_mask": host_mask, "host_out": host_out}
        self._graphs[bucket] = entry
        return entry

    def _replay(self, ids: list[int]) -> np.ndarray:
        import torch

        g = self._graph(self._bucket(len(ids)))
        n = len(ids)
        g["host_ids"].zero_()
        g["host_mask"].zero_()
        g["host_ids"][0, :n] = torch.as_tensor(ids, dtype=torch.long)
        g["host_mask"][0, :n] = 1
        g["ids"].copy_(g["host_ids"], non_blocking=True)
        g["mask"].copy_(g["host_mask"], non_blocking=True)
        g["graph"].replay()
        g["host_out"].copy_(g["out"], non_blocking=True)
        torch.cuda.current_stream().synchronize()
        return g["host_out"][0].numpy().copy()

    def warmup(self, texts: Sequence[str] = ("warm up",)) -> None:
        """Run (and on GPU capture) once per shape bucket so that measured calls pay no first-call costs."""
        if self.use_graphs:
            for b in GRAPH_BUCKETS:
                if b <= self.max_length:
                    self._graph(b)
        for t in texts:
            self.encode_one(t)

    def close(self) -> None:
        import gc

        self._graphs.clear()
        self.model = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
