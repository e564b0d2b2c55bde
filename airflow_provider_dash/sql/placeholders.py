"""Masking Redash's Mustache placeholders so that a SQL parser can read a saved query's text.

Redash fills ``{{ name }}`` placeholders (Mustache, rendered by pystache) just before it sends a query,
so the saved text is not SQL yet. :class:`MaskedSql` swaps every placeholder for text of exactly the same
length, so the line and column of a parse error point at the original text:

* a value or a name (``{{ id }}``, ``'{{ date }}'``, ``{{ period.start }}``, ``{{{ raw }}}``,
  ``FROM {{ table }}``, ``events_{{ suffix }}``) becomes a *sentinel*, a word such as ``zq0________``
  that no dialect treats specially: inside quotes it is plain text, bare it reads as a column or a
  table name. :meth:`MaskedSql.restore` turns a sentinel back into the placeholder it stands for, which
  is how a table named by a parameter is reported as such instead of as an invented table;
* where a word does not fit (``TOP {{ n }}``, ``ORDER BY x {{ direction }}``), the parser's complaint
  points at the sentinel and the caller asks :meth:`MaskedSql.with_next_form` for the next form of that
  one placeholder: a number (``1``), then nothing (spaces);
* Mustache section, inverted-section, end, comment, partial and delimiter tags (``{{#x}}``, ``{{^x}}``,
  ``{{/x}}``, ``{{! x}}``, ``{{> x}}``, ``{{=<% %>=}}``) become spaces and the SQL between them stays.
  Redash's parameter UI never writes these (nor Handlebars' ``{{#if}}``); they are blanked only so that
  such a query is still read rather than rejected.

A placeholder spanning lines keeps its line breaks at its end, so line numbers stay exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

# Triple braces first, so that ``{{{ x }}}`` is one placeholder and not ``{{{ x }}`` plus a brace.
_MUSTACHE_TAG = re.compile(r"\{\{\{.*?\}\}\}|\{\{.*?\}\}", re.DOTALL)
# Tags that stand for no value: section, inverted section, end of section, comment, partial, delimiters.
_CONTROL_SIGILS = frozenset("#^/!>=")
# Sentinel prefixes; the first one absent from the query text is used, so a sentinel never matches
# anything the author wrote.
_PREFIXES = ("zq", "qz", "zx", "xz", "jq", "qj", "vq", "qv")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class Form(IntEnum):
    """What a placeholder is replaced with, in the order they are tried."""

    WORD = 0
    NUMBER = 1
    BLANK = 2


@dataclass(frozen=True)
class Placeholder:
    """One Mustache tag of the query text.

    :param start: offset of the first brace in the original text.
    :param end: offset just past the last brace.
    :param text: the tag as written, e.g. ``{{ period.start }}``.
    :param sentinel: the word that stands for it in the masked text (empty for a control tag).
    """

    start: int
    end: int
    text: str
    sentinel: str

    @property
    def is_control(self) -> bool:
        """True for a section, comment, partial or delimiter tag, which stands for no value."""
        return not self.sentinel


@dataclass(frozen=True)
class MaskedSql:
    """A query text whose Mustache placeholders are replaced by same-length text a SQL parser accepts.

    :param original: the query text as saved.
    :param placeholders: every Mustache tag found, in order.
    :param forms: the form chosen for some placeholders (by index); the others are words.
    """

    original: str
    placeholders: tuple[Placeholder, ...]
    forms: Mapping[int, Form] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, sql: str) -> MaskedSql:
        """Find the placeholders of ``sql``.

        :param sql: the query text as saved in Redash.
        :return: the masked query, every placeholder as a word.
        """
        lowered = sql.lower()
        prefix = next((p for p in _PREFIXES if p not in lowered), _PREFIXES[0] * 3)
        found: list[Placeholder] = []
        for match in _MUSTACHE_TAG.finditer(sql):
            tag = match.group()
            inner = tag.strip("{}").strip()
            sentinel = "" if inner[:1] in _CONTROL_SIGILS else _sentinel(prefix, len(found), tag)
            found.append(Placeholder(match.start(), match.end(), tag, sentinel))
        return cls(sql, tuple(found))

    @property
    def text(self) -> str:
        """The query text with every placeholder in its current form."""
        if not self.placeholders:
            return self.original
        pieces: list[str] = []
        cursor = 0
        for index, placeholder in enumerate(self.placeholders):
            pieces.append(self.original[cursor : placeholder.start])
            pieces.append(_render(placeholder, self.forms.get(index, Form.WORD)))
            cursor = placeholder.end
        pieces.append(self.original[cursor:])
        return "".join(pieces)

    def at(self, start: int, end: int) -> int | None:
        """Index of the value placeholder overlapping ``original[start:end]``, if any.

        :param start: first offset of the span.
        :param end: offset just past the span.
        :return: the placeholder's index, or None.
        """
        for index, placeholder in enumerate(self.placeholders):
            if placeholder.start < end and start < placeholder.end and not placeholder.is_control:
                return index
        return None

    def with_next_form(self, index: int) -> MaskedSql | None:
        """The same query with placeholder ``index`` in its next form.

        :param index: the placeholder's index.
        :return: the new masked query, or None when the placeholder was already blank.
        """
        current = self.forms.get(index, Form.WORD)
        if current is Form.BLANK:
            return None
        forms = dict(self.forms)
        forms[index] = Form(current + 1)
        return MaskedSql(self.original, self.placeholders, MappingProxyType(forms))

    def restore(self, name: str) -> str | None:
        """Put the placeholders back into a name read from the masked text.

        :param name: an identifier as the parser read it.
        :return: the name with every sentinel replaced by its placeholder as written, or None when the
            name holds no placeholder.
        """
        restored = name
        for index, placeholder in enumerate(self.placeholders):
            if placeholder.sentinel and self.forms.get(index, Form.WORD) is Form.WORD:
                restored = restored.replace(placeholder.sentinel, placeholder.text)
        return None if restored == name else restored


def _sentinel(prefix: str, index: int, tag: str) -> str:
    digits = ""
    while True:
        index, digit = divmod(index, len(_DIGITS))
        digits = _DIGITS[digit] + digits
        if not index:
            break
    core = prefix + digits
    # At least one underscore closes the word, so sentinel 1 never matches the start of sentinel 10.
    width = max(len(tag) - tag.count("\n"), len(core) + 1)
    return core.ljust(width, "_")


def _render(placeholder: Placeholder, form: Form) -> str:
    breaks = placeholder.text.count("\n")
    width = len(placeholder.text) - breaks
    if placeholder.is_control or form is Form.BLANK:
        body = " " * width
    elif form is Form.NUMBER:
        body = "1".ljust(width)
    else:
        body = placeholder.sentinel
    return body + "\n" * breaks
