"""NetworkService invariants, allocation, concurrency, rollback and the controller-facing API."""

from __future__ import annotations

import json
import threading

import pytest

from naas_sdn.features.networking.networks import NETWORKS
from naas_sdn.features.networking.ports import PORTS
from naas_sdn.model import db, errors
from naas_sdn.model.segments import TenantSegments
from naas_sdn.model.service import NetworkService
from tests.unit.model_support import ADMIN, ALICE, BOB, count


def test_network_defaults_and_segmentation_ids_lowest_free(service):
    a = service.create_network(ALICE, {"name": "a"})
    b = service.create_network(ALICE, {"name": "b"})
    assert (a.status, a.mtu, a.shared, a.admin_state_up, a.revision_number) == (
        "ACTIVE",
        1500,
        False,
        True,
        1,
    )
    assert (a.segmentation_id, b.segmentation_id) == (1, 2)
    service.delete_network(ALICE, a.id)
    assert service.create_network(ALICE, {}).segmentation_id == 1


def test_segmentation_pool_exhausted(db_url):
    """With VLANs alone (no tunnels), the 4,095th network has no segmentation id."""
    service = NetworkService(db.connect(db_url), TenantSegments(types=("vlan",)))
    service.create_network(ADMIN, {"segmentation_id": 4094, "project_id": "p"})
    with pytest.raises(errors.VlanIdInUse):
        service.create_network(ADMIN, {"segmentation_id": 4094, "project_id": "p"})
    service.set_quota_limits(ALICE.project_id, {"network": -1})
    service.create_networks(ALICE, [{} for _ in range(4093)])
    with pytest.raises(errors.NoNetworkAvailable) as exc:
        service.create_network(ALICE, {})
    assert exc.value.status == 503
    assert count(service, NETWORKS.table) == 4094


def test_vxlan_after_the_vlans(db_url):
    """Tenant types in order: the VLANs first, then VNIs from the operator's ranges, with
    room for the encapsulation in the MTU."""
    segments = TenantSegments(vni_ranges=((70000, 70001),))
    service = NetworkService(db.connect(db_url), segments)
    service.set_quota_limits(ALICE.project_id, {"network": -1})
    made = service.create_networks(ALICE, [{} for _ in range(4096)])
    assert [(n.network_type, n.segmentation_id, n.mtu) for n in made[-3:]] == [
        ("vlan", 4094, 1500),
        ("vxlan", 70000, 1450),
        ("vxlan", 70001, 1450),
    ]
    for asked in ({}, {"network_type": "vxlan"}):
        with pytest.raises(errors.NoNetworkAvailable):
            service.create_network(ADMIN, {"project_id": "p", **asked})
    # an admin may name a VNI outside the tenants' ranges
    named = service.create_network(ADMIN, {"network_type": "vxlan", "segmentation_id": 5000})
    assert (named.network_type, named.segmentation_id) == ("vxlan", 5000)


def test_tenant_segments_from_config():
    parsed = TenantSegments.from_config(["vxlan"], ["100:200", "7"], 9000)
    assert (parsed.vni_ranges, parsed.mtu("vxlan"), parsed.mtu("vlan")) == (
        ((100, 200), (7, 7)),
        8950,
        9000,
    )
    for types, ranges in ((["gre"], []), ([], []), (["vxlan"], []), (["vxlan"], ["5:x"]),
                          (["vxlan"], ["0:5"]), (["vxlan"], ["9:5"])):  # fmt: skip
        with pytest.raises(ValueError):
            TenantSegments.from_config(types, ranges)


