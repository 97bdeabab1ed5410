"""Readable text from a tokenised document, for display only (the stored tokens are unchanged).

``detokenize(["sous", "-", "marins", "à", "l'", "époque", ","], "french")`` gives
``"sous-marins à l'époque,"`` (the document page and the concordance lines use it).
Rules, in every language:

* no space before ``, . : ; ) ] } ! ? % …`` and closing quotes, none after ``( [ {`` and
  opening quotes (a straight ``"`` opens and closes in turn);
* none after an elided word ending in an apostrophe (``l'``, ``d'``, ``qu'``, ``jusqu'``,
  also with ``’``), none before an English clitic (``'s``, ``n't``, ``'re``, ...);
* a hyphen token between two word pieces closes up (``sous - marins`` -> ``sous-marins``);
  dashes (``–``, ``—``) keep their spaces.

French typography (``french``, ``fr``, ``fra``, ...) instead puts a no-break space before
``: ; ! ? % »`` and after ``«``, so those are joined with U+00A0 rather than glued.
"""

NBSP = "\u00a0"
CLOSE_AFTER = set(",.:;)]}!?%…»”’") | {"...", "''"}  # attach to the token before
OPEN_BEFORE = set("([{«“‘") | {"``"}  # attach to the token after
FRENCH_SPACED = set(":;!?%»")  # French: a no-break space before these ...
FRENCH_OPEN = {"«"}  # ... and after these
CLITICS = {"'s", "'re", "'ve", "'ll", "'d", "'m", "n't", "’s", "’re", "’ve", "’ll", "’d", "’m", "n’t"}
FRENCH_NAMES = {"fr", "fra", "fre", "french", "français", "francais"}


def is_french(lang):
    lang = (lang or "").strip().lower()
    return lang in FRENCH_NAMES or lang.startswith(("fr-", "fr_"))


def _wordlike(tok):
    return any(ch.isalnum() for ch in tok)


def _elided(tok):
    """``l'``, ``qu'``, ``jusqu’``: letters then one apostrophe."""
    return len(tok) >= 2 and tok[-1] in "'’" and tok[:-1].isalpha() and len(tok) <= 8


def separators(tokens, lang=None):
    """What goes before each token (``""``, ``" "`` or a no-break space); the first gets ``""``."""
    tokens = [str(t) for t in tokens]
    french = is_french(lang)
    seps = []
    force, glue_next, quote_open = False, "", False
    for i, tok in enumerate(tokens):
        if i == 0:
            sep = ""
        elif force:
            sep = glue_next
        elif tok == '"':
            sep = "" if quote_open else " "
        elif french and tok in FRENCH_SPACED:
            sep = NBSP
        elif tok in CLOSE_AFTER or tok in CLITICS:
            sep = ""
        elif _joined_hyphen(tokens, i) or _joined_hyphen(tokens, i - 1):
            sep = ""
        else:
            sep = " "
        seps.append(sep)
        force, glue_next = False, ""
        if tok == '"':
            force = not quote_open
            quote_open = not quote_open
        elif french and tok in FRENCH_OPEN:
            force, glue_next = True, NBSP
        elif tok in OPEN_BEFORE or _elided(tok):
            force = True
    return seps


def detokenize(tokens, lang=None):
    """The tokens joined as a person would write them (see the module's rules)."""
    return "".join(sep + str(tok) for sep, tok in zip(separators(tokens, lang), tokens))


def context_parts(tokens, pos, lang=None):
    """A concordance line around ``tokens[pos]``: (text before it, the word, text after it), the
    separators included, so that the three concatenated are ``detokenize(tokens)``."""
    tokens = [str(t) for t in tokens]
    seps = separators(tokens, lang)
    left = "".join(s + t for s, t in zip(seps[:pos], tokens[:pos])) + seps[pos]
    right = "".join(s + t for s, t in zip(seps[pos + 1:], tokens[pos + 1:]))
    return left, tokens[pos], right


def _joined_hyphen(tokens, j):
    """True when ``tokens[j]`` is a ``-`` that closes up between two word pieces."""
    return (tokens[j] == "-" and 1 <= j < len(tokens) - 1
            and _wordlike(str(tokens[j - 1])) and _wordlike(str(tokens[j + 1])))
