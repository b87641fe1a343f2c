"""List queries as Neutron reads them: filters, tag filters, fields, sorting and pagination."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import netaddr

from naas_sdn.model import errors
from naas_sdn.model.common import parse_int
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import AttributeMap

TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
FIXED_IP_KEYS = ("ip_address", "subnet_id", "ip_address_substr")
CONTROL_PARAMS = frozenset(
    {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", *TAG_FILTERS}
)


def _bad(msg: str) -> errors.BadRequestMessage:
    return errors.BadRequestMessage(msg=msg)


@dataclasses.dataclass
class ListQuery:
    filters: dict[str, list]
    tag_filters: dict[str, set[str]]
    fields: list[str]
    sorts: list[tuple[str, bool]]  # (attribute, ascending)
    limit: int | None
    marker: str | None
    page_reverse: bool
    # attribute (fixed_ips) -> key -> accepted values, from ``fixed_ips=ip_address=10.0.0.3``
    kv_filters: dict[str, dict[str, set[str]]] = dataclasses.field(default_factory=dict)
    # list attribute (security_groups) -> values any of which the item's list must hold
    member_filters: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    # filter-only parameter (ip_version of network IP availabilities) -> converted values,
    # for the resource's list to apply itself
    list_arguments: dict[str, list] = dataclasses.field(default_factory=dict)
    key: str = "id"  # the attribute a marker names and ties are sorted by

    @classmethod
    def parse(
        cls,
        params,
        attrs: AttributeMap,
        hidden: frozenset = frozenset(),
        list_filters: Mapping[str, Callable[[str, str], Any]] | None = None,
        primary_key: str = "id",
    ) -> ListQuery:
        """Parse a query string (a WebOb MultiDict); unknown filters are rejected.
        ``list_filters``: the filter-only parameters the resource's list takes, each with
        its conversion; ``primary_key``: the attribute its members are named by."""
        visible = {x.name: x for x in attrs.visible(hidden)}
        list_filters = list_filters or {}
        filters: dict[str, list] = {}
        kv_filters: dict[str, dict[str, set[str]]] = {}
        member_filters: dict[str, set[str]] = {}
        list_arguments: dict[str, list] = {}
        invalid = []
        for key, value in params.items():
            if key in CONTROL_PARAMS:
                continue
            if key in list_filters:
                list_arguments.setdefault(key, []).append(list_filters[key](key, value))
                continue
            attr = visible.get(key)
            if attr is None or not attr.filterable:
                invalid.append(key)
                continue
            if attr.kind == "fixed_ips":
                sub, value = _key_value(value)
                kv_filters.setdefault(key, {}).setdefault(sub, set()).add(
                    _normal_ip(value) if sub == "ip_address" else value
                )
                continue
            if attr.kind == "members":  # held by the item's list: any of those asked
                member_filters.setdefault(key, set()).add(value)
                continue
            filters.setdefault(key, []).append(attr.from_query(value))
        if invalid:
            raise _bad(f"{sorted(set(invalid))} is invalid attribute for filtering")
        marker = params.get("marker") or None
        if marker is not None and attrs.get(primary_key) is None:
            raise _bad("This resource has no id: pagination with a marker is not supported")
        tag_filters = {}
        for key in TAG_FILTERS:
            tags = {t for v in params.getall(key) for t in v.split(",") if t}
            if tags:
                tag_filters[key] = tags
        return cls(
            filters=filters,
            tag_filters=tag_filters,
            kv_filters=kv_filters,
            member_filters=member_filters,
            fields=[f for v in params.getall("fields") for f in v.split(",") if f],
            sorts=_sorts(params, visible),
            limit=_limit(params.get("limit")),
            marker=marker,
            page_reverse=a.query_boolean("page_reverse", params.get("page_reverse", "false")),
            list_arguments=list_arguments,
            key=primary_key,
        )

    def matches(self, item: dict) -> bool:
        for key, values in self.filters.items():
            if item.get(key) not in values:
                return False
        for key, wanted in self.kv_filters.items():
            if not any(_entry_matches(entry, wanted) for entry in item.get(key) or ()):
                return False
        for key, members in self.member_filters.items():
            if not members & set(item.get(key) or ()):
                return False
        if self.tag_filters:
            tags = set(item.get("tags", ()))
            wanted = self.tag_filters
            if "tags" in wanted and not wanted["tags"] <= tags:
                return False
            if "tags-any" in wanted and not wanted["tags-any"] & tags:
                return False
            if "not-tags" in wanted and wanted["not-tags"] <= tags:
                return False
            if "not-tags-any" in wanted and wanted["not-tags-any"] & tags:
                return False
        return True

    def sort(self, items: list[dict]) -> list[dict]:
        """Sort by the requested keys, then by the primary key so that markers are
        unambiguous."""
        keys = list(self.sorts)
        if self.key not in (k for k, _ in keys):
            keys.append((self.key, True))
        result = list(items)
        for key, ascending in reversed(keys):
            result.sort(key=lambda item: _sortable(item.get(key)), reverse=not ascending)
        return result

    def page(self, items: list[dict], not_found) -> tuple[list[dict], bool, bool]:
        """Cut one page out of sorted ``items``; returns (page, has_next, has_previous)."""
        index = None
        if self.marker is not None:
            index = next((i for i, item in enumerate(items) if item[self.key] == self.marker), None)
            if index is None:
                raise not_found(self.marker)
        limit = self.limit or len(items)
        if self.page_reverse:
            end = index if index is not None else len(items)
            start = max(0, end - limit)
        else:
            start = index + 1 if index is not None else 0
            end = min(len(items), start + limit)
        return items[start:end], end < len(items), start > 0

    def select_fields(self, item: dict) -> dict:
        if not self.fields:
            return item
        return {k: v for k, v in item.items() if k in self.fields}


def _key_value(text: str) -> tuple[str, str]:
    """Neutron's convert_kvp_str_to_list for ``fixed_ips`` filters."""
    key, sep, value = text.partition("=")
    if not sep:
        raise _bad(f"'{text}' is not of the form <key>=[value]")
    if key not in FIXED_IP_KEYS:
        raise _bad(
            f"{key} is invalid attribute for filtering fixed_ips, valid keys are "
            f"{', '.join(FIXED_IP_KEYS)}"
        )
    return key, value


