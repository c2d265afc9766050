"""The words of a report in the reader's language: message catalogues and plural forms.

English is the source: every fixed phrase is written in the code as its English msgid, and a
catalogue (digest/locales/<lang>.po, gettext's format, shipped as package data) gives its
translation. The .po files are read as they are (a small parser, no build step, no dependency);
a phrase a catalogue lacks falls back to English.

Placeholders are `str.format` names (`{n}`, `{who}`): a translation keeps every one of its
msgid's. Counts choose a plural form by the language's rule (French says "0 commentaire",
Japanese has one form). Numbers keep today's formatting in every language (`1,234`, `+0.25`,
`45%`): digits a reader of any of these languages reads without doubt in a report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

LANGUAGES = ("en", "de", "fr", "es", "ja", "pt")
DEFAULT = "en"
# Each language in its own words (for the settings answer).
NAMES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "français",
    "es": "español",
    "ja": "日本語",
    "pt": "português",
}


def N_(msgid: str) -> str:
    """Marks a phrase kept as data (a default, a table) as a msgid; returns it unchanged."""
    return msgid


# Each language's name in English (the model's instructions, the bot's answers).
ENGLISH_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ja": "Japanese",
    "pt": "Portuguese",
}
# The labels a report carries as data: moods (digest.report.MOODS) and an LLM's stances
# (digest.llm_schema.STANCES, an enum the model answers in English), marked for the catalogues.
_LABELS = frozenset(
    (
        N_("positive"),
        N_("negative"),
        N_("neutral"),
        N_("mixed"),
        N_("supportive"),
        N_("critical"),
        N_("question"),
        N_("humorous"),
        N_("informative"),
    )
)


# The one message context the catalogues use: a chat thread's words (msgctxt "chat"). Where a
# phrase speaks of comments or the post, a chat thread's report says messages, replies and the
# first message: the catalogues give those phrases a second translation in this context.
CHAT = "chat"
# Phrases that need a chat translation although their English reads the same after
# `Origin.say` (which finds the others: every msgid it changes): the post, its author and time
# (a first message is written, not posted), and scores (a chat thread's are reactions).
CHAT_ALSO = frozenset(
    (
        "post",
        "the post",
        "Score",
        "post {state}",
        "Author",
        "Posted",
        "{op} wrote {n}",
        "how many {op} wrote is unknown (their account is deleted)",
        "how many {op} wrote is unknown (their name is not known)",
        "the first in the thread's order across its branches, with their parents",
        "an unknown author",
        # A chat thread's scores are reactions, not points.
        "Mood over time (score-weighted)",
        "The score-weighted mood went from {start_label} ({start}) to {end_label} ({end}), "
        "{end_label} from hour {turn} on.",
        "The score-weighted mood stayed {label} ({start} to {end}).",
    )
)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's translations: msgid → msgstr, and (singular, plural) → forms; `contexts`:
    each msgctxt's own catalogue (a chat thread's words)."""

    singular: Mapping[str, str]
    plural: Mapping[tuple[str, str], tuple[str, ...]]
    contexts: Mapping[str, Catalogue] = field(default_factory=dict)


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unquote(text: str) -> str:
    m = _STRING.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not a .po string: {text!r}")
    return re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), m.group(1))


def parse_po(text: str) -> Catalogue:
    """A .po file's entries (comments, the header and fuzzy entries left out); an entry with a
    `msgctxt` goes to that context's catalogue."""
    singular: dict[str | None, dict[str, str]] = {None: {}}
    plural: dict[str | None, dict[tuple[str, str], tuple[str, ...]]] = {None: {}}
    for chunk in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key: str | None = None
        fuzzy = False
        for line in chunk.splitlines():
            line = line.strip()
            if line.startswith("#"):
                fuzzy = fuzzy or (line.startswith("#,") and "fuzzy" in line)
                continue
            if line.startswith('"') and key is not None:
                fields[key] += _unquote(line)
            elif line:
                key, _, rest = line.partition(" ")
                fields[key] = _unquote(rest)
        msgid = fields.get("msgid")
        if not msgid or fuzzy:
            continue
        ctx = fields.get("msgctxt")
        if "msgid_plural" in fields:
            forms: list[str] = []
            while f"msgstr[{len(forms)}]" in fields:
                forms.append(fields[f"msgstr[{len(forms)}]"])
            if forms and all(forms):
                plural.setdefault(ctx, {})[(msgid, fields["msgid_plural"])] = tuple(forms)
        elif fields.get("msgstr"):
            singular.setdefault(ctx, {})[msgid] = fields["msgstr"]
    contexts = {
        ctx: Catalogue(singular.get(ctx, {}), plural.get(ctx, {}))
        for ctx in (set(singular) | set(plural)) - {None}
        if ctx is not None
    }
    return Catalogue(singular[None], plural[None], contexts)


