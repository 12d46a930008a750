"""A decoder (an LLM) as the base of an embedding model, the talk's "LLM into an embedding model": the decoder folder
loaded as a sentence-transformers model with last-token (or mean) pooling, optionally with bidirectional
attention (the causal mask replaced by a padding-only mask in every layer, LLM2Vec's first step) for fine-tuning.

Why last-token pooling: with causal attention only the last token has seen the whole text. With bidirectional
attention every token has, so mean pooling becomes the usual choice. Bidirectional attention is a change to how
the model runs, not to its weights: it is switched on in this process (training); a folder saved from it loads
causal again, so evaluate such a model in the process that trained it or keep it causal. Imported only when
training starts (it imports torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.errors import UserError
from advisor.models.folder_safety import SAFE_MODEL_KWARGS, check_model_folder

DECODER_POOLINGS = ("lasttoken", "mean")


def _decoder_layers(auto_model: Any) -> list[Any]:
    for owner in (auto_model, getattr(auto_model, "model", None)):
        layers = getattr(owner, "layers", None) if owner is not None else None
        if layers is not None:
            return list(layers)
    raise UserError(f"{type(auto_model).__name__}: no decoder layer list (model.layers) found; bidirectional "
                    f"attention is supported for Llama-style decoders (Llama, Mistral, Qwen2, Gemma)")


def make_bidirectional(auto_model: Any) -> None:
    """Let every token attend to every (non-padding) token: each layer gets a bidirectional mask built from the
    call's 2-D attention mask, and the attention modules stop asking SDPA for a causal mask."""
    from transformers.masking_utils import create_bidirectional_mask

    layers = _decoder_layers(auto_model)
    state: dict[str, Any] = {}

    forward = auto_model.forward

    def capture(*args: Any, **kwargs: Any) -> Any:
        # an instance-level forward, not a hook: sentence-transformers calls ``model.forward`` directly
        state["mask"] = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
        return forward(*args, **kwargs)

    def swap(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        hidden = args[0] if args else kwargs["hidden_states"]
        kwargs["attention_mask"] = create_bidirectional_mask(config=auto_model.config, inputs_embeds=hidden,
                                                             attention_mask=state.get("mask"))
        return args, kwargs

    auto_model.forward = capture
    for layer in layers:
        layer.register_forward_pre_hook(swap, with_kwargs=True)
    for module in auto_model.modules():
        if hasattr(module, "is_causal"):
            module.is_causal = False
    auto_model.config.advisor_bidirectional = True


def load_decoder(folder: str | Path, device: str = "cpu", *, pooling: str = "lasttoken",
                 bidirectional: bool = False, max_seq_length: int | None = None) -> Any:
    """A decoder folder (transformers, safetensors) -> a SentenceTransformer: decoder, pooling, normalization. A
    tokenizer without a pad token pads with its end-of-sequence token."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    if pooling not in DECODER_POOLINGS:
        raise UserError(f"decoder pooling must be one of {', '.join(DECODER_POOLINGS)}, got '{pooling}'")
    folder = Path(folder)
    check_model_folder(folder, str(folder))
    if not list(folder.glob("*.safetensors")):
        raise UserError(f"{folder}: no .safetensors weights; the advisor never loads pickle weights")
    transformer = Transformer(str(folder), max_seq_length=max_seq_length or 512,
                              model_kwargs=dict(SAFE_MODEL_KWARGS))
    tokenizer = transformer.tokenizer
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if bidirectional:
        make_bidirectional(transformer.auto_model)
    width = int(transformer.auto_model.config.hidden_size)
    return SentenceTransformer(modules=[transformer, Pooling(width, pooling), Normalize()], device=device)
