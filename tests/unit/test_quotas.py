"""Quota limits and their enforcement inside the creating transaction."""

from __future__ import annotations

import threading

import pytest

from naas_sdn.features.networking.networks import NETWORKS
from naas_sdn.model import errors, quotas
from tests.unit.model_support import ADMIN, ALICE, BOB, count


def test_defaults_are_neutrons(service):
    limits = service.quota_limits("anyone")
    assert {
        k: limits[k]
        for k in ("network", "subnet", "port", "router", "security_group", "security_group_rule")
    } == {
        "network": 100,
        "subnet": 100,
        "port": 500,
        "router": 10,
        "security_group": 10,
        "security_group_rule": 100,
    }
    assert set(limits) == set(quotas.REGISTRY)


def test_set_reset_and_list(service):
    assert service.set_quota_limits("alice", {"network": 3})["network"] == 3
    assert service.quota_limits("alice")["network"] == 3
    assert service.quota_limits("bob")["network"] == 100
    assert list(service.projects_with_quotas()) == ["alice"]
    service.reset_quota_limits("alice")
    assert service.quota_limits("alice")["network"] == 100
    assert service.projects_with_quotas() == {}
    with pytest.raises(errors.TenantQuotaNotFound):
        service.reset_quota_limits("alice")


def test_bulk_over_quota_creates_nothing(service):
    service.set_quota_limits("alice", {"network": 2})
    service.create_network(ALICE, {})
    with pytest.raises(errors.OverQuota) as exc:
        service.create_networks(ALICE, [{}, {}])
    assert exc.value.status == 409
    assert exc.value.msg == "Quota exceeded for resources: ['network']."
    assert count(service, NETWORKS.table) == 1 and len(service.list_networks(ALICE)) == 1
    service.create_network(ALICE, {})
    service.create_network(BOB, {})  # another project's quota is its own


def test_admin_creating_for_a_project_counts_against_that_project(service):
    service.set_quota_limits("alice", {"router": 0})
    with pytest.raises(errors.OverQuota):
        service.create_records(ADMIN, "routers", [{"project_id": "alice"}])
    service.create_records(ADMIN, "routers", [{}])


def test_unlimited_and_a_deleted_object_frees_its_unit(service):
    service.set_quota_limits("alice", {"network": 1})
    net = service.create_network(ALICE, {})
    with pytest.raises(errors.OverQuota):
        service.create_network(ALICE, {})
    service.delete_network(ALICE, net.id)
    service.create_network(ALICE, {})
    service.set_quota_limits("alice", {"network": -1})
    service.create_networks(ALICE, [{} for _ in range(150)])


def test_lowering_below_usage_needs_force(service):
    service.create_networks(ALICE, [{}, {}])
    with pytest.raises(errors.BadRequestMessage) as exc:
        service.set_quota_limits("alice", {"network": 1})
    assert (
        exc.value.msg == "Quota limit 1 for network must be greater than or equal to already used 2"
    )
    assert service.set_quota_limits("alice", {"network": 1}, force=True)["network"] == 1
    with pytest.raises(errors.OverQuota):
        service.create_network(ALICE, {})


def test_default_security_group_is_counted_but_never_refused(service):
    service.set_quota_limits("alice", {"security_group": 0, "security_group_rule": 0}, force=True)
    net = service.create_network(ALICE, {})
    port = service.create_port(ALICE, {"network_id": net.id})  # makes the default group
    assert len(port.security_groups) == 1
    assert service.quota_usage("alice")["security_group"] == 1
    assert service.quota_usage("alice")["security_group_rule"] == 4  # Neutron's four rules
    with pytest.raises(errors.OverQuota) as exc:
        service.create_records(ALICE, "security_groups", [{"name": "web"}])
    assert exc.value.kwargs == {"overs": ["security_group"]}


def test_a_new_groups_egress_rules_count_against_the_rule_quota(service):
    service.set_quota_limits("alice", {"security_group_rule": 5})
    with pytest.raises(errors.OverQuota) as exc:  # default (4 rules) + web (2 rules)
        service.create_records(ALICE, "security_groups", [{"name": "web"}])
    assert exc.value.kwargs == {"overs": ["security_group_rule"]}
    service.set_quota_limits("alice", {"security_group_rule": 6})
    group = service.create_records(ALICE, "security_groups", [{"name": "web"}])[0]
    with pytest.raises(errors.OverQuota):
        service.create_records(
            ALICE, "security_group_rules", [{"security_group_id": group.id, "direction": "ingress"}]
        )


def test_parallel_creates_stop_exactly_at_the_limit(service):
    service.set_quota_limits("alice", {"network": 5})
    results = []

    def create():
        try:
            results.append(service.create_network(ALICE, {}))
        except errors.OverQuota as exc:
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(not isinstance(r, Exception) for r in results) == 5
    assert count(service, NETWORKS.table) == 5
