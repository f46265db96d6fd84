"""Load a policy from a built-in name, a YAML file or a dict: ``extends``, validation, filter construction.

Everything is checked before anything is used: a broken policy raises :class:`PolicyError` naming the file,
line and path (``policies/x.yaml:12: input[1].deny_topics: ...``) and never loads halfway.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mhguard.errors import PolicyError, RegistryError
from mhguard.filters.base import Filter
from mhguard.policy.models import LocalizedText, PolicyDocument, TemplateRef
from mhguard.policy.yaml_source import LocationMap, parse_yaml
from mhguard.registry import get_filter_type
from mhguard.responses import ResponseRenderer
from mhguard.types import Stage

__all__ = ["Policy", "builtin_policy_names", "load_policy"]

_BUILTIN_PACKAGE = "mhguard.builtin_policies"
_RESPONSE_ID = re.compile(r"[A-Za-z0-9_.-]+")
_MAX_EXTENDS_DEPTH = 16


@dataclass(frozen=True)
class Policy:
    """A validated policy with its filters built, ready for the engine."""

    document: PolicyDocument
    input_filters: tuple[Filter, ...]
    output_filters: tuple[Filter, ...]
    source: str
    digest: str
    renderer: ResponseRenderer

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def version(self) -> str:
        return self.document.version

    @property
    def responses(self) -> Mapping[str, TemplateRef | LocalizedText]:
        return self.document.responses

    def filters(self, stage: Stage) -> tuple[Filter, ...]:
        return self.input_filters if stage is Stage.INPUT else self.output_filters


def builtin_policy_names() -> list[str]:
    """Names accepted by ``Guard.from_policy(name)``."""
    folder = resources.files(_BUILTIN_PACKAGE)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_builtin(name: str) -> tuple[str, str]:
    names = builtin_policy_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PolicyError(f"no built-in policy named {name!r}{hint}; built-ins: {', '.join(names)}")
    text = resources.files(_BUILTIN_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return text, f"<builtin:{name}>"


def _looks_like_path(source: str) -> bool:
    return source.endswith((".yaml", ".yml")) or "/" in source or "\\" in source


@dataclass
class _Raw:
    data: dict[str, Any]
    locs: LocationMap
    source: str
    base_dir: Path | None


def _read(source: str | Path | Mapping[str, Any], relative_to: Path | None) -> _Raw:
    if isinstance(source, Mapping):
        locs = LocationMap("<dict>")
        data = _copy_plain(source)
        if not isinstance(data, dict):
            raise PolicyError("a policy must be a mapping", source="<dict>")
        return _Raw(data, locs, "<dict>", relative_to)
    if isinstance(source, Path) or _looks_like_path(str(source)):
        path = Path(source)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PolicyError(f"policy file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc}") from None
        name, base_dir = str(source) if relative_to is None else str(path), path.parent
    elif isinstance(source, str):
        text, name = _read_builtin(source)
        base_dir = None
    else:
        raise PolicyError(f"a policy source must be a built-in name, a path or a dict, not {type(source).__name__}")
    data, locs = parse_yaml(text, name)
    if data is None:
        raise PolicyError("the policy file is empty", source=name)
    if not isinstance(data, dict):
        raise PolicyError(f"a policy must be a mapping at the top level, not a {type(data).__name__}",
                          source=name, line=1)
    return _Raw(data, locs, name, base_dir)


def _copy_plain(value: Any) -> Any:
    """Deep copy of a user dict so later merges never mutate the caller's object."""
    if isinstance(value, Mapping):
        return {k: _copy_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy_plain(v) for v in value]
    return value


def _filter_key(entry: Any) -> Any:
    if isinstance(entry, dict):
        return entry.get("id") or entry.get("type")
    return None


