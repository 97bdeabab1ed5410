"""clime.webapp.detok: readable text from tokens for the document page (issue 25, item 5)."""

import pytest

from clime.webapp.detok import NBSP, context_parts, detokenize, is_french


@pytest.mark.parametrize("tokens,text", [
    (["sous", "-", "marins"], "sous-marins"),
    (["l'", "époque", ",", "il", "dort", "."], "l'époque, il dort."),
    (["qu'", "il", "vienne", "d'", "abord"], "qu'il vienne d'abord"),
    (["jusqu’", "ici"], "jusqu’ici"),
    (["un", "(", "petit", ")", "test", ":", "oui", ";", "non", "!", "vrai", "?"],
     "un (petit) test: oui; non! vrai?"),
    (["50", "%", "des", "gens"], "50% des gens"),
    (["it", "was", "n't", "John", "'s", "idea", "..."], "it wasn't John's idea..."),
    (["he", "said", '"', "stop", '"', "twice", "."], 'he said "stop" twice.'),
    (["a", "—", "b", "–", "c"], "a — b – c"),  # dashes keep their spaces
    (["-", "dit", "-", "il"], "- dit-il"),  # a leading hyphen has no word before it
    (["x", "-"], "x -"),
    ([], ""),
    ([12, "<b>", "&"], "12 <b> &"),  # not escaped here: the template escapes
])
def test_detokenize_everywhere(tokens, text):
    assert detokenize(tokens, "english") == text


def test_french_spacing():
    tokens = ["il", "a", "dit", ":", "«", "oui", "!", "»", "(", "50", "%", ")", "."]
    assert detokenize(tokens, "FRENCH") == f"il a dit{NBSP}: «{NBSP}oui{NBSP}!{NBSP}» (50{NBSP}%)."
    assert detokenize(tokens, "finnish") == "il a dit: «oui!» (50%)."
    assert detokenize(["l'", "hôpital", ",", "enfin", "?"], "fr") == f"l'hôpital, enfin{NBSP}?"


def test_french_names():
    assert all(is_french(x) for x in ("fr", "FR", "French", "fra", "français", "fr-CA", "fr_BE"))
    assert not any(is_french(x) for x in ("en", "finnish", "", None, "frisian"))


def test_context_parts_put_the_separators_around_the_word():
    tokens = ["l'", "hôpital", ",", "les", "sous", "-", "marins", "."]
    for pos in range(len(tokens)):
        left, word, right = context_parts(tokens, pos, "french")
        assert left + word + right == detokenize(tokens, "french") and word == tokens[pos]
    assert context_parts(tokens, 1, "fr") == ("l'", "hôpital", ", les sous-marins.")
    assert context_parts(tokens, 6, "fr") == ("l'hôpital, les sous-", "marins", ".")
    assert context_parts(["a", "b"], 0) == ("", "a", " b")
