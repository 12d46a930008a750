"""A policy mistake is one line that names the file, line and field and suggests the fix: a "did you mean" for every
name (fields, figures and metrics, choices, language codes, licences), and an error for a limit that rejects every
candidate by construction. A locale's region is read, dropped and said so in a note. Each message is checked whole:
it is what ``advisor`` prints after ``advisor: error:``."""

from __future__ import annotations

import pytest

from advisor.errors import ConfigError
from advisor.policy.spec import load_policy, policy_with_limits


def _error(tmp_path, text: str) -> str:
    """The one-line message ``load_policy`` gives for a policy file holding ``text``, with the path as ``P``."""
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    message = str(err.value)
    assert "\n" not in message
    return message.replace(str(path), "P")


# -- a "did you mean" for every name ------------------------------------------------------------------------------

def test_a_metric_typo_in_a_quality_floor_is_an_error_with_the_registered_name(tmp_path):
    text = "limits:\n  min_quality:\n    - {task: scifact, metric: ndcg@10, min: 0.5}\n"
    assert _error(tmp_path, text) == ("P:3: entry 'limits.min_quality[0]': field 'metric': unknown quality figure "
                                      "'ndcg@10'; did you mean 'ndcg_at_10'?")


def test_a_metric_typo_in_the_ranking_metrics_is_an_error_with_the_registered_name(tmp_path):
    text = "ranking:\n  quality_metrics:\n    retrieval: recall@10\n"
    assert _error(tmp_path, text) == ("P:3: entry 'ranking.quality_metrics': field 'retrieval': unknown quality "
                                      "figure 'recall@10'; did you mean 'recall_at_10'?")


def test_an_unknown_limit_field_names_the_close_one(tmp_path):
    from advisor.policy.spec import LIMIT_FIELDS

    assert _error(tmp_path, "limits:\n  max_latency_p95_ms: 50\n") == (
        "P:2: entry 'limits': field 'max_latency_p95_ms': unknown field; allowed fields: "
        + ", ".join(sorted(LIMIT_FIELDS)) + "; did you mean 'max_p95_latency_ms'?")


def test_an_unknown_section_names_the_close_one(tmp_path):
    from advisor.policy.spec import TOP_FIELDS

    assert _error(tmp_path, "limts:\n  max_p95_latency_ms: 50\n") == (
        "P:1: field 'limts': unknown field; allowed fields: " + ", ".join(sorted(TOP_FIELDS))
        + "; did you mean 'limits'?")


def test_an_unknown_ranking_weight_names_the_close_one(tmp_path):
    assert _error(tmp_path, "ranking:\n  weights:\n    latncy: 1\n") == (
        "P:3: entry 'ranking.weights': field 'latncy': unknown field; allowed fields: bytes_per_vector, latency, "
        "memory, money, quality, throughput; did you mean 'latency'?")


def test_a_misspelt_device_names_the_close_one(tmp_path):
    assert _error(tmp_path, "variants:\n  devices: [cdua]\n") == (
        "P:2: entry 'variants': field 'devices': 'cdua' is not allowed; allowed: cpu, cuda; did you mean 'cuda'?")


def test_a_misspelt_choice_names_the_close_one(tmp_path):
    assert _error(tmp_path, "unknown_training_data: rejcet\n") == (
        "P:1: field 'unknown_training_data': 'rejcet' is not allowed; allowed: pass, reject; did you mean 'reject'?")


def test_a_misspelt_licence_names_the_spdx_id(tmp_path):
    assert _error(tmp_path, "licenses:\n  allow: [Apache 2.0]\n") == (
        "P:2: entry 'licenses': field 'allow': 'Apache 2.0' is not an SPDX licence id or expression (e.g. "
        "'Apache-2.0', 'MIT', 'CC-BY-NC-4.0'); use 'LicenseRef-<name>' for a custom licence or 'unknown'; did you "
        "mean 'Apache-2.0'?")


# -- language codes -----------------------------------------------------------------------------------------------

def test_an_unknown_two_letter_code_suggests_the_language_it_starts(tmp_path):
    assert _error(tmp_path, "languages:\n  require: [sp]\n") == (
        "P:2: entry 'languages': field 'require': 'sp' is not an ISO 639-1 language code; did you mean 'es' or "
        "'spa-Latn' (Spanish)?")


def test_a_language_name_suggests_its_code(tmp_path):
    assert _error(tmp_path, "languages:\n  require: [german]\n") == (
        "P:2: entry 'languages': field 'require': 'german' is not an ISO 639-3 language code (e.g. 'eng-Latn', "
        "'deu-Latn', or 'de'); did you mean 'de' or 'deu-Latn' (German)?")


def test_a_misspelt_script_suggests_the_script_code(tmp_path):
    assert _error(tmp_path, "languages:\n  require: [eng-Latin]\n") == (
        "P:2: entry 'languages': field 'require': 'eng-Latin': 'Latin' is not an ISO 15924 script code (e.g. Latn, "
        "Cyrl, Hans); did you mean 'Latn' (Latin)?")


