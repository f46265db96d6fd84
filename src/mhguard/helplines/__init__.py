"""The crisis-line directory: per country, emergency numbers and crisis services, each with a source.

The data is package data (``directory.yaml``), read once and validated. Every entry carries a ``source``
URL and a ``verified`` date; entries that could not be confirmed from a primary source are flagged
``status: unverified`` and still shown, since a real line is better than none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mhguard.policy.yaml_source import load_model

__all__ = [
    "Directory",
    "Service",
    "SmsLine",
    "digits",
    "load_directory",
]

_PHONE = regex.compile(r"^[0-9 +()*#\-]+$")


def digits(number: str) -> str:
    """Digits only: ``"116 123"`` -> ``"116123"``."""
    return "".join(ch for ch in number if ch.isdigit())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmsLine(_Strict):
    number: str
    keyword: str | None = None


class Service(_Strict):
    name: str
    phone: str | None = None
    sms: SmsLine | None = None
    email: str | None = None
    chat_url: str | None = None
    languages: list[str] = []
    hours: str | None = None
    cost: str | None = None
    audience: list[str] = ["general"]
    kind: str = "crisis"
    source: str = Field(pattern=r"^https?://")
    verified: dt.date
    status: Literal["verified", "unverified"] = "unverified"
    notes: str | None = None

    @field_validator("phone")
    @classmethod
    def _phone_chars(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.match(value):
            raise ValueError(f"phone {value!r} may hold only digits, spaces and + ( ) - * #")
        return value

    def numbers(self) -> set[str]:
        """Every dialable number of this service, digits only."""
        out = set()
        if self.phone:
            out.add(digits(self.phone))
        if self.sms:
            out.add(digits(self.sms.number))
        return {n for n in out if n}


class Country(_Strict):
    name: str
    languages: list[str] = []
    emergency: list[str] = Field(min_length=1)
    emergency_source: str | None = None
    services: list[Service] = []


class Retired(_Strict):
    country: str
    number: str
    note: str
    source: str = Field(pattern=r"^https?://")
    still_routes: bool = False


class Directory(_Strict):
    version: dt.date
    international: list[Service] = Field(min_length=1)
    countries: dict[str, Country]
    retired: list[Retired] = []

    @field_validator("countries")
    @classmethod
    def _codes(cls, value: dict[str, Country]) -> dict[str, Country]:
        for code in value:
            if not regex.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"country code {code!r} must be ISO 3166-1 alpha-2 (two capitals)")
        return value

    def country(self, code: str | None) -> Country | None:
        return self.countries.get(code.upper()) if code else None

    def known_numbers(self, code: str | None) -> set[str]:
        """Emergency and crisis-service numbers of one country (digits only); empty if unknown."""
        country = self.country(code)
        if country is None:
            return set()
        found = {digits(n) for n in country.emergency}
        for service in country.services:
            found |= service.numbers()
        return found

    def countries_with_number(self, number: str) -> list[str]:
        """Countries whose directory entry has this number (digits only), to explain a wrong-country number."""
        return sorted(code for code in self.countries if number in self.known_numbers(code))

    def retired_numbers(self, code: str | None) -> dict[str, Retired]:
        return {digits(r.number): r for r in self.retired if code is None or r.country == code.upper()}

    def all_entries(self) -> Iterable[tuple[str, Service]]:
        for service in self.international:
            yield "international", service
        for code, country in self.countries.items():
            for service in country.services:
                yield code, service

    def stale(self, *, max_age_days: int, today: dt.date | None = None) -> list[tuple[str, Service]]:
        """Entries whose ``verified`` date is older than ``max_age_days``."""
        today = today or dt.date.today()
        limit = today - dt.timedelta(days=max_age_days)
        return [(code, s) for code, s in self.all_entries() if s.verified < limit]


def _parse(text: str, source: str) -> Directory:
    return load_model(text, source, Directory)


@lru_cache(maxsize=8)
def _load_cached(path: str | None) -> Directory:
    if path is None:
        text = resources.files("mhguard.helplines").joinpath("directory.yaml").read_text(encoding="utf-8")
        return _parse(text, "<builtin:helplines/directory.yaml>")
    return _parse(Path(path).read_text(encoding="utf-8"), path)


def load_directory(path: str | Path | None = None) -> Directory:
    """The built-in directory, or one from a YAML file in the same format (cached; immutable)."""
    return _load_cached(str(path) if path is not None else None)