def _normal_ip(text: str) -> str:
    try:
        return str(netaddr.IPAddress(text))
    except (netaddr.AddrFormatError, ValueError):
        return text  # matches nothing, as a string compare in SQL would


def _entry_matches(entry: dict, wanted: dict[str, set[str]]) -> bool:
    """One fixed IP satisfies every key given (values of one key are alternatives)."""
    if "ip_address" in wanted and entry["ip_address"] not in wanted["ip_address"]:
        return False
    if "subnet_id" in wanted and entry["subnet_id"] not in wanted["subnet_id"]:
        return False
    return "ip_address_substr" not in wanted or any(
        s in entry["ip_address"] for s in wanted["ip_address_substr"]
    )


def _sortable(value):
    return (value is not None, value if value is not None else 0)


def _sorts(params, visible) -> list[tuple[str, bool]]:
    keys, dirs = params.getall("sort_key"), params.getall("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise _bad("The number of sort_keys and sort_dirs must be same")
    dirs = dirs or ["asc"] * len(keys)
    sorts = []
    for key, direction in zip(keys, dirs, strict=True):
        attr = visible.get(key)
        if attr is None or not attr.sortable:
            raise _bad(f"{key} is an invalid attribute for sort_key")
        if direction not in ("asc", "desc"):
            raise _bad(
                f"{direction} is an invalid value for sort_dir, valid values are 'asc' and 'desc'"
            )
        sorts.append((key, direction == "asc"))
    return sorts


def _limit(text: str | None) -> int | None:
    if text is None:
        return None
    value = parse_int(text)
    if value is None or value < 0:
        raise _bad(f"Limit must be an integer 0 or greater and not '{text}'")
    return value or None


def pagination_links(
    request, collection: str, page: list[dict], has_next: bool, has_previous: bool, query: ListQuery
) -> list[dict]:
    """``<collection>_links`` hrefs carrying the same query with a new marker."""
    if not query.limit or not page:
        return []
    base = [(k, v) for k, v in request.GET.items() if k not in ("marker", "page_reverse")]
    url = request.host_url + request.script_name + request.path_info
    links = []
    if has_next:
        links.append(
            {"rel": "next", "href": url + "?" + urlencode(base + [("marker", page[-1][query.key])])}
        )
    if has_previous:
        links.append(
            {
                "rel": "previous",
                "href": url
                + "?"
                + urlencode(base + [("marker", page[0][query.key]), ("page_reverse", "True")]),
            }
        )
    return links
