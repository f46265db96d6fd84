"""Crisis responses rendered for the person: the right template, in their language, with local lines.

A template family (``src/mhguard/templates/crisis.yaml``, or a file named by the policy) holds templates
selected by tier, category and experiencer (first match wins) and rendered with ``{emergency}``,
``{resources}`` and ``{primary}`` from the helpline directory for the person's country.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources as importlib_resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from mhguard.errors import PolicyError
from mhguard.helplines import Country, Directory, Service, load_directory
from mhguard.locale import Locale, parse_locale
from mhguard.policy.yaml_source import load_model
from mhguard.types import Tier

__all__ = ["Labels", "TemplateFamily", "load_templates", "render_crisis_response", "resources_lines"]

PLACEHOLDERS = frozenset({"emergency", "resources", "primary"})
MAX_SERVICES = 3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(_Strict):
    call: str
    text: str
    text_only: str
    chat: str
    email: str
    free: str
    hours_247: str
    emergency: str
    local_emergency: str
    international: str


class When(_Strict):
    tiers: list[Tier] = []
    categories: list[str] = []
    experiencers: list[str] = []

    def fits(self, tier: Tier, category: str, experiencer: str) -> bool:
        return ((not self.tiers or tier in self.tiers)
                and (not self.categories or category in self.categories)
                and (not self.experiencers or experiencer in self.experiencers))


class Template(_Strict):
    id: str
    when: When = When()
    text: dict[str, str]

    @model_validator(mode="after")
    def _placeholders(self) -> Template:
        for language, text in self.text.items():
            for _, field, _, _ in string.Formatter().parse(text):
                if field is not None and field not in PLACEHOLDERS:
                    raise ValueError(f"template {self.id!r} ({language}) uses unknown placeholder {{{field}}}; "
                                     f"allowed: {', '.join(sorted(PLACEHOLDERS))}")
        return self


class TemplateFamily(_Strict):
    labels: dict[str, Labels]
    templates: list[Template]

    @model_validator(mode="after")
    def _complete(self) -> TemplateFamily:
        if not any(not t.when.tiers and not t.when.categories and not t.when.experiencers for t in self.templates):
            raise ValueError("a template family needs a fallback template with an empty 'when'")
        languages = set(self.labels)
        for template in self.templates:
            missing = languages - set(template.text)
            if missing:
                raise ValueError(f"template {template.id!r} lacks languages {sorted(missing)}")
        return self

    @property
    def languages(self) -> list[str]:
        return list(self.labels)

    def select(self, tier: Tier, category: str, experiencer: str) -> Template:
        for template in self.templates:
            if template.when.fits(tier, category, experiencer):
                return template
        raise LookupError("no template fits")  # unreachable: the fallback always fits


@lru_cache(maxsize=16)
def _load(path: str | None, name: str) -> TemplateFamily:
    if path is None:
        source = f"<builtin:templates/{name}.yaml>"
        try:
            text = importlib_resources.files("mhguard.templates").joinpath(f"{name}.yaml").read_text("utf-8")
        except FileNotFoundError:
            raise PolicyError(f"no built-in template family named {name!r}") from None
    else:
        source = path
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"cannot read template file: {exc}", source=path) from None
    return load_model(text, source, TemplateFamily)


def load_templates(ref: str, base_dir: Path | None = None) -> TemplateFamily:
    """A built-in family name (``crisis``) or a YAML path (relative to the policy's folder)."""
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        path = Path(ref)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return _load(str(path), path.stem)
    return _load(None, ref)


def _pick_language(family: TemplateFamily, locale: Locale | None, default: Locale | None) -> str:
    for candidate in (locale, default):
        if candidate is None:
            continue
        for key in (candidate.language_variant, candidate.language):
            if key in family.labels:
                return key
    return "en" if "en" in family.labels else family.languages[0]


def _service_line(service: Service, labels: Labels) -> str:
    ways: list[str] = []
    if service.phone:
        ways.append(f"{labels.call} {service.phone}")
    if service.sms:
        if service.sms.keyword:
            ways.append(labels.text.format(keyword=service.sms.keyword, number=service.sms.number))
        elif not service.phone or service.sms.number != service.phone:
            ways.append(labels.text_only.format(number=service.sms.number))
    if service.chat_url:
        ways.append(f"{labels.chat} {service.chat_url}")
    if not ways and service.email:
        ways.append(f"{labels.email} {service.email}")
    extras = []
    if service.cost and service.cost.lower() == "free":
        extras.append(labels.free)
    if service.hours and service.hours.replace(" ", "") == "24/7":
        extras.append(labels.hours_247)
    suffix = f" ({', '.join(extras)})" if extras else ""
    return f"- {service.name}: {', '.join(ways)}{suffix}"


#: Service kinds that fit any crisis; specialised kinds (abuse, substance...) are offered for their category.
GENERAL_KINDS = frozenset({"crisis", "suicide"})
#: A finding's category -> the service kind that specialises in it.
KIND_FOR_CATEGORY: dict[str, str] = {"abuse": "abuse", "substance_overdose": "substance",
                                     "eating_disorder": "eating_disorder"}


def _rank(services: Sequence[Service], language: str, category: str) -> list[Service]:
    """Lines that fit: specialised ones for their category first, then general crisis lines; lines in the
    person's language, for a general audience and verified come first within each group."""
    special = KIND_FOR_CATEGORY.get(category)
    eligible = [s for s in services if s.kind in GENERAL_KINDS or s.kind == special] or list(services)
    # Lines for a particular audience (youth, veterans...) only where no line serves everyone.
    eligible = [s for s in eligible if "general" in s.audience] or eligible

    def score(service: Service) -> tuple[int, int, int, int]:
        speaks = not service.languages or language in service.languages
        return (0 if special is not None and service.kind == special else 1, 0 if speaks else 1,
                0 if "general" in service.audience else 1, 0 if service.status == "verified" else 1)

    return sorted(eligible, key=score)


def resources_lines(directory: Directory, country: Country | None, labels: Labels, language: str,
                    category: str, *, emergency_first: bool) -> tuple[str, str, str]:
    """(emergency, resources, primary) strings for a template."""
    if country is None:
        emergency = labels.local_emergency
        lines = [f"- {labels.emergency}: {labels.local_emergency}"] if emergency_first else []
        for service in directory.international[:2]:
            url = service.chat_url or service.source
            lines.append(f"- {service.name}: {labels.international} {url}")
        primary = lines[-1][2:] if lines else emergency
        return emergency, "\n".join(lines), primary
    emergency = country.emergency[0]
    services = _rank(country.services, language, category)[:MAX_SERVICES]
    service_lines = [_service_line(s, labels) for s in services]
    emergency_line = f"- {labels.emergency}: {emergency}"
    lines = ([emergency_line] if emergency_first or not service_lines else []) + service_lines
    if not service_lines:
        international = directory.international[0]
        lines.append(f"- {international.name}: {labels.international} "
                     f"{international.chat_url or international.source}")
    primary = service_lines[0][2:] if service_lines else emergency_line[2:]
    return emergency, "\n".join(lines), primary


@dataclass(frozen=True)
class CrisisContext:
    tier: Tier
    category: str
    experiencer: str  # "user" | "other_person"


def render_crisis_response(family: TemplateFamily, ctx: CrisisContext, *, locale: str | None,
                           default_locale: str | None, directory: Directory | None = None) -> str:
    """Render the template that fits ``ctx`` in the person's language with their country's lines."""
    directory = directory or load_directory()
    loc, default = parse_locale(locale), parse_locale(default_locale)
    language = _pick_language(family, loc, default)
    labels = family.labels[language]
    template = family.select(ctx.tier, ctx.category, ctx.experiencer)
    # A locale without a region ("fr") gives no country: a French speaker may live anywhere.
    country_code = loc.country if loc is not None else (default.country if default is not None else None)
    country = directory.country(country_code)
    base_language = language.split("-")[0]
    emergency, resource_text, primary = resources_lines(
        directory, country, labels, base_language, ctx.category, emergency_first=ctx.tier is Tier.IMMINENT)
    return template.text[language].format(emergency=emergency, resources=resource_text, primary=primary).strip()
