"""Statements: lines per institution × verification type × result class, in fen and yuan."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from netid.billing.errors import InvalidMonth

CURRENCY: Final = "CNY"
RESULT_CLASSES: Final = frozenset({"match", "mismatch", "refused", "valid", "invalid"})
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
CSV_COLUMNS: Final = (
    "month",
    "institution_code",
    "institution_id",
    "verification_type",
    "result_class",
    "count",
    "amount_fen",
    "amount_yuan",
    "currency",
)


@dataclass(frozen=True, slots=True)
class ChargeRow:
    """One charge as written (the ``charge`` table's columns): a plain value, not an ORM
    object, on the hot path (docs/decisions/0007)."""

    receipt_id: str
    institution_id: str
    institution_code: str
    month: str
    verification_type: str
    purpose: str
    result_class: str
    price_fen: int
    charged_at: dt.datetime


def check_month(month: str) -> str:
    """``YYYY-MM`` (a China Standard Time calendar month), else ``invalid_month``."""
    match = _MONTH.fullmatch(month) if isinstance(month, str) else None
    if match is None or int(match.group(1)) < 1970:
        raise InvalidMonth()
    return month


def yuan(fen: int) -> str:
    """Fen as a yuan string with two decimals: 10 → "0.10", 12345 → "123.45"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StatementLine(_Frozen):
    institution_id: str
    institution_code: str
    verification_type: str
    result_class: str
    count: int
    amount_fen: int
    amount_yuan: str


class Subtotal(_Frozen):
    institution_id: str
    institution_code: str
    count: int
    amount_fen: int
    amount_yuan: str


class Totals(_Frozen):
    count: int
    amount_fen: int
    amount_yuan: str


class Statement(_Frozen):
    month: str
    currency: Literal["CNY"] = CURRENCY
    # None: every institution; otherwise the one institution this statement is for.
    institution_code: str | None = None
    lines: list[StatementLine]
    institutions: list[Subtotal]
    totals: Totals

    def to_csv(self) -> str:
        """One row per line (RFC 4180, CRLF line ends, header first)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for line in self.lines:
            writer.writerow(
                (
                    self.month,
                    line.institution_code,
                    line.institution_id,
                    line.verification_type,
                    line.result_class,
                    line.count,
                    line.amount_fen,
                    line.amount_yuan,
                    self.currency,
                )
            )
        return out.getvalue()
