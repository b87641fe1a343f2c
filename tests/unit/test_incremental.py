"""The incremental inputs equal the full derivation after every change.

Random walks over the real service (networks, subnets, ports with groups and address pairs,
remote-group rules, routers with interfaces and routes, QoS policies, protocol blocks,
admin states) and over where VIFs are plugged; after each step the inputs kept by
:class:`IncrementalInputs` from the service's changed views must be those
``compile_inputs`` derives from the whole model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from types import MappingProxyType

import pytest

from naas_sdn.features.router import add_router_interface, remove_router_interface
from naas_sdn.features.trace.dataplane import DataplaneView
from naas_sdn.flows import compiler, incremental
from naas_sdn.flows.compilation import Compilation
from naas_sdn.flows.fabric import FabricSnapshot, Link, VifLocation
from naas_sdn.flows.incremental import IncrementalInputs
from naas_sdn.flows.layout import Owner, cookie, owner_of, remote_bucket
from naas_sdn.flows.policy import ACL_COOKIE
from naas_sdn.flows.simulate import Classifier
from naas_sdn.flows.trace import ModelIndex
from naas_sdn.model import db, errors
from naas_sdn.model import service as service_module
from naas_sdn.model.service import NetworkService
from naas_sdn.model.snapshot import (
    ModelSnapshot,
    NetworkView,
    PortView,
    SecurityGroupRuleView,
    SecurityGroupView,
    SubnetView,
)
from tests.unit.model_support import ADMIN, ALICE


def _groups(service):
    return list(service.list_records(ALICE, "security_groups"))


class Walk:
    """One random sequence of model and VIF changes."""

    def __init__(self, service: NetworkService, seed: int):
        self.service = service
        self.rng = random.Random(seed)
        self.vifs: dict[str, VifLocation] = {}
        self.inputs = IncrementalInputs()
        self.compilation = Compilation(compiler.Options())
        self.dataplane = DataplaneView(None)  # what traces read, published each pass
        self.published: int | None = None  # the revision last published to it
        self.revision: int | None = None
        self.cables = {(1, 2), (2, 3)}
        self.uplinks: dict[str, tuple] = {}  # physical network -> interfaces leading there
        self.neighbours: dict[tuple, str] = {}  # (network id, address) -> MAC learned

    def pick(self, collection):
        records = list(self.service.records(collection).values())
        return self.rng.choice(records) if records else None

    def step(self):
        rng, svc = self.rng, self.service
        action = rng.choice(
            [
                self.network,
                self.subnet,
                self.port,
                self.port,
                self.port,
                self.update_port,
                self.delete_port,
                self.plug,
                self.plug,
                self.group,
                self.rule,
                self.router,
                self.interface,
                self.route,
                self.qos,
                self.block,
                self.admin,
                self.recable,
                self.provider,
                self.uplink,
                self.gateway,
                self.floating,
                self.floating,
                self.neighbour,
            ]
        )
        with contextlib.suppress(errors.NeutronException):
            action(rng, svc)  # a refused change changes nothing, which is checked as well

    def network(self, rng, svc):
        if rng.random() < 0.2 and (net := self.pick("networks")):
            svc.delete_network(ALICE, net.id)
        else:
            svc.create_network(ALICE, {"name": "n"})

    def subnet(self, rng, svc):
        net = self.pick("networks")
        if net is None:
            return
        if rng.random() < 0.2 and (sub := self.pick("subnets")):
            svc.delete_subnet(ALICE, sub.id)
            return
        version = rng.choice([4, 6])
        n = rng.randrange(200)
        cidr = f"10.{n}.0.0/24" if version == 4 else f"2001:db8:{n:x}::/64"
        svc.create_subnet(ALICE, {"network_id": net.id, "ip_version": version, "cidr": cidr})

    def port(self, rng, svc):
        net = self.pick("networks")
        if net is None:
            return
        attrs = {"network_id": net.id}
        groups = _groups(svc)
        if groups and rng.random() < 0.5:
            attrs["security_groups"] = [
                g.id for g in rng.sample(groups, rng.randint(1, min(2, len(groups))))
            ]
        if rng.random() < 0.3:
            attrs["allowed_address_pairs"] = [{"ip_address": f"192.168.{rng.randrange(4)}.0/30"}]
        if rng.random() < 0.1:
            attrs["port_security_enabled"] = False
            attrs.pop("security_groups", None)
            attrs.pop("allowed_address_pairs", None)
        svc.create_port(ALICE, attrs)

    def update_port(self, rng, svc):
        port = self.pick("ports")
        if port is None or port.device_owner:
            return
        groups = _groups(svc)
        choice = rng.randrange(3)
        if choice == 0 and groups:
            svc.update_port(ALICE, port.id, {"security_groups": [rng.choice(groups).id]})
        elif choice == 1:
            svc.update_port(ALICE, port.id, {"admin_state_up": rng.random() < 0.5})
        elif (policy := self.pick("qos_policies")) is not None:
            svc.update_port(ALICE, port.id, {"qos_policy_id": policy.id})

    def delete_port(self, rng, svc):
        port = self.pick("ports")
        if port is not None and not port.device_owner:
            svc.delete_port(ALICE, port.id)

    def plug(self, rng, svc):
        port = self.pick("ports")
        if port is None:
            return
        if port.id in self.vifs and rng.random() < 0.4:
            del self.vifs[port.id]
        else:
            self.vifs[port.id] = VifLocation("br", rng.randint(1, 3), rng.randint(1, 9))
        if rng.random() < 0.1:
            self.vifs[f"unknown-{rng.randrange(5)}"] = VifLocation("br", 1, 99)

    def group(self, rng, svc):
        if rng.random() < 0.2 and (group := self.pick("security_groups")):
            svc.delete_record(ALICE, "security_groups", group.id)
        elif rng.random() < 0.3 and (group := self.pick("security_groups")):
            # refused while a port uses the group (Neutron's rule)
            svc.update_record(ALICE, "security_groups", group.id, {"stateful": not group.stateful})
        else:
            attrs = {"name": "g", "stateful": rng.random() < 0.6}
            svc.create_records(ALICE, "security_groups", [attrs])

    def rule(self, rng, svc):
        group = self.pick("security_groups")
        if group is None:
            return
        if rng.random() < 0.3 and (rule := self.pick("security_group_rules")):
            svc.delete_record(ALICE, "security_group_rules", rule.id)
            return
        attrs = {
            "security_group_id": group.id,
            "direction": rng.choice(["ingress", "egress"]),
            "ethertype": rng.choice(["IPv4", "IPv6"]),
            "protocol": rng.choice([None, "tcp", "udp"]),
        }
        remote = self.pick("security_groups")
        if remote is not None and rng.random() < 0.6:
            attrs["remote_group_id"] = remote.id
        svc.create_records(ALICE, "security_group_rules", [attrs])

    def router(self, rng, svc):
        if rng.random() < 0.2 and (router := self.pick("routers")):
            svc.delete_record(ALICE, "routers", router.id)
        elif rng.random() < 0.3 and (router := self.pick("routers")):
            svc.update_record(ALICE, "routers", router.id, {"admin_state_up": rng.random() < 0.5})
        else:
            svc.create_records(ALICE, "routers", [{}])

    def interface(self, rng, svc):
        router, subnet = self.pick("routers"), self.pick("subnets")
        if router is None or subnet is None:
            return
        if rng.random() < 0.3:
            remove_router_interface(svc, ALICE, router.id, {"subnet_id": subnet.id})
        else:
            add_router_interface(svc, ALICE, router.id, {"subnet_id": subnet.id})

    def route(self, rng, svc):
        router, port = self.pick("routers"), self.pick("ports")
        view = svc.snapshot().ports.get(port.id) if port is not None else None
        if router is None or view is None or not view.fixed_ips:
            return
        nexthop = view.fixed_ips[0][1]
        destination = "172.16.0.0/16" if ":" not in nexthop else "2001:db8:ffff::/48"
        svc.update_record(
            ALICE,
            "routers",
            router.id,
            {"routes": [{"destination": destination, "nexthop": nexthop}]},
        )

    def qos(self, rng, svc):
        policy = self.pick("qos_policies")
        if policy is None or rng.random() < 0.3:
            svc.create_records(ALICE, "qos_policies", [{"name": "q"}])
        else:
            svc.create_records(
                ALICE,
                "qos_bandwidth_limit_rules",
                [
                    {
                        "max_kbps": rng.randint(100, 1000),
                        "direction": rng.choice(["ingress", "egress"]),
                    }
                ],
                parent=policy.id,
            )

    def block(self, rng, svc):
        if rng.random() < 0.3 and (block := self.pick("protocol_blocks")):
            svc.delete_record(ALICE, "protocol_blocks", block.id)
        elif (net := self.pick("networks")) is not None:
            attrs = {"network_id": net.id, "protocol": rng.choice(["tcp", "udp", "icmp"])}
            svc.create_records(ALICE, "protocol_blocks", [attrs])

    def admin(self, rng, svc):
        net = self.pick("networks")
        if net is None:
            return
        attrs = {"admin_state_up": rng.random() < 0.6}
        if rng.random() < 0.3 and (policy := self.pick("qos_policies")):
            attrs = {"qos_policy_id": policy.id}
        svc.update_network(ALICE, net.id, attrs)

    def provider(self, rng, svc):
        """An admin's provider network, flat or vlan, on one of two physical networks;
        sometimes external, with a subnet for routers' gateways and floating IPs."""
        physnet = rng.choice(["p1", "p2"])
        attrs = {"network_type": "flat", "physical_network": physnet, "shared": True}
        if rng.random() < 0.6:
            attrs.update(network_type="vlan", segmentation_id=rng.randint(1, 4094))
        external = rng.random() < 0.5
        net = svc.create_network(ADMIN, dict(attrs, external=external))
        if external:
            n = rng.randrange(200)
            svc.create_subnet(
                ADMIN,
                {
                    "network_id": net.id,
                    "ip_version": 4,
                    "cidr": f"172.{16 + n % 16}.{n}.0/24",
                    "enable_dhcp": False,
                },
            )

    def _external(self):
        found = [n for n in self.service.records("networks").values() if n.external]
        return self.rng.choice(found) if found else None

    def gateway(self, rng, svc):
        """A router's gateway set, moved or removed."""
        router, network = self.pick("routers"), self._external()
        if router is None:
            return
        info = {"network_id": network.id} if network and rng.random() < 0.7 else None
        if info and rng.random() < 0.3:
            info["enable_snat"] = False
        svc.update_record(ADMIN, "routers", router.id, {"external_gateway_info": info})

    def floating(self, rng, svc):
        """A floating IP made, associated with a port behind a router with a gateway,
        moved, freed or deleted."""
        fip, network, port = self.pick("floatingips"), self._external(), self.pick("ports")
        routed = self._behind_gateway()
        if routed and rng.random() < 0.7:
            network_id, port = rng.choice(routed)
            network = svc.records("networks")[network_id]
        if fip is not None and rng.random() < 0.2:
            svc.delete_record(ALICE, "floatingips", fip.id)
        elif fip is not None and rng.random() < 0.5:
            target = port.id if port is not None and rng.random() < 0.8 else None
            svc.update_record(ALICE, "floatingips", fip.id, {"port_id": target})
        elif network is not None:
            attrs = {"floating_network_id": network.id}
            if port is not None and rng.random() < 0.8:
                attrs["port_id"] = port.id
            svc.create_records(ALICE, "floatingips", [attrs])

    def _behind_gateway(self) -> list:
        """(external network id, port) of ports on a subnet of a router with a gateway."""
        records = self.service.records
        found = []
        for router in records("routers").values():
            gateway = records("ports").get(router.gw_port_id or "")
            if gateway is None:
                continue
            subnets = {
                sid
                for p in records("ports").values()
                if p.device_id == router.id and p.device_owner == "network:router_interface"
                for sid, _ in p.fixed_ips
            }
            found += [
                (gateway.network_id, p)
                for p in records("ports").values()
                if not p.device_owner and any(sid in subnets for sid, _ in p.fixed_ips)
            ]
        return found

    def neighbour(self, rng, svc):
        """The router beyond an external subnet answers ARP, or changes its MAC."""
        subnets = [
            s
            for s in svc.records("subnets").values()
            if s.gateway_ip
            and s.network_id in {n.id for n in svc.records("networks").values() if n.external}
        ]
        if subnets:
            subnet = rng.choice(subnets)
            self.neighbours[(subnet.network_id, subnet.gateway_ip)] = (
                f"fa:16:3e:99:00:{rng.randrange(256):02x}"
            )

    def uplink(self, rng, svc):
        """An interface to a physical network comes or goes, on any switch: where its
        networks leave the fabric may move."""
        physnet = rng.choice(["p1", "p2"])
        places = set(self.uplinks.get(physnet, ()))
        dpid = rng.randint(1, 3)
        place = VifLocation(f"br{dpid}", dpid, 90)
        places ^= {place}
        self.uplinks[physnet] = tuple(sorted(places, key=lambda v: (v.dpid, v.ofport)))

    def recable(self, rng, svc):
        """The fabric changes: a line, a ring, or a switch cut off."""
        self.cables = rng.choice([{(1, 2), (2, 3)}, {(1, 2), (2, 3), (3, 1)}, {(1, 2)}])

    def links(self) -> frozenset:
        found = set()
        for a, b in self.cables:
            found |= {Link(a, 10 + b, b, 10 + a), Link(b, 10 + a, a, 10 + b)}
        return frozenset(found)

    def check(self):
        """The kept inputs, advanced by what changed since the last check, equal the full
        derivation."""
        model, changed = self.service.snapshot_since(self.revision)
        self.revision = model.revision
        vifs = MappingProxyType(dict(self.vifs))
        uplinks = MappingProxyType({k: v for k, v in self.uplinks.items() if v})
        fabric = FabricSnapshot(
            frozenset({1, 2, 3}),
            self.links(),
            vifs,
            uplinks=uplinks,
            neighbours=MappingProxyType(dict(self.neighbours)),
        )
        bound, routers, rules = self.inputs.update(model, fabric, changed)
        want_bound, want_routers, want_rules = compiler.compile_inputs(model, fabric)
        assert list(bound) == want_bound
        assert routers == want_routers
        assert rules == want_rules
        # And each switch's state, kept scope by scope, equals the whole compilation's.
        states = self.compilation.update(
            (1, 2, 3), bound, fabric.topology, routers, rules, model.extra
        )
        options = compiler.Options()
        for dpid in (1, 2, 3):
            want = compiler.compile_switch(
                dpid, want_bound, fabric, options, want_routers, want_rules, extra=model.extra
            )
            assert states[dpid] == want, dpid
        # The classifiers traces look up in, kept change by change, hold each state's flows.
        # So does the index of the model it names them by, kept by the model's changes.
        follows, self.published = self.published, model.revision
        self.dataplane.publish_compiled(model, fabric, states, (follows, changed))
        self.dataplane.with_compiled(model.revision, 0, self._kept_equal)

    @staticmethod
    def _kept_equal(model, _fabric, states, classifiers, index):
        assert classifiers.keys() == states.keys()
        for dpid, state in states.items():
            assert classifiers[dpid] == Classifier(state.flows), dpid
        assert index == ModelIndex(model)


