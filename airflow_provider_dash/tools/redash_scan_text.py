"""Case-insensitive search for several terms at once, in short texts and in a CSV result read as a stream.

A result is searched as the server streams it (its CSV download), one record at a time: memory holds
one chunk and one record, never the whole result. Terms are compared case-folded
(``Jane.Doe@Example.COM`` finds ``jane.doe@example.com``).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from airflow_provider_dash.exceptions import DashConfigError

#: The longest CSV field read (csv's default is 128 KiB; a result cell may hold a whole document).
_FIELD_LIMIT = 64 * 1024 * 1024


class Terms:
    """The terms searched for, case-folded.

    :param terms: one or more non-empty texts (an e-mail address, a name...).
    :raises DashConfigError: when there is no term, or one is empty.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        given = list(terms)
        if not given:
            raise DashConfigError("give at least one term to search for")
        cleaned: list[str] = []
        for term in given:
            if not isinstance(term, str) or not term.strip():
                raise DashConfigError(f"each term must be a non-empty text, got {term!r}")
            cleaned.append(term.strip())
        #: The terms as given (stripped), each once, in the order given.
        self.terms: tuple[str, ...] = tuple(dict.fromkeys(cleaned))
        self._folded = tuple((term, term.casefold()) for term in self.terms)

    def found_in(self, text: str | None) -> list[str]:
        """The terms ``text`` contains, case-insensitively (as given, in the order given)."""
        if not text:
            return []
        folded = text.casefold()
        return [term for term, key in self._folded if key in folded]


@dataclass
class ColumnHit:
    """Where one term was found in one column of a result: the first data row (1-based) and how many rows."""

    column: str
    term: str
    first_row: int
    rows: int = 1


def search_csv_stream(chunks: Iterable[bytes], terms: Terms) -> list[ColumnHit]:
    """Search a CSV download, record by record, for ``terms``.

    :param chunks: the download's bytes, in chunks (UTF-8; a byte-order mark is skipped).
    :return: one :class:`ColumnHit` per (column, term) found, in column order then term order. A
        term in the header is a hit of its own in that column at row 0 (rows 1), apart from the
        column's data rows.
    """
    # Keyed by (column index, term, in the header): a column whose name and values both hold a
    # term gets two hits, so its data rows are never reported (or counted) as its name.
    hits: dict[tuple[int, str, bool], ColumnHit] = {}
    header: list[str] = []
    # Process-wide and only ever raised (pool threads search at once, so it is never lowered back).
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)
    for number, record in enumerate(csv.reader(_lines(chunks))):
        if number == 0:
            header = record
        # A record with no term in it is skipped after one search of its joined text.
        if not terms.found_in("\x1f".join(record)):
            continue
        for index, cell in enumerate(record):
            for term in terms.found_in(cell):
                key = (index, term, number == 0)
                hit = hits.get(key)
                if hit is None:
                    name = header[index] if index < len(header) else f"#{index + 1}"
                    hits[key] = ColumnHit(name, term, number)
                else:
                    hit.rows += 1
    return [hits[key] for key in sorted(hits, key=lambda k: (k[0], terms.terms.index(k[1]), not k[2]))]


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of a byte stream, split at ``\n`` only and kept whole (as a file opened with
    ``newline=""`` gives csv: it joins quoted line breaks and reads ``\r\n`` itself)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("replace")
    pending = ""
    for chunk in chunks:
        parts = (pending + decoder.decode(chunk)).split("\n")
        pending = parts.pop()  # the line the chunk boundary cut, if any
        for part in parts:
            yield part + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending
