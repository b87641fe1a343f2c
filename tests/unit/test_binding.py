"""The VIF binding app without a switch: fabric state fed by hand, the real service on SQLite
in memory. Ports follow their VIFs between passes; the programmer never writes the model."""

import itertools
import threading
import time
import uuid

import pytest

from naas_sdn.apps.binding import VifBinding
from naas_sdn.apps.fabric_state import FabricState
from naas_sdn.apps.programmer import Programmer
from naas_sdn.features.networking import ports as ports_module
from naas_sdn.flows import compiler
from naas_sdn.flows.fabric import VifLocation
from naas_sdn.model import db
from naas_sdn.model.service import NetworkService
from tests.unit.model_support import ALICE
from tests.unit.test_programmer import _connected


@pytest.fixture
def memory_service():
    svc = NetworkService(db.connect("sqlite://"))
    yield svc
    svc.close()


class Lab:
    """A binding app over ``service`` whose OVSDB servers are synced once ``ready`` is set,
    and which counts its writes."""

    def __init__(self, service, monkeypatch, ready=True):
        self.service = service
        self.fabric = FabricState(link_timeout=10.0, on_change=lambda: None)
        self.ready = threading.Event()
        if ready:
            self.ready.set()
        self.app = VifBinding(service, self.fabric, ready=self.ready.is_set)
        self.app.RETRY = 0.05
        self.writes = []
        self.looked_at = []  # the ports each write was asked to look at (None: all)
        write = service.update_port_bindings

        def counted(bindings, only=None):
            self.writes.append(dict(bindings))
            self.looked_at.append(only)
            write(bindings, only)

        monkeypatch.setattr(service, "update_port_bindings", counted)

    def plug(self, **bridges):
        """OVSDB reports these VIFs (port id -> bridge) and no others, as the runtime relays."""
        self.fabric.set_vifs(
            {
                port_id: VifLocation(bridge, 1, ofport)
                for ofport, (port_id, bridge) in enumerate(bridges.items(), 1)
            }
        )
        self.app.changed()

    def port(self, port_id):
        return self.service.get_port(ALICE, port_id)


