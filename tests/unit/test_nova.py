"""Nova's events from the model's port changes (naas_sdn/nova.py), without a Nova: which
changes make which event, batching, retries, and nothing sent for another process's commits."""

from __future__ import annotations

import dataclasses
import threading

from naas_sdn import nova
from naas_sdn.model.service import Change

VM = "6f1c1a2e-0000-4000-8000-000000000001"


@dataclasses.dataclass(frozen=True)
class PortRecord:
    id: str = "p1"
    device_id: str = VM
    device_owner: str = "compute:nova"
    status: str = "DOWN"


def change(old, new, followed=False) -> Change:
    return Change("ports", (old or new).id, old, new, followed)


def event(name: str, port_id: str = "p1") -> dict:
    return {"name": name, "server_uuid": VM, "tag": port_id, "status": "completed"}


def test_status_changes_of_compute_ports_are_nova_events():
    down, up = PortRecord(), PortRecord(status="ACTIVE")
    assert nova.events_of((change(down, up),)) == [event(nova.PLUGGED)]
    assert nova.events_of((change(up, down),)) == [event(nova.UNPLUGGED)]
    assert nova.events_of((change(up, None),)) == [event(nova.DELETED)]
    assert nova.events_of((change(None, down),)) == []  # a new port: nothing plugged yet
    assert nova.events_of((change(down, dataclasses.replace(down, device_id="x")),)) == []


def test_ports_nova_does_not_own_and_others_commits_send_nothing():
    down, up = PortRecord(), PortRecord(status="ACTIVE")
    router = dataclasses.replace
    assert (
        nova.events_of(
            (
                change(
                    router(down, device_owner="network:router_interface"),
                    router(up, device_owner="network:router_interface"),
                ),
            )
        )
        == []
    )
    assert nova.events_of((change(router(down, device_id=""), router(up, device_id="")),)) == []
    assert nova.events_of((change(down, up, followed=True),)) == []
    network = Change("networks", "n1", None, object())
    assert nova.events_of((network,)) == []


class FakeAdapter:
    """Nova's external-events API as keystoneauth's Adapter reaches it: answers in turn."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.posted: list[list[dict]] = []
        self.done = threading.Event()

    def post(self, path, json, headers, raise_exc):
        assert path == nova.EVENTS_PATH and raise_exc is False
        assert headers["X-OpenStack-Nova-API-Version"] == "2.1"
        self.posted.append(json["events"])
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        if answer == 200:
            self.done.set()
        return Answer(answer, {"events": [dict(e, code=200) for e in json["events"]]})


@dataclasses.dataclass
class Answer:
    status_code: int
    body: dict
    text: str = ""

    def json(self):
        return self.body


def test_a_burst_is_one_batch_and_a_failed_one_is_tried_again(monkeypatch):
    monkeypatch.setattr(nova.time, "sleep", lambda _s: None)
    adapter = FakeAdapter(ConnectionError("nova away"), 503, 200)
    notifier = nova.NovaNotifier(adapter, interval=0.05)
    notifier._thread.start()
    down, up = PortRecord(), PortRecord(status="ACTIVE")
    other_down, other_up = PortRecord(id="p2"), PortRecord(id="p2", status="ACTIVE")
    notifier.changed(1, (change(down, up),))
    notifier.changed(2, (change(other_down, other_up),))
    assert adapter.done.wait(5)
    notifier.stop()
    batch = [event(nova.PLUGGED), event(nova.PLUGGED, "p2")]
    assert adapter.posted == [batch, batch, batch]
    assert notifier.sent == batch


def test_a_batch_nova_refuses_for_good_is_dropped_and_stop_sends_what_is_pending(monkeypatch):
    monkeypatch.setattr(nova.time, "sleep", lambda _s: None)
    adapter = FakeAdapter(400)
    notifier = nova.NovaNotifier(adapter, interval=60.0)  # only stop() hurries it
    notifier._thread.start()
    notifier.changed(1, (change(PortRecord(), PortRecord(status="ACTIVE")),))
    notifier.stop()
    assert adapter.posted == [[event(nova.PLUGGED)]]  # a 400 is not tried again
    assert notifier.sent == []