def test_tenant_scoping(service):
    private = service.create_network(ALICE, {"name": "private"})
    shared = service.create_network(ALICE, {"name": "shared", "shared": True})
    assert {n.id for n in service.list_networks(BOB)} == {shared.id}
    with pytest.raises(errors.NetworkNotFound):
        service.get_network(BOB, private.id)
    with pytest.raises(errors.NetworkNotFound):
        service.create_port(BOB, {"network_id": private.id})
    bob_port = service.create_port(BOB, {"network_id": shared.id})
    assert bob_port.project_id == "bob"
    assert service.get_port(ALICE, bob_port.id).id == bob_port.id  # network owner sees it
    with pytest.raises(errors.InvalidSharedSetting):
        service.update_network(ALICE, shared.id, {"shared": False})
    assert service.create_network(ADMIN, {"project_id": "carol"}).project_id == "carol"
    assert len(service.list_networks(ADMIN)) == 3


def test_mac_allocation_and_validation(service):
    net = service.create_network(ALICE, {})
    other = service.create_network(ALICE, {})
    port = service.create_port(ALICE, {"network_id": net.id})
    assert port.mac_address.startswith("fa:16:3e:")
    with pytest.raises(errors.MacAddressInUse) as exc:
        service.create_port(ALICE, {"network_id": net.id, "mac_address": port.mac_address})
    assert exc.value.status == 409
    # unique per network, as Neutron: the same MAC on another network is fine
    assert (
        service.create_port(
            ALICE, {"network_id": other.id, "mac_address": port.mac_address}
        ).mac_address
        == port.mac_address
    )


def test_port_keys_never_reused(service):
    net = service.create_network(ALICE, {})
    first = service.create_port(ALICE, {"network_id": net.id})
    service.delete_port(ALICE, first.id)
    second = service.create_port(ALICE, {"network_id": net.id})
    assert second.key > first.key


def test_fixed_ips_without_subnets(service):
    """Neutron: any requested fixed IP on a network without subnets is InvalidInput."""
    net = service.create_network(ALICE, {})
    for entry in ({"subnet_id": net.id}, {"ip_address": "10.0.0.1"}):
        with pytest.raises(errors.InvalidInput, match="IP allocation requires subnets"):
            service.create_port(ALICE, {"network_id": net.id, "fixed_ips": [entry]})
    assert count(service, PORTS.table) == 0
    assert service.create_port(ALICE, {"network_id": net.id}).fixed_ips == ()


def test_bulk_create_is_all_or_nothing(service):
    net = service.create_network(ALICE, {})
    before = service.snapshot()
    with pytest.raises(errors.MacAddressInUse):
        service.create_ports(
            ALICE,
            [
                {"network_id": net.id, "mac_address": "02:00:00:00:00:01"},
                {"network_id": net.id, "mac_address": "02:00:00:00:00:01"},
            ],
        )
    assert count(service, PORTS.table) == 0
    assert service.list_ports(ALICE) == []
    assert service.snapshot() is before
    with pytest.raises(errors.VlanIdInUse):
        service.create_networks(
            ADMIN,
            [{"project_id": "p", "segmentation_id": 7}, {"project_id": "p", "segmentation_id": 7}],
        )
    assert count(service, NETWORKS.table) == 1


