"""Fine-tuning and distillation: adapt a model to the user's data, or shrink it, then prove it with the same harness.

Light on import: the modules that need torch or sentence-transformers (``finetune``, ``distill``, ``losses``,
``student``, ``runner``) import them inside functions or are imported only when training starts.

- ``data``: training pairs from qrels (a retrieval task), a pairs file, or next-sentence pairs from raw text, all
  as a retrieval ``Task`` so the held-out part can be evaluated by the harness.
- ``split``: the deterministic held-out split by query id, recorded in ``split.json``.
- ``mining``: hard negatives mined with the model itself, chunked (bounded memory), with a false-negative filter.
- ``finetune`` / ``distill``: the two trainings; ``outcome``: catalog entry, before/after evaluation, verdict.
"""
