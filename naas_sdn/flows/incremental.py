"""The compiler's inputs kept from pass to pass: what changed is recomputed, nothing else.

:func:`naas_sdn.flows.compiler.compile_inputs` derives a pass's inputs — bound ports,
routers, security group rules — from the whole model: its cost grows with every port of the
cloud, plugged or not. :class:`IncrementalInputs` holds the same derivations with the
indexes that tell what depends on what (the ports of a network, the plugged ports of a
security group, the groups whose rules name a remote group, the addresses of each group's
members), and is told which views changed since its last pass (the service's
``snapshot_since``) and where the VIFs are now. A port create then costs that port, its
network's and its groups' entries: nothing that scales with the number of other ports.

Pure like the compiler (no I/O): the same snapshots in give what ``compile_inputs`` gives,
which tests/unit/test_incremental.py checks after every step of random model changes.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import netaddr

from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.flows.inputs import (
    BoundPort,
    PolicyContext,
    Remote,
    RouterInputs,
    RuleInputs,
    carries_traffic,
    gateway_of,
    port_interfaces,
    port_policy,
    remote_prefixes,
    with_uplinks,
)
from naas_sdn.flows.layout import remote_bucket
from naas_sdn.model.snapshot import (
    EMPTY,
    ROUTER_GATEWAY,
    ROUTER_INTERFACE,
    ModelSnapshot,
    PortView,
)

# The collections whose views the inputs read.
READ = (
    "networks",
    "subnets",
    "ports",
    "routers",
    "security_groups",
    "protocol_blocks",
    "qos_policies",
    "floatingips",
)


def _members_of(port: PortView | None) -> Iterable[tuple[str, int, str]]:
    """(group id, IP version, address or prefix) the port adds to its groups' members."""
    if port is None:
        return
    for group_id in port.security_group_ids:
        for _, ip in port.fixed_ips:
            yield group_id, 6 if ":" in ip else 4, ip
        for cidr, _ in port.allowed_address_pairs:
            net = netaddr.IPNetwork(cidr)
            yield group_id, net.version, str(net.ip) if net.size == 1 else str(net.cidr)


def _addresses_of(port: PortView | None) -> Iterable[tuple[tuple[str, str], str]]:
    """((subnet id, normalized address), MAC) of the port's fixed IPs: next hops of routes."""
    if port is None:
        return
    for subnet_id, ip in port.fixed_ips:
        try:
            yield (subnet_id, str(netaddr.IPAddress(ip))), port.mac_address
        except (netaddr.AddrFormatError, ValueError, TypeError):
            continue  # no next hop; the compiler names the port's own flows as failed


class _Index:
    """key -> set of ids, where each id is under one key at a time."""

    def __init__(self):
        self.ids: dict = {}
        self._key_of: dict = {}

    def place(self, item, keys: Iterable) -> None:
        for key in self._key_of.pop(item, ()):
            held = self.ids[key]
            held.discard(item)
            if not held:
                del self.ids[key]
        keys = tuple(keys)
        if keys:
            self._key_of[item] = keys
            for key in keys:
                self.ids.setdefault(key, set()).add(item)

    def get(self, key) -> set:
        return self.ids.get(key, set())


class BoundPorts(Sequence):
    """A pass's bound ports: sorted by port key when read as a sequence (what
    ``compile_inputs`` gives), and the changes since the bound ports of the pass before
    (port id -> the port now, None if gone). A consumer that took that pass's reads
    ``changes`` alone instead of diffing every bound port; ``follows`` is that pass's
    ``token`` (None: none, the inputs were derived afresh). Valid until the next update."""

    def __init__(self, by_id: Mapping[str, BoundPort], changes: Mapping, follows: object):
        self._by_id, self.changes, self.follows = by_id, changes, follows
        self.token = object()
        self._sorted: list[BoundPort] | None = None

    def _ports(self) -> list[BoundPort]:
        if self._sorted is None:
            self._sorted = sorted(self._by_id.values(), key=lambda b: b.port.key)
        return self._sorted

    def __len__(self) -> int:
        return len(self._by_id)

    def __getitem__(self, index):
        return self._ports()[index]

    def __iter__(self):
        return iter(self._ports())


