"""Prometheus metrics named as text-embeddings-inference names them, so a TEI dashboard reads this server too."""

from __future__ import annotations

from typing import Any

# seconds: from a millisecond to a minute
TIME_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    """One registry per server (not the process-global one), so two apps in one process do not collide."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.request_duration = Histogram("te_request_duration", "Request duration (s)", buckets=TIME_BUCKETS,
                                          registry=r)
        self.queue_duration = Histogram("te_queue_duration", "Time a request waited for its batch (s)",
                                        buckets=TIME_BUCKETS, registry=r)
        self.tokenization_duration = Histogram("te_tokenization_duration", "Tokenization time of a request (s)",
                                               buckets=TIME_BUCKETS, registry=r)
        self.inference_duration = Histogram("te_inference_duration", "Model time of a batch (s)",
                                            buckets=TIME_BUCKETS, registry=r)
        self.batch_size = Histogram("te_batch_size", "Texts per batch", buckets=SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram("te_batch_tokens", "Tokens per batch", buckets=SIZE_BUCKETS + (4096, 16384),
                                      registry=r)
        self.queue_size = Histogram("te_queue_size", "Requests waiting when a batch was formed", buckets=SIZE_BUCKETS,
                                    registry=r)
        self.queue_depth = Gauge("te_queue_depth", "Requests waiting now", registry=r)
        self.request_count = Counter("te_request_count", "Requests received", ["method"], registry=r)
        self.request_success = Counter("te_request_success", "Requests answered 200", ["method"], registry=r)
        self.request_failure = Counter("te_request_failure", "Requests refused or failed", ["err"], registry=r)
        self.input_count = Counter("te_request_input_count", "Texts received", registry=r)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def parse(text: str) -> dict[str, Any]:
    """Samples of a Prometheus text exposition, name -> value (labelled samples keyed 'name{k="v"}')."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out
