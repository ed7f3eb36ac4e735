"""Search keys for people: a name, its pinyin and its initials, so 张三 is found by "zhangsan" and "zs".

Polyphonic characters (e.g. 曾 zeng/ceng, 单 shan/dan) contribute every reading, so a search by any
reading finds the person.
"""

from __future__ import annotations

import itertools

from pypinyin import Style, lazy_pinyin, pinyin

# A name of many polyphonic characters could explode into thousands of spellings; keep the first few.
MAX_READINGS = 8


def _readings(name: str) -> list[tuple[str, str]]:
    """(full pinyin, initials) for each plausible reading of `name`; non-Chinese text passes through."""
    syllables = pinyin(name, style=Style.NORMAL, heteronym=True, errors=lambda chars: [c for c in chars])
    options = [[s.lower() for s in dict.fromkeys(choices) if s.strip()] or [""] for choices in syllables]
    readings = []
    for combo in itertools.islice(itertools.product(*options), MAX_READINGS):
        parts = [p for p in combo if p]
        readings.append(("".join(parts), "".join(p[0] for p in parts)))
    return readings


def search_keys(name: str, *extra: str | None) -> tuple[str, str]:
    """Return (search_text, sort_name) for a member.

    search_text is lower-case and space-separated: the name itself (spaces removed), each pinyin
    spelling, each initials string, then `extra` values such as the staff id. sort_name is the first
    pinyin reading in context (曾 as zeng), so listings sort 张三 under Z.
    """
    clean = "".join(name.split()).lower()
    readings = _readings("".join(name.split())) if name.strip() else [("", "")]
    parts = [clean]
    for full, initials in readings:
        parts += [full, initials]
    parts += [e.strip().lower() for e in extra if e and e.strip()]
    sort_name = "".join(lazy_pinyin("".join(name.split()))).lower()[:200] or clean[:200]
    return " ".join(dict.fromkeys(p for p in parts if p)), sort_name


def normalise_query(query: str) -> str:
    """What a search box's text is compared as: lower case, no spaces ("Zhang San" -> "zhangsan")."""
    return "".join(query.split()).lower()


def like_pattern(query: str) -> str:
    """A LIKE pattern matching `query` anywhere, with LIKE's wildcards escaped (use ESCAPE '\\')."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
