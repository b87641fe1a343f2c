"""Who may do what: oslo.policy rules with Neutron's defaults, enforced before the model.

Every API action is decided here, in one place, by name: ``create_port``,
``create_port:mac_address``, ``update_network:shared``, ``get_port:binding:host_id``... as in
Neutron's ``neutron/conf/policies``. An operator overrides any rule in a ``policy.yaml``
(``[oslo_policy] policy_file`` in the configuration file); ``naas-sdn policy sample`` prints
the defaults. Each service plugin brings the rules of its own resources.

Targets are what Neutron's are: the object as the API shows it (for a create, the request
body with the project filled in), plus ``network:tenant_id``/``network:project_id``/
``network:shared`` for objects that live on a network and ``ext_parent:tenant_id`` for an
object nested below another (a QoS policy's rules).
"""

from __future__ import annotations

import re

from oslo_config import cfg
from oslo_policy import policy

from naas_sdn.model import errors


@policy.register("field")
class FieldCheck(policy.Check):
    """Neutron's ``field:<resource>:<attribute>=<value>`` (``=~`` for a regular expression):
    true when the target's attribute has that value. ``networks:shared`` reads the network
    the target lives on (``network:shared``), or the target itself when it is a network."""

    def __init__(self, kind, match):
        super().__init__(kind, match)
        resource, _, rest = match.partition(":")
        self.field, _, self.value = rest.partition("=")
        self.member = (
            resource[:-3] + "y"
            if resource.endswith("ies")
            else resource[:-1]
            if resource.endswith("s")
            else resource
        )
        self.pattern = re.compile(self.value[1:]) if self.value.startswith("~") else None

    def __call__(self, target, creds, enforcer, current_rule=None):
        key = f"{self.member}:{self.field}"
        if key in target:
            value = target[key]
        elif target.get("_resource") == self.member and self.field in target:
            value = target[self.field]
        else:
            return False
        if self.pattern is not None:
            return isinstance(value, str) and self.pattern.match(value) is not None
        return str(value) == self.value


# The check strings Neutron's rules are made of (neutron/conf/policies/base.py).
ADMIN = "rule:context_is_admin"
ADMIN_OR_OWNER = "rule:admin_or_owner"
ADMIN_OR_NET_OWNER = "rule:admin_or_network_owner"
ADMIN_OWNER_OR_NET_OWNER = "rule:admin_owner_or_network_owner"
ADMIN_OR_PARENT_OWNER = "rule:admin_or_ext_parent_owner"
ANY = "rule:regular_user"
ADVSVC = "rule:context_is_advsvc"
ADMIN_OR_SERVICE = "(rule:admin_only) or (rule:service_api)"  # neutron-lib's, to the letter


def either(*checks: str) -> str:
    return " or ".join(checks)


def as_member(check: str, service: bool = False) -> str:
    """Neutron's defaults since Wallaby: what a rule admits, a write needs the project's
    ``member`` role for (admins need none; ``service``: nor does Nova's service role)."""
    return _persona(check, "member", service)


def as_reader(check: str, service: bool = False) -> str:
    """As :func:`as_member` for reads: the ``reader`` role (which member implies)."""
    return _persona(check, "reader", service)


def _persona(check: str, role: str, service: bool) -> str:
    base = ADMIN_OR_SERVICE if service else ADMIN
    if check in (ADMIN, base):
        return check
    return f"{base} or (({check}) and role:{role})"


