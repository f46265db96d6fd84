"""Read a YAML policy and remember where every key came from, so errors can name file and line.

PyYAML's plain ``safe_load`` forgets positions and silently keeps the last of two duplicate keys; a safety
policy must do neither. We compose the node graph once, record the line of every mapping key and list item
against the container object it ends up in, and refuse duplicate keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mhguard.errors import PolicyError

__all__ = ["Located", "LocationMap", "load_model", "parse_yaml"]

Located = tuple[str, int]  # (source name, 1-based line)


@dataclass
class LocationMap:
    """Positions of keys and items, keyed by the ``id`` of the container that holds them.

    Containers are kept alive in ``_keep`` so that their ids stay unique while the map is in use.
    """

    source: str
    by_container: dict[int, dict[Any, Located]] = field(default_factory=dict)
    _keep: list[Any] = field(default_factory=list)

    def record(self, container: Any, key: Any, where: Located) -> None:
        slot = self.by_container.get(id(container))
        if slot is None:
            slot = self.by_container[id(container)] = {}
            self._keep.append(container)
        slot[key] = where

    def get(self, container: Any, key: Any) -> Located | None:
        return self.by_container.get(id(container), {}).get(key)

    def adopt(self, other: LocationMap) -> None:
        for cid, slot in other.by_container.items():
            self.by_container.setdefault(cid, {}).update(slot)
        self._keep.extend(other._keep)

    def locate(self, root: Any, path: tuple[Any, ...]) -> Located | None:
        """Position of the deepest element of ``path`` that exists in ``root``."""
        best: Located | None = None
        node = root
        for key in path:
            if (isinstance(node, dict) and key in node) or (isinstance(node, list) and isinstance(key, int) \
                    and 0 <= key < len(node)):
                where = self.get(node, key)
                if where is not None:
                    best = where
                node = node[key]
            else:
                break
        return best


def _build(node: yaml.Node, loader: yaml.SafeLoader, locs: LocationMap, source: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key == "<<":
                raise PolicyError("YAML merge keys (<<) are not supported in policies; use extends:",
                                  source=source, line=key_node.start_mark.line + 1)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise PolicyError(f"mapping key must be a scalar, got {type(key).__name__}",
                                  source=source, line=key_node.start_mark.line + 1)
            if key in out:
                raise PolicyError(f"duplicate key {key!r}", source=source, line=key_node.start_mark.line + 1)
            out[key] = _build(value_node, loader, locs, source)
            locs.record(out, key, (source, key_node.start_mark.line + 1))
        return out
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        for index, item in enumerate(node.value):
            items.append(_build(item, loader, locs, source))
            locs.record(items, index, (source, item.start_mark.line + 1))
        return items
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, source: str) -> tuple[Any, LocationMap]:
    """Parse one YAML document into plain data plus a :class:`LocationMap`. Errors name file and line."""
    locs = LocationMap(source)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, locs
        data = _build(node, loader, locs, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise PolicyError(f"invalid YAML: {problem}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", source=source) from None
    finally:
        loader.dispose()
    return data, locs


M = TypeVar("M", bound=BaseModel)


def load_model(text: str, source: str, model: type[M]) -> M:
    """Parse YAML and validate it as ``model``; the first error names file, line and dotted path."""
    data, locs = parse_yaml(text, source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        where = locs.locate(data, loc)
        raise PolicyError(first["msg"], source=source, line=where[1] if where else None,
                          path=".".join(str(p) for p in loc)) from None
