"""The chat-model rater asks a chat API to grade each retrieved (query, document) pair 0-3. Against a local server
that speaks the OpenAI chat-completions and Gemini generateContent formats, and whose grades come from the real
MiniLM's cosine similarities, its ratings are those grades, a malformed answer is counted (never guessed), tokens
and money are counted, and a second run is served from the store without a single new request."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from advisor.datasets.tasks import RetrievalData
from advisor.errors import ConfigError, UserError
from advisor.quality.chat_rater import ChatRater, load_config, parse_grade
from advisor.quality.raters import get_rater, rate_pairs, rate_results

pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[serve]')")

from ..backends.hosted_server import local_api  # noqa: E402

THRESHOLDS = (0.2, 0.35, 0.5)  # cosine below 0.2 -> 0, below 0.35 -> 1, below 0.5 -> 2, else 3
PAIR = re.compile(r"Query: (?P<q>.*)\n\nDocument: (?P<d>.*)\n\nAnswer", re.S)  # the shipped prompt's layout
PRICE_IN, PRICE_OUT = 0.15, 0.60


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


_GRADES: dict[tuple[str, str], int] = {}


def grade(model, query: str, doc: str) -> int:
    """MiniLM's cosine of the pair mapped to 0-3 by THRESHOLDS (each pair encoded once per session)."""
    if (query, doc) not in _GRADES:
        q, d = model.encode([query, doc], normalize_embeddings=True)
        _GRADES[query, doc] = int(np.searchsorted(THRESHOLDS, float(q @ d), side="right"))
    return _GRADES[query, doc]


@pytest.fixture()
def chat(minilm):
    """A local chat server: grades from MiniLM; ``state['malformed']`` documents get a chatty answer;
    ``state['fail_first']`` 429s first; usage is the prompt's word count and one output token."""
    state = {"malformed": set(), "fail_first": 0}

    def answer(prompt: str) -> tuple[str, int] | None:
        if state["fail_first"] > 0:
            state["fail_first"] -= 1
            return None
        m = PAIR.search(prompt)
        text = "I would say 2" if m["d"] in state["malformed"] else str(grade(minilm, m["q"], m["d"]))
        return text, len(prompt.split())

    def openai(body, headers):
        got = answer(body["messages"][0]["content"])
        if got is None:
            return 429, {"error": {"message": "rate limited"}}, {"retry-after": "0"}
        return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": got[0]}}],
                     "usage": {"prompt_tokens": got[1], "completion_tokens": 1}}, {}

    def gemini(body, headers):
        got = answer(body["contents"][0]["parts"][0]["text"])
        if got is None:
            return 429, {"error": {"code": 429}}, {"retry-after": "0"}
        return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": got[0]}]}}],
                     "usageMetadata": {"promptTokenCount": got[1], "candidatesTokenCount": 1}}, {}

    with local_api([(r"/v1/chat/completions", openai),
                    (r"/openai/deployments/(?P<d>[^/]+)/chat/completions", openai),  # Azure OpenAI's path
                    (r"/v1beta/models/(?P<m>[^/:]+):generateContent", gemini)]) as api:
        api.state = state
        yield api


def _config(tmp_path: Path, base_url: str, **fields) -> Path:
    lines = {"model": "grader-1", "base_url": base_url, "store": "results.sqlite", "concurrency": 2,
             "price_per_million_input_tokens": PRICE_IN, "price_per_million_output_tokens": PRICE_OUT, **fields}
    path = tmp_path / "chat-rater.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in lines.items()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_task(example_task):
    task = example_task("rt-reviews-plots")
    queries = dict(list(task.data.queries.items())[:5])
    data = RetrievalData(corpus=task.data.corpus, queries=queries, qrels={})
    return dataclasses.replace(task, type="unlabeled_retrieval", data=data)


def test_chat_grades_feed_the_position_weighted_score_and_a_malformed_answer_is_counted(tmp_path, chat, minilm,
                                                                                       small_task):
    rng = np.random.default_rng(0)
    indices = np.stack([rng.permutation(len(small_task.data.corpus))[:3] for _ in small_task.data.queries])
    queries, docs = list(small_task.data.queries.values()), list(small_task.data.corpus.values())
    chat.state["malformed"] = {docs[indices[0, 1]]}  # the first query's second document gets "I would say 2"
    rater = ChatRater(load_config(_config(tmp_path, chat.url + "/v1")))
    metrics, per_query, info = rate_results(small_task, indices, rater=rater, k_values=(1, 3))

    # independent: MiniLM's cosine mapped by the thresholds, / 3, DCG weights over the positions with a grade
    bad = docs[indices[0, 1]]
    expected = np.array([[np.nan if docs[j] == bad else grade(minilm, queries[i], docs[j]) / 3 for j in row]
                         for i, row in enumerate(indices)])
    w = 1 / np.log2([2, 3, 4])
    at3 = [np.nansum(row * w) / w[~np.isnan(row)].sum() for row in expected]
    np.testing.assert_allclose(per_query["rated_score_at_3"], at3, atol=1e-12)
    np.testing.assert_allclose(per_query["rated_score_at_1"], expected[:, 0], atol=1e-12)
    assert metrics["rated_score_at_3"] == pytest.approx(np.mean(at3))
    assert info["malformed_answers"] == np.isnan(expected).sum() == 1 and info["ratings"] == info["new_ratings"] == 15
    assert len(chat.requests) == 15 and info["usage"]["requests"] == 15
    tokens_in = sum(len(r["body"]["messages"][0]["content"].split()) for r in chat.requests)
    assert info["usage"]["input_tokens"] == tokens_in and info["usage"]["output_tokens"] == 15
    assert info["usage"]["cost_usd"] == pytest.approx((tokens_in * PRICE_IN + 15 * PRICE_OUT) / 1e6)
    assert info["rater"] == "chat" and info["model"] == "grader-1" and info["scale"] == "0-3"


