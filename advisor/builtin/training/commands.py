"""``advisor finetune`` and ``advisor distill``: option parsing and a rich progress display; nothing heavy is
imported until a command runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click

from advisor.errors import UserError
from advisor.formatting import number
from advisor.options import (ONE, catalog_option, corpus_option, dataset_type_option, device_option, json_option,
                              policy_option, store_option, training_batch_size_option)
from advisor.options import option as shared_option
from advisor.training.settings import DISTILL_LEARNING_RATE, FINETUNE_LEARNING_RATE, TrainSettings


def _dims(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        dims = tuple(int(x) for x in value.replace(" ", "").split(",") if x)
    except ValueError:
        raise UserError(f"--matryoshka-dims takes sizes separated by commas, e.g. 256,128,64; got '{value}'") from None
    if any(d <= 0 for d in dims):
        raise UserError(f"--matryoshka-dims sizes must be positive, got '{value}'")
    return dims


def _train_settings(default_learning_rate: float, *, epochs: float, max_steps: int | None, batch_size: int,
                    learning_rate: float | None, warmup_ratio: float, seed: int, save_steps: int | None,
                    max_seq_length: int | None) -> TrainSettings:
    """The shared training options as one TrainSettings; no --learning-rate means the purpose's default (an
    explicit 0 is kept, so the checks refuse it instead of silently training at the default)."""
    return TrainSettings(epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                         learning_rate=default_learning_rate if learning_rate is None else learning_rate,
                         warmup_ratio=warmup_ratio, seed=seed, save_steps=save_steps, max_seq_length=max_seq_length)


def _policy_dims(policy: Path | None) -> tuple[int, ...]:
    if policy is None:
        return ()
    from advisor.policy.spec import load_policy

    return tuple(d for d in load_policy(policy).variants.dims if d is not None)


class RichProgress:
    """One progress bar per stage (mine, train, evaluate, measure); the training bar shows the latest loss."""

    def __init__(self, progress: Any) -> None:
        self.progress, self.tasks = progress, {}

    def __call__(self, stage: str, done: int, total: int | None, info: dict) -> None:
        label = {"mine": "mining hard negatives", "train": "training", "teacher": "teacher embeddings",
                 "evaluate": f"evaluating {info.get('model', '')} ({info.get('set', '')})",
                 "measure": f"measuring {info.get('model', '')}"}.get(stage, stage)
        key = (stage, info.get("model"), info.get("set"))
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(label, total=total)
        extra = f"  loss {number(info['loss'], decimals=4)}" if info.get("loss") is not None else ""
        self.progress.update(self.tasks[key], completed=done, total=total, description=label + extra)


class LineProgress:
    """For logs (no terminal): one line when a stage starts or ends and one per logged training loss."""

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int | None, info: dict) -> None:
        key = f"{stage} {info.get('model', '')} {info.get('set', '')}".strip()
        loss = info.get("loss")
        state = (done == total, loss)
        if stage == "train" and loss is not None and self.last.get(key) != state:
            click.echo(f"train step {done}/{total} loss {number(loss, decimals=4)}", err=True)
        elif key not in self.last or (done == total and self.last[key][0] is False):
            click.echo(f"{key}: {done}/{total if total is not None else '?'}", err=True)
        self.last[key] = state


def run_with_progress(fn: Callable[[Any], dict], quiet: bool) -> dict:
    if quiet:  # a silent progress also silences the trainer's own printing (stdout stays clean for --json)
        return fn(lambda stage, done, total, info: None)
    import sys

    if not sys.stderr.isatty():
        return fn(LineProgress())
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as progress:
        return fn(RichProgress(progress))


def print_report(report: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    from advisor.training.outcome import render_markdown

    click.echo(render_markdown(report))
    click.echo(f"Use the new model: --catalog {report['catalog']} --model {report['trained']}")


def print_grid(grid: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(grid, indent=2, default=str))
        return
    for row in grid["students"]:
        state = "reused (already finished)" if row["reused"] else f"{row['steps']} steps"
        click.echo(f"{row['trained']}: {row['student']}, {row['parameters']} parameters, {state}"
                   + (f"; {row['verdict']}" if row.get("verdict") else ""))
    for note in grid["notes"]:
        click.echo(f"note: {note}")
    if grid.get("sweep"):
        sweep = grid["sweep"]
        click.echo(f"Benchmarked into {sweep['store']}: {sweep['computed']} cells computed, "
                   f"{sweep['already_done']} already there, {sweep['failed']} failed")
    click.echo(f"Benchmark them: --catalog {grid['catalog']}")


def _rate(value: float) -> str:
    """2e-05 -> '2e-5' (as a user types it)."""
    mantissa, _, exponent = f"{value:.6e}".partition("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def common_options(f: Any) -> Any:
    """Options shared by finetune and distill (the same names as everywhere else in the advisor)."""
    options = [
        shared_option("--dataset", "training", required=True),
        shared_option("--out", required=True),
        catalog_option,
        dataset_type_option,
        corpus_option,
        click.option("--pairs", "pair_source", type=click.Choice(["qrels", "pairs", "next-sentence", "span-corruption"]),
                     default=None,
                     help="Where training pairs come from (detected from --dataset when omitted)."),
        click.option("--heldout", default=0.2, show_default=True, type=float,
                     help="Fraction of queries held out (never trained on) for the before/after evaluation."),
        click.option("--split-seed", default=0, show_default=True, type=int, help="Seed of the held-out split."),
        click.option("--epochs", default=1.0, show_default=True, type=float),
        click.option("--max-steps", default=None, type=int, help="Stop after this many steps (wins over --epochs)."),
        training_batch_size_option,
        click.option("--learning-rate", default=None, type=float,
                     help=f"Default {_rate(FINETUNE_LEARNING_RATE)} for finetune, {_rate(DISTILL_LEARNING_RATE)} "
                          "for distill."),
        click.option("--warmup-ratio", default=0.1, show_default=True, type=float),
        click.option("--seed", default=0, show_default=True, type=int,
                     help="Random seed (the same seed repeats the same random choices)."),
        click.option("--save-steps", default=None, type=int, help="Checkpoint every N steps (default: ~10 per run)."),
        click.option("--max-seq-length", default=None, type=int, help="Truncate texts to N tokens while training."),
        click.option("--max-pairs", default=None, type=int, help="Use at most N training pairs (small CPU runs)."),
        click.option("--name", default=None, help="Catalog name of the trained model."),
        device_option(default=None, default_text="cuda when a GPU is visible, else cpu"),
        click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint."),
        click.option("--no-evaluate", "no_evaluate", is_flag=True, help="Skip the before/after evaluation."),
        click.option("--measure", is_flag=True, help="Also measure cost (throughput, latency, memory) before/after."),
        json_option,
        click.option("--quiet", is_flag=True, help="No progress display."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command("finetune")
@shared_option("--model", ONE, required=True)
@common_options
@click.option("--hard-negatives", default=1, show_default=True, type=int,
              help="Negatives mined per pair with the model itself (0: in-batch negatives only).")
@click.option("--mining-depth", default=50, show_default=True, type=int, help="Candidates searched per query.")
@click.option("--max-ratio", default=0.95, show_default=True, type=float,
              help="False-negative filter: a negative must score below this fraction of the positive's score.")
@click.option("--margin", default=0.0, show_default=True, type=float,
              help="False-negative filter: and at least this much below the positive's score.")
@click.option("--matryoshka-dims", default=None,
              help="Also train these output sizes (MatryoshkaLoss), e.g. 256,128. Default: the --policy grid's dims.")
@click.option("--decoder-pooling", type=click.Choice(["lasttoken", "mean"]), default=None,
              help="The model is a decoder (an LLM) folder: load it with this pooling (causal attention).")
@policy_option
def finetune_command(model: str, dataset: str, out: Path, catalogs: tuple[Path, ...], dataset_type: str | None,
                     corpus: Path | None, pair_source: str | None, heldout: float, split_seed: int, epochs: float,
                     max_steps: int | None,
                     batch_size: int, learning_rate: float | None, warmup_ratio: float, seed: int,
                     save_steps: int | None, max_seq_length: int | None, max_pairs: int | None, name: str | None,
                     device: str | None, resume: bool, no_evaluate: bool, measure: bool, as_json: bool, quiet: bool,
                     hard_negatives: int, mining_depth: int, max_ratio: float, margin: float,
                     matryoshka_dims: str | None, decoder_pooling: str | None, policy: Path | None) -> None:
    """Fine-tune an embedding model contrastively (in-batch + mined hard negatives), then evaluate it before/after
    on a held-out split and register it as a catalog entry. --out gets model/, catalog.yaml, split.json, heldout/,
    report.md and checkpoints/."""
    from advisor.training.finetune import FinetuneConfig, finetune

    dims = _dims(matryoshka_dims) or _policy_dims(policy)
    config = FinetuneConfig(
        model=model, dataset=str(dataset), out=str(out), catalogs=tuple(str(c) for c in catalogs),
        pair_source=pair_source, dataset_type=dataset_type, corpus=None if corpus is None else str(corpus),
        hard_negatives=hard_negatives,
        mining_depth=mining_depth, max_ratio=max_ratio, margin=margin, matryoshka_dims=dims, heldout=heldout,
        split_seed=split_seed, max_pairs=max_pairs, name=name, decoder_pooling=decoder_pooling,
        train=_train_settings(FINETUNE_LEARNING_RATE, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                              learning_rate=learning_rate, warmup_ratio=warmup_ratio, seed=seed,
                              save_steps=save_steps, max_seq_length=max_seq_length))
    report = run_with_progress(lambda p: finetune(config, device=device, resume=resume, evaluate=not no_evaluate,
                                                  measure=measure, progress=p), quiet or as_json)
    print_report(report, as_json)


@click.command("distill")
@click.option("--teacher", required=True, help="Teacher model: catalog name or local folder.")
@click.option("--student", default=None,
              help="Student: a catalog name or folder, or a new architecture: 'layers=3' (keep 3 of the teacher's "
                   "layers) or 'layers=2,width=256,heads=4,dim=128' (new BERT, teacher tokenizer), or a YAML file "
                   "with those keys.")
@click.option("--student-grid", default=None,
              help="Distill several students with the same budget, e.g. 'layers=2,3 width=256,384 heads=4,8' (or a "
                   "YAML file of lists): each in OUT/students/NAME, all in OUT/catalog.yaml; finished ones are "
                   "skipped when run again.")
@click.option("--loss", "loss_kind", type=click.Choice(["score", "embedding", "both"]), default="both",
              show_default=True, help="score: MSE of query-document similarities; embedding: MSE of embeddings "
              "(learned projection when sizes differ); both: their sum.")
@click.option("--benchmark", is_flag=True,
              help="--student-grid: also benchmark the students and the teacher on the held-out split into "
                   "--store with the sweep (finished cells are kept), so rank, report and the TUI show them.")
@click.option("--no-cost", "grid_no_cost", is_flag=True,
              help="Quality only: skip throughput, latency and memory measurements.")
@store_option
@click.option("--side", type=click.Choice(["both", "query"]), default="both", show_default=True,
              help="query: train the student on query texts only, into the teacher's space, and register a pair "
                   "(queries by the student, documents by the teacher) in OUT/catalog.yaml.")
@click.option("--pair-name", default=None, help="Catalog name of the pair (--side query; default STUDENT+TEACHER).")
@common_options
def distill_command(teacher: str, student: str | None, student_grid: str | None, benchmark: bool,
                    grid_no_cost: bool, store: Path, loss_kind: str, side: str, pair_name: str | None, dataset: str,
                    out: Path,
                    catalogs: tuple[Path, ...], dataset_type: str | None, corpus: Path | None,
                    pair_source: str | None, heldout: float,
                    split_seed: int, epochs: float, max_steps: int | None, batch_size: int,
                    learning_rate: float | None, warmup_ratio: float, seed: int, save_steps: int | None,
                    max_seq_length: int | None, max_pairs: int | None, name: str | None, device: str | None,
                    resume: bool, no_evaluate: bool, measure: bool, as_json: bool, quiet: bool) -> None:
    """Distill a teacher into a smaller student (score and/or embedding distillation), then evaluate both on a
    held-out split and register the student as a catalog entry. --out gets model/, catalog.yaml, split.json,
    heldout/, report.md and checkpoints/ (with --student-grid, one students/NAME folder per student)."""
    from advisor.training.distill import DistillConfig, distill

    if (student is None) == (student_grid is None):
        raise UserError("give either --student (one student) or --student-grid (several), not both or neither")
    config = DistillConfig(
        teacher=teacher, student=student or "grid", loss=loss_kind, dataset=str(dataset), out=str(out),
        catalogs=tuple(str(c) for c in catalogs), pair_source=pair_source, dataset_type=dataset_type,
        corpus=None if corpus is None else str(corpus),
        heldout=heldout, split_seed=split_seed, max_pairs=max_pairs, name=name, side=side, pair_name=pair_name,
        train=_train_settings(DISTILL_LEARNING_RATE, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                              learning_rate=learning_rate, warmup_ratio=warmup_ratio, seed=seed,
                              save_steps=save_steps, max_seq_length=max_seq_length))
    if student_grid is not None:
        from advisor.training.grid import distill_grid, parse_student_grid

        students, notes = parse_student_grid(student_grid)
        grid = run_with_progress(lambda p: distill_grid(config, students, notes=notes, device=device,
                                                        evaluate=not no_evaluate, measure=measure, progress=p,
                                                        store=store if benchmark else None,
                                                        cost=not grid_no_cost),
                                 quiet or as_json)
        print_grid(grid, as_json)
        return
    report = run_with_progress(lambda p: distill(config, device=device, resume=resume, evaluate=not no_evaluate,
                                                 measure=measure, progress=p), quiet or as_json)
    print_report(report, as_json)
