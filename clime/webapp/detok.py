"""Readable text from a tokenised document, for display only (the stored tokens are unchanged).

``detokenize(["sous", "-", "marins", "à", "l'", "époque", ","], "french")`` gives
``"sous-marins à l'époque,"``.  Rules, in every language:

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


def detokenize(tokens, lang=None):
    """The tokens joined as a person would write them (see the module's rules)."""
    french = is_french(lang)
    out = []
    glue_next = ""  # what goes between the previous token and the next ("" or NBSP), if forced
    force = False
    quote_open = False
    for i, tok in enumerate(tokens):
        tok = str(tok)
        if not out:
            out.append(tok)
        else:
            if force:
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
            out.append(sep + tok)
        force, glue_next = False, ""
        if tok == '"':
            if not quote_open:
                force = True
            quote_open = not quote_open
        elif french and tok in FRENCH_OPEN:
            force, glue_next = True, NBSP
        elif tok in OPEN_BEFORE or _elided(tok):
            force = True
    return "".join(out)


def _joined_hyphen(tokens, j):
    """True when ``tokens[j]`` is a ``-`` that closes up between two word pieces."""
    return (tokens[j] == "-" and 1 <= j < len(tokens) - 1
            and _wordlike(str(tokens[j - 1])) and _wordlike(str(tokens[j + 1])))
