"""Subnets and IPAM in the NetworkService: Neutron's rules, allocation, rollback, snapshots."""

from __future__ import annotations

import threading

import netaddr
import pytest

from naas_sdn.features.networking import subnetpools
from naas_sdn.features.networking.addresses import IP_ALLOCATIONS
from naas_sdn.features.networking.ports import PORTS
from naas_sdn.features.networking.subnets import SUBNETS
from naas_sdn.model import db, errors, ipam
from naas_sdn.model.service import NetworkService
from tests.unit.model_support import ADMIN, ALICE, BOB, count

SLAAC = {"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}


@pytest.fixture
def net(service):
    return service.create_network(ALICE, {"name": "n"})


def v4(service, net, cidr="10.0.0.0/24", ctx=ALICE, **attrs):
    return service.create_subnet(
        ctx, {"network_id": net.id, "ip_version": 4, "cidr": cidr, **attrs}
    )


def v6(service, net, cidr="2001:db8::/64", ctx=ALICE, **attrs):
    return service.create_subnet(
        ctx, {"network_id": net.id, "ip_version": 6, "cidr": cidr, **attrs}
    )


def port(service, net, ctx=ALICE, **attrs):
    return service.create_port(ctx, {"network_id": net.id, **attrs})


def ips(p) -> list[str]:
    return [ip for _, ip in p.fixed_ips]


# ------------------------------------------------------------------------------ subnets
def test_subnet_defaults(service, net):
    s = v4(service, net)
    assert (s.cidr, s.gateway_ip, s.allocation_pools) == (
        "10.0.0.0/24",
        "10.0.0.1",
        (("10.0.0.2", "10.0.0.254"),),
    )
    assert s.enable_dhcp and s.dns_nameservers == () and s.host_routes == ()
    assert (s.project_id, s.revision_number) == ("alice", 1)
    six = v6(service, net)
    assert (six.gateway_ip, six.allocation_pools) == (
        "2001:db8::1",
        (("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff"),),
    )
    assert service.get_network(ALICE, net.id).subnets == (s.id, six.id)


def test_no_gateway_and_given_pools(service, net):
    s = v4(service, net, gateway_ip=None)
    assert s.gateway_ip is None and s.allocation_pools == (("10.0.0.1", "10.0.0.254"),)
    other = service.create_network(ALICE, {})
    t = v4(
        service,
        other,
        gateway_ip="10.0.0.254",
        allocation_pools=[
            {"start": "10.0.0.100", "end": "10.0.0.110"},
            {"start": "10.0.0.10", "end": "10.0.0.20"},
        ],
    )
    assert t.allocation_pools == (("10.0.0.10", "10.0.0.20"), ("10.0.0.100", "10.0.0.110"))
    assert ips(port(service, other)) == ["10.0.0.10"]
    # a gateway outside the cidr is an on-link router: Neutron allows it
    third = service.create_network(ALICE, {})
    assert v4(service, third, gateway_ip="192.168.0.1").gateway_ip == "192.168.0.1"


# Syntax (a cidr with host bits, ip_version 5, an unknown IPv6 mode) is the API's to refuse
# (tests/api/test_subnets.py); the model checks what the syntax cannot tell.
@pytest.mark.parametrize(
    "attrs,error,text",
    [
        ({"cidr": "2001:db8::/64"}, errors.InvalidInput, "does not match the ip_version '4'"),
        ({"cidr": "0.0.0.0/0"}, errors.InvalidInput, "0 is not allowed as CIDR prefix length"),
        ({"cidr": "10.0.0.0/31"}, errors.InvalidInput, "incompatible with DHCP"),
        ({"cidr": "224.0.0.0/24"}, errors.InvalidInput, "Multicast"),
        ({"cidr": None}, errors.BadRequest, "subnetpool must be specified"),
        ({"gateway_ip": "10.0.0.0"}, errors.InvalidInput, "Gateway is not valid on subnet"),
        ({"gateway_ip": "10.0.0.255"}, errors.InvalidInput, "Gateway is not valid on subnet"),
        ({"gateway_ip": "2001:db8::1"}, errors.InvalidInput, "gateway_ip '2001:db8::1' does not"),
        (
            {"allocation_pools": [{"start": "10.0.0.9", "end": "10.0.0.2"}]},
            errors.InvalidAllocationPool,
            "is not valid",
        ),
        (
            {"allocation_pools": [{"start": "10.0.0.0", "end": "10.0.0.9"}]},
            errors.OutOfBoundsAllocationPool,
            "spans beyond the subnet cidr 10.0.0.0/24",
        ),
        (
            {"allocation_pools": [{"start": "10.0.0.200", "end": "10.0.0.255"}]},
            errors.OutOfBoundsAllocationPool,
            "10.0.0.200-10.0.0.255",
        ),
        (
            {
                "allocation_pools": [
                    {"start": "10.0.0.2", "end": "10.0.0.9"},
                    {"start": "10.0.0.9", "end": "10.0.0.20"},
                ]
            },
            errors.OverlappingAllocationPools,
            "10.0.0.2-10.0.0.9 10.0.0.9-10.0.0.20",
        ),
        (
            {"allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]},
            errors.GatewayConflictWithAllocationPools,
            "Gateway ip 10.0.0.1 conflicts",
        ),
        (
            {"allocation_pools": [{"start": "2001:db8::2", "end": "2001:db8::9"}]},
            errors.InvalidAllocationPool,
            "is not valid",
        ),
        (
            {"dns_nameservers": ["8.8.8.8", "2001:4860::8888"]},
            errors.InvalidInput,
            "dns_nameserver '2001:4860::8888' does not match",
        ),
        (
            {"dns_nameservers": [f"10.1.1.{i}" for i in range(6)]},
            errors.DNSNameServersExhausted,
            "exceeds the limit 5",
        ),
        (
            {"host_routes": [{"destination": "0.0.0.0/0", "nexthop": "2001:db8::1"}]},
            errors.InvalidInput,
            "nexthop",
        ),
        (
            {"host_routes": [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.9"}] * 21},
            errors.HostRoutesExhausted,
            "limit 20",
        ),
        ({"ipv6_ra_mode": "slaac"}, errors.InvalidInput, "ipv6_ra_mode is not valid when"),
        ({"ipv6_address_mode": "slaac"}, errors.InvalidInput, "ipv6_address_mode is not valid"),
    ],
)
def test_bad_subnets_leave_no_trace(service, net, attrs, error, text):
    body = {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/24", **attrs}
    before = service.snapshot()
    with pytest.raises(error) as exc:
        service.create_subnet(ALICE, body)
    assert text in exc.value.msg
    assert exc.value.status in (400, 409)
    assert count(service, SUBNETS.table) == 0 and service.list_subnets(ADMIN) == []
    assert service.snapshot() is before


@pytest.mark.parametrize(
    "attrs,text",
    [
        ({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"}, "must be the same"),
        ({"ipv6_address_mode": "slaac", "cidr": "2001:db8::/80"}, "requires the prefix to be /64"),
        ({"ipv6_ra_mode": "dhcpv6-stateless", "cidr": "2001:db8::/48"}, "/64"),
        ({"ipv6_address_mode": "slaac", "enable_dhcp": False}, "cannot be set when enable_dhcp"),
        ({"cidr": "fe80::/64"}, "Link-local"),
        ({"cidr": "2001:db8::/127"}, "incompatible with DHCP"),
    ],
)
def test_bad_ipv6_subnets(service, net, attrs, text):
    with pytest.raises(errors.BadRequest) as exc:
        v6(service, net, **attrs)
    assert text in exc.value.msg
    assert count(service, SUBNETS.table) == 0


def test_ipv6_stateful_with_other_prefix_is_fine(service, net):
    s = v6(service, net, cidr="2001:db8::/80", ipv6_address_mode="dhcpv6-stateful")
    assert not s.auto_address
    assert v6(service, net, cidr="2001:db9::/64", ipv6_ra_mode="slaac").auto_address


def test_overlaps_refused_within_a_network_only(service, net):
    v4(service, net, "10.0.0.0/24")
    with pytest.raises(errors.InvalidInput) as exc:
        v4(service, net, "10.0.0.128/25")
    assert exc.value.msg == (
        f"Invalid input for operation: Requested subnet with cidr: "
        f"10.0.0.128/25 for network: {net.id} overlaps with another subnet."
    )
    with pytest.raises(errors.InvalidInput):
        v4(service, net, "10.0.0.0/16")
    v4(service, net, "10.0.1.0/24")  # adjacent
    other = service.create_network(ALICE, {})
    v4(service, other, "10.0.0.0/24")  # another network
    bobs = service.create_network(BOB, {})
    v4(service, bobs, "10.0.0.0/24", ctx=BOB)  # another tenant
    with pytest.raises(errors.InvalidInput):  # within one bulk request too
        service.create_subnets(
            ALICE,
            [
                {"network_id": other.id, "ip_version": 4, "cidr": "172.16.0.0/24"},
                {"network_id": other.id, "ip_version": 4, "cidr": "172.16.0.0/16"},
            ],
        )
    assert len(service.list_subnets(ALICE)) == 3


def test_subnet_scoping(service, net):
    s = v4(service, net)
    with pytest.raises(errors.SubnetNotFound):
        service.get_subnet(BOB, s.id)
    with pytest.raises(errors.NetworkNotFound):
        v4(service, net, "10.1.0.0/24", ctx=BOB)
    shared = service.create_network(ALICE, {"shared": True})
    on_shared = v4(service, shared, "10.2.0.0/24")
    assert service.get_subnet(BOB, on_shared.id).id == on_shared.id  # visible through sharing
    assert [x.id for x in service.list_subnets(BOB)] == [on_shared.id]
    bob_port = port(service, shared, ctx=BOB)  # a tenant's port on a shared network
    assert ips(bob_port) == ["10.2.0.2"]
    admin_made = v4(service, net, "10.9.0.0/24", ctx=ADMIN, project_id="carol")
    assert admin_made.project_id == "carol"
    assert service.get_subnet(ALICE, admin_made.id)  # the network owner sees it


def test_update_subnet(service, net):
    s = v4(service, net)
    p = port(service, net)
    new = service.update_subnet(
        ALICE,
        s.id,
        {
            "name": "s",
            "gateway_ip": "10.0.0.254",
            "allocation_pools": [{"start": "10.0.0.100", "end": "10.0.0.200"}],
            "dns_nameservers": ["10.0.0.53", "8.8.8.8"],
            "host_routes": [{"destination": "10.8.0.0/16", "nexthop": "10.0.0.9"}],
        },
    )
    assert (new.name, new.gateway_ip, new.revision_number) == ("s", "10.0.0.254", 2)
    assert new.allocation_pools == (("10.0.0.100", "10.0.0.200"),)
    assert new.dns_nameservers == ("10.0.0.53", "8.8.8.8")
    assert new.host_routes == (("10.8.0.0/16", "10.0.0.9"),)
    assert ips(service.get_port(ALICE, p.id)) == ["10.0.0.2"]  # kept outside the new pool
    assert ips(port(service, net)) == ["10.0.0.100"]
    with pytest.raises(errors.GatewayConflictWithAllocationPools):
        service.update_subnet(ALICE, s.id, {"gateway_ip": "10.0.0.150"})
    with pytest.raises(errors.GatewayConflictWithAllocationPools):
        service.update_subnet(
            ALICE, s.id, {"allocation_pools": [{"start": "10.0.0.250", "end": "10.0.0.254"}]}
        )
    for attr in ("cidr", "ip_version", "network_id", "ipv6_ra_mode"):
        with pytest.raises(errors.BadRequest, match="read-only"):
            service.update_subnet(ALICE, s.id, {attr: None})
    assert service.update_subnet(ALICE, s.id, {"gateway_ip": None}).gateway_ip is None
    assert service.update_subnet(ALICE, s.id, {"name": "s"}).revision_number == 3  # no-op
    with pytest.raises(errors.RevisionNumberConstraintFailed):
        service.update_subnet(ALICE, s.id, {"name": "t"}, if_revision=1)
    slaac = v6(service, net, **SLAAC)
    with pytest.raises(errors.InvalidInput, match="Cannot disable enable_dhcp"):
        service.update_subnet(ALICE, slaac.id, {"enable_dhcp": False})


def test_reload_from_sql(db_url, service, net):
    s = v4(
        service,
        net,
        dns_nameservers=["8.8.8.8"],
        tags=["x"],
        host_routes=[{"destination": "10.8.0.0/16", "nexthop": "10.0.0.9"}],
    )
    six = v6(service, net, **SLAAC)
    p = port(service, net, fixed_ips=[{"ip_address": "10.0.0.77"}, {"subnet_id": s.id}])
    again = NetworkService(db.connect(db_url))
    try:
        assert again.get_subnet(ALICE, s.id) == service.get_subnet(ALICE, s.id)
        assert again.get_subnet(ALICE, six.id) == six
        assert again.get_port(ALICE, p.id) == service.get_port(ALICE, p.id)
        assert again.get_network(ALICE, net.id) == service.get_network(ALICE, net.id)
        assert again.snapshot().subnets == service.snapshot().subnets
        assert again.snapshot().ports == service.snapshot().ports
        assert ips(again.create_port(ALICE, {"network_id": net.id}))[0] == "10.0.0.3"
    finally:
        again.close()


# --------------------------------------------------------------------------------- IPAM
def test_default_allocation(service, net):
    assert port(service, net).fixed_ips == ()  # no subnet, no address
    full = v4(service, net, "10.0.0.0/30")  # one usable address: 10.0.0.2
    spare = v4(service, net, "10.0.1.0/24")
    stateful = v6(service, net, ipv6_address_mode="dhcpv6-stateful")
    slaac = v6(service, net, "2001:db8:1::/64", **SLAAC)
    stateless = v6(service, net, "2001:db8:2::/64", ipv6_ra_mode="dhcpv6-stateless")
    a = port(service, net, mac_address="fa:16:3e:00:00:0a")
    assert a.fixed_ips == (
        (full.id, "10.0.0.2"),
        (stateful.id, "2001:db8::2"),
        (slaac.id, "2001:db8:1:0:f816:3eff:fe00:a"),  # RFC 5952 form
        (stateless.id, "2001:db8:2:0:f816:3eff:fe00:a"),
    )
    b = port(service, net)
    assert [sid for sid, _ in b.fixed_ips] == [spare.id, stateful.id, slaac.id, stateless.id]
    assert ips(b)[:2] == ["10.0.1.2", "2001:db8::3"]
    eui = str(netaddr.EUI(b.mac_address).ipv6(netaddr.IPNetwork("2001:db8:1::/64").first))
    assert ips(b)[2] == eui
    router = port(service, net, device_owner="network:router_interface")
    assert [sid for sid, _ in router.fixed_ips] == [spare.id, stateful.id]  # no EUI-64
    assert [sid for sid, _ in port(service, net, fixed_ips=[]).fixed_ips] == [
        slaac.id,
        stateless.id,
    ]  # Neutron: the automatic addresses come anyway


def test_lowest_free_address_reused_after_delete(service, net):
    v4(service, net)
    ports = [port(service, net) for _ in range(3)]
    assert [ips(p) for p in ports] == [["10.0.0.2"], ["10.0.0.3"], ["10.0.0.4"]]
    service.delete_port(ALICE, ports[1].id)
    assert ips(port(service, net)) == ["10.0.0.3"]


def test_requested_addresses(service, net):
    s = v4(service, net)
    t = v4(service, net, "10.0.1.0/24")
    p = port(
        service,
        net,
        fixed_ips=[
            {"subnet_id": t.id},
            {"ip_address": "10.0.0.200"},
            {"subnet_id": s.id, "ip_address": "10.0.0.201"},
            {"subnet_id": s.id},
        ],
    )
    assert p.fixed_ips == (
        (t.id, "10.0.1.2"),
        (s.id, "10.0.0.200"),
        (s.id, "10.0.0.201"),
        (s.id, "10.0.0.2"),
    )
    # outside the pools but inside the cidr: allowed, as in Neutron (even the gateway)
    assert ips(port(service, net, fixed_ips=[{"ip_address": "10.0.0.1"}])) == ["10.0.0.1"]
    with pytest.raises(errors.IpAddressInUse) as exc:
        port(service, net, fixed_ips=[{"ip_address": "10.0.0.200"}])
    assert exc.value.status == 409
    with pytest.raises(errors.InvalidIpForNetwork):
        port(service, net, fixed_ips=[{"ip_address": "10.5.0.1"}])
    for bad in ("10.0.0.0", "10.0.0.255", "10.0.1.5"):
        with pytest.raises(errors.InvalidIpForSubnet):
            port(service, net, fixed_ips=[{"subnet_id": s.id, "ip_address": bad}])
    with pytest.raises(errors.InvalidIpForNetwork):  # the broadcast is valid for no subnet
        port(service, net, fixed_ips=[{"ip_address": "10.0.0.255"}])
    other = service.create_network(ALICE, {})
    foreign = v4(service, other)
    with pytest.raises(errors.InvalidInput, match="invalid subnet"):
        port(service, net, fixed_ips=[{"subnet_id": foreign.id}])
    bobs = service.create_network(BOB, {})
    hidden = v4(service, bobs, ctx=BOB)
    with pytest.raises(errors.SubnetNotFound):
        port(service, net, fixed_ips=[{"subnet_id": hidden.id}])
    with pytest.raises(errors.IpAddressInUse):  # twice in one request
        port(service, net, fixed_ips=[{"ip_address": "10.0.0.50"}, {"ip_address": "10.0.0.50"}])
    assert count(service, PORTS.table) == 2 and count(service, IP_ALLOCATIONS) == 5


def test_pool_exhaustion(service, net):
    s = v4(service, net, "10.0.0.0/29")  # .2 - .6
    for _ in range(5):
        port(service, net)
    with pytest.raises(errors.IpAddressGenerationFailure) as exc:
        port(service, net)
    assert exc.value.status == 409
    with pytest.raises(errors.IpAddressGenerationFailure, match=s.id):
        port(service, net, fixed_ips=[{"subnet_id": s.id}])
    # bulk: the whole request fails and the addresses it took are free again
    service.delete_port(ALICE, service.list_ports(ALICE)[0].id)
    with pytest.raises(errors.IpAddressGenerationFailure):
        service.create_ports(ALICE, [{"network_id": net.id}, {"network_id": net.id}])
    assert ips(port(service, net)) == ["10.0.0.2"]


def test_slaac_rules(service, net):
    s = v6(service, net, **SLAAC)
    p = port(service, net, mac_address="02:00:00:00:00:01")
    eui = "2001:db8::ff:fe00:1"
    assert p.fixed_ips == ((s.id, eui),)
    with pytest.raises(errors.AllocationOnAutoAddressSubnet) as exc:
        port(service, net, fixed_ips=[{"ip_address": "2001:db8::5"}])
    assert exc.value.status == 400 and exc.value.type == "AllocationOnAutoAddressSubnet"
    # its own EUI-64 address may be named (that is what `port set` sends back)
    mine = port(
        service,
        net,
        mac_address="02:00:00:00:00:02",
        fixed_ips=[{"ip_address": "2001:db8::ff:fe00:2"}],
    )
    assert ips(mine) == ["2001:db8::ff:fe00:2"]
    same = service.update_port(ALICE, p.id, {"fixed_ips": [{"subnet_id": s.id, "ip_address": eui}]})
    assert same.fixed_ips == p.fixed_ips and same.revision_number == p.revision_number
    moved = service.update_port(ALICE, p.id, {"mac_address": "02:00:00:00:00:03"})
    assert moved.fixed_ips == ((s.id, "2001:db8::ff:fe00:3"),)
    assert service.snapshot().ports[p.id].fixed_ips == moved.fixed_ips
    again = port(service, net, mac_address="02:00:00:00:00:01")  # the old address is free
    assert ips(again) == [eui]


def test_new_slaac_subnet_reaches_existing_ports(service, net):
    v4(service, net)
    a = port(service, net)
    router = port(service, net, device_owner="network:router_interface")
    other = service.create_network(ALICE, {})
    elsewhere = port(service, other)
    s = v6(service, net, **SLAAC)
    a2 = service.get_port(ALICE, a.id)
    assert a2.fixed_ips == (a.fixed_ips[0], (s.id, ipam.eui64_address(s.cidr, a.mac_address)))
    assert a2.revision_number == a.revision_number + 1
    assert service.get_port(ALICE, router.id).fixed_ips == router.fixed_ips
    assert service.get_port(ALICE, elsewhere.id) == elsewhere
    assert service.snapshot().ports[a.id].fixed_ips == a2.fixed_ips
    # deleting it takes the automatic addresses away again
    service.delete_subnet(ALICE, s.id)
    assert service.get_port(ALICE, a.id).fixed_ips == a.fixed_ips
    assert count(service, IP_ALLOCATIONS) == 2


def test_update_fixed_ips(service, net):
    s = v4(service, net)
    t = v4(service, net, "10.0.1.0/24")
    slaac = v6(service, net, **SLAAC)
    p = port(service, net)
    assert [sid for sid, _ in p.fixed_ips] == [s.id, slaac.id]
    eui = p.fixed_ips[1]
    # keep the v4 address by subnet id, add one on t; the SLAAC address stays
    q = service.update_port(ALICE, p.id, {"fixed_ips": [{"subnet_id": s.id}, {"subnet_id": t.id}]})
    assert q.fixed_ips == ((s.id, "10.0.0.2"), (t.id, "10.0.1.2"), eui)
    assert q.revision_number == p.revision_number + 1
    # swap to a chosen address: released and allocated in one transaction
    r = service.update_port(ALICE, p.id, {"fixed_ips": [{"ip_address": "10.0.0.9"}]})
    assert r.fixed_ips == ((s.id, "10.0.0.9"), eui)
    assert ips(port(service, net, fixed_ips=[{"subnet_id": t.id}]))[0] == "10.0.1.2"
    # a failing update changes nothing
    other = port(service, net, fixed_ips=[{"ip_address": "10.0.0.20"}])
    with pytest.raises(errors.IpAddressInUse):
        service.update_port(
            ALICE, p.id, {"fixed_ips": [{"ip_address": "10.0.0.3"}, {"ip_address": "10.0.0.20"}]}
        )
    assert service.get_port(ALICE, p.id) == r
    assert ips(port(service, net, fixed_ips=[{"ip_address": "10.0.0.3"}]))[0] == "10.0.0.3"
    # no addresses: the automatic one is kept, as in Neutron
    assert service.update_port(ALICE, p.id, {"fixed_ips": []}).fixed_ips == (eui,)
    assert ips(
        service.update_port(ALICE, other.id, {"fixed_ips": [{"ip_address": "10.0.0.9"}]})
    ) == ["10.0.0.9", ipam.eui64_address(slaac.cidr, other.mac_address)]


def test_subnet_in_use(service, net):
    s = v4(service, net)
    p = port(service, net)
    dhcp = port(service, net, device_owner="network:dhcp")
    with pytest.raises(errors.SubnetInUse) as exc:
        service.delete_subnet(ALICE, s.id)
    assert exc.value.status == 409
    assert "One or more ports have an IP allocation from this subnet" in exc.value.msg
    service.update_port(ALICE, p.id, {"fixed_ips": []})
    service.delete_subnet(ALICE, s.id)  # the DHCP port's address goes with the subnet
    assert service.get_port(ALICE, dhcp.id).fixed_ips == ()
    assert count(service, SUBNETS.table) == 0 and count(service, IP_ALLOCATIONS) == 0
    assert service.get_network(ALICE, net.id).subnets == ()


def test_delete_network_deletes_subnets(service, net):
    s = v4(service, net, tags=["t"])
    p = port(service, net)
    with pytest.raises(errors.NetworkInUse):
        service.delete_network(ALICE, net.id)
    service.delete_port(ALICE, p.id)
    service.delete_network(ALICE, net.id)
    assert count(service, SUBNETS.table) == 0 and count(service, db.tags) == 0
    assert s.id not in service.snapshot().subnets
    with pytest.raises(errors.SubnetNotFound):
        service.get_subnet(ALICE, s.id)


def test_snapshot_notifications(service, net):
    seen = []
    service.subscribe(seen.append)
    s = v4(service, net, dns_nameservers=["8.8.8.8"])
    view = seen[-1].subnets[s.id]
    assert (view.cidr, view.gateway_ip, view.dns_nameservers, view.mtu) == (
        "10.0.0.0/24",
        "10.0.0.1",
        ("8.8.8.8",),
        1500,
    )
    assert seen[-1].subnets_of(net.id) == [view]
    n = len(seen)
    service.update_subnet(ALICE, s.id, {"name": "not in the view"})
    assert len(seen) == n
    service.update_subnet(ALICE, s.id, {"gateway_ip": None})
    assert len(seen) == n + 1 and seen[-1].subnets[s.id].gateway_ip is None
    p = port(service, net)
    assert seen[-1].ports[p.id].fixed_ips == ((s.id, "10.0.0.2"),)
    service.update_port(ALICE, p.id, {"fixed_ips": [{"ip_address": "10.0.0.7"}]})
    assert seen[-1].ports[p.id].fixed_ips == ((s.id, "10.0.0.7"),)
    service.update_port(ALICE, p.id, {"device_owner": "compute:nova"})
    assert seen[-1].ports[p.id].device_owner == "compute:nova"
    service.update_port(ALICE, p.id, {"fixed_ips": []})
    service.delete_subnet(ALICE, s.id)
    assert s.id not in seen[-1].subnets and seen[-1] is service.snapshot()
    assert [x.revision for x in seen] == sorted({x.revision for x in seen})


def test_subnet_tags(service, net):
    s = v4(service, net)
    service.add_tag(ALICE, "subnets", s.id, "red")
    assert service.get_subnet(ALICE, s.id).tags == ("red",)
    assert service.get_subnet(ALICE, s.id).revision_number == 2
    with pytest.raises(errors.SubnetNotFound):
        service.get_tags(BOB, "subnets", s.id)


def test_failed_subnet_write_leaves_no_trace(service, net, monkeypatch):
    v4(service, net)
    p = port(service, net)

    def boom(*_args, **_kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("naas_sdn.model.store.write_tags", boom)
    with pytest.raises(RuntimeError):
        v6(service, net, **SLAAC)  # would also have given p an address
    assert count(service, SUBNETS.table) == 1 and count(service, IP_ALLOCATIONS) == 1
    assert service.get_port(ALICE, p.id) == p


def test_concurrent_allocation_unique(service, net):
    v4(service, net, "10.0.0.0/22")
    v6(service, net, ipv6_address_mode="dhcpv6-stateful")
    created, failures = [], []

    def worker():
        try:
            for _ in range(10):
                created.append(port(service, net))
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(created) == 120
    addresses = [ip for p in created for ip in ips(p)]
    assert len(set(addresses)) == 240
    assert count(service, IP_ALLOCATIONS) == 240


# ------------------------------------------------------------------------------ subnet pools
def test_pool_prefix_arithmetic():
    pool = subnetpools.SubnetPool(
        id="p",
        project_id="alice",
        name="",
        description="",
        revision_number=1,
        created_at=None,
        updated_at=None,
        ip_version=4,
        prefixes=subnetpools.compact(["10.0.1.0/24", "10.0.0.0/24", "10.0.0.128/25"]),
        min_prefixlen=8,
        max_prefixlen=32,
        default_prefixlen=24,
        default_quota=None,
        is_default=False,
        shared=False,
        address_scope_id=None,
    )
    assert pool.prefixes == ("10.0.0.0/23",)
    held = ["10.0.0.0/28"]
    assert [str(c) for c in subnetpools.free_prefixes(pool, held)] == [
        "10.0.0.16/28",
        "10.0.0.32/27",
        "10.0.0.64/26",
        "10.0.0.128/25",
        "10.0.1.0/24",
    ]
    assert subnetpools.allocate(pool, held, None, 26) == "10.0.0.64/26"  # smallest hole first
    assert subnetpools.allocate(pool, held, None, 24) == "10.0.1.0/24"
    assert subnetpools.allocate(pool, held, "10.0.0.128/26", 26) == "10.0.0.128/26"
    with pytest.raises(errors.SubnetAllocationError):
        subnetpools.allocate(pool, held, "10.0.0.0/27", 27)
    with pytest.raises(errors.SubnetAllocationError):
        subnetpools.allocate(pool, [*held, "10.0.1.0/24"], None, 24)
    assert subnetpools.quota_units(4, 28) == 16 and subnetpools.quota_units(6, 56) == 256
    with pytest.raises(errors.IllegalSubnetPoolPrefixBounds):
        subnetpools.check_bounds(4, 8, 24, 25)
    with pytest.raises(errors.PrefixVersionMismatch):
        subnetpools.prefix_version(["10.0.0.0/8", "fd00::/8"])


def test_concurrent_pool_allocations_never_overlap(service):
    pool = service.create_records(
        ALICE, "subnetpools", [{"name": "p", "prefixes": ["10.64.0.0/20"], "default_prefixlen": 26}]
    )[0]
    nets = [service.create_network(ALICE, {"name": f"n{i}"}) for i in range(4)]
    created, failures = [], []

    def worker(net):
        try:
            for _ in range(16):
                created.append(
                    service.create_subnet(
                        ALICE, {"network_id": net.id, "ip_version": 4, "subnetpool_id": pool.id}
                    )
                )
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(net,)) for net in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(created) == 64  # a /20 holds exactly 64 /26s
    assert netaddr.IPSet(s.cidr for s in created) == netaddr.IPSet(["10.64.0.0/20"])
    with pytest.raises(errors.SubnetAllocationError):
        service.create_subnet(
            ALICE, {"network_id": nets[0].id, "ip_version": 4, "subnetpool_id": pool.id}
        )
