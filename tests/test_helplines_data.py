"""The shipped helpline directory and crisis templates: complete, sourced, rendered in every language."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mhguard import Guard, PolicyError
from mhguard.cli import main
from mhguard.crisis_response import CrisisContext, load_templates, render_crisis_response
from mhguard.helplines import digits, load_directory
from mhguard.types import Tier

SHIPPED_LANGUAGES = ("en", "es", "fr", "de", "pt", "zh")
LOCALE_FOR = {"en": "en-GB", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "pt": "pt-BR", "zh": "zh-CN"}


def test_directory_loads_with_sources_and_dates() -> None:
    directory = load_directory()
    assert len(directory.countries) >= 30
    for code, service in directory.all_entries():
        assert service.source.startswith(("http://", "https://")), (code, service.name)
        assert isinstance(service.verified, dt.date), (code, service.name)
    for code, country in directory.countries.items():
        assert country.emergency, code
    # DOMAIN.md's [verify] entries stay flagged.
    assert all(s.status == "unverified" for s in directory.countries["JP"].services)
    assert all(s.status == "unverified" for s in directory.countries["ZA"].services)


def test_entry_without_source_or_date_fails(tmp_path: Path) -> None:
    base = ("version: 2026-11-25\ninternational:\n  - name: X\n    source: https://x.org\n    verified: 2026-01-01\n"
            "countries:\n  GB:\n    name: UK\n    emergency: ['999']\n    services:\n      - name: Line\n"
            "        phone: '123'\n")
    (tmp_path / "a.yaml").write_text(base + "        verified: 2026-01-01\n")
    with pytest.raises(PolicyError, match=r"a\.yaml:11: countries\.GB\.services\.0\.source"):
        load_directory(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text(base + "        source: https://line.org\n")
    with pytest.raises(PolicyError, match="verified"):
        load_directory(tmp_path / "b.yaml")


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_every_template_renders_in_every_language(language: str) -> None:
    family = load_templates("crisis")
    assert set(SHIPPED_LANGUAGES) <= set(family.languages)
    directory = load_directory()
    for template in family.templates:
        tier = template.when.tiers[0] if template.when.tiers else Tier.MODERATE
        category = template.when.categories[0] if template.when.categories else "suicide"
        experiencer = template.when.experiencers[0] if template.when.experiencers else "user"
        text = render_crisis_response(family, CrisisContext(tier, category, experiencer),
                                      locale=LOCALE_FOR[language], default_locale="en-US", directory=directory)
        assert text and "{" not in text and "}" not in text, (template.id, language)
        country = directory.country(LOCALE_FOR[language].split("-")[1])
        assert country is not None
        shown = {digits(n) for n in country.emergency} | set().union(*(s.numbers() for s in country.services))
        assert any(number in digits(text) for number in shown), (template.id, language, text)


def test_imminent_names_the_emergency_number_first() -> None:
    family = load_templates("crisis")
    text = render_crisis_response(family, CrisisContext(Tier.IMMINENT, "suicide", "user"), locale="en-GB",
                                  default_locale="en-US")
    first_sentence = text.split(".")[0]
    assert "999" in first_sentence
    unknown = render_crisis_response(family, CrisisContext(Tier.IMMINENT, "suicide", "user"), locale="en",
                                     default_locale="en-US")
    assert "findahelpline.com" in unknown


WRONG_NUMBER_CASES = [
    ("en-GB", "call 911"), ("en-US", "call 999"), ("en-AU", "call 911"), ("en-NZ", "call 999"),
    ("en-IE", "call 911"), ("en-CA", "call 999"), ("fr-FR", "appelle le 911"), ("de-DE", "ruf 911 an"),
    ("es-ES", "llama al 911"), ("pt-BR", "ligue 911"), ("ja-JP", "call the crisis line 911"),
    ("en-IN", "call the helpline 1-800-555-0199"), ("zh-CN", "请拨打 911"), ("ko-KR", "call the crisis line 1393"),
]


@pytest.mark.parametrize("locale, reply", WRONG_NUMBER_CASES)
def test_wrong_helpline_in_many_locales(locale: str, reply: str) -> None:
    guard = Guard.from_policy({"name": "lines", "output": [
        {"type": "helplines", "category_actions": {"wrong_helpline": "rewrite", "outdated_helpline": "rewrite"}}]})
    decision = guard.check_output(reply, locale=locale)
    assert decision.action == "rewrite", (locale, decision.findings)
    directory = load_directory()
    country = directory.country(locale.split("-")[1])
    assert country is not None
    replacement = decision.findings[0].replacement
    assert replacement is not None and digits(replacement) in directory.known_numbers(country_code := locale[-2:]), (
        country_code, replacement)


@pytest.mark.parametrize("locale", ["en-GB", "en-US", "en-AU", "fr-FR", "de-DE", "es-ES", "pt-BR", "ja-JP",
                                    "en-IN", "zh-CN", "ko-KR", "en-CA"])
def test_own_lines_pass_in_many_locales(locale: str) -> None:
    guard = Guard.from_policy({"name": "lines", "output": [
        {"type": "helplines", "category_actions": {"wrong_helpline": "rewrite"}}]})
    country = load_directory().country(locale[-2:])
    assert country is not None
    numbers = [country.emergency[0], *[s.phone for s in country.services if s.phone][:2]]
    reply = " ".join(f"You can call {n}." for n in numbers)
    decision = guard.check_output(reply, locale=locale)
    assert decision.action == "allow", decision.findings


def test_helplines_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["helplines", "--country", "gb", "--max-age-days", "100000"]) == 0
    captured = capsys.readouterr()
    assert "Samaritans" in captured.out and "116 123" in captured.out
    assert "older than" not in captured.err
    assert main(["helplines", "--country", "GB", "--max-age-days", "30"]) == 0
    assert "older than 30 days" in capsys.readouterr().err
    assert main(["helplines", "--country", "ZZ"]) == 0
    assert "findahelpline" in capsys.readouterr().out.lower()