@functools.cache
def catalogue(lang: str) -> Catalogue:
    """The catalogue of `lang` (empty for English, the source)."""
    if lang == DEFAULT or lang not in LANGUAGES:
        return Catalogue({}, {})
    text = resources.files("digest").joinpath("locales", f"{lang}.po").read_text("utf-8")
    return parse_po(text)


def plural_index(lang: str, n: int) -> int:
    """Which plural form `n` takes (gettext's Plural-Forms of each catalogue)."""
    if lang == "ja":
        return 0  # nplurals=1
    if lang == "fr":
        return 0 if abs(n) <= 1 else 1  # nplurals=2; plural=(n > 1): "0 commentaire"
    return 0 if abs(n) == 1 else 1  # nplurals=2; plural=(n != 1)


@dataclass(frozen=True, slots=True)
class Words:
    """The fixed phrases of one language. `tr` and `ntr` take the English msgid(s) and the
    placeholders' values; English needs no catalogue and comes out exactly as written.

    `context` ("chat" for a chat thread's report): a phrase the catalogue translates in that
    context takes that translation ("Nachrichten", not "Kommentare"), any other its plain one.
    English has no catalogue: an English chat report's words are `Origin.say`'s."""

    lang: str = DEFAULT
    context: str = ""

    @property
    def english(self) -> bool:
        return self.lang == DEFAULT

    def _own(self) -> Catalogue | None:
        """The catalogue of this context, if any."""
        return catalogue(self.lang).contexts.get(self.context) if self.context else None

    def tr(self, msgid: str, /, **values: object) -> str:
        text = msgid
        if not self.english:
            own = self._own()
            said = own.singular.get(msgid) if own is not None else None
            text = said if said is not None else catalogue(self.lang).singular.get(msgid, msgid)
        return text.format(**values) if values else text

    def ntr(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """The form for `n` (`{n}` is `n` as today's reports write it, `1,234`, unless given)."""
        values.setdefault("n", f"{n:,}")
        forms = None
        if not self.english:
            own = self._own()
            key = (singular, plural)
            forms = own.plural.get(key) if own is not None else None
            if forms is None:
                forms = catalogue(self.lang).plural.get(key)
        if forms is None:
            text = singular if abs(n) == 1 else plural
        else:
            text = forms[min(plural_index(self.lang, n), len(forms) - 1)]
        return text.format(**values)

    def mood(self, label: str) -> str:
        """A mood or stance label (positive, critical, …) in this language; anything else as
        it is."""
        return self.tr(label) if label in _LABELS else label

    @property
    def comma(self) -> str:
        """What separates the items of a short list: ", " (Japanese "、")."""
        return self.tr(", ")

    def cap(self, msgid: str, /, **values: object) -> str:
        """`tr` with the first letter capitalised."""
        text = self.tr(msgid, **values)
        return text[:1].upper() + text[1:]


EN = Words()


def words(lang: str | None, context: str = "") -> Words:
    """The Words of `lang` (in `context`: "chat" for a chat thread); English for None or a
    code no catalogue has."""
    if lang not in LANGUAGES or lang is None:
        return EN
    return Words(lang, context) if context and lang != DEFAULT else Words(lang)


def valid(code: str) -> str | None:
    """`code` as a catalogue language ("DE", "de-AT", "pt_BR" → de, de, pt), or None."""
    base = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return base if base in LANGUAGES else None