@pytest.mark.parametrize("seed", range(12))
def test_kept_inputs_equal_the_full_derivation(service, seed):
    service.set_quota_limits(ALICE.project_id, dict.fromkeys(("port", "network", "subnet"), -1))
    walk = Walk(service, seed)
    for _ in range(120):
        walk.step()
        if walk.rng.random() < 0.5:  # sometimes several changes land between two passes
            walk.check()
    walk.check()


def test_a_snapshot_older_than_the_log_derives_all_afresh(service):
    service.create_network(ALICE, {"name": "n"})
    model, changed = service.snapshot_since(None)
    assert changed is None
    older = model.revision
    service.create_network(ALICE, {"name": "m"})
    newer, since = service.snapshot_since(older)
    assert since is not None and len(since["networks"]) == 1
    assert service.snapshot_since(newer.revision)[1] == {}
    assert service.snapshot_since(newer.revision + 5)[1] is None


def test_the_changes_since_a_revision_are_known_as_far_back_as_the_log_reaches(db_url, monkeypatch):
    """The newest entries of the log answer: every commit the log still holds is read, and
    one more than it holds is not known."""
    monkeypatch.setattr(service_module, "VIEW_LOG_LENGTH", 3)
    service = NetworkService(db.connect(db_url))
    try:
        start = service.snapshot().revision
        networks = [service.create_network(ALICE, {"name": f"n{i}"}) for i in range(4)]
        assert service.snapshot_since(start + 1)[1] == {"networks": {n.id for n in networks[1:]}}
        assert service.snapshot_since(start)[1] is None
    finally:
        service.close()