BASE_RULES = (
    policy.RuleDefault("context_is_admin", "role:admin", "Rule for cloud admin access"),
    policy.RuleDefault("owner", "tenant_id:%(tenant_id)s", "Rule for resource owner access"),
    policy.RuleDefault(
        "admin_or_owner", either(ADMIN, "rule:owner"), "Rule for admin or owner access"
    ),
    policy.RuleDefault("context_is_advsvc", "role:advsvc", "Rule for advsvc role access"),
    policy.RuleDefault(
        "network_owner", "tenant_id:%(network:tenant_id)s", "Rule for network owner access"
    ),
    policy.RuleDefault(
        "admin_or_network_owner",
        either(ADMIN, "rule:network_owner"),
        "Rule for admin or network owner access",
    ),
    policy.RuleDefault(
        "admin_owner_or_network_owner",
        either("rule:owner", ADMIN_OR_NET_OWNER),
        "Rule for resource owner, admin or network owner access",
    ),
    policy.RuleDefault("admin_only", ADMIN, "Rule for admin-only access"),
    policy.RuleDefault(
        "service_api", "role:service", "Default rule for the service-to-service APIs."
    ),
    policy.RuleDefault("regular_user", "", "Rule for regular user access"),
    policy.RuleDefault("shared", "field:networks:shared=True", "Rule of shared network"),
    policy.RuleDefault(
        "external", "field:networks:router:external=True", "Rule of external network"
    ),
    policy.RuleDefault(
        "ext_parent_owner",
        "tenant_id:%(ext_parent:tenant_id)s",
        "Rule for common parent owner check",
    ),
    policy.RuleDefault(
        "admin_or_ext_parent_owner",
        either(ADMIN, "rule:ext_parent_owner"),
        "Rule for common parent owner check",
    ),
    policy.RuleDefault("default", ADMIN_OR_OWNER, "Default access rule"),
)


def crud(
    member: str,
    create: str = ADMIN_OR_OWNER,
    get: str = ADMIN_OR_OWNER,
    update: str = ADMIN_OR_OWNER,
    delete: str = ADMIN_OR_OWNER,
    attributes: dict[str, str] | None = None,
    service: bool = False,
) -> tuple[policy.RuleDefault, ...]:
    """The four rules of a resource, then its attribute rules: ``{"create:mac_address": X}``
    is the rule ``create_port:mac_address``. Who the four admit reads with the ``reader``
    role and writes with ``member`` (:func:`as_member`); ``service``: Nova's service role
    does all four on any project's objects, as Neutron's port rules let it."""
    rules = [
        policy.RuleDefault(
            f"{verb}_{member}", persona(check, service), f"{verb.capitalize()} a {member}"
        )
        for verb, check, persona in (
            ("create", create, as_member),
            ("get", get, as_reader),
            ("update", update, as_member),
            ("delete", delete, as_member),
        )
    ]
    for key, check in (attributes or {}).items():
        verb, _, attribute = key.partition(":")
        rules.append(
            policy.RuleDefault(
                f"{verb}_{member}:{attribute}",
                check,
                f"{verb.capitalize()} a {member} with {attribute}",
            )
        )
    return tuple(rules)


def rule(name: str, check: str, description: str) -> policy.RuleDefault:
    return policy.RuleDefault(name, check, description)


_PORT_ADDRESSING = either(ADVSVC, ADMIN_OR_NET_OWNER)