def _merge(base: Any, over: Any, locs: LocationMap, *, top: bool) -> Any:
    """Child values override parent values; mappings merge key by key; filter lists merge by filter id."""
    if isinstance(base, dict) and isinstance(over, dict):
        out: dict[Any, Any] = {}
        for key, value in base.items():
            out[key] = value
            where = locs.get(base, key)
            if where:
                locs.record(out, key, where)
        for key, value in over.items():
            if key in out and top and key in ("input", "output") and isinstance(out[key], list) \
                    and isinstance(value, list):
                out[key] = _merge_filter_lists(out[key], value, locs)
            elif key in out:
                out[key] = _merge(out[key], value, locs, top=False)
            else:
                out[key] = value
            where = locs.get(over, key)
            if where:
                locs.record(out, key, where)
        return out
    return over


def _merge_filter_lists(base: list[Any], over: list[Any], locs: LocationMap) -> list[Any]:
    merged: list[Any] = []
    index_of: dict[Any, int] = {}
    for i, entry in enumerate(base):
        index_of.setdefault(_filter_key(entry), len(merged))
        merged.append(entry)
        where = locs.get(base, i)
        if where:
            locs.record(merged, len(merged) - 1, where)
    for j, entry in enumerate(over):
        key = _filter_key(entry)
        where = locs.get(over, j)
        if key is not None and key in index_of:
            i = index_of[key]
            merged[i] = _merge(merged[i], entry, locs, top=False)
        else:
            i = len(merged)
            merged.append(entry)
            if key is not None:
                index_of[key] = i
        if where:
            locs.record(merged, i, where)
    return merged


def _resolve(source: str | Path | Mapping[str, Any], relative_to: Path | None,
             seen: tuple[str, ...]) -> tuple[dict[str, Any], LocationMap, str, Path | None]:
    raw = _read(source, relative_to)
    if raw.source in seen and raw.source != "<dict>":
        chain = " -> ".join((*seen, raw.source))
        raise PolicyError(f"extends forms a cycle: {chain}", source=raw.source)
    if len(seen) > _MAX_EXTENDS_DEPTH:
        raise PolicyError("extends chain is too deep", source=raw.source)
    parent_ref = raw.data.get("extends")
    if parent_ref is None:
        return raw.data, raw.locs, raw.source, raw.base_dir
    if not isinstance(parent_ref, str):
        line = raw.locs.locate(raw.data, ("extends",))
        raise PolicyError("extends must be a built-in policy name or a file path",
                          source=raw.source, line=line[1] if line else None, path="extends")
    try:
        parent, parent_locs, _, parent_dir = _resolve(parent_ref, raw.base_dir, (*seen, raw.source))
    except PolicyError as exc:
        if exc.source is not None:
            raise
        line = raw.locs.locate(raw.data, ("extends",))
        raise PolicyError(exc.detail, source=raw.source, line=line[1] if line else None,
                          path="extends") from None
    locs = LocationMap(raw.source)
    locs.adopt(parent_locs)
    locs.adopt(raw.locs)
    child = {k: v for k, v in raw.data.items() if k != "extends"}
    merged = _merge(parent, child, locs, top=True)
    merged.setdefault("name", parent.get("name"))
    return merged, locs, raw.source, raw.base_dir or parent_dir


def _format_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Errors:
    def __init__(self, data: dict[str, Any], locs: LocationMap, source: str) -> None:
        self.data, self.locs, self.source = data, locs, source

    def error(self, path: tuple[Any, ...], message: str) -> PolicyError:
        where = self.locs.locate(self.data, path)
        source, line = where if where else (self.source, None)
        return PolicyError(message, source=source, line=line, path=_format_path(path))

    def from_validation(self, exc: ValidationError, prefix: tuple[Any, ...],
                        model: type[BaseModel]) -> PolicyError:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        message = first["msg"]
        if first["type"] == "extra_forbidden" and loc:
            known = _fields_at(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            message = f"unknown key {loc[-1]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            if known:
                message += f"; allowed: {', '.join(sorted(known))}"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more error{'s' if more > 1 else ''})"
        return self.error((*prefix, *loc), message)


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc``, for did-you-mean suggestions."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nxt = None
        for cand in candidates:
            for sub in (cand, *getattr(cand, "__args__", ())):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    nxt = sub
        if nxt is None:
            return []
        current = nxt
    return list(getattr(current, "model_fields", {}))