def test_a_region_is_dropped_with_a_note_naming_file_line_and_field(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: spain\nlanguages:\n  require: [en, es-ES]\n", encoding="utf-8")
    policy = load_policy(path)
    assert policy.required_languages == ("eng-Latn", "spa-Latn")
    assert policy.notes == (f"{path}:3: languages.require: 'es-ES' read as spa-Latn (Spanish): the region ES is "
                            f"dropped, since models declare languages without regions",)


@pytest.mark.parametrize("written, read", [("pt_BR", "por-Latn"), ("es-419", "spa-Latn"), ("zh-Hans-CN", "zho-Hans")])
def test_regions_in_every_locale_form_are_dropped(written, read):
    from advisor.config.languages import normalize_language

    notes: list[str] = []
    assert normalize_language(written, notes) == read and len(notes) == 1 and written in notes[0]


def test_without_a_place_for_notes_a_region_is_an_error_naming_the_code_to_write():
    """A catalog entry states what a model covers exactly: a region there is an error, never dropped silently."""
    from advisor.config.languages import normalize_language

    with pytest.raises(ValueError) as err:
        normalize_language("es-ES")
    assert str(err.value) == "'es-ES': languages are written without a region ('ES'); did you mean 'spa-Latn' (Spanish)?"


def test_a_policy_without_a_region_has_no_note(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("languages:\n  require: [es, deu-Latn]\n", encoding="utf-8")
    assert load_policy(path).notes == ()


def test_the_command_prints_the_note_on_stderr(tmp_path, advisor_cli):
    path = tmp_path / "p.yaml"
    path.write_text("languages:\n  require: [es-ES]\n", encoding="utf-8")
    done = advisor_cli("catalog", "list", "--catalog", "offline", "--policy", str(path))
    assert done.returncode == 0, done.stderr
    assert (f"advisor: note: {path}:2: languages.require: 'es-ES' read as spa-Latn (Spanish): the region ES is "
            f"dropped, since models declare languages without regions") in done.stderr.splitlines()


# -- limits no candidate can meet ---------------------------------------------------------------------------------

@pytest.mark.parametrize("field, written, message", [
    ("max_p95_latency_ms", "0", "a maximum of 0 ms rejects every candidate (p95 query latency is always above 0)"),
    ("max_peak_memory_mb", "0", "a maximum of 0 MB rejects every candidate (serving memory is always above 0)"),
    ("max_bytes_per_vector", "0", "a maximum of 0 B rejects every candidate (bytes per vector is always above 0)"),
    ("max_p95_latency_ms", "-5", "a maximum of -5 ms rejects every candidate (p95 query latency is always above 0)"),
])
def test_a_maximum_of_zero_or_less_rejects_every_candidate(tmp_path, field, written, message):
    assert _error(tmp_path, f"limits:\n  {field}: {written}\n") == (
        f"P:2: entry 'limits': field '{field}': {message}; write a positive limit, or leave the field out for none")


def test_a_negative_minimum_throughput_is_an_error(tmp_path):
    assert _error(tmp_path, "limits:\n  min_throughput_docs_per_s: -10\n") == (
        "P:2: entry 'limits': field 'min_throughput_docs_per_s': a minimum of -10 docs/s is no limit at all "
        "(throughput is never negative); write a positive limit, or leave the field out for none")


def test_a_quality_floor_above_one_rejects_every_candidate(tmp_path):
    text = "limits:\n  min_quality:\n    - {task: scifact, metric: ndcg_at_10, min: 1.5}\n"
    assert _error(tmp_path, text) == ("P:3: entry 'limits.min_quality[0]': field 'min': a floor of 1.5 on ndcg_at_10 "
                                      "rejects every candidate (nDCG@10 is at most 1); write a value up to 1")


def test_a_fractional_bytes_limit_is_an_error(tmp_path):
    assert _error(tmp_path, "limits:\n  max_bytes_per_vector: 96.5\n") == (
        "P:2: entry 'limits': field 'max_bytes_per_vector': must be a whole number of B, got 96.5")


def test_limits_a_candidate_can_meet_load(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("limits:\n  max_p95_latency_ms: 0.5\n  max_bytes_per_vector: 1\n  min_throughput_docs_per_s: 0\n"
                    "  usd_per_million_docs: 0\n  min_quality:\n    - {task: t, metric: ndcg_at_10, min: 1}\n",
                    encoding="utf-8")
    limits = load_policy(path).limits
    assert (limits.max_p95_latency_ms, limits.max_bytes_per_vector, limits.min_throughput_docs_per_s,
            limits.usd_per_million_docs, limits.min_quality[0].minimum) == (0.5, 1, 0.0, 0.0, 1.0)
    assert isinstance(limits.max_bytes_per_vector, int)


def test_an_edited_policy_is_checked_the_same_way():
    """The TUI's limits go through ``policy_with_limits``: the same error as a file's."""
    from advisor.policy.spec import permissive_policy

    with pytest.raises(ConfigError) as err:
        policy_with_limits(permissive_policy(), {"max_p95_latency_ms": 0})
    assert str(err.value) == ("policy 'permissive': entry 'limits': field 'max_p95_latency_ms': a maximum of 0 ms "
                              "rejects every candidate (p95 query latency is always above 0); write a positive "
                              "limit, or leave the field out for none")
