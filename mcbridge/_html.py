"""Compact HTML for notebook reprs (`_repr_html_`): a titled two-column table, every text escaped."""

from __future__ import annotations

import html
from collections.abc import Iterable

_STYLE = "border-collapse:collapse;font-size:90%"
_CELL = "padding:1px 8px;text-align:left;vertical-align:top"


def table(title: str, rows: Iterable[tuple[str, str]], note: str | None = None) -> str:
    """An HTML table: `title` as caption, one row per `(label, value)`, `note` below.

    Every string is escaped, so class names or model names cannot inject markup.
    """
    body = "".join(
        f'<tr><th style="{_CELL}">{html.escape(str(k))}</th><td style="{_CELL}">{html.escape(str(v))}</td></tr>'
        for k, v in rows
    )
    foot = f'<div style="font-size:80%;color:#666">{html.escape(note)}</div>' if note else ""
    return (
        f'<div><table style="{_STYLE}"><caption style="text-align:left;font-weight:bold">'
        f"{html.escape(title)}</caption>{body}</table>{foot}</div>"
    )


def names(values, limit: int = 10) -> str:
    """`values` joined by commas, the first `limit` only, with how many there are."""
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")