def _check_response_refs(doc: PolicyDocument, stage_key: str, index: int, filt: Filter, errs: _Errors) -> None:
    refs = [("responses", action.value, ref) for action, ref in filt.config.responses.items()]
    refs += [("instructions", tier.value, ref) for tier, ref in filt.config.instructions.items()]
    for section, key, ref in refs:
        if _RESPONSE_ID.fullmatch(ref) and ref not in doc.responses:
            close = difflib.get_close_matches(ref, list(doc.responses), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise errs.error((stage_key, index, section, key),
                             f"unknown response id {ref!r}{hint}; a literal text must contain a space")


def _build_filters(doc: PolicyDocument, stage: Stage, errs: _Errors, base_dir: Path | None) -> tuple[Filter, ...]:
    stage_key = stage.value
    entries = errs.data.get(stage_key, [])
    built: list[Filter] = []
    ids: set[str] = set()
    for index, entry in enumerate(entries):
        path: tuple[Any, ...] = (stage_key, index)
        if not isinstance(entry, dict):
            raise errs.error(path, f"a filter entry must be a mapping, not {type(entry).__name__}")
        type_name = entry.get("type")
        if not isinstance(type_name, str):
            raise errs.error(path, "a filter entry needs a 'type' (a registered filter type name)")
        try:
            cls = get_filter_type(type_name)
        except RegistryError as exc:
            raise errs.error((*path, "type"), str(exc)) from None
        try:
            config = cls.Config.model_validate(entry)
        except ValidationError as exc:
            raise errs.from_validation(exc, path, cls.Config) from None
        if stage not in cls.stages:
            allowed = ", ".join(sorted(s.value for s in cls.stages))
            raise errs.error((*path, "type"), f"filter type {type_name!r} cannot run on {stage_key} "
                                              f"(allowed: {allowed})")
        filter_id = config.id or config.type
        if filter_id in ids:
            raise errs.error(path, f"two {stage_key} filters share the id {filter_id!r}; give one an 'id'")
        ids.add(filter_id)
        if not config.enabled:
            continue
        try:
            filt = cls(config, base_dir=base_dir)
        except PolicyError as exc:
            if exc.source is not None:
                raise
            raise errs.error(path, exc.detail) from None
        except (ValueError, TypeError, LookupError, OSError) as exc:
            raise errs.error(path, f"cannot build filter {filter_id!r}: {exc}") from None
        _check_response_refs(doc, stage_key, index, filt, errs)
        built.append(filt)
    return tuple(built)


def load_policy(source: str | Path | Mapping[str, Any] | Policy) -> Policy:
    """Load, merge (``extends``), validate and build a policy. Raises :class:`PolicyError`."""
    if isinstance(source, Policy):
        return source
    data, locs, name, base_dir = _resolve(source, None, ())
    errs = _Errors(data, locs, name)
    if "name" not in data or data.get("name") is None:
        data["name"] = Path(name).stem if name not in ("<dict>",) else "custom"
    try:
        doc = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise errs.from_validation(exc, (), PolicyDocument) from None
    input_filters = _build_filters(doc, Stage.INPUT, errs, base_dir)
    output_filters = _build_filters(doc, Stage.OUTPUT, errs, base_dir)
    try:
        renderer = ResponseRenderer(doc, base_dir)
    except PolicyError as exc:
        if exc.source is not None:
            raise
        raise errs.error(("responses",), exc.detail) from None
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    return Policy(doc, input_filters, output_filters, name, digest, renderer)