def eventually(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def lab(memory_service, monkeypatch):
    lab = Lab(memory_service, monkeypatch)
    yield lab
    lab.app.stop()


def test_a_plugged_vif_binds_its_port_and_an_unplugged_one_unbinds_it(lab):
    net = lab.service.create_network(ALICE, {})
    port = lab.service.create_port(ALICE, {"network_id": net.id})
    lab.app.start()
    lab.plug(**{port.id: "br-a"})
    assert eventually(lambda: lab.port(port.id).status == "ACTIVE")
    bound = lab.port(port.id)
    assert (bound.vif_host, bound.binding_vif_type) == ("br-a", "ovs")
    lab.plug()
    assert eventually(lambda: lab.port(port.id).status == "DOWN")
    unbound = lab.port(port.id)
    assert (unbound.vif_host, unbound.binding_vif_type) == ("", "unbound")


def test_a_port_created_after_its_vif_was_plugged_turns_active(lab, monkeypatch):
    """The model's changes wake the app too: the VIF was known before the port."""
    net = lab.service.create_network(ALICE, {})
    lab.service.subscribe(lab.app.changed)  # as the runtime wires it
    lab.app.start()
    port_id = str(uuid.uuid4())
    lab.fabric.set_vifs({port_id: VifLocation("br-a", 1, 1)})
    lab.app.changed()
    assert eventually(lambda: lab.writes == [{}])  # a VIF of no port binds nothing
    fresh, chosen = uuid.uuid4, iter([uuid.UUID(port_id)])  # the new port's id is the first
    monkeypatch.setattr(ports_module.uuid, "uuid4", lambda: next(chosen, None) or fresh())
    lab.service.create_port(ALICE, {"network_id": net.id})
    assert eventually(lambda: lab.port(port_id).status == "ACTIVE")
    assert lab.port(port_id).vif_host == "br-a"


def test_nothing_is_written_before_every_ovsdb_server_has_synced(memory_service, monkeypatch):
    """A restart: ports bound by the last run keep their status while the first dump is
    awaited, then only the VIF that went while nobody watched is unbound."""
    service = memory_service
    net = service.create_network(ALICE, {})
    stays, goes = (service.create_port(ALICE, {"network_id": net.id}) for _ in range(2))
    service.update_port_bindings({stays.id: "br-a", goes.id: "br-a"})
    lab = Lab(service, monkeypatch, ready=False)
    lab.app.start()
    try:
        lab.app.changed()  # e.g. a port created by the API while OVSDB is unreachable
        time.sleep(3 * lab.app.RETRY)
        assert lab.writes == []
        assert (lab.port(stays.id).status, lab.port(goes.id).status) == ("ACTIVE", "ACTIVE")
        lab.plug(**{stays.id: "br-a"})
        lab.ready.set()
        assert eventually(lambda: lab.port(goes.id).status == "DOWN")
        assert lab.writes == [{stays.id: "br-a"}]
        assert lab.port(stays.id).revision_number == 2  # bound by the last run, not rebound
    finally:
        lab.app.stop()


def test_a_burst_of_changes_is_one_write_and_the_same_bindings_none(lab):
    net = lab.service.create_network(ALICE, {})
    ports = [lab.service.create_port(ALICE, {"network_id": net.id}) for _ in range(20)]
    for i in range(1, len(ports) + 1):
        lab.plug(**{p.id: "br-a" for p in ports[:i]})
    lab.app.start()
    assert eventually(lambda: all(lab.port(p.id).status == "ACTIVE" for p in ports))
    assert len(lab.writes) == 1
    lab.app.sync()
    assert len(lab.writes) == 1


def test_after_the_first_round_only_the_ports_whose_vif_changed_are_looked_at(lab):
    """A plug costs the same however many ports there are: the first round reconciles every
    port, the next ones the ports whose VIF came, went or moved."""
    net = lab.service.create_network(ALICE, {})
    a, b, c = (lab.service.create_port(ALICE, {"network_id": net.id}) for _ in range(3))
    lab.app.start()
    lab.plug(**{a.id: "br-a"})
    assert eventually(lambda: lab.port(a.id).status == "ACTIVE")
    lab.plug(**{a.id: "br-a", b.id: "br-b"})
    assert eventually(lambda: lab.port(b.id).status == "ACTIVE")
    lab.plug(**{a.id: "br-c", b.id: "br-b"})
    assert eventually(lambda: lab.port(a.id).vif_host == "br-c")
    lab.plug(**{a.id: "br-c"})
    assert eventually(lambda: lab.port(b.id).status == "DOWN")
    assert lab.looked_at == [None, {b.id}, {a.id}, {b.id}]
    assert lab.port(c.id).revision_number == 1  # never written


def test_a_failed_write_is_retried(lab, monkeypatch):
    net = lab.service.create_network(ALICE, {})
    port = lab.service.create_port(ALICE, {"network_id": net.id})
    write = lab.service.update_port_bindings
    failures = []

    def failing_once(bindings, only=None):
        if not failures:
            failures.append(bindings)
            raise RuntimeError("database is locked")
        write(bindings, only)

    monkeypatch.setattr(lab.service, "update_port_bindings", failing_once)
    lab.app.start()
    lab.plug(**{port.id: "br-a"})
    assert eventually(lambda: lab.port(port.id).status == "ACTIVE")
    assert len(failures) == 1


def test_a_programmer_pass_programs_a_plugged_port_and_writes_no_binding(memory_service):
    """Flows follow the VIF location alone: the pass that programs the port leaves the
    model as it found it."""
    service = memory_service
    net = service.create_network(ALICE, {})
    port = service.create_port(ALICE, {"network_id": net.id})
    fabric = FabricState(link_timeout=10.0, on_change=lambda: None)
    fabric.switch_connected(1, {1: "vm1"})
    fabric.set_vifs({port.id: VifLocation("br-a", 1, 1)})
    switch, channel = _connected()
    programmer = Programmer(service, fabric, compiler.Options(), generation=1)
    programmer.switch_connected(channel)
    revision = service.snapshot().revision

    programmer._pass({1: channel})

    assert any(match and dict(match).get("in_port") == 1 for _, _, match in switch.flows)
    after = service.get_port(ALICE, port.id)
    assert (after.status, after.vif_host, after.revision_number) == ("DOWN", "", 1)
    assert service.snapshot().revision == revision


def test_a_failing_write_is_not_retried_faster_under_a_stream_of_changes(lab, monkeypatch):
    attempts = []

    def failing(bindings, only=None):
        attempts.append(time.monotonic())
        raise RuntimeError("database is locked")

    monkeypatch.setattr(lab.service, "update_port_bindings", failing)
    lab.app.start()
    deadline = time.monotonic() + 6 * lab.app.RETRY
    while time.monotonic() < deadline:
        lab.app.changed()
        time.sleep(0.005)
    assert 2 <= len(attempts) <= 8
    assert all(b - a >= lab.app.RETRY for a, b in itertools.pairwise(attempts))


def test_a_pass_measures_how_long_a_plugged_vif_waited_for_its_flows(memory_service):
    """naas_vif_programmed_seconds: once per VIF plugged (or moved), from its OVSDB report to
    the end of the pass that programmed it; a VIF of no port is no port coming up."""
    from naas_sdn.apps import metrics

    def observed():
        return metrics.REGISTRY.get_sample_value("naas_vif_programmed_seconds_count") or 0.0

    service = memory_service
    net = service.create_network(ALICE, {})
    port = service.create_port(ALICE, {"network_id": net.id})
    now = [100.0]
    fabric = FabricState(link_timeout=10.0, on_change=lambda: None, clock=lambda: now[0])
    fabric.switch_connected(1, {1: "vm1"})
    _switch, channel = _connected()
    programmer = Programmer(service, fabric, compiler.Options(), generation=1)
    programmer.switch_connected(channel)
    before = observed()
    fabric.set_vifs({port.id: VifLocation("br-a", 1, 1), "no-port": VifLocation("br-a", 1, 2)})
    programmer._pass({1: channel})
    assert observed() == before + 1
    programmer._pass({1: channel})  # nothing came since
    fabric.set_vifs({port.id: VifLocation("br-a", 1, 1)})  # the other VIF went: no port came
    programmer._pass({1: channel})
    assert observed() == before + 1
    fabric.set_vifs({port.id: VifLocation("br-a", 1, 3)})  # moved
    programmer._pass({1: channel})
    assert observed() == before + 2
