"""Nova's port lifecycle: the events Neutron sends to Nova's external-events API.

Nova boots a VM on a port, binds the port to the compute host (``binding:host_id``), lets
os-vif plug the VM's interface with ``external_ids:iface-id``, and waits for the network
service to say the port is wired (``network-vif-plugged``) before it starts the VM. This
sends, for ports a compute service owns (``device_owner`` ``compute:*`` with a
``device_id``): ``network-vif-plugged`` when the port goes ACTIVE, ``network-vif-unplugged``
when it goes DOWN again, ``network-vif-deleted`` when it is deleted — as Neutron's
``neutron/notifiers/nova.py`` does, in batches every ``send_events_interval`` seconds.

Nova is found and called through keystoneauth with the ``[nova]`` section's options (an auth
plugin, a session and an adapter: ``auth_type = password`` and the catalog's ``compute``
endpoint, or ``auth_type = none`` with an ``endpoint_override``). Only the process that
committed a status change sends its event: a process following another's commits (several
processes on one PostgreSQL database) does not send them again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from oslo_config import cfg

if TYPE_CHECKING:
    from naas_sdn.model.service import Change

LOG = logging.getLogger(__name__)

GROUP = "nova"
OPTS = [
    cfg.BoolOpt(
        "notify_nova_on_port_status_changes",
        default=True,
        help="Send Nova network-vif-plugged/-unplugged/-deleted events for its ports "
        "(when the [nova] section names an auth_type).",
    ),
    cfg.FloatOpt(
        "send_events_interval",
        default=2.0,
        min=0.0,
        help="Seconds events wait to be sent to Nova together (Neutron's default).",
    ),
]
EVENTS_PATH = "/os-server-external-events"
PLUGGED, UNPLUGGED, DELETED = "network-vif-plugged", "network-vif-unplugged", "network-vif-deleted"
ATTEMPTS = 3  # a batch Nova did not take is tried again this many times, then dropped


def register_opts(conf: cfg.ConfigOpts) -> None:
    """``[DEFAULT]``'s two options and keystoneauth's ``[nova]`` ones, as Neutron's."""
    conf.register_opts(OPTS)
    try:
        from keystoneauth1 import loading
    except ImportError:  # without the keystone extra: no [nova] section to read
        return
    loading.register_auth_conf_options(conf, GROUP)
    loading.register_session_conf_options(conf, GROUP)
    loading.register_adapter_conf_options(conf, GROUP)
    conf.set_default("service_type", "compute", group=GROUP)


def notify(conf: cfg.ConfigOpts, service) -> Callable[[], None]:
    """Tell Nova of ``service``'s port changes if the operator configured a Nova; returns
    what stops it (sending what is pending first)."""
    notifier = NovaNotifier.from_conf(conf)
    if notifier is None:
        return lambda: None
    notifier.listen(service)
    LOG.info("Nova is told of its ports' changes")
    return notifier.stop


def events_of(changes: tuple[Change, ...]) -> list[dict]:
    """Nova's events for a commit's port changes (pure: what Neutron would send)."""
    events = []
    for change in changes:
        if change.collection != "ports" or change.followed:
            continue
        old, new = change.old, change.new
        port = new if new is not None else old
        if not port.device_id or not port.device_owner.startswith("compute:"):
            continue
        event = None
        if new is None:
            event = DELETED
        elif old is not None and old.status != new.status:
            if new.status == "ACTIVE":
                event = PLUGGED
            elif old.status == "ACTIVE":
                event = UNPLUGGED
        if event is not None:
            events.append(
                {
                    "name": event,
                    "server_uuid": port.device_id,
                    "tag": port.id,
                    "status": "completed",
                }
            )
    return events


class NovaNotifier:
    """Collects Nova's events from the model's commits and posts them on a thread of its own,
    never holding up a commit."""

    def __init__(self, adapter, interval: float):
        """``adapter``: a keystoneauth Adapter on Nova's compute API."""
        self._adapter = adapter
        self._interval = interval
        self._pending: list[dict] = []
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="nova-notifier", daemon=True)
        self.sent: list[dict] = []  # every event Nova took, oldest first (for operators' eyes)

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> NovaNotifier | None:
        """None when the operator configured no Nova to tell (``[nova] auth_type`` unset)."""
        if not conf.notify_nova_on_port_status_changes:
            return None
        try:
            from keystoneauth1 import loading
        except ImportError:
            return None
        if not conf[GROUP].auth_type:
            return None
        auth = loading.load_auth_from_conf_options(conf, GROUP)
        session = loading.load_session_from_conf_options(conf, GROUP, auth=auth)
        adapter = loading.load_adapter_from_conf_options(conf, GROUP, session=session, auth=auth)
        return cls(adapter, conf.send_events_interval)

    def listen(self, service) -> NovaNotifier:
        service.listen(self.changed)
        self._thread.start()
        return self

    def changed(self, _commit: int, changes: tuple[Change, ...]) -> None:
        events = events_of(changes)
        if events:
            with self._wake:
                self._pending.extend(events)
                self._wake.notify()

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is pending, then stop."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stop:
                    self._wake.wait()
                if not self._pending:
                    return
                if not self._stop:  # let a burst gather, as Neutron's batch notifier
                    self._wake.wait(self._interval)
                batch, self._pending = self._pending, []
            self._send(batch)

    def _send(self, batch: list[dict]) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                resp = self._adapter.post(
                    EVENTS_PATH,
                    json={"events": batch},
                    headers={"X-OpenStack-Nova-API-Version": "2.1"},
                    raise_exc=False,
                )
            except Exception as exc:  # Nova or Keystone unreachable
                LOG.warning("Nova events not sent (attempt %d): %s", attempt, exc)
            else:
                if resp.status_code in (200, 207):  # 207: some servers unknown to Nova
                    self._log_answer(batch, resp)
                    self.sent.extend(batch)
                    return
                LOG.warning(
                    "Nova answered %s to %d events (attempt %d): %s",
                    resp.status_code,
                    len(batch),
                    attempt,
                    resp.text[:200],
                )
                if resp.status_code < 500 and resp.status_code not in (401, 408, 429):
                    break  # not something trying again mends
            time.sleep(min(0.5 * 2**attempt, 5.0))
        LOG.error("dropped %d Nova events: %s", len(batch), [e["name"] for e in batch])

    @staticmethod
    def _log_answer(batch: list[dict], resp) -> None:
        try:
            answered = resp.json().get("events", [])
        except ValueError:
            answered = []
        for event in answered:
            if event.get("code") not in (None, 200):
                LOG.info(
                    "Nova did not take %s for server %s: %s",
                    event.get("name"),
                    event.get("server_uuid"),
                    event.get("code"),
                )
        LOG.info("sent %d events to Nova", len(batch))