def test_a_member_joining_a_large_group_changes_one_bucket_of_remote_addresses(service):
    """The default group admits its members' addresses: with 300 plugged, a port created
    unplugged changes nothing at all (it sends nothing, so its address admits nothing); once
    plugged it changes its own owners, its network's flooding and one bucket of addresses."""
    service.set_quota_limits(ALICE.project_id, {"port": -1})
    net = service.create_network(ALICE, {"name": "n"})
    service.create_subnet(ALICE, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/22"})
    ports = service.create_ports(ALICE, [{"network_id": net.id}] * 300)
    vifs = {p.id: VifLocation("br", 1, 10 + i) for i, p in enumerate(ports)}
    kept = IncrementalInputs()
    revision = None

    def compiled():
        nonlocal revision
        model, changed = service.snapshot_since(revision)
        revision = model.revision
        fabric = FabricSnapshot(frozenset({1}), frozenset(), MappingProxyType(dict(vifs)))
        bound, routers, rules = kept.update(model, fabric, changed)
        return compiler.compile_switch(1, bound, fabric, compiler.Options(), routers, rules)

    def changed_owners(after, before):
        return {
            o
            for o in after.parts.keys() | before.parts.keys()
            if after.parts.get(o) is not before.parts.get(o)
        }

    before = compiled()
    remote = [o for o in before.parts if owner_of(o)[0] == Owner.REMOTE]
    assert len(remote) > 100  # 300 addresses spread over the buckets
    joined = service.create_port(ALICE, {"network_id": net.id})
    unplugged = compiled()
    assert changed_owners(unplugged, before) == set()
    vifs[joined.id] = VifLocation("br", 1, 999)
    after = compiled()
    view = service.snapshot().ports[joined.id]
    address = view.fixed_ips[0][1]
    bucket = cookie(Owner.REMOTE, remote_bucket(address))
    assert changed_owners(after, unplugged) == {
        bucket,
        cookie(Owner.PORT, view.key),
        cookie(Owner.COUNTER, view.key),
        cookie(Owner.NETWORK, service.snapshot().networks[net.id].key),
    }
    assert any(dict(f.match).get("ipv4_src") == address for f in after.parts[bucket])


def test_a_groups_statefulness_recompiles_its_ports_on_their_switches_alone():
    """Group G turns stateless under its ports p1 (switch 1) and p2 (switch 2), in a model
    the API would refuse but the compiler follows all the same; p3 on switch 3, in another
    network and group, sees nothing. The kept inputs and compilation, told that G alone
    changed, equal the whole derivation; on switches 1 and 2 only the ports' own and
    counted flows and the shared rules differ; on switch 3 no owner is touched."""
    rules = (
        SecurityGroupRuleView("r1", 1, "G", "ingress", "IPv4", 6, 22, 22),
        SecurityGroupRuleView("r2", 2, "G", "egress", "IPv4"),
    )
    groups = {
        "G": SecurityGroupView("G", "t", rules),
        "H": SecurityGroupView("H", "t", (SecurityGroupRuleView("r3", 3, "H", "egress", "IPv4"),)),
    }
    networks = [NetworkView("A", "t", 10, True), NetworkView("B", "t", 11, True)]
    subnets = [
        SubnetView("A4", "A", "t", 4, "10.0.0.0/24", "10.0.0.1", True),
        SubnetView("B4", "B", "t", 4, "10.0.1.0/24", "10.0.1.1", True),
    ]
    ports = [
        PortView(
            f"p{k}",
            net,
            "t",
            k,
            f"fa:16:3e:00:00:0{k}",
            True,
            ((f"{net}4", ip),),
            security_group_ids=(group,),
        )
        for k, net, ip, group in (
            (1, "A", "10.0.0.11", "G"),
            (2, "A", "10.0.0.12", "G"),
            (3, "B", "10.0.1.13", "H"),
        )
    ]
    vifs = MappingProxyType({f"p{k}": VifLocation("br", k, 1) for k in (1, 2, 3)})
    links = frozenset(
        {Link(1, 12, 2, 11), Link(2, 11, 1, 12), Link(2, 13, 3, 12), Link(3, 12, 2, 13)}
    )
    fabric = FabricSnapshot(frozenset({1, 2, 3}), links, vifs)
    kept, compilation = IncrementalInputs(), Compilation(compiler.Options())

    def passed(model, changed):
        bound, routers, kept_rules = kept.update(model, fabric, changed)
        assert (list(bound), routers, kept_rules) == compiler.compile_inputs(model, fabric)
        states = compilation.update((1, 2, 3), bound, fabric.topology, routers, kept_rules)
        for dpid, state in states.items():
            assert state == compiler.compile_switch(
                dpid, list(bound), fabric, compiler.Options(), routers, kept_rules
            ), dpid
        return {b.port.key: b.policy.stateful for b in bound}, states

    model = ModelSnapshot.build(networks, ports, subnets=subnets, security_groups=groups.values())
    stateful, before = passed(model, None)
    groups["G"] = dataclasses.replace(groups["G"], stateful=False)
    model = ModelSnapshot.build(
        networks, ports, revision=1, subnets=subnets, security_groups=groups.values()
    )
    stateless, after = passed(model, {"security_groups": {"G"}})
    assert (stateful, stateless) == ({1: True, 2: True, 3: True}, {1: False, 2: False, 3: True})
    assert after[3] == before[3] and after[3].since[1] == frozenset()  # no owner touched
    for dpid in (1, 2):
        differ = {
            o
            for o in after[dpid].parts.keys() | before[dpid].parts.keys()
            if after[dpid].parts.get(o) != before[dpid].parts.get(o)
        }
        assert differ == {cookie(Owner.PORT, dpid), cookie(Owner.COUNTER, dpid), ACL_COOKIE}


def test_networks_routed_together_follow_each_other_across_switches(service):
    """A router joins A and B; their VMs are on the two ends of a line. Each step changes
    where the other network is needed without touching its ports: the kept compilation
    follows, equal to the whole one after every step."""
    walk = Walk(service, 0)
    a = service.create_network(ALICE, {"name": "a"})
    b = service.create_network(ALICE, {"name": "b"})
    subnets = [
        service.create_subnet(ALICE, {"network_id": n.id, "ip_version": 4, "cidr": cidr})
        for n, cidr in ((a, "10.0.1.0/24"), (b, "10.0.2.0/24"))
    ]
    router = service.create_records(ALICE, "routers", [{}])[0]
    add_router_interface(service, ALICE, router.id, {"subnet_id": subnets[0].id})
    a1 = service.create_port(ALICE, {"network_id": a.id})
    b3 = service.create_port(ALICE, {"network_id": b.id})
    a2 = service.create_port(ALICE, {"network_id": a.id})
    steps = [
        lambda: walk.vifs.update({a1.id: VifLocation("br", 1, 1)}),
        lambda: walk.vifs.update({b3.id: VifLocation("br", 3, 1)}),
        lambda: add_router_interface(service, ALICE, router.id, {"subnet_id": subnets[1].id}),
        lambda: walk.vifs.update({a2.id: VifLocation("br", 2, 1)}),
        lambda: walk.vifs.pop(a1.id),
        lambda: service.update_record(ALICE, "routers", router.id, {"admin_state_up": False}),
        lambda: service.update_record(ALICE, "routers", router.id, {"admin_state_up": True}),
        lambda: remove_router_interface(service, ALICE, router.id, {"subnet_id": subnets[1].id}),
        lambda: walk.vifs.update({a1.id: VifLocation("br", 1, 1)}),
        lambda: add_router_interface(service, ALICE, router.id, {"subnet_id": subnets[1].id}),
        lambda: walk.vifs.pop(b3.id),
    ]
    walk.check()
    for step in steps:
        step()
        walk.check()


def test_a_kept_compilation_reads_the_changed_bound_ports_not_all_of_them(service, monkeypatch):
    """With 300 ports plugged, plugging one more hands the compilation that port's change:
    neither the inputs nor the compilation lists every bound port again (which would cost a
    pass the size of the cloud), and what it compiles is still the whole compilation's."""
    service.set_quota_limits(ALICE.project_id, {"port": -1})
    net = service.create_network(ALICE, {"name": "n"})
    service.create_subnet(ALICE, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/22"})
    ports = service.create_ports(ALICE, [{"network_id": net.id}] * 301)
    vifs = {p.id: VifLocation("br", 1 + i % 2, 10 + i) for i, p in enumerate(ports[:300])}
    kept, compilation = IncrementalInputs(), Compilation(compiler.Options())
    revision = None

    def passed():
        nonlocal revision
        model, changed = service.snapshot_since(revision)
        revision = model.revision
        fabric = FabricSnapshot(
            frozenset({1, 2}), frozenset(Walk(service, 0).links()), MappingProxyType(dict(vifs))
        )
        bound, routers, rules = kept.update(model, fabric, changed)
        states = compilation.update((1, 2), bound, fabric.topology, routers, rules, model.extra)
        return bound, states, fabric, routers, rules

    bound, *_ = passed()
    assert len(bound) == 300 and len(bound.changes) == 300  # a first pass: all of them
    listed = []
    monkeypatch.setattr(incremental.BoundPorts, "_ports", lambda self: listed.append(self) or [])
    vifs[ports[300].id] = VifLocation("br", 2, 999)
    bound, states, fabric, routers, rules = passed()
    assert list(bound.changes) == [ports[300].id] and listed == []
    monkeypatch.undo()
    for dpid in (1, 2):
        want = compiler.compile_switch(
            dpid, list(bound), fabric, compiler.Options(), routers, rules
        )
        assert states[dpid] == want, dpid
