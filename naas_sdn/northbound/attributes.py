"""Attribute maps: what each resource attribute accepts, converts to and shows, like neutron-lib.

One declaration per attribute drives POST/PUT validation, the wire representation, filtering
and sorting, so a resource's behaviour is read in one place.
"""
from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Callable

import netaddr

from naas_sdn.model import errors

MISSING = object()  # no default: the attribute is required on POST
NAME_MAX_LEN = 255
TAG_MAX_LEN = 255


def invalid(attr: str, reason: str) -> errors.InvalidAttribute:
    return errors.InvalidAttribute(attr=attr, reason=reason)


# ----------------------------------------------------------------------------- validators
# Each takes (attribute name, wire value) and returns the converted value or raises
# InvalidAttribute with Neutron's wording.

def string(max_len: int = NAME_MAX_LEN) -> Callable[[str, Any], str]:
    def check(attr, value):
        if not isinstance(value, str):
            raise invalid(attr, f"'{value}' is not a valid string")
        if len(value) > max_len:
            raise invalid(attr, f"'{value}' exceeds maximum length of {max_len}")
        return value
    return check


def boolean(attr, value):
    """JSON booleans only: "yes", 1 or "true" in a body are mistakes worth reporting."""
    if not isinstance(value, bool):
        raise invalid(attr, f"'{value}' is not a valid boolean value")
    return value


def uuid_string(attr, value):
    if not is_uuid(value):
        raise invalid(attr, f"'{value}' is not a valid UUID")
    return value


def is_uuid(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def mac_address(attr, value):
    """A unicast MAC in any netaddr notation, normalized to lower-case colon form."""
    if not isinstance(value, str) or not netaddr.valid_mac(value):
        raise invalid(attr, f"'{value}' is not a valid MAC address")
    eui = netaddr.EUI(value, dialect=netaddr.mac_unix_expanded)
    if int(eui) == 0:
        raise invalid(attr, f"'{value}' is not a valid MAC address")
    if eui.words[0] & 1:
        raise invalid(attr, f"'{value}' is not a valid unicast MAC address")
    return str(eui).lower()


def one_of(*allowed) -> Callable[[str, Any], Any]:
    def check(attr, value):
        if value not in allowed:
            raise invalid(attr, f"'{value}' is not in {list(allowed)}")
        return value
    return check


def integer_range(low: int, high: int) -> Callable[[str, Any], int]:
    def check(attr, value):
        if isinstance(value, bool):
            raise invalid(attr, f"'{value}' is not an integer")
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise invalid(attr, f"'{value}' is not an integer") from None
        if not isinstance(value, int):
            raise invalid(attr, f"'{value}' is not an integer")
        if not low <= value <= high:
            raise invalid(attr, f"'{value}' is not in range {low} through {high}")
        return value
    return check


def dictionary(attr, value):
    if not isinstance(value, dict):
        raise invalid(attr, f"'{value}' is not a dictionary")
    return value


def tag_list(attr, value):
    if not isinstance(value, list):
        raise invalid(attr, f"'{value}' is not a list")
    return [tag(attr, t) for t in value]


def tag(attr, value):
    if not isinstance(value, str) or not value:
        raise invalid(attr, f"'{value}' is not a valid string")
    if len(value) > TAG_MAX_LEN:
        raise invalid(attr, f"'{value}' exceeds maximum length of {TAG_MAX_LEN}")
    if "," in value:
        raise invalid(attr, f"'{value}' contains a comma, which tag filters use as separator")
    return value


def fixed_ips(attr, value):
    """A list of {"subnet_id", "ip_address"} objects, checked for shape and syntax."""
    if not isinstance(value, list):
        raise invalid(attr, f"Invalid data format for fixed IP: '{value}'")
    result = []
    for entry in value:
        if not isinstance(entry, dict):
            raise invalid(attr, f"Invalid data format for fixed IP: '{entry}'")
        unknown = set(entry) - {"subnet_id", "ip_address"}
        if unknown:
            raise invalid(attr, f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        if not entry:
            raise invalid(attr, "Exactly one of subnet_id or ip_address is required per entry")
        if "subnet_id" in entry:
            uuid_string(attr, entry["subnet_id"])
        if "ip_address" in entry:
            ip = entry["ip_address"]
            if not isinstance(ip, str) or not (netaddr.valid_ipv4(ip, netaddr.INET_PTON)
                                               or netaddr.valid_ipv6(ip)):
                raise invalid(attr, f"'{ip}' is not a valid IP address")
        result.append(dict(entry))
    return result


def only_false(reason: str) -> Callable[[str, Any], bool]:
    """A boolean whose True side needs a feature that is not loaded."""
    def check(attr, value):
        if boolean(attr, value):
            raise invalid(attr, reason)
        return False
    return check


# ------------------------------------------------------------------------- query values
def query_boolean(attr, text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid(attr, f"'{text}' cannot be converted to boolean")


@dataclasses.dataclass(frozen=True)
class Attr:
    """One attribute of a resource.

    ``field`` names the service-level key the converted value goes to (None: not passed on);
    ``show`` reads the wire value from a model record.
    """

    name: str
    show: Callable[[Any], Any]
    allow_post: bool = False
    allow_put: bool = False
    default: Any = MISSING
    validate: Callable[[str, Any], Any] | None = None
    field: str | None = None
    admin_only: bool = False  # visible and writable by admins only (policy)
    admin_write: bool = False  # visible to all, writable by admins only (policy)
    kind: str = "string"  # string | boolean | integer | other (not filterable nor sortable)

    @property
    def filterable(self) -> bool:
        return self.kind != "other"

    @property
    def sortable(self) -> bool:
        return self.kind != "other"

    def from_query(self, text: str):
        """Convert one filter value from the query string to the type shown on the wire."""
        if self.kind == "boolean":
            return query_boolean(self.name, text)
        if self.kind == "integer":
            try:
                return int(text)
            except ValueError:
                raise invalid(self.name, f"'{text}' is not an integer") from None
        return text


@dataclasses.dataclass(frozen=True)
class AttributeMap:
    attrs: tuple[Attr, ...]

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {a.name: a for a in self.attrs})

    def get(self, name: str) -> Attr | None:
        return self._by_name.get(name)

    def visible(self, is_admin: bool) -> list[Attr]:
        return [a for a in self.attrs if is_admin or not a.admin_only]

    def render(self, record, is_admin: bool) -> dict:
        return {a.name: a.show(record) for a in self.visible(is_admin)}