CORE_RULES = (
    # Unlike Neutron's defaults, a project shares its own networks (the blueprint's Goal 1):
    # no rule of its own for ``shared``, so ``create_network``/``update_network`` decide.
    *crud(
        "network",
        get=either(ADMIN_OR_OWNER, "rule:shared", "rule:external"),
        attributes={
            **{
                f"{verb}:provider:{name}": ADMIN
                for verb in ("create", "get", "update")
                for name in ("network_type", "physical_network", "segmentation_id")
            },
            "create:router:external": ADMIN,
            "update:router:external": ADMIN,
        },
    ),
    *crud(
        "subnet",
        create=ADMIN_OR_NET_OWNER,
        get=either(ADMIN_OR_OWNER, "rule:shared", "rule:external"),
        update=ADMIN_OR_NET_OWNER,
        delete=ADMIN_OR_NET_OWNER,
        attributes={
            f"{verb}:{name}": ADMIN
            for verb in ("create", "update")
            for name in ("segment_id", "service_types")
        },
    ),
    rule(
        "network_device",
        "field:port:device_owner=~^network:",
        "Rule of port with network device_owner",
    ),
    *crud(
        "port",
        # Neutron's: on one's own network or one shared with one (an external network takes
        # no tenant's port: its routers' and floating IPs' are made by the service)
        create=either(ADVSVC, ADMIN_OR_NET_OWNER, "rule:shared"),
        get=either(ADVSVC, ADMIN_OWNER_OR_NET_OWNER),
        update=either(ADMIN_OR_OWNER, ADVSVC),
        delete=either(ADVSVC, ADMIN_OWNER_OR_NET_OWNER),
        service=True,  # Nova binds a tenant's port to its compute host with its service role
        attributes={
            "create:device_owner": either("not rule:network_device", _PORT_ADDRESSING),
            "create:mac_address": _PORT_ADDRESSING,
            "create:fixed_ips": either(_PORT_ADDRESSING, "rule:shared"),
            "create:fixed_ips:ip_address": _PORT_ADDRESSING,
            "create:fixed_ips:subnet_id": either(_PORT_ADDRESSING, "rule:shared"),
            "create:port_security_enabled": _PORT_ADDRESSING,
            "create:allowed_address_pairs": ADMIN_OR_NET_OWNER,
            "create:binding:host_id": ADMIN_OR_SERVICE,
            "create:binding:profile": ADMIN_OR_SERVICE,
            "update:device_owner": either("not rule:network_device", _PORT_ADDRESSING),
            "update:mac_address": either(ADMIN, ADVSVC),
            "update:fixed_ips": _PORT_ADDRESSING,
            "update:fixed_ips:ip_address": _PORT_ADDRESSING,
            "update:fixed_ips:subnet_id": either(_PORT_ADDRESSING, "rule:shared"),
            "update:port_security_enabled": _PORT_ADDRESSING,
            "update:allowed_address_pairs": ADMIN_OR_NET_OWNER,
            "update:binding:host_id": ADMIN_OR_SERVICE,
            "update:binding:profile": ADMIN_OR_SERVICE,
        },
    ),
)


class Authorizer:
    """The rules of the loaded plugins, with the operator's overrides."""

    def __init__(self, rules, conf: cfg.ConfigOpts | None = None):
        if conf is None:
            conf = cfg.ConfigOpts()
            conf([], project="naas-sdn", default_config_files=[])
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults([*BASE_RULES, *rules])
        self._enforcer.load_rules()

    @property
    def defaults(self) -> dict[str, str]:
        """Every registered rule's default check string, by name."""
        return {name: str(item.check_str) for name, item in self._enforcer.registered_rules.items()}

    def knows(self, action: str) -> bool:
        """Whether ``action`` has a rule of its own (an attribute without one is free)."""
        return action in self._enforcer.registered_rules or action in self._enforcer.rules

    def is_default(self, action: str) -> bool:
        """The rule is the built-in default: lists may trust the model's own scoping, which
        implements exactly the default ``get_*`` rules, instead of checking every item."""
        self._enforcer.load_rules()  # the operator's file, reread when it changed
        default = self._enforcer.registered_rules.get(action)
        current = self._enforcer.rules.get(action)
        return default is not None and (current is None or str(current) == str(default.check))

    def allowed(self, ctx, action: str, target: dict) -> bool:
        """False for a rule that denies; an action with no rule of its own follows
        ``default``, as in every oslo.policy service."""
        return self._enforcer.enforce(action, target, credentials(ctx))

    def authorize(self, ctx, action: str, target: dict) -> None:
        if not self.allowed(ctx, action, target):
            raise errors.PolicyNotAuthorized(action=action)


def credentials(ctx) -> dict:
    return {
        "project_id": ctx.project_id,
        "tenant_id": ctx.project_id,
        "roles": list(ctx.roles),
        "is_admin": ctx.is_admin,
    }


def sample(rules) -> str:
    """A policy.yaml with every default commented out, as ``oslopolicy-sample-generator``
    writes it: an operator uncomments and changes the rules to override."""
    lines = [
        "# naas-sdn policy defaults (Neutron's, plus naas-sdn's own resources).",
        "# Uncomment a rule to change it; see docs/api.md, 'Authorization'.",
        "",
    ]
    for item in [*BASE_RULES, *rules]:
        lines += [f"# {item.description}", f'#"{item.name}": "{item.check_str}"', ""]
    return "\n".join(lines)
