"""clime.text: the tokeniser and the JSON-lines document format."""
import json

import pytest

from clime.errors import ClimeError
from clime.text import read_docs, tokenize, write_docs


def test_tokenize_words_punctuation_and_case():
    assert tokenize("Hello, World!") == ["hello", ",", "world", "!"]
    assert tokenize("Hello World", lower=False) == ["Hello", "World"]
    assert tokenize("  ") == []


def test_tokenize_apostrophes_inside_words_stay_without_a_language():
    assert tokenize("L'école d’été") == ["l'école", "d'été"]
    assert tokenize("rock'n'roll show’n 'quoted' o'clock") == ["rock'n'roll", "show'n", "'", "quoted", "'", "o'clock"]


def test_tokenize_english_contractions():
    assert tokenize("Don't! It's can't, won't; I'm we'd they've you'll", lang="en") == [
        "do", "n't", "!", "it", "'s", "can", "n't", ",", "will", "n't", ";", "i", "'m", "we", "'d", "they",
        "'ve", "you", "'ll"]
    assert tokenize("The women's shouldn't've o'clock ain't", lang="en") == [
        "the", "women", "'s", "should", "n't", "'ve", "o'clock", "ain't"]
    assert tokenize("Don't", lower=False, lang="en") == ["Do", "n't"]
    assert tokenize("students' rooms", lang="en") == ["students", "'", "rooms"]


def test_tokenize_french_elisions():
    assert tokenize("L'avion d’été qu'aujourd'hui", lang="fr") == ["l'", "avion", "d'", "été", "qu'", "aujourd'hui"]
    assert tokenize("jusqu'à lorsqu'il puisqu'on n'a s'est c'est j'ai m'a t'es", lang="fr") == [
        "jusqu'", "à", "lorsqu'", "il", "puisqu'", "on", "n'", "a", "s'", "est", "c'", "est", "j'", "ai", "m'", "a",
        "t'", "es"]
    assert tokenize("Aujourd'hui quelqu'un presqu'île", lang="fr") == ["aujourd'hui", "quelqu'un", "presqu'île"]
    assert tokenize("peut-être a-t-il", lang="fr") == ["peut", "-", "être", "a", "-", "t", "-", "il"]
    assert tokenize("L'Europe", lower=False, lang="fra") == ["L'", "Europe"]


def test_tokenize_other_languages_use_the_general_rule():
    assert tokenize("Show'n YK:n Etelä-Afrikan l'avion", lang="fi") == [
        "show'n", "yk", ":", "n", "etelä", "-", "afrikan", "l'avion"]
    assert tokenize("don't", lang="de") == tokenize("don't") == ["don't"]


def test_tokenize_numbers_and_scripts():
    assert tokenize("COVID-19 en 2020") == ["covid", "-", "19", "en", "2020"]
    assert tokenize("日本語 мир ضوء") == ["日本語", "мир", "ضوء"]
    assert tokenize("a_b") == ["a", "_", "b"]


def _lines(tmp_path, *lines, raw=None):
    p = tmp_path / "docs.json"
    if raw is not None:
        p.write_bytes(raw)
    else:
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_read_docs_labeled_unlabeled_and_raw_text(tmp_path):
    p = _lines(tmp_path, json.dumps({"id": 1, "text": ["a", "b"], "label": 0}), "",
               json.dumps({"id": 2, "text": "Raw Text, here.", "label": 3}))
    docs = read_docs(p)
    assert docs == [{"id": 1, "text": ["a", "b"], "label": 0}, {"id": 2, "text": ["raw", "text", ",", "here", "."],
                                                                "label": 3}]
    docs = read_docs(_lines(tmp_path, json.dumps({"id": 7, "text": ["x"]})), labeled=False)
    assert docs == [{"id": 7, "text": ["x"]}]
    docs = read_docs(_lines(tmp_path, json.dumps({"text": ["x"]}), json.dumps({"text": ["y"]})), labeled=False)
    assert [d["id"] for d in docs] == [0, 1]
    docs = read_docs(_lines(tmp_path, json.dumps({"text": "L'avion"})), labeled=False, lang="fr")
    assert docs[0]["text"] == ["l'", "avion"]


BAD = {
    "not-json": (['{"id": 1, "text": ["a"], "label": 0}', '{"id": 2, "text": '], 2, "not valid JSON"),
    "not-object": (['[1, 2]'], 1, "expected a JSON object"),
    "no-text": (['{"id": 1, "label": 0}'], 1, "missing field 'text'"),
    "bad-text": (['{"id": 1, "text": [1, 2], "label": 0}'], 1, "'text' must be"),
    "no-label": (['{"id": 1, "text": ["a"]}'], 1, "missing field 'label'"),
    "bad-label": (['{"id": 1, "text": ["a"], "label": [0]}'], 1, "'label' must be"),
    "bool-label": (['{"id": 1, "text": ["a"], "label": true}'], 1, "'label' must be"),
    "bad-id": (['{"id": 1.5, "text": ["a"], "label": 0}'], 1, "'id' must be"),
    "duplicate-id": (['{"id": 1, "text": ["a"], "label": 0}', '{"id": 1, "text": ["b"], "label": 0}'], 2,
                     "duplicate id"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_read_docs_errors_name_file_and_line(tmp_path, case):
    lines, line, message = BAD[case]
    p = _lines(tmp_path, *lines)
    with pytest.raises(ClimeError) as err:
        read_docs(p)
    assert err.value.path == str(p) and err.value.line == line and message in str(err.value)


def test_read_docs_file_errors(tmp_path):
    with pytest.raises(ClimeError, match="no such file"):
        read_docs(tmp_path / "missing.json")
    with pytest.raises(ClimeError, match="directory"):
        read_docs(tmp_path)
    with pytest.raises(ClimeError, match="empty"):
        read_docs(_lines(tmp_path, raw=b""))
    with pytest.raises(ClimeError) as err:
        read_docs(_lines(tmp_path, raw=b'{"id": 1, "text": ["a"], "label": 0}\n{"id": 2, "text": ["\xff"]}\n'))
    assert err.value.line == 2 and "UTF-8" in str(err.value)


def test_write_docs_round_trip_utf8(tmp_path):
    docs = [{"id": 1, "text": ["école", "日本"], "label": 2}, {"id": 2, "text": ["b"], "label": 0}]
    p = tmp_path / "out.json"
    write_docs(p, docs)
    raw = p.read_text(encoding="utf-8")
    assert "école" in raw and "\\u" not in raw and len(raw.splitlines()) == 2
    assert read_docs(p) == docs


def test_shared_with_matches_ids_as_text_and_identical_token_lists():
    from clime.text import shared_with

    docs = [{"id": 1, "text": ["a"]}, {"id": 2, "text": ["b", "c"]}, {"id": 3, "text": ["d"]}, {"id": 4, "text": ["e"]}]
    others = [{"id": "1", "text": ["x"]}, {"id": 9, "text": ["b", "c"]}, {"id": 4, "text": ["e"]}]
    assert shared_with(docs, others) == ([0, 1, 3], 2, 2)
    assert shared_with(docs, []) == ([], 0, 0)
