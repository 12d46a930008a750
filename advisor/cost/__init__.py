"""Cost measurement: bulk throughput, batch-1 latency, latency under load at a sustainable rate, memory, storage.

Heavy libraries are imported inside functions; ``import advisor.cost`` stays light.
"""

from __future__ import annotations

from advisor.cost.measure import CostOptions, measure_cost

__all__ = ["CostOptions", "measure_cost"]