class IncrementalInputs:
    """The inputs of the last pass, and what they were derived from."""

    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self._model = EMPTY
        self._vifs: Mapping = MappingProxyType({})
        self._subnets: dict[str, tuple] = {}  # network id -> its SubnetViews, by id
        self._subnets_of = _Index()  # network id -> subnet ids
        self._blocks: dict[str, tuple] = {}  # network id -> its ProtocolBlockViews, by key
        self._blocks_of = _Index()  # network id -> block ids
        self._interface_ports = _Index()  # router id and network id -> interface port ids
        self._interfaces: dict[str, tuple] = {}  # interface port id -> its Interfaces
        self._routed_on: dict[str, tuple] = {}  # network id -> routed Interfaces, sorted
        self._routers: list[RouterInputs] = []
        self._router_by_key: dict[int, RouterInputs] = {}  # of the last derivation
        self._floating: dict[str, dict[str, tuple]] = {}  # router id -> fip id -> (fip, fixed)
        self._floating_router: dict[str, str] = {}  # fip id -> its router id
        self._exits: tuple = ({}, {})  # (uplinks, neighbours) the gateways were derived with
        self._next_hops: dict[tuple, str] = {}  # (subnet id, address) -> MAC
        # (group, version, bucket) -> count of each address of the group's ports in the bucket
        self._members: dict[tuple, collections.Counter] = {}
        self._remotes: dict[tuple, Remote] = {}  # (group, version) -> its members' addresses
        self._naming = _Index()  # remote group id -> ids of groups with rules naming it
        self._rule_keys: dict[str, tuple] = {}  # group id -> keys of its rules that can match
        self._rules: dict[int, RuleInputs] = {}
        self._by_group: dict[str, tuple] = {}  # group id -> ((direction, key, clauses), ...)
        self._stateless: set[str] = set()  # ids of the stateless groups
        self._plugged = _Index()  # network id and ("group", id) -> plugged port ids
        self._live: dict[str, PortView] = {}  # ports that carry traffic: their groups' members
        self._bound: dict[str, BoundPort] = {}
        self._changes: dict[str, BoundPort | None] = {}  # this update's: port id -> now
        self._last: object = None  # the token of what the last update gave, if it follows on

    def update(
        self,
        model: ModelSnapshot,
        fabric: FabricSnapshot,
        changed: Mapping[str, Iterable[str]] | None,
    ) -> tuple[BoundPorts, list[RouterInputs], dict]:
        """The inputs for ``model`` and ``fabric``, given the ids of the views that changed
        since the last call's model, by collection (None: unknown, derive all afresh)."""
        if changed is None:
            self._reset()
            changed = {c: model.views(c).keys() for c in READ}
        old, self._model = self._model, model
        fabric = with_uplinks(fabric, model)
        vifs, self._vifs = self._vifs, fabric.vifs
        self._changes = {}
        self._advance(old, model, changed, vifs, fabric)
        bound = BoundPorts(self._bound, self._changes, self._last)
        self._last = bound.token
        return bound, self._routers, self._rules

    def _advance(
        self, old: ModelSnapshot, new: ModelSnapshot, changed, old_vifs, fabric: FabricSnapshot
    ) -> None:
        def ids(collection: str) -> set:
            return set(changed.get(collection, ()))

        def both(collection: str, item_id: str) -> tuple:
            return old.views(collection).get(item_id), new.views(collection).get(item_id)

        networks = ids("networks")
        dirty_networks = set(networks)  # whose plugged ports are derived anew
        dirty_ports = ids("ports")
        dirty_interfaces = set()
        for subnet_id in ids("subnets"):
            for view in both("subnets", subnet_id):
                if view is not None:
                    networks.add(view.network_id)
            after = new.subnets.get(subnet_id)
            self._subnets_of.place(subnet_id, (after.network_id,) if after else ())
        for network_id in networks:
            mine = [new.subnets[i] for i in self._subnets_of.get(network_id)]
            self._subnets[network_id] = tuple(sorted(mine, key=lambda s: s.id))
            dirty_networks.add(network_id)
            dirty_interfaces |= self._interface_ports.get(("network", network_id))
        for block_id in ids("protocol_blocks"):
            holders = {v.network_id for v in both("protocol_blocks", block_id) if v is not None}
            block = new.protocol_blocks.get(block_id)
            self._blocks_of.place(block_id, (block.network_id,) if block else ())
            for network_id in holders:
                blocks = [new.protocol_blocks[i] for i in self._blocks_of.get(network_id)]
                self._blocks[network_id] = tuple(sorted(blocks, key=lambda b: b.key))
                dirty_networks.add(network_id)
        addresses_changed = self._ports_changed(old, new, dirty_ports, dirty_interfaces)
        routers = ids("routers")
        for router_id in routers:
            dirty_interfaces |= self._interface_ports.get(("router", router_id))
        vifs = fabric.vifs
        # first: it keeps the floating IPs by router, whatever else changed
        gateways, floated = self._gateways_changed(old, new, changed, fabric)
        if (
            self._refresh_interfaces(new, dirty_interfaces, dirty_networks)
            or routers
            or (addresses_changed and any(r.routes for r in new.routers.values()))
            or gateways
        ):
            self._routers = self._router_inputs(new, fabric)
        elif floated:
            self._routers = self._refloat(new, fabric, floated)
        # Where VIFs are plugged.
        if vifs is not old_vifs:
            dirty_ports |= {
                i for i in vifs.keys() | old_vifs.keys() if vifs.get(i) != old_vifs.get(i)
            }
        for network_id in dirty_networks:
            dirty_ports |= self._plugged.get(network_id)
        members_changed = self._follow_live(new, dirty_ports)
        groups = ids("security_groups") | self._refresh_members(members_changed)
        dirty_ports |= self._refresh_rules(new, groups)
        qos = ids("qos_policies")
        if qos:
            dirty_ports |= {
                i
                for i, b in self._bound.items()
                if (b.port.qos_policy_id or b.network.qos_policy_id) in qos
            }
        for port_id in dirty_ports:
            self._refresh_port(new, port_id)

    def _gateways_changed(
        self, old: ModelSnapshot, new: ModelSnapshot, changed, fabric: FabricSnapshot
    ) -> tuple[bool, set]:
        """Whether any router's way out may differ (a gateway port, an external subnet or
        network, where uplinks are, a neighbour), and the ids of the routers whose floating
        IPs changed (kept by router here)."""
        floated = set()
        for fip_id in changed.get("floatingips", ()):
            router_id = self._floating_router.pop(fip_id, None)
            if router_id is not None:
                floated.add(router_id)
                mine = self._floating[router_id]
                del mine[fip_id]
                if not mine:
                    del self._floating[router_id]
            fip = new.floatingips.get(fip_id)
            if fip is not None and fip.router_id and fip.port_id and fip.fixed_ip_address:
                floated.add(fip.router_id)
                self._floating_router[fip_id] = fip.router_id
                self._floating.setdefault(fip.router_id, {})[fip_id] = (
                    fip.floating_ip_address,
                    fip.fixed_ip_address,
                )
        exits = (fabric.uplinks, fabric.neighbours)
        moved = exits != self._exits
        self._exits = exits
        gateway_ports = any(
            port is not None and port.device_owner == ROUTER_GATEWAY
            for port_id in changed.get("ports", ())
            for port in (old.ports.get(port_id), new.ports.get(port_id))
        )
        every = (
            moved
            or gateway_ports
            or (
                bool(changed.get("subnets") or changed.get("networks"))
                and any(r.gw_port_id for r in new.routers.values())
            )
        )
        return every, floated

    def _refloat(self, model: ModelSnapshot, fabric: FabricSnapshot, floated: set) -> list:
        """The router inputs with the gateways of ``floated`` (router ids) derived anew, when
        their floating IPs alone changed: a floating IP costs its router, not every one."""
        by_id = {r.router.id: r for r in self._routers}
        if not floated <= by_id.keys():
            return self._router_inputs(model, fabric)  # a router not derived yet: all of them
        found = []
        for inputs in self._routers:
            if inputs.router.id in floated:
                router = inputs.router
                gateway = gateway_of(
                    model, fabric, router, inputs.interfaces, self._floating.get(router.id)
                )
                inputs = dataclasses.replace(inputs, gateway=gateway)
                self._router_by_key[router.key] = inputs
            found.append(inputs)
        return found

    def _ports_changed(
        self, old: ModelSnapshot, new: ModelSnapshot, ports: set, dirty_interfaces: set
    ) -> bool:
        """Follow changed ports into the router interfaces (which join ``dirty_interfaces``)
        and the next hops of routes; whether any next hop changed."""
        hops_removed: dict[tuple, str] = {}
        hops_added: dict[tuple, str] = {}
        for port_id in ports:
            before, after = old.ports.get(port_id), new.ports.get(port_id)
            hops_removed.update(_addresses_of(before))
            hops_added.update(_addresses_of(after))
            interface = after is not None and after.device_owner == ROUTER_INTERFACE
            if after is not None and interface:
                where = (("router", after.device_id), ("network", after.network_id))
                self._interface_ports.place(port_id, where)
            else:
                self._interface_ports.place(port_id, ())
            if interface or (before is not None and before.device_owner == ROUTER_INTERFACE):
                dirty_interfaces.add(port_id)
        addresses_changed = hops_removed != hops_added
        if addresses_changed:  # all released first: an address may pass from port to port
            for key in hops_removed:
                self._next_hops.pop(key, None)
            self._next_hops.update(hops_added)
        return addresses_changed

    def _follow_live(self, model: ModelSnapshot, ports: set) -> set:
        """Whether each of ``ports`` carries traffic now; those that start or stop, or change
        while they do, join or leave their groups' members. Returns the (group, version,
        bucket) of the members that changed."""
        changed: set[tuple] = set()
        for port_id in ports:
            before = self._live.get(port_id)
            port = model.ports.get(port_id)
            location = self._vifs.get(port_id)
            network = model.networks.get(port.network_id) if port is not None else None
            live = port is not None and carries_traffic(port, location, network)
            after = port if live else None
            if after is before:
                continue
            for group_id, version, address in _members_of(before):
                key = (group_id, version, remote_bucket(address))
                self._members[key][address] -= 1
                changed.add(key)
            for group_id, version, address in _members_of(after):
                key = (group_id, version, remote_bucket(address))
                self._members.setdefault(key, collections.Counter())[address] += 1
                changed.add(key)
            if after is None:
                del self._live[port_id]
            else:
                self._live[port_id] = after
        return changed

    def _refresh_interfaces(self, model: ModelSnapshot, ports: set, dirty_networks: set) -> bool:
        """Derive the given router interface ports' addresses; True if any routed interface
        changed (the networks whose routers changed join ``dirty_networks``)."""
        changed = False
        for port_id in ports:
            found = port_interfaces(model, model.ports.get(port_id))
            if found != self._interfaces.get(port_id, ()):
                changed = True
                if found:
                    self._interfaces[port_id] = found
                else:
                    self._interfaces.pop(port_id, None)
        if not changed:
            return False
        routed: dict[str, list] = {}
        for interface in sorted(
            (i for found in self._interfaces.values() for i in found if i.network.admin_state_up),
            key=lambda i: (i.router_key, i.subnet_id, i.ip),
        ):
            routed.setdefault(interface.network.id, []).append(interface)
        for network_id in routed.keys() | self._routed_on.keys():
            now = tuple(routed.get(network_id, ()))
            if now != self._routed_on.get(network_id, ()):
                dirty_networks.add(network_id)
        self._routed_on = {n: tuple(found) for n, found in routed.items()}
        return True

    def _router_inputs(self, model: ModelSnapshot, fabric: FabricSnapshot) -> list[RouterInputs]:
        """Every router with a routed interface or a gateway, by key (a walk over routers,
        not ports)."""
        by_router: dict[int, list] = {}
        for found in self._routed_on.values():
            for interface in found:
                by_router.setdefault(interface.router_key, []).append(interface)
        result = []
        for router in sorted(model.routers.values(), key=lambda r: r.key):
            mine = tuple(
                sorted(
                    by_router.get(router.key, ()), key=lambda i: (i.router_key, i.subnet_id, i.ip)
                )
            )
            gateway = gateway_of(model, fabric, router, mine, self._floating.get(router.id))
            if not mine and gateway is None:
                continue
            routes = []
            for destination, nexthop in router.routes:
                toward = [
                    i for i in mine if netaddr.IPAddress(nexthop) in netaddr.IPNetwork(i.cidr)
                ]
                if not toward:
                    continue
                mac = self._next_hops.get((toward[0].subnet_id, str(netaddr.IPAddress(nexthop))))
                if mac is not None:
                    routes.append((destination, toward[0], mac))
            inputs = RouterInputs(
                router, mine, tuple(sorted(routes, key=lambda r: (r[0], r[1].ip))), gateway
            )
            kept = self._router_by_key.get(router.key)
            result.append(kept if kept == inputs else inputs)  # unchanged: the same object
        self._router_by_key = {r.router.key: r for r in result}
        return result

    def _refresh_members(self, keys: set) -> set:
        """Bring the buckets of members' addresses up to date; the groups whose rules name a
        group whose addresses changed."""
        groups = set()
        for group_id, version, bucket in keys:
            counter = self._members.get((group_id, version, bucket))
            if counter is not None:
                for address in [a for a, count in counter.items() if count <= 0]:
                    del counter[address]
                if not counter:
                    del self._members[(group_id, version, bucket)]
            now = frozenset(counter or ())
            remote = self._remotes.get((group_id, version))
            if now == (remote.buckets[bucket] if remote is not None else frozenset()):
                continue
            remote = (remote or Remote.of(())).with_bucket(bucket, now)
            if remote:
                self._remotes[(group_id, version)] = remote
            else:
                del self._remotes[(group_id, version)]
            groups |= self._naming.get(group_id)
        return groups

    def _refresh_rules(self, model: ModelSnapshot, groups: set) -> set:
        """Derive the rules of ``groups``; the plugged ports whose rules or whose groups'
        statefulness changed."""
        ports = set()
        for group_id in groups:
            group = model.security_groups.get(group_id)
            rules = group.rules if group is not None else ()
            stateless = group is not None and not group.stateful
            if stateless != (group_id in self._stateless):
                ports |= self._plugged.get(("group", group_id))
                self._stateless ^= {group_id}
            self._naming.place(group_id, {r.remote_group_id for r in rules if r.remote_group_id})
            for key in self._rule_keys.pop(group_id, ()):
                del self._rules[key]
            mine, keys = [], []
            for rule in rules:
                remote = remote_prefixes(rule, self._remotes)
                if remote is False:
                    continue
                inputs = RuleInputs(rule, remote, not stateless)
                self._rules[rule.key] = inputs
                keys.append(rule.key)
                mine.append((rule.direction, rule.key, inputs.clauses))
            if keys:
                self._rule_keys[group_id] = tuple(keys)
            now = tuple(mine)
            if now != self._by_group.get(group_id):
                ports |= self._plugged.get(("group", group_id))
            if group is None:
                self._by_group.pop(group_id, None)
            else:
                self._by_group[group_id] = now
        return ports

    def _refresh_port(self, model: ModelSnapshot, port_id: str) -> None:
        self._plugged.place(port_id, ())
        bound = self._bound_port(model, model.ports.get(port_id), self._vifs.get(port_id))
        before = self._bound.get(port_id)
        if bound == before:
            return  # the very same object stays: the compiler's memo finds it at once
        if bound is None:
            del self._bound[port_id]
        else:
            self._bound[port_id] = bound
        self._changes[port_id] = bound

    def _bound_port(self, model: ModelSnapshot, port, location) -> BoundPort | None:
        """The port as the compiler sees it, if it carries traffic (plugged, enabled, on an
        enabled network); a plugged port joins the plugged ports' indexes either way."""
        # A router's port is everywhere (distributed), never a VIF.
        if (
            port is None
            or location is None
            or port.device_owner in (ROUTER_INTERFACE, ROUTER_GATEWAY)
        ):
            return None
        self._plugged.place(
            port.id, (port.network_id, *(("group", g) for g in port.security_group_ids))
        )
        network = model.networks.get(port.network_id)
        if network is None or not carries_traffic(port, location, network):
            return None
        context = PolicyContext(self._rules, self._by_group, self._blocks, self._stateless)
        return BoundPort(
            port,
            network,
            location.dpid,
            location.ofport,
            self._subnets.get(network.id, ()),
            self._routed_on.get(network.id, ()),
            port_policy(model, context, port, network),
        )
