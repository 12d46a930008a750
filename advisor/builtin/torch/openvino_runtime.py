"""A torch catalog entry on OpenVINO: converted once per revision (``advisor.models.openvino_export``), compiled for
the CPU at the process's thread budget, run through the graph encoder (``advisor.models.graph_encoder``: the fast
path's tokenizer, batches and pooling). Imports no torch unless the conversion has to be made."""

from __future__ import annotations

from advisor.models.backends import Encoder, LoadOptions
from advisor.models.catalog import ModelEntry
from advisor.models.graph_encoder import GraphEncoder
from advisor.models.openvino_export import compile_ir, convert_openvino

from .onnx_runtime import entry_prompts, graph_layout, model_folder


def load_openvino_runtime(entry: ModelEntry, options: LoadOptions) -> Encoder:
    import openvino as ov

    from advisor.environment import thread_budget

    weight_precision = options.precision_for(entry)
    folder = model_folder(entry, options, "openvino")
    calibration = options.calibration.prompted(entry_prompts(entry)) if options.calibration else None
    made = convert_openvino(folder, weight_precision, calibration=calibration)
    threads = thread_budget()
    compiled = compile_ir(made.path, made.hint, threads)
    request = compiled.create_infer_request()

    def run(ids, mask):  # one infer request, reused: the inputs are copied in, the output copied out
        request.infer({"input_ids": ids, "attention_mask": mask})
        return request.get_output_tensor(0).data.copy()

    layout, pooling, normalize = graph_layout(entry, folder)
    encoder = GraphEncoder(layout, run, graph=compiled, prompts=entry_prompts(entry), pooling=pooling,
                           normalize=normalize, max_length=entry.max_tokens)
    encoder.info = {"runtime": "openvino", "path": f"OpenVINO {ov.get_version().split('-')[0]} (converted by the "
                                                   f"advisor)",
                    "file": str(made.path), "folder": str(folder), "threads": threads,
                    "inference_precision": compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name(),
                    "streams": int(compiled.get_property("NUM_STREAMS")), "token_budget": encoder.token_budget,
                    "quantization": None, **made.info}
    return encoder
