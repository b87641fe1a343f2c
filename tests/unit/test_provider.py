"""Provider networks in the pure compiler: a physical network joins the fabric at one
interface (the first that leads to it), untagged for a flat network, tagged with the
network's VLAN for a vlan one, and unknown destinations flood there."""

from __future__ import annotations

from types import MappingProxyType

from naas_sdn.flows import compiler
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation
from naas_sdn.flows.inputs import with_uplinks
from naas_sdn.flows.simulate import Simulator, fabric_links
from naas_sdn.model.snapshot import LOCALNET, ModelSnapshot, NetworkView, PortView, localnet_port_id
from tests.unit.test_compiler import BCAST, mac, reached

UPLINK = 9  # the ofport of the interfaces leading to physnet1
OUTSIDE = "fa:16:3e:99:99:99"  # a host of the physical network, unknown to the model


def _model(segment: int | None) -> ModelSnapshot:
    """Provider network P (fabric key 10, VLAN ``segment`` on physnet1) with VMs p1 and
    p2, and tenant network T (key 11) with t1, all on switches 1 and 2."""
    nets = [
        NetworkView("P", "admin", 10, True, physical_network="physnet1", physical_segment=segment),
        NetworkView("T", "tenant", 11, True),
    ]
    ports = [
        PortView("p1", "P", "tenant", 1, mac(1), True, port_security_enabled=False),
        PortView("p2", "P", "tenant", 2, mac(2), True, port_security_enabled=False),
        PortView("t1", "T", "tenant", 3, mac(3), True, port_security_enabled=False),
        PortView(
            localnet_port_id("P"),
            "P",
            "admin",
            50,
            mac(50),
            True,
            device_owner=LOCALNET,
            port_security_enabled=False,
        ),
    ]
    return ModelSnapshot.build(nets, ports)


def _fabric(uplinks=((1, UPLINK), (2, UPLINK))) -> FabricSnapshot:
    vifs = {"p1": (1, 1), "p2": (2, 1), "t1": (1, 2)}
    return FabricSnapshot(
        switches=frozenset({1, 2}),
        links=frozenset(fabric_links([((1, 10), (2, 10))])),
        vifs=MappingProxyType({p: VifLocation(f"br{d}", d, o) for p, (d, o) in vifs.items()}),
        uplinks=MappingProxyType(
            {"physnet1": tuple(VifLocation(f"br{d}", d, o) for d, o in uplinks)}
        ),
    )


def _simulator(segment):
    fabric = _fabric()
    return Simulator(compiler.compile_fabric(_model(segment), fabric), fabric.links)


def _vlans(deliveries) -> dict:
    return {(d.dpid, d.port): dict(d.packet)["vlans"] for d in deliveries}


def test_a_flat_network_meets_its_physical_network_untagged_at_one_interface():
    sim = _simulator(None)
    # Out: a VM's frame to an outside host floods to the uplink of switch 1 only (the first
    # interface: switch 2's would close a loop through the physical network), untagged.
    out = sim.inject(2, 1, eth_src=mac(2), eth_dst=OUTSIDE)
    assert (1, UPLINK) in reached(out) and (2, UPLINK) not in reached(out)
    assert _vlans(out)[(1, UPLINK)] == ()
    # In: the outside host reaches either VM, and a broadcast every VM of the network once.
    assert reached(sim.inject(1, UPLINK, eth_src=OUTSIDE, eth_dst=mac(2))) == [(2, 1)]
    assert reached(sim.inject(1, UPLINK, eth_src=OUTSIDE, eth_dst=BCAST)) == [(1, 1), (2, 1)]
    # Never into the tenant network, and nothing from switch 2's interface.
    assert (1, 2) not in reached(sim.inject(1, UPLINK, eth_src=OUTSIDE, eth_dst=mac(3)))
    assert sim.inject(2, UPLINK, eth_src=OUTSIDE, eth_dst=mac(2)) == []
    # Tagged frames on a flat network's interface belong to no network.
    assert sim.inject(1, UPLINK, eth_src=OUTSIDE, eth_dst=mac(1), vlans=(100,)) == []


def test_a_vlan_network_is_tagged_there_with_its_own_vlan():
    sim = _simulator(100)
    out = sim.inject(1, 1, eth_src=mac(1), eth_dst=BCAST)
    assert _vlans(out) == {(1, UPLINK): (100,), (2, 1): ()}
    assert reached(sim.inject(1, UPLINK, eth_src=OUTSIDE, eth_dst=mac(2), vlans=(100,))) == [(2, 1)]
    # Untagged, or another VLAN: not this network's.
    assert sim.inject(1, UPLINK, eth_src=OUTSIDE, eth_dst=mac(2)) == []
    assert sim.inject(1, UPLINK, eth_src=OUTSIDE, eth_dst=mac(2), vlans=(101,)) == []


def test_no_interface_no_localnet_and_the_same_snapshot_while_nothing_moves():
    model = _model(None)
    bare = _fabric(uplinks=())
    assert with_uplinks(bare, model).vifs.get(localnet_port_id("P")) is None
    fabric = _fabric()
    first = with_uplinks(fabric, model)
    assert first.vifs[localnet_port_id("P")] == VifLocation("br1", 1, UPLINK)
    assert with_uplinks(fabric, model) is first
    assert with_uplinks(fabric, _model(None)) is first  # new networks, same places


def test_uplinks_are_never_probed_nor_taken_for_cables():
    """Two switches on one physical network would otherwise discover a "cable" through it
    and carry tenant VLANs over the provider's network."""
    from naas_sdn.apps.fabric_state import FabricState
    from naas_sdn.flows.fabric import Link

    changes = []
    fabric = FabricState(link_timeout=10.0, on_change=lambda: changes.append(1))
    fabric.switch_connected(1, {UPLINK: "eth1", 10: "t1-eth10"})
    fabric.switch_connected(2, {UPLINK: "eth1", 10: "t2-eth10"})
    assert set(fabric.probe_ports(1)) == {UPLINK, 10}
    uplinks = {"physnet1": (VifLocation("br1", 1, UPLINK), VifLocation("br2", 2, UPLINK))}
    assert fabric.set_uplinks(uplinks) and not fabric.set_uplinks(dict(uplinks))
    assert set(fabric.probe_ports(1)) == {10}
    fabric.link_seen(Link(1, UPLINK, 2, UPLINK))
    fabric.link_seen(Link(1, 10, 2, 10))
    snapshot = fabric.snapshot()
    assert snapshot.links == frozenset({Link(1, 10, 2, 10)})
    assert snapshot.uplinks["physnet1"][0] == VifLocation("br1", 1, UPLINK)