def test_failed_write_leaves_no_trace(service, monkeypatch):
    net = service.create_network(ALICE, {"tags": ["a"]})

    def boom(*_args, **_kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("naas_sdn.model.store.write_tags", boom)
    with pytest.raises(RuntimeError):
        service.create_network(ALICE, {"tags": ["x"]})
    with pytest.raises(RuntimeError):
        service.create_port(ALICE, {"network_id": net.id, "tags": ["x"]})
    assert count(service, NETWORKS.table) == 1 and count(service, PORTS.table) == 0
    assert [n.id for n in service.list_networks(ADMIN)] == [net.id]
    # the port key allocated inside the failed transaction was rolled back too
    assert count(service, db.counters) == 0


def test_revision_numbers_and_if_match(service):
    net = service.create_network(ALICE, {"name": "a"})
    updated = service.update_network(ALICE, net.id, {"name": "b"})
    assert updated.revision_number == 2
    assert service.update_network(ALICE, net.id, {"name": "b"}).revision_number == 2  # no-op
    with pytest.raises(errors.RevisionNumberConstraintFailed) as exc:
        service.update_network(ALICE, net.id, {"name": "c"}, if_revision=1)
    assert exc.value.status == 412
    service.set_tags(ALICE, "networks", net.id, ["t"])
    assert service.get_network(ALICE, net.id).revision_number == 3
    with pytest.raises(errors.RevisionNumberConstraintFailed):
        service.delete_network(ALICE, net.id, if_revision=2)
    service.delete_network(ALICE, net.id, if_revision=3)


def test_network_in_use(service):
    net = service.create_network(ALICE, {})
    port = service.create_port(ALICE, {"network_id": net.id})
    with pytest.raises(errors.NetworkInUse):
        service.delete_network(ALICE, net.id)
    service.delete_port(ALICE, port.id)
    service.delete_network(ALICE, net.id)
    assert count(service, NETWORKS.table) == 0


def test_concurrent_port_creation_unique(service):
    nets = [service.create_network(ALICE, {}) for _ in range(2)]
    created, failures = [], []

    def worker(i):
        try:
            for _ in range(15):
                created.append(service.create_port(ALICE, {"network_id": nets[i % 2].id}))
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(created) == 240
    assert len({p.key for p in created}) == 240
    assert len({(p.network_id, p.mac_address) for p in created}) == 240
    assert len(service.snapshot().ports) == 240
    assert count(service, PORTS.table) == 240


def test_concurrent_network_creation_unique_segments(service):
    created = []
    threads = [
        threading.Thread(
            target=lambda: created.extend(service.create_network(ALICE, {}) for _ in range(10))
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n.segmentation_id for n in created) == list(range(1, 81))


def test_snapshot_and_subscribe(service):
    seen = []
    service.subscribe(seen.append)
    net = service.create_network(ALICE, {})
    port = service.create_port(ALICE, {"network_id": net.id})
    snap = service.snapshot()
    assert snap.networks[net.id].key == net.segmentation_id
    assert snap.ports[port.id].key == port.key
    assert snap.ports[port.id].mac_address == port.mac_address
    assert snap.ports_of(net.id) == [snap.ports[port.id]]
    assert [s.revision for s in seen] == sorted(s.revision for s in seen) and len(seen) == 2
    assert seen[-1] is snap
    service.update_port(ALICE, port.id, {"name": "not in the view"})
    assert len(seen) == 2 and service.snapshot() is snap
    service.update_port(ALICE, port.id, {"admin_state_up": False})
    assert len(seen) == 3 and not seen[-1].ports[port.id].admin_state_up
    service.delete_port(ALICE, port.id)
    assert port.id not in seen[-1].ports


def test_failing_subscriber_does_not_fail_writes(service):
    service.subscribe(lambda snap: 1 / 0)
    assert service.create_network(ALICE, {}).id in service.snapshot().networks


def test_change_events_in_commit_order(service):
    """Every commit that changes a record is delivered as typed changes, in commit order —
    views or not — and a failed one as nothing."""
    heard: list = []
    service.listen(lambda commit, changes: heard.append((commit, changes)))
    net = service.create_network(ALICE, {"name": "n"})
    port = service.create_port(ALICE, {"network_id": net.id})
    renamed = service.update_port(ALICE, port.id, {"name": "p"})
    service.update_port_bindings({port.id: "br0"})  # no view changes: still a commit
    with pytest.raises(errors.NetworkInUse):
        service.delete_network(ALICE, net.id)
    service.delete_port(ALICE, port.id)
    commits = [commit for commit, _ in heard]
    assert commits == sorted(commits) and len(set(commits)) == len(commits) == 5
    created_net = [(c.collection, c.old, c.new) for c in heard[0][1]]
    assert created_net == [("networks", None, net)]
    kinds = {c.collection for c in heard[1][1]}  # the port, and the default group it made
    assert {"ports", "security_groups"} <= kinds
    (update,) = heard[2][1]
    assert (update.collection, update.old, update.new) == ("ports", port, renamed)
    (bound,) = heard[3][1]
    assert (bound.old, bound.new.vif_host) == (renamed, "br0")
    (deleted,) = heard[4][1]
    assert (deleted.collection, deleted.id, deleted.new) == ("ports", port.id, None)
    assert deleted.old.vif_host == "br0"


def test_update_port_bindings(service):
    net = service.create_network(ALICE, {})
    up = service.create_port(ALICE, {"network_id": net.id})
    down = service.create_port(ALICE, {"network_id": net.id, "admin_state_up": False})
    service.update_port_bindings({up.id: "br1", down.id: "br2", "not-a-port": "br3"})
    up2, down2 = service.get_port(ALICE, up.id), service.get_port(ALICE, down.id)
    assert (up2.status, up2.vif_host, up2.binding_vif_type) == ("ACTIVE", "br1", "ovs")
    assert (down2.status, down2.vif_host) == ("DOWN", "br2")
    assert up2.revision_number == 2
    service.update_port_bindings({up.id: "br1", down.id: "br2"})  # unchanged: nothing written
    assert service.get_port(ALICE, up.id).revision_number == 2
    with pytest.raises(errors.PortBound):
        service.update_port(ALICE, up.id, {"mac_address": "02:00:00:00:00:09"})
    service.update_port(ALICE, down.id, {"admin_state_up": True})
    assert service.get_port(ALICE, down.id).status == "ACTIVE"
    service.update_port_bindings({})
    up3 = service.get_port(ALICE, up.id)
    assert (up3.status, up3.vif_host, up3.binding_vif_type) == ("DOWN", "", "unbound")
    assert (
        service.update_port(ALICE, up.id, {"mac_address": "02:00:00:00:00:09"}).mac_address
        == "02:00:00:00:00:09"
    )


def test_update_port_bindings_of_only_some_ports_leaves_the_others(service):
    net = service.create_network(ALICE, {})
    first, second = (service.create_port(ALICE, {"network_id": net.id}) for _ in range(2))
    service.update_port_bindings({first.id: "br1"})
    service.update_port_bindings({second.id: "br2"}, only=[second.id, "gone"])
    assert service.get_port(ALICE, first.id).vif_host == "br1"  # not looked at
    assert service.get_port(ALICE, second.id).vif_host == "br2"
    service.update_port_bindings({second.id: "br2"})  # every port: the first goes
    assert service.get_port(ALICE, first.id).status == "DOWN"


def test_mirror_reloaded_from_sql(db_url, service):
    net = service.create_network(ALICE, {"name": "n", "tags": ["b", "a"]})
    port = service.create_port(ALICE, {"network_id": net.id, "binding_profile": {"k": 1}})
    service.update_port_bindings({port.id: "br0"})
    again = NetworkService(db.connect(db_url))
    try:
        assert again.get_network(ALICE, net.id) == service.get_network(ALICE, net.id)
        assert again.get_port(ALICE, port.id) == service.get_port(ALICE, port.id)
        assert json.loads(again.get_port(ALICE, port.id).binding_profile) == {"k": 1}
        assert again.snapshot().ports == service.snapshot().ports
        assert again.create_port(ALICE, {"network_id": net.id}).key == port.key + 1
    finally:
        again.close()


def test_tags(service):
    net = service.create_network(ALICE, {})
    service.add_tag(ALICE, "networks", net.id, "red")
    service.add_tag(ALICE, "networks", net.id, "blue")
    assert service.get_tags(ALICE, "networks", net.id) == ["blue", "red"]
    with pytest.raises(errors.TagNotFound):
        service.remove_tag(ALICE, "networks", net.id, "green")
    service.remove_tag(ALICE, "networks", net.id, "red")
    assert service.get_network(ALICE, net.id).tags == ("blue",)
    with pytest.raises(errors.NetworkNotFound):
        service.get_tags(BOB, "networks", net.id)
