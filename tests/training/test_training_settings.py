"""Training settings are one object (``TrainSettings``) held by both configs: each purpose keeps its own default
learning rate, and a run folder recorded when the settings were flat fields of each config still resumes."""

from __future__ import annotations

import json

import pytest

from advisor.errors import UserError
from advisor.training.distill import DistillConfig
from advisor.training.finetune import FinetuneConfig
from advisor.training.settings import DISTILL_LEARNING_RATE, FINETUNE_LEARNING_RATE, TrainSettings, check_settings
from advisor.training.workspace import CONFIG_FILE, Workspace

# training.json as runs wrote it before TrainSettings was composed into the configs (every field flat)
RECORDED_FINETUNE = {
    "model": "all-MiniLM-L6-v2", "dataset": "data/rt-reviews-plots", "catalogs": [], "pair_source": None,
    "dataset_type": None, "hard_negatives": 1, "mining_depth": 50, "max_ratio": 0.95, "margin": 0.0,
    "matryoshka_dims": [], "heldout": 0.2, "split_seed": 0, "max_pairs": None, "name": None, "epochs": 1.0,
    "max_steps": None, "batch_size": 32, "learning_rate": 2e-05, "warmup_ratio": 0.1, "seed": 0, "save_steps": None,
    "max_seq_length": None}
RECORDED_DISTILL = {
    "teacher": "all-MiniLM-L6-v2", "student": "layers=2", "dataset": "data/rt-reviews-plots", "loss": "both",
    "catalogs": [], "pair_source": None, "dataset_type": None, "heldout": 0.2, "split_seed": 0, "max_pairs": None,
    "name": None, "epochs": 1.0, "max_steps": None, "batch_size": 32, "learning_rate": 0.0001, "warmup_ratio": 0.1,
    "seed": 0, "save_steps": None, "max_seq_length": None}


def test_each_purpose_defaults_to_its_own_learning_rate():
    finetune = FinetuneConfig(model="m", dataset="d", out="o")
    distill = DistillConfig(teacher="t", student="layers=1", dataset="d", out="o")
    assert finetune.train.learning_rate == FINETUNE_LEARNING_RATE
    assert distill.train.learning_rate == DISTILL_LEARNING_RATE
    assert FINETUNE_LEARNING_RATE != DISTILL_LEARNING_RATE


@pytest.mark.parametrize("kind, config, recorded", [
    ("finetune", FinetuneConfig(model="all-MiniLM-L6-v2", dataset="data/rt-reviews-plots", out="o"),
     RECORDED_FINETUNE),
    ("distill", DistillConfig(teacher="all-MiniLM-L6-v2", student="layers=2", dataset="data/rt-reviews-plots",
                              out="o"), RECORDED_DISTILL),
])
def test_a_run_recorded_with_flat_settings_resumes(tmp_path, kind, config, recorded):
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"kind": kind, "config": recorded}), encoding="utf-8")
    Workspace.open(tmp_path, kind, config.identity(), resume=True)  # refuses when any recorded field differs
    assert json.loads((tmp_path / CONFIG_FILE).read_text(encoding="utf-8"))["config"] == recorded


def test_a_changed_training_setting_refuses_the_resume(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"kind": "finetune", "config": RECORDED_FINETUNE}),
                                        encoding="utf-8")
    config = FinetuneConfig(model="all-MiniLM-L6-v2", dataset="data/rt-reviews-plots", out="o",
                            train=TrainSettings(batch_size=16))
    with pytest.raises(UserError, match="batch_size: 32 -> 16"):
        Workspace.open(tmp_path, "finetune", config.identity(), resume=True)


@pytest.mark.parametrize("settings, message", [
    (TrainSettings(batch_size=1), "--batch-size must be at least 2"),
    (TrainSettings(max_steps=0), "--max-steps must be positive"),
    (TrainSettings(epochs=0), "--epochs must be positive"),
    (TrainSettings(learning_rate=0), "--learning-rate must be positive"),
])
def test_bad_settings_are_refused_naming_the_option(settings, message):
    with pytest.raises(UserError, match=message):
        check_settings(settings, heldout=0.2)
