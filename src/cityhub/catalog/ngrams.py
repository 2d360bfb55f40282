"""Text → index terms that work for Korean without a morphological analyser.

Words in Hangul (or other CJK scripts) become overlapping bigrams, so `교통` finds `부산교통공사`;
other words are lower-cased whole words. Queries are turned into the same terms and matched as
phrases, which makes a multi-syllable Korean query behave like a substring search.
"""

from __future__ import annotations

import re

WORD_RE = re.compile(r"\w+", re.UNICODE)


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0xAC00 <= code <= 0xD7A3  # Hangul syllables
        or 0x1100 <= code <= 0x11FF
        or 0x3130 <= code <= 0x318F
        or 0x4E00 <= code <= 0x9FFF  # CJK ideographs (Hanja)
        or 0x3040 <= code <= 0x30FF  # kana
    )


def _split_runs(word: str) -> list[tuple[str, bool]]:
    """Split a word into runs of CJK and non-CJK characters (`KTX역사` → `ktx`, `역사`)."""
    runs: list[tuple[str, bool]] = []
    for ch in word:
        cjk = _is_cjk(ch)
        if runs and runs[-1][1] == cjk:
            runs[-1] = (runs[-1][0] + ch, cjk)
        else:
            runs.append((ch, cjk))
    return runs


def word_terms(word: str) -> list[str]:
    terms: list[str] = []
    for run, cjk in _split_runs(word):
        if cjk:
            terms.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        else:
            terms.append(run.lower())
    return terms


def index_text(*parts: str | None) -> str:
    """The space-separated term string stored in the search index."""
    out: list[str] = []
    for part in parts:
        if part:
            for word in WORD_RE.findall(part):
                out.extend(word_terms(word))
            out.append("|")  # a separator so phrases don't span fields
    return " ".join(out)


def query_phrases(q: str) -> list[list[str]]:
    """One phrase (list of consecutive terms) per query word; all phrases must match."""
    return [terms for word in WORD_RE.findall(q) if (terms := word_terms(word))]
