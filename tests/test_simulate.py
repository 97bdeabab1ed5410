"""The simulated annotator: each oracle on a tiny task with a known answer."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clime import simulate as sim
from clime.errors import ClimeError
from clime.feedback import read_feedback

ROOT = Path(__file__).resolve().parents[1]


def nb(*words):
    return [{"word": w, "sim": 0.5} for w in words]


SETUP = {
    "format": 1, "task": "tiny", "src_lang": "ENGLISH", "tgt_lang": "FRENCH",
    "categories": ["health", "sport"], "k": 3, "created": "2026-01-01T00:00:00",
    "keywords": [
        {"word": "hospital", "score": 3.0, "src": nb("hospitals", "clinic", "football", "zebra"),
         "tgt": nb("hôpital", "clinique", "ballon", "inconnu")},
        {"word": "football", "score": 2.0, "src": nb("ball", "footballs", "doctor"),
         "tgt": nb("médecin", "ballon", "clinique")},
        {"word": "unknownword", "score": 1.0, "src": nb("hospital"), "tgt": nb("hôpital")},
    ],
}

DICT = "hospital\thôpital\nclinic\tclinique\nhospital\tclinique\nfootball\tfootball\nfootball\tballon\n" \
       "ball\tballon\ndoctor\tmédecin\nnurse\tinfirmière\n"


@pytest.fixture
def task(tmp_path):
    d = tmp_path / "ui_data" / "tiny"
    d.mkdir(parents=True)
    (d / "setup.json").write_text(json.dumps(SETUP, ensure_ascii=False), encoding="utf-8")
    vocab = sorted([["hôpital", 5], ["clinique", 3], ["ballon", 4], ["football", 6], ["médecin", 2], ["inconnu", 1]])
    (d / "vocab_tgt.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "dict.tsv").write_text(DICT, encoding="utf-8")
    return tmp_path


def test_inflection_heuristic():
    assert sim.is_inflection("hospital", "hospitals")
    assert sim.is_inflection("elect", "elected")
    assert sim.is_inflection("study", "studies")
    assert sim.is_inflection("stop", "stopped")
    assert sim.is_inflection("govern", "governing")
    assert sim.is_inflection("create", "created")
    assert not sim.is_inflection("hospital", "hospital")
    assert not sim.is_inflection("ball", "bell")
    assert not sim.is_inflection("hospital", "host")
    assert not sim.is_inflection("international", "internet")


def test_dict_oracle_known_answer(task):
    oracle = sim.make_oracle("dict", [task / "dict.tsv"])
    vocab = sim.load_vocab(task / "ui_data" / "tiny")
    rows, stats = sim.simulate(SETUP, oracle, vocab_tgt=vocab)
    r = {row.keyword: row for row in rows}
    h = r["hospital"]
    # inflection and shared translation (clinique) are similar; football known but unrelated; zebra unknown
    assert h.pos1 == ["hospitals", "clinic"] and h.neg1 == ["football"]
    assert h.pos2 == ["hôpital", "clinique"] and h.neg2 == ["ballon"]  # inconnu unknown -> unmarked
    assert h.new2 == []  # best translation already shown
    f = r["football"]
    assert f.pos1 == ["ball", "footballs"] and f.neg1 == ["doctor"]
    assert f.neg2 == ["médecin", "clinique"]
    # best translation 'football' is in the target vocabulary and not shown: added, also in pos2
    assert f.new2 == ["football"] and f.pos2 == ["ballon", "football"]
    u = r["unknownword"]  # the oracle knows nothing about the keyword
    assert u.pos1 == u.neg1 == u.pos2 == u.neg2 == u.new2 == []
    assert stats["keywords"] == 3 and stats["added"] == 1
    assert stats["judgements"] == 6 + 6 + 1


def test_dict_added_word_must_be_in_vocab(task):
    oracle = sim.DictOracle([("nurse", "infirmière")])
    setup = {"keywords": [{"word": "nurse", "src": [], "tgt": nb("hôpital")}]}
    rows, _ = sim.simulate(setup, oracle, vocab_tgt={"hôpital"})
    assert rows[0].new2 == [] and rows[0].neg2 == []  # hôpital unknown to this dictionary
    rows, _ = sim.simulate(setup, oracle, vocab_tgt={"hôpital", "infirmière"})
    assert rows[0].new2 == ["infirmière"] and rows[0].pos2 == ["infirmière"]


def _docs(path, docs):
    path.write_text("".join(json.dumps({"id": i, "text": t, "label": l}) + "\n" for i, (t, l) in enumerate(docs)),
                    encoding="utf-8")


def test_label_oracle_known_answer(tmp_path):
    src = [(["hospital", "doctor", "the"], 0)] * 4 + [(["football", "ball", "the"], 1)] * 4 \
        + [(["rare"], 0)] * 2 + [(["mixed", "hospital"], 0), (["mixed"], 1), (["mixed"], 1), (["mixed"], 0)] \
        + [(["filler"], 1)] * 2  # balanced classes: 8 documents each
    tgt = [(["hôpital", "médecin", "le"], 0)] * 3 + [(["ballon", "le"], 1)] * 5
    _docs(tmp_path / "s.json", src)
    _docs(tmp_path / "t.json", tgt)
    oracle = sim.make_oracle("label", docs_src=tmp_path / "s.json", docs_tgt=tmp_path / "t.json")
    setup = {"keywords": [
        {"word": "hospital", "src": nb("doctor", "football", "the", "rare", "mixed", "absent"),
         "tgt": nb("hôpital", "médecin", "ballon", "le", "absent")},
        {"word": "the", "src": nb("doctor"), "tgt": nb("hôpital")},  # keyword without a clear class
    ]}
    rows, stats = sim.simulate(setup, oracle)
    h = rows[0]
    assert h.pos1 == ["doctor"] and h.neg1 == ["football"]  # the, rare (2 docs), mixed, absent unmarked
    assert h.pos2 == ["hôpital", "médecin"] and h.neg2 == ["ballon"]  # le spread over classes
    assert rows[1].pos1 == rows[1].neg1 == rows[1].pos2 == rows[1].neg2 == []
    assert h.new2 == []
    assert stats["judgements"] == 5


def test_budget_noise_determinism(task):
    oracle = sim.make_oracle("dict", [task / "dict.tsv"])
    rows, stats = sim.simulate(SETUP, oracle, budget=1)
    assert [r.keyword for r in rows] == ["hospital"] and stats["keywords"] == 1
    a, sa = sim.simulate(SETUP, oracle, noise=0.5, seed=3)
    b, _ = sim.simulate(SETUP, oracle, noise=0.5, seed=3)
    assert [x.as_dict() for x in a] == [x.as_dict() for x in b]
    assert sa["flipped"] > 0
    allflip, sf = sim.simulate(SETUP, oracle, noise=1.0, seed=0, add_words=False)
    assert allflip[0].neg1 == ["hospitals", "clinic"] and allflip[0].pos1 == ["football"]
    # judgement counts do not change with noise
    clean, sc = sim.simulate(SETUP, oracle, add_words=False)
    assert sc["judgements"] == sf["judgements"]


def _run(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "simulate.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_cli_writes_app_format_read_back(task):
    out = task / "fb" / "sim.csv"
    r = _run("--task", "tiny", "--ui-data", task / "ui_data", "--oracle", "dict", "--dict", task / "dict.tsv",
             "--out", out, "-q", cwd=task)
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2"
    assert "\"['hospitals', 'clinic']\"" in text
    rows = read_feedback(out)
    assert [r.keyword for r in rows] == ["hospital", "football", "unknownword"]
    assert rows[1].new2 == ["football"]
    # same command, same bytes
    out2 = task / "fb" / "sim2.csv"
    _run("--task", "tiny", "--ui-data", task / "ui_data", "--dict", task / "dict.tsv", "--out", out2, "-q", cwd=task)
    assert out2.read_bytes() == out.read_bytes()
    # update.py's parser reads it: accepted/rejected pairs as the oracle judged them
    update = pytest.importorskip("clime.update")
    j = update.load_feedback([out])
    assert j.keywords == ["hospital", "football", "unknownword"] or j.keywords[:2] == ["hospital", "football"]
    flat = json.dumps([j.accepted, j.rejected], ensure_ascii=False, default=str)
    assert "hospitals" in flat and "hôpital" in flat and "médecin" in flat


def test_cli_errors(task):
    out = task / "x.csv"
    r = _run("--task", "nope", "--ui-data", task / "ui_data", "--dict", task / "dict.tsv", "--out", out, cwd=task)
    assert r.returncode == 2 and "setup.json" in r.stderr and "Traceback" not in r.stderr
    r = _run("--task", "tiny", "--ui-data", task / "ui_data", "--oracle", "label", "--out", out, cwd=task)
    assert r.returncode == 2 and "--docs-src" in r.stderr
    (task / "bad.tsv").write_text("a\tb\nbroken line here\n", encoding="utf-8")
    r = _run("--task", "tiny", "--ui-data", task / "ui_data", "--dict", task / "bad.tsv", "--out", out, cwd=task)
    assert r.returncode == 2 and "bad.tsv:2" in r.stderr
    bad = task / "ui_data" / "broken"
    bad.mkdir()
    (bad / "setup.json").write_text("{not json", encoding="utf-8")
    r = _run("--task", "broken", "--ui-data", task / "ui_data", "--dict", task / "dict.tsv", "--out", out, cwd=task)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not out.exists()


def test_fair_dict_oracle_judges_inflections_through_base_forms():
    pairs = [("walk", "kävellä"), ("house", "talo"), ("ship", "laiva"), ("trip", "matka")]
    fair = sim.DictOracle(pairs, "en", "fi")
    exact = sim.DictOracle(pairs)
    assert fair.judge_tgt("walking", "kävellä") is True          # walk -> kävellä counts for walking
    assert exact.judge_tgt("walking", "kävellä") is None         # the exact oracle does not know walking
    assert fair.judge_tgt("walking", "talo") is False            # a true non-translation is still rejected
    assert fair.judge_tgt("ships", "laivat") is True              # inflected on both sides
    assert fair.judge_tgt("trips", "laivat") is False
    assert fair.judge_tgt("walking", "xyzzy") is None             # unknown target word: unmarked
    assert fair.judge_tgt("zebra", "talo") is None                # unknown keyword: unmarked
    assert fair.knows("walking") and not exact.knows("walking") and not fair.knows("zebra")
    assert fair.judge_src("walking", "walks") is True
    assert fair.additions("walking", set(), {"kävellä"}) == ["kävellä"]
    assert exact.additions("walking", set(), {"kävellä"}) == []


def test_fair_oracle_counts_known_keywords():
    setup = {"keywords": [{"word": "walking", "src": [], "tgt": [{"word": "kävellä"}, {"word": "talo"}]},
                          {"word": "zebra", "src": [], "tgt": [{"word": "talo"}]}]}
    rows, stats = sim.simulate(setup, sim.DictOracle([("walk", "kävellä"), ("house", "talo")], "en", "fi"))
    assert stats["keywords"] == 2 and stats["keywords_known"] == 1
    assert rows[0].pos2 == ["kävellä"] and rows[0].neg2 == ["talo"] and rows[1].pos2 == rows[1].neg2 == []
    with pytest.raises(sim.ClimeError, match="no stemmer"):
        sim.DictOracle([], "en", "klingon")


def _feedback():
    from clime.feedback import FeedbackRow

    return [FeedbackRow("walk", pos1=["walking"], pos2=["kävellä", "kävely"], neg2=["talo"]),
            FeedbackRow("ship", pos2=["laiva"], neg1=["car"]), FeedbackRow("house", neg2=["auto"])]


def test_placebo_pairs_feed_exactly_the_accepted_count():
    from clime import placebo

    pairs = [(f"s{i}", f"t{i}") for i in range(40)] + [("walk", "kävellä"), ("car", "auto"), ("s1", "t1b")]
    vocab_src, vocab_tgt = {f"s{i}" for i in range(40)} | {"walk", "car"}, {f"t{i}" for i in range(40)} | {"t1b"}
    rows = placebo.placebo_pairs(_feedback(), pairs, vocab_src, vocab_tgt, seed=3)
    got = [(r.keyword, t) for r in rows for t in r.pos2]
    assert len(got) == placebo.accepted_count(_feedback()) == 3 and len(set(got)) == 3
    assert all(p in pairs for p in got) and not {k for k, _ in got} & {"walk", "ship", "house", "walking", "car"}
    assert all(not (r.pos1 or r.neg1 or r.neg2 or r.new2) for r in rows)
    shuffled = list(reversed(pairs))
    assert [(r.keyword, r.pos2) for r in placebo.placebo_pairs(_feedback(), shuffled, vocab_src, vocab_tgt, seed=3)] == \
        [(r.keyword, r.pos2) for r in rows]
    with pytest.raises(sim.ClimeError, match="placebo-pairs"):
        placebo.placebo_pairs(_feedback(), pairs[:2], vocab_src, vocab_tgt)


def test_placebo_words_feed_the_same_count_per_keyword():
    from clime import placebo

    vocab = {f"w{i}" for i in range(30)} | {"kävellä", "laiva"}
    rows = placebo.placebo_words(_feedback(), vocab, seed=1)
    assert [(r.keyword, len(r.pos2)) for r in rows] == [("walk", 2), ("ship", 1)]
    assert "kävellä" not in rows[0].pos2 and "laiva" not in rows[1].pos2
    assert all(set(r.pos2) <= vocab and not (r.pos1 or r.neg1 or r.neg2) for r in rows)
    assert [r.pos2 for r in placebo.placebo_words(_feedback(), vocab, seed=1)] == [r.pos2 for r in rows]
    assert [r.pos2 for r in placebo.placebo_words(_feedback(), vocab, seed=2)] != [r.pos2 for r in rows]


# ---------------------------------------------------------------- the document oracle

def _selection(tmp_path):
    d = tmp_path / "ui_data" / "docs"
    d.mkdir(parents=True)
    sel = {"format": 1, "strategy": "max-entropy", "seed": 0,
           "categories": [{"label": 0, "name": "sport"}, {"label": 1, "name": "santé"}, {"label": 2, "name": "art"}],
           "documents": [{"id": 7, "text": ["le", "match"], "entropy": 1.0, "pred": 0},
                         {"id": 99, "text": ["la", "clinique"], "entropy": 0.9, "pred": 0},  # id differs: by text
                         {"id": 3, "text": ["inconnu"], "entropy": 0.8, "pred": 2},
                         {"id": 4, "text": ["le", "musée"], "entropy": 0.7, "pred": 2}]}
    (d / "documents.json").write_text(json.dumps(sel, ensure_ascii=False), encoding="utf-8")
    labelled = [{"id": 7, "text": ["le", "match"], "label": 0}, {"id": 8, "text": ["la", "clinique"], "label": 1},
                {"id": 3, "text": ["autre", "texte"], "label": 1}, {"id": 4, "text": ["le", "musée"], "label": 2}]
    (tmp_path / "fr_lab.json").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in labelled),
                                          encoding="utf-8")
    return tmp_path


def test_doc_oracle_labels_the_chosen_documents(tmp_path):
    t = _selection(tmp_path)
    out = t / "fb" / "docs.jsonl"
    r = _run("--task", "docs", "--ui-data", t / "ui_data", "--oracle", "doc", "--docs-tgt", t / "fr_lab.json",
             "--out", out, cwd=t)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    # id 3 has other tokens in the labelled file and no document there has its tokens: unlabelled
    assert rows == [{"id": 7, "text": ["le", "match"], "label": 0}, {"id": 99, "text": ["la", "clinique"], "label": 1},
                    {"id": 4, "text": ["le", "musée"], "label": 2}]
    assert "1 of the 4 chosen documents" in r.stderr
    r = _run("--task", "docs", "--ui-data", t / "ui_data", "--oracle", "doc", "--docs-tgt", t / "fr_lab.json",
             "--budget", "1", "--out", out, "-q", cwd=t)
    assert r.returncode == 0 and len(out.read_text().splitlines()) == 1


def test_doc_oracle_noise_changes_labels_within_the_categories(tmp_path):
    from clime.active import read_selection

    t = _selection(tmp_path)
    sel = read_selection(t / "ui_data" / "docs")
    sel["documents"] = [{"id": i, "text": ["le", "match"]} for i in range(200)]
    oracle = sim.DocOracle([{"id": 0, "text": ["le", "match"], "label": 0}])
    rows, stats = sim.simulate_documents(sel, oracle, noise=0.3, seed=1)
    assert stats["labelled"] == 200 and 30 < stats["flipped"] < 90
    assert {r["label"] for r in rows} == {0, 1, 2}
    assert sum(r["label"] != 0 for r in rows) == stats["flipped"]
    assert sim.simulate_documents(sel, oracle, noise=0.3, seed=1) == (rows, stats)


def test_doc_oracle_errors(tmp_path):
    t = _selection(tmp_path)
    out = t / "x.jsonl"
    r = _run("--task", "docs", "--ui-data", t / "ui_data", "--oracle", "doc", "--out", out, cwd=t)
    assert r.returncode == 2 and "--docs-tgt" in r.stderr and "Traceback" not in r.stderr
    (t / "bad.json").write_text('{"id": 7, "text": ["le", "match"], "label": 5}\n', encoding="utf-8")
    r = _run("--task", "docs", "--ui-data", t / "ui_data", "--oracle", "doc", "--docs-tgt", t / "bad.json",
             "--out", out, cwd=t)
    assert r.returncode == 2 and "not one of the task's categories" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = _run("--task", "nodocs", "--ui-data", t / "ui_data", "--oracle", "doc", "--docs-tgt", t / "fr_lab.json",
             "--out", out, cwd=t)
    assert r.returncode == 2 and "select_docs.py" in r.stderr
    assert not out.exists()


def test_unknown_setup_format_is_refused(task):
    d = task / "ui_data" / "future"
    d.mkdir()
    (d / "setup.json").write_text(json.dumps(dict(SETUP, format=99), ensure_ascii=False), encoding="utf-8")
    (d / "vocab_tgt.json").write_text("[]", encoding="utf-8")
    out = task / "x.csv"
    r = _run("--task", "future", "--ui-data", task / "ui_data", "--dict", task / "dict.tsv", "--out", out, cwd=task)
    assert r.returncode == 2 and "unknown setup format 99" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_dict_oracle_takes_the_languages_from_the_task(task):
    setup = dict(SETUP)
    assert sim.oracle_languages(setup)[:2] == ("ENGLISH", "FRENCH")
    assert "from setup.json" in sim.oracle_languages(setup)[2]
    assert sim.oracle_languages(setup, "en", "fr")[:2] == ("en", "fr")
    assert sim.oracle_languages(setup, exact=True)[:2] == (None, None)
    assert sim.oracle_languages({"keywords": []})[:2] == (None, None)
    assert sim.oracle_languages(dict(setup, tgt_lang="KLINGON"))[:2] == (None, None)  # the task's: a warning
    with pytest.raises(ClimeError):
        sim.oracle_languages(setup, "en", "klingon")  # the user's: an error
    out = task / "m.csv"
    r = _run("--task", "tiny", "--ui-data", task / "ui_data", "--dict", task / "dict.tsv", "--out", out, cwd=task)
    assert r.returncode == 0, r.stderr
    assert "dict oracle: base forms (english -> french, from setup.json)" in r.stderr
    assert "with a judgement: update.py's 'keyword(s)'" in r.stderr
    r = _run("--task", "tiny", "--ui-data", task / "ui_data", "--dict", task / "dict.tsv", "--exact", "--out", out,
             cwd=task)
    assert "dict oracle: exact words (--exact)" in r.stderr


def test_keywords_judged_is_what_update_counts(task):
    rows, stats = sim.simulate(SETUP, sim.make_oracle("dict", [task / "dict.tsv"]))
    assert stats["keywords_judged"] == sum(1 for r in rows if r.pos1 or r.pos2 or r.neg1 or r.neg2)
    assert stats["keywords_known"] <= stats["keywords"]
