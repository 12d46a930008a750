"""Converted models on disk: one folder per model revision and runtime, files made once, under a lock, atomically.

The ONNX export (``advisor.models.export``) and the OpenVINO conversion (``advisor.models.openvino_export``) keep
their files in ``<cache>/<runtime>/<folder>-<key>/``, where the key hashes the folder's config and weights with the
versions of the libraries that make the files (and the advisor's own conversion recipe), so a changed model or
library converts again and an unchanged one never does. Each file is made under an exclusive lock on the folder
(two sweep workers converting the same model wait for each other instead of converting twice) in a temporary
folder beside it, then moved into place, the file that marks it done last: a killed conversion leaves nothing
half-written.

Every conversion is checked against the model itself: ``faithful_cosine`` is the lowest cosine between the torch
fp32 sentence vectors and the converted model's on ``PROBE_TEXTS`` (real sentences of every length up to the
model's limit), pooled both by the mean and by the first token so that the check does not depend on the entry's
pooling.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from advisor.models.sources import cache_root

# Sentences of every length, from a few words to past 256 tokens, for the fidelity checks of every conversion.
_LONG = ("The committee met on Tuesday to review the budget for the coming year, and after a long discussion of "
         "the costs of maintenance, staff and the new library wing, it agreed to postpone the vote until the "
         "auditors had finished their report. ")
PROBE_TEXTS = (
    "hello",
    "A man is playing a guitar.",
    "Two dogs run across a snowy field.",
    "What is the capital of Australia?",
    "The stock market fell sharply on Monday after the central bank raised interest rates.",
    "Preheat the oven to 200 degrees, then bake the bread for 35 minutes until golden.",
    "I would not recommend this hotel: the room was dirty and the staff ignored our complaints.",
    "Photosynthesis converts light energy into chemical energy stored in glucose molecules.",
    "Le chat dort sur le canapé pendant que la pluie tombe dehors.",
    "error: cannot open file 'config.yaml' (No such file or directory) at line 42",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong and Buzz Aldrin walked on its surface while Michael "
    "Collins orbited above in the command module.",
    _LONG * 2,
    _LONG * 6,
)


def file_digest(path: Path) -> str:
    """Size plus the first and last MiB: cheap, and changes whenever the weights do."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 1 << 21:
            fh.seek(-(1 << 20), os.SEEK_END)
            h.update(fh.read(1 << 20))
    return h.hexdigest()


def artifact_key(folder: Path, libraries: Sequence[str], recipe: str) -> str:
    """The key of ``folder``'s converted files: its config and weights, the ``libraries``' versions and the
    advisor's ``recipe`` (a name that changes whenever the way the files are made changes)."""
    from importlib.metadata import PackageNotFoundError, version

    parts = {"config": (folder / "config.json").read_text(encoding="utf-8"),
             "weights": file_digest(folder / "model.safetensors"), "recipe": recipe}
    for lib in libraries:
        try:
            parts[lib] = version(lib)
        except PackageNotFoundError:
            parts[lib] = "missing"
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def artifact_home(runtime: str, folder: Path, key: str, cache: Path | None = None) -> Path:
    return (cache or cache_root()) / runtime / f"{folder.name}-{key}"


@contextlib.contextmanager
def locked(home: Path) -> Iterator[None]:
    """An exclusive lock on ``home`` (a lock file beside it) for as long as the block runs."""
    import fcntl  # POSIX; imported here so that the module imports everywhere

    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".{home.name}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def make_once(home: Path, done: str, build: Callable[[Path], None]) -> Path:
    """``home / done``, made by ``build(work)`` the first time: ``build`` writes ``done`` (and any companion
    files) into an empty temporary folder ``work``; they are moved into ``home``, ``done`` last. Under the lock a
    second caller finds the file made by the first and does not build again."""
    target = home / done
    if target.is_file():
        return target
    with locked(home):
        if target.is_file():
            return target
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home, prefix=".work-") as tmp, quiet():
            work = Path(tmp)
            build(work)
            if not (work / done).is_file():
                raise RuntimeError(f"the conversion made no {done}")
            for f in sorted(work.iterdir()):
                if f.name != done and f.is_file():
                    os.replace(f, home / f.name)
            os.replace(work / done, target)
    return target


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """A conversion prints nothing: transformers' loading bars, NNCF's progress bars (printed on stdout) and
    onnxruntime's warnings about the graphs it is given are off while it runs."""
    import importlib.util
    import io

    bars = None
    if importlib.util.find_spec("transformers") is not None:
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    ort = None
    if importlib.util.find_spec("onnxruntime") is not None:
        from advisor.models.ort import onnxruntime
        ort = onnxruntime()

        ort.set_default_logger_severity(3)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        if ort is not None:
            ort.set_default_logger_severity(2)


def newest_static(home: Path, suffix: str) -> tuple[Path, Path] | None:
    """The static int8 model made last in ``home`` (``model-int8-static-<calibration>.<suffix>``) and the file of its
    calibration texts, for a load that gives no texts of its own (``advisor serve`` of a sweep's pick on the machine
    that ran it); None when there is none."""
    made = sorted(home.glob(f"model-int8-static-*.{suffix}"), key=lambda f: f.stat().st_mtime) if home.is_dir() else []
    for path in reversed(made):
        texts = home / f"calibration-{path.stem.rsplit('-', 1)[-1]}.json"
        if texts.is_file():
            return path, texts
    return None


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def token_batch(tokenizer_file: Path, texts: Sequence[str], max_length: int, pad_id: int = 0) -> tuple[Any, Any]:
    """Right-padded int64 ids and mask for ``texts`` by the model's own tokenizer, truncated at ``max_length``."""
    import numpy as np
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    tok.no_padding()
    tok.enable_truncation(max_length)
    ids = [e.ids for e in tok.encode_batch(list(texts))]
    longest = max(len(x) for x in ids)
    arr = np.full((len(ids), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), longest), dtype=np.int64)
    for row, seq in enumerate(ids):
        arr[row, :len(seq)] = seq
        mask[row, :len(seq)] = 1
    return arr, mask


def faithful_cosine(hidden: Any, reference: Any, mask: Any) -> float:
    """The lowest cosine over texts between two (batch, tokens, dim) hidden-state arrays, pooled by the mean of
    the real tokens and by the first token (``advisor.models.pooling``)."""
    import numpy as np

    from advisor.models.pooling import pool

    worst = 1.0
    for mode in ("mean", "cls"):
        a = pool(np.asarray(hidden, dtype=np.float32), mask, mode)
        b = pool(np.asarray(reference, dtype=np.float32), mask, mode)
        cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
        worst = min(worst, float(cos.min()))
    return worst


def reference_hidden(folder: Path, ids: Any, mask: Any) -> Any:
    """The model's last hidden states in torch fp32 (transformers, safetensors only, no remote code): what every
    conversion must reproduce."""
    import torch
    from transformers import AutoModel

    from advisor.models.attention import load_with_attention

    model, _ = load_with_attention(lambda attn: AutoModel.from_pretrained(
        str(folder), attn_implementation=attn, use_safetensors=True, trust_remote_code=False, dtype=torch.float32))
    with torch.inference_mode():
        out = model.eval()(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    return out.float().numpy()
