"""The one number formatter: plain numbers people read at a glance, never an exponent, and one word for a missing
figure."""

from __future__ import annotations

import pytest

from advisor.formatting import cell, count, duration, figure, megabytes, money, number, percent


@pytest.mark.parametrize("value, text", [
    (1209.4, "1,209"), (23.47, "23.5"), (1.764, "1.76"), (2.0, "2"), (20.0, "20"), (0.81234, "0.812"),
    (0.000123, "0.000123"), (1234567.8, "1,234,568"), (1536, "1,536"), (0, "0"), (-45.67, "-45.7"),
    (99.96, "100"), (float("nan"), "n/a"), (None, "n/a"),
])
def test_number_is_plain_with_three_significant_digits(value, text):
    assert number(value) == text


def test_number_never_writes_an_exponent():
    for value in (1.21e3, 1.5e7, 3.2e-6, 12094.0):
        assert "e" not in number(value)


def test_decimals_asks_for_exactly_that_many():
    assert number(0.5, decimals=4) == "0.5000"
    assert number(1234.5, decimals=1) == "1,234.5"


def test_figure_puts_the_unit_after_a_space():
    assert figure(1209.4, "ms") == "1,209 ms"
    assert figure(None, "ms") == "n/a"
    assert figure(1536, "B/vector") == "1,536 B/vector"


def test_a_table_cell_shows_a_dash_when_missing_and_text_as_it_is():
    assert cell(None) == "–"
    assert cell(0.8123, decimals=4) == "0.8123"
    assert cell("pareto") == "pareto"


@pytest.mark.parametrize("seconds, text", [(0.0421, "42.1 ms"), (12.34, "12.3 s"), (754, "12.6 min"),
                                           (9000, "150 min"), (90000, "25 h"), (None, "n/a")])
def test_duration_picks_the_unit_that_reads_best(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize("mb, text", [(512.3, "512 MB"), (0.586, "0.586 MB"), (2150, "2.1 GB"), (None, "n/a")])
def test_megabytes_switch_to_gigabytes(mb, text):
    assert megabytes(mb) == text


def test_percent_count_and_money():
    assert percent(0.9731) == "97.3%"
    assert percent(None) == "n/a"
    assert count(22_713_216) == "22.7 M"
    assert count(640_000) == "640 K"
    assert count(1_300_000_000) == "1.3 B"
    assert count(None) == "?"
    assert money(0.000357) == "$0.000357"