def test_a_second_run_is_served_from_the_store_without_a_request(tmp_path, chat, small_task):
    indices = np.tile(np.arange(3), (len(small_task.data.queries), 1))
    docs = list(small_task.data.corpus.values())
    chat.state["malformed"] = {docs[2]}
    config = load_config(_config(tmp_path, chat.url + "/v1"))
    first, _, info1 = rate_results(small_task, indices, rater=ChatRater(config), k_values=(1, 3))
    sent = len(chat.requests)
    again, _, info2 = rate_results(small_task, indices, rater=ChatRater(config), k_values=(1, 3))  # a new process
    assert len(chat.requests) == sent == 15
    assert again == first and info2["new_ratings"] == 0 and info2["usage"]["requests"] == 0
    assert info1["malformed_answers"] == info2["malformed_answers"] == 5  # stored as malformed, counted again

    from advisor.sweep.store import ResultStore  # the ratings live beside the cells, in the same file

    with ResultStore(tmp_path / "results.sqlite") as store:
        assert store.integrity_check() == "ok"


def test_gemini_generate_content_with_the_users_prompt_file(tmp_path, chat, minilm, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "g-key")
    prompt = tmp_path / "my_prompt.txt"
    prompt.write_text("Grade 0-3 for my shop.\nQuery: {query}\n\nDocument: {document}\n\nAnswer now.",
                      encoding="utf-8")
    rater = ChatRater(load_config(_config(tmp_path, chat.url, api="gemini", prompt="my_prompt.txt")))
    pairs = [("cheap flights to lisbon", "Lisbon flights from 20 euros."), ("cheap flights to lisbon",
                                                                         "A recipe for lemon cake.")]
    scores, fresh = rate_pairs(rater, pairs)
    assert scores.tolist() == [grade(minilm, q, d) / 3 for q, d in pairs] and fresh == 2
    assert {r["headers"]["x-goog-api-key"] for r in chat.requests} == {"g-key"}
    assert all(r["body"]["contents"][0]["parts"][0]["text"].startswith("Grade 0-3 for my shop.")
               for r in chat.requests)
    assert rater.usage()["output_tokens"] == 2


def test_azure_openai_puts_the_deployment_in_the_path_and_the_key_in_api_key(tmp_path, chat, minilm, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key")
    rater = ChatRater(load_config(_config(tmp_path, chat.url, deployment="grader-dep", api_version='"2024-10-21"')))
    pair = ("a query about cats", "A document about cats.")
    scores, _ = rate_pairs(rater, [pair])
    (request,) = chat.requests
    assert request["path"] == "/openai/deployments/grader-dep/chat/completions?api-version=2024-10-21"
    assert request["headers"]["api-key"] == "az-key" and "authorization" not in request["headers"]
    assert scores[0] == grade(minilm, *pair) / 3
    assert rater.identity()["azure_deployment"] == "grader-dep"


def test_an_azure_deployment_needs_an_api_version(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "http://127.0.0.1:9", deployment="grader-dep"))
    assert "field 'api_version'" in str(err.value) and "\n" not in str(err.value)


def test_a_429_is_retried(tmp_path, chat, minilm):
    chat.state["fail_first"] = 1
    rater = ChatRater(load_config(_config(tmp_path, chat.url + "/v1", concurrency=1)))
    scores, _ = rate_pairs(rater, [("a query about cats", "A document about cats.")])
    assert rater.usage()["retries"] == 1 and len(chat.requests) == 2
    assert scores[0] == grade(minilm, "a query about cats", "A document about cats.") / 3


@pytest.mark.parametrize("answer, grade_", [("3", 3), (" 0\n", 0), ("4", None), ("2.", None), ("two", None),
                                            ("Grade: 1", None), ("", None)])
def test_answers_are_parsed_strictly(answer, grade_):
    assert parse_grade(answer, 3) == grade_


def test_a_remote_chat_api_needs_allow_network(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CHAT_RATER", str(_config(tmp_path, "https://api.openai.com/v1")))
    with pytest.raises(UserError, match="allow_network"):
        get_rater("chat")


@pytest.mark.parametrize("fields, field", [({"api": "claude"}, "api"), ({"concurrency": 0}, "concurrency"),
                                           ({"prompt": "no_placeholders.txt"}, "prompt")])
def test_a_bad_chat_rater_file_is_one_line(tmp_path, fields, field):
    (tmp_path / "no_placeholders.txt").write_text("Rate this.", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "http://127.0.0.1:9/v1", **fields))
    assert f"field '{field}'" in str(err.value) and "\n" not in str(err.value)
