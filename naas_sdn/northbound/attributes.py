"""Attribute maps: what each resource attribute accepts, converts to and shows, like neutron-lib.

One declaration per attribute drives POST/PUT validation, the wire representation, filtering
and sorting, so a resource's behaviour is read in one place.
"""

from __future__ import annotations

import dataclasses
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

import netaddr

from naas_sdn.model import errors
from naas_sdn.model.common import parse_int

# MISSING: no default, the attribute is required on POST (the marker declared resources use too)
from naas_sdn.model.schema import MISSING

NAME_MAX_LEN = 255
TAG_MAX_LEN = 255
BODY_MAX_DEPTH = 32  # Neutron bodies nest a few levels; deeper is an attack on the parser
# oslo's bool_from_string(strict=True), behind neutron-lib's convert_to_boolean
TRUE_WORDS = ("1", "t", "true", "on", "y", "yes")
FALSE_WORDS = ("0", "f", "false", "off", "n", "no")


def invalid(attr: str, reason: str) -> errors.InvalidAttribute:
    return errors.InvalidAttribute(attr=attr, reason=reason)


# ----------------------------------------------------------------------------- validators
# Each takes (attribute name, wire value) and returns the converted value or raises
# InvalidAttribute with Neutron's wording.


def storable(attr, value: str) -> str:
    """Refuse text that is not storable everywhere: NUL (PostgreSQL refuses it in text) and
    unpaired surrogates (JSON's "\\ud800" decodes to one; it has no UTF-8 form)."""
    if "\x00" in value:
        raise invalid(attr, "NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(attr, "unpaired UTF-16 surrogates are not allowed") from None
    return value


def storable_body(body) -> None:
    """Check every key and string of a decoded JSON body with :func:`storable`, so that no
    attribute, however it is validated, reaches the database with such text; and bound the
    nesting (without recursion: the body may be deep)."""
    pending = [(body, "body", 0)]
    while pending:
        value, attr, depth = pending.pop()
        if depth > BODY_MAX_DEPTH:
            raise errors.BadRequestMessage(
                msg=f"Malformed request body: nested deeper than {BODY_MAX_DEPTH} levels"
            )
        if isinstance(value, str):
            storable(attr, value)
        elif isinstance(value, dict):
            for key, item in value.items():
                pending.append((item, storable("attribute name", key), depth + 1))
        elif isinstance(value, list):
            pending.extend((item, attr, depth + 1) for item in value)


def string(max_len: int = NAME_MAX_LEN) -> Callable[[str, Any], str]:
    """neutron-lib's validate_string: any storable text up to ``max_len`` characters."""

    def check(attr, value):
        if not isinstance(value, str):
            raise invalid(attr, f"'{value}' is not a valid string")
        if len(value) > max_len:
            raise invalid(attr, f"'{value}' exceeds maximum length of {max_len}")
        return storable(attr, value)

    return check


def _printable(char: str) -> bool:
    """neutron-lib's _is_printable: no control, format or unassigned code point, and of the
    separators only spaces (no line or paragraph separator)."""
    category = unicodedata.category(char)
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


def name_string(max_len: int = NAME_MAX_LEN) -> Callable[[str, Any], str]:
    """neutron-lib's validate_name_string: printable characters, no space at either end."""
    text = string(max_len)

    def check(attr, value):
        value = text(attr, value)
        if value and (
            not all(map(_printable, value))
            or unicodedata.category(value[0]) == "Zs"
            or unicodedata.category(value[-1]) == "Zs"
        ):
            raise invalid(attr, f"'{value}' is not a valid string")
        return value

    return check


def boolean(attr, value):
    """neutron-lib's convert_to_boolean: JSON booleans, 0 and 1, and oslo's words for true and
    false in any case ("true", "yes", "on", "1", ...)."""
    if isinstance(value, bool):
        return value
    word = (
        value.strip().lower()
        if isinstance(value, str)
        else str(value)
        if isinstance(value, int) and value in (0, 1)
        else None
    )
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise invalid(attr, f"'{value}' cannot be converted to boolean")


def boolean_or_none(attr, value):
    """convert_to_boolean_if_not_none: null leaves the default in place."""
    return None if value is None else boolean(attr, value)


def uuid_string(attr, value):
    if not is_uuid(value):
        raise invalid(attr, f"'{value}' is not a valid UUID")
    return value


def uuid_or_none(attr, value):
    return None if value is None else uuid_string(attr, value)


def uuid_list(attr, value):
    """Neutron's uuid_list with convert_none_to_empty_list: null is the empty list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(attr, f"'{value}' is not a list")
    return [uuid_string(attr, v) for v in value]


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
        number = parse_int(value)
        if number is None:
            raise invalid(attr, f"'{value}' is not an integer")
        if not low <= number <= high:
            raise invalid(attr, f"'{value}' is not in range {low} through {high}")
        return number

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
    return storable(attr, value)


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
            ip_address(attr, entry["ip_address"])
        result.append(dict(entry))
    return result


def ip_address(attr, value):
    """Neutron's validate_ip_address: IPv4 in strict dotted form (no leading zeros) or IPv6."""
    if not isinstance(value, str) or not (
        netaddr.valid_ipv4(value, netaddr.INET_PTON) or netaddr.valid_ipv6(value)
    ):
        raise invalid(attr, f"'{value}' is not a valid IP address")
    return value


def _ip_message(value) -> str | None:
    try:
        ip_address("", value)
    except errors.InvalidAttribute:
        return f"'{value}' is not a valid IP address"
    return None


def ip_or_none(attr, value):
    return None if value is None else ip_address(attr, value)


def _subnet_message(value) -> str | None:
    """Neutron's validate_subnet: a cidr with a prefix length, no host bits (IPv4 and IPv6)."""
    if not isinstance(value, str) or not value or value.strip() != value:
        return f"'{value}' is not a valid IP subnet"
    try:
        net = netaddr.IPNetwork(value)
        if "/" in value:
            address, _, prefix = value.partition("/")
            ip_address("", address)
            if not prefix.isdigit():
                raise ValueError(prefix)
    except (netaddr.AddrFormatError, ValueError, TypeError, errors.InvalidAttribute):
        return f"'{value}' is not a valid IP subnet"
    if "/" not in value or net.ip != net.network:
        return f"'{value}' isn't a recognized IP subnet cidr, '{net.cidr}' is recommended"
    return None


def subnet_cidr(attr, value):
    message = _subnet_message(value)
    if message:
        raise invalid(attr, message)
    return value


def subnet_list(attr, value):
    """neutron-lib's type:subnet_list: a list of distinct canonical prefixes."""
    if not isinstance(value, list):
        raise invalid(attr, f"'{value}' is not a list")
    for item in value:
        subnet_cidr(attr, item)
    duplicates = sorted({item for item in value if value.count(item) > 1})
    if duplicates:
        raise invalid(attr, f"Duplicate items in the list: '{', '.join(duplicates)}'")
    return value


def non_negative(attr, value):
    """convert_to_int then type:non_negative."""
    number = parse_int(value)
    if number is None:
        raise invalid(attr, f"'{value}' is not an integer")
    if number < 0:
        raise invalid(attr, f"'{value}' should be non-negative")
    return number


def ip_version(attr, value):
    """convert_to_int then [4, 6], as neutron-lib declares it."""
    number = parse_int(value)
    if isinstance(value, str) and number is None:
        raise invalid(attr, f"'{value}' is not an integer")
    if number not in (4, 6):
        raise invalid(attr, f"'{value}' is not in [4, 6]")
    return number


def _dict_keys_message(expected: list[str], value) -> str | None:
    if not isinstance(value, dict):
        return f"Invalid input. '{value}' must be a dictionary with keys: {expected}"
    if set(value) != set(expected):
        return (
            f"Validation of dictionary's keys failed. Expected keys: {set(expected)} "
            f"Provided keys: {set(value)}"
        )
    return None


def ip_pools(attr, value):
    if not isinstance(value, list):
        raise invalid(attr, f"Invalid data format for IP pool: '{value}'")
    for pool in value:
        message = _dict_keys_message(["start", "end"], pool)
        for key in ("start", "end"):
            message = message or _ip_message(pool[key])
        if message:
            raise invalid(attr, message)
    return [{"start": p["start"], "end": p["end"]} for p in value]


def nameservers(attr, value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(attr, f"Invalid data format for nameserver: '{value}'")
    seen = []
    for host in value:
        message = _ip_message(host)
        if message:
            raise invalid(attr, f"'{host}' is not a valid nameserver. {message}")
        if host in seen:
            raise invalid(attr, f"Duplicate nameserver '{host}'")
        seen.append(host)
    return seen


def host_routes(attr, value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(attr, f"Invalid data format for hostroute: '{value}'")
    seen = []
    for route in value:
        message = _dict_keys_message(["destination", "nexthop"], route)
        message = message or _subnet_message(route["destination"])
        message = message or _ip_message(route["nexthop"])
        if message:
            raise invalid(attr, message)
        if route in seen:
            raise invalid(attr, f"Duplicate hostroute '{route}'")
        seen.append(dict(route))
    return seen


def one_of_or_none(*allowed) -> Callable[[str, Any], Any]:
    def check(attr, value):
        if value is not None and value not in allowed:
            raise invalid(attr, f"'{value}' is not in {[*allowed, None]}")
        return value

    return check


def only_none(reason: str) -> Callable[[str, Any], None]:
    """An attribute whose only accepted value is null: a feature that is not loaded."""

    def check(attr, value):
        if value is not None:
            raise invalid(attr, reason)

    return check


def only_empty_list(reason: str) -> Callable[[str, Any], list]:
    def check(attr, value):
        if value is None or value == []:
            return []
        if not isinstance(value, list):
            raise invalid(attr, f"'{value}' is not a list")
        raise invalid(attr, reason)

    return check


def only_false(reason: str) -> Callable[[str, Any], bool]:
    """A boolean whose True side needs a feature that is not loaded."""

    def check(attr, value):
        if boolean(attr, value):
            raise invalid(attr, reason)
        return False

    return check


# ------------------------------------------------------------------------- query values
def query_boolean(attr, text: str) -> bool:
    """Filters convert as bodies do."""
    return boolean(attr, text)


def query_integer(attr, text: str) -> int:
    """An integer filter: anything else is refused rather than matching nothing."""
    number = parse_int(text)
    if number is None:
        raise invalid(attr, f"'{text}' is not an integer")
    return number


@dataclasses.dataclass(frozen=True)
class Attr:
    """One attribute of a resource.

    ``field`` names the service-level key the converted value goes to (None: not passed on);
    ``show`` reads the wire value from a model record; ``show_to(ctx, record)``, when given,
    reads it as one caller sees it (a network's ``shared``: whether it is shared with them).
    """

    name: str
    show: Callable[[Any], Any]
    allow_post: bool = False
    allow_put: bool = False
    default: Any = MISSING
    validate: Callable[[str, Any], Any] | None = None
    field: str | None = None
    # string | boolean | integer | fixed_ips (filterable as key=value, not sortable) |
    # members (a list; filtered by the items it holds, not sortable) |
    # other (neither filterable nor sortable)
    kind: str = "string"
    readable: bool = True  # False: accepted on POST/PUT, never shown, filtered or sorted
    show_to: Callable[[Any, Any], Any] | None = None
    sort_key: bool = True  # False: filterable but no sort key (neutron-lib's is_sort_key)

    def shown(self, record, ctx=None):
        """The wire value, as ``ctx``'s caller sees it when the attribute depends on them."""
        if ctx is not None and self.show_to is not None:
            return self.show_to(ctx, record)
        return self.show(record)

    @property
    def filterable(self) -> bool:
        return self.kind != "other"

    @property
    def sortable(self) -> bool:
        return self.sort_key and self.kind not in ("other", "fixed_ips", "members")

    def from_query(self, text: str):
        """Convert one filter value from the query string to the type shown on the wire."""
        if self.kind == "boolean":
            return query_boolean(self.name, text)
        if self.kind == "integer":
            return query_integer(self.name, text)
        return text


@dataclasses.dataclass(frozen=True)
class AttributeMap:
    attrs: tuple[Attr, ...]
    _by_name: dict[str, Attr] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {a.name: a for a in self.attrs})

    def get(self, name: str) -> Attr | None:
        return self._by_name.get(name)

    def __getitem__(self, name: str) -> Attr:
        """An attribute known to exist (checked by ``get`` before)."""
        return self._by_name[name]

    def visible(self, hidden: frozenset = frozenset()) -> list[Attr]:
        """The attributes a caller may read: all but the write-only ones and those its
        policy ``hidden``."""
        return [a for a in self.attrs if a.readable and a.name not in hidden]

    def render(self, record, hidden: frozenset = frozenset(), ctx=None) -> dict:
        """The record on the wire; as ``ctx``'s caller sees it, when given."""
        return {a.name: a.shown(record, ctx) for a in self.visible(hidden)}
