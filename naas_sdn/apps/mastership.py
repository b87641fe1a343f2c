"""One master per switch among the processes sharing a PostgreSQL database.

Every switch connects to every process (``ovs-vsctl set-controller br tcp:A tcp:B``). For
each, the process preferred by a rendezvous hash over the live processes connected to it
takes its lease (:mod:`naas_sdn.model.cluster`) and sends ``OFPT_ROLE_REQUEST`` MASTER with
the lease's epoch as ``generation_id``; every other process sends SLAVE. Only a master
programs the switch, answers its packet-ins, probes its ports and polls its counters: the
runtime is told ``became_master`` / ``became_slave``.

A master renews its lease every tick and stops acting as one on its own once the lease's
time has passed without a renewal (a process frozen or cut from the database); the switch
refuses it anyway once another has claimed a newer epoch (OFPRRFC_STALE, and OFPBRC_IS_SLAVE
for its flow mods). A dead master's switches are taken over once its lease expires; a
returning process gets back the switches the hash prefers it for, handed over at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from naas_sdn.apps import metrics
from naas_sdn.apps.channel import Channel, SwitchError
from naas_sdn.model.cluster import ClusterStore, Lease

LOG = logging.getLogger(__name__)

TICKS_PER_LEASE = 6  # renewals a lease sees before it would expire


def preferred(member_names, dpid: int) -> str:
    """The member a switch goes to: highest random weight, so a member's arrival or
    departure moves only its own share of the switches."""
    return max(
        member_names,
        key=lambda name: hashlib.blake2b(f"{name}/{dpid:016x}".encode(), digest_size=8).digest(),
    )


class Mastership:
    def __init__(
        self,
        store: ClusterStore,
        channels: Callable[[], Mapping[int, Channel]],
        became_master: Callable[[int, Channel], None],
        became_slave: Callable[[int], None],
    ):
        self._store = store
        self._channels = channels
        self._became_master = became_master
        self._became_slave = became_slave
        self._tick = store.lease_seconds / TICKS_PER_LEASE
        self._lock = threading.Lock()
        # dpid -> (epoch this process is master at, monotonic end of that lease)
        self._held: dict[int, tuple[int, float]] = {}
        self._slave_at: dict[int, int] = {}  # dpid -> epoch the switch made us SLAVE at
        self._healthy_since: dict[int, tuple[tuple[str, int], float]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mastership", daemon=True)

    # -- what the runtime asks -----------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        try:
            self._store.leave()  # the others take over at once, not a lease later
        except Exception as error:
            LOG.warning("could not give up the switches' leases: %s", error)

    def is_master(self, dpid: int) -> bool:
        """Whether this process may act on the switch now (its lease not yet run out)."""
        with self._lock:
            held = self._held.get(dpid)
        return held is not None and time.monotonic() < held[1]

    def connected(self, dpid: int) -> None:
        """A switch (re)connected: its connection is EQUAL until told otherwise, and a lease
        this process still holds is claimed again on it (at the same epoch)."""
        with self._lock:
            self._slave_at.pop(dpid, None)
        self._release(dpid)
        self._wake.set()

    def disconnected(self, dpid: int) -> None:
        with self._lock:
            self._slave_at.pop(dpid, None)
        self._release(dpid)

    def probing_since(self, dpid: int) -> float | None:
        """Since when (monotonic) the switch has had one master renewing its lease, so its
        ports are probed and its packet-ins read: when a fabric link's silence means it is
        gone (None: no such evidence now)."""
        with self._lock:
            found = self._healthy_since.get(dpid)
        return found[1] if found else None

    # -- the loop -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._round()
            except Exception as error:  # the database away: masters run out, others wait
                LOG.warning("mastership round failed: %s", error)
                self._expire_held()
            self._wake.wait(self._tick)
            self._wake.clear()

    def _round(self) -> None:
        channels = dict(self._channels())
        view = self._store.beat(channels)
        self._note_health(view.leases)
        me = self._store.member
        for dpid, channel in channels.items():
            candidates = {m for m, dps in view.members.items() if dpid in dps} | {me}
            lease = view.leases.get(dpid)
            if lease is not None and lease.holder == me and lease.remaining > 0:
                self._keep(dpid, channel, lease, preferred(candidates, dpid))
            elif lease is None or lease.remaining <= 0:
                self._step_down(dpid, channel, lease.epoch if lease else 0)
                if preferred(candidates, dpid) == me:
                    started = time.monotonic()
                    epoch = self._store.acquire(dpid)
                    if epoch is not None:
                        self._claim(dpid, channel, epoch, started)
            else:
                self._step_down(dpid, channel, lease.epoch)
        self._expire_held()

    def _keep(self, dpid: int, channel: Channel, lease: Lease, wanted: str) -> None:
        """A lease this process holds: hand it to the preferred member, or renew it (and
        claim the switch at its epoch, when the lease was just handed to us)."""
        if wanted != self._store.member:
            given = self._store.hand_over(dpid, lease.epoch, wanted)
            LOG.info("switch %016x handed over to %s", dpid, wanted)
            self._step_down(dpid, channel, given or lease.epoch)
            return
        started = time.monotonic()
        held = self._held.get(dpid)
        if held is None or held[0] != lease.epoch:
            self._claim(dpid, channel, lease.epoch, started)
        elif self._store.renew(dpid, lease.epoch):
            with self._lock:
                self._held[dpid] = (lease.epoch, started + self._store.lease_seconds)
        else:
            self._step_down(dpid, channel, lease.epoch)

    def _claim(self, dpid: int, channel: Channel, epoch: int, started: float) -> None:
        """Become master at ``epoch``: the switch first, then the runtime."""
        if not self._role(channel, ofp.OFPCR_ROLE_MASTER, epoch):
            return
        with self._lock:
            self._held[dpid] = (epoch, started + self._store.lease_seconds)
            self._slave_at.pop(dpid, None)
            count = len(self._held)
        LOG.info("master of switch %016x (epoch %d)", dpid, epoch)
        metrics.MASTERSHIPS.set(count)
        self._became_master(dpid, channel)

    def _step_down(self, dpid: int, channel: Channel, epoch: int) -> None:
        """Not master: the runtime stops acting first, then the switch is told SLAVE (at
        the newest epoch known, so a stale one is refused if ever sent again)."""
        if self._release(dpid):
            LOG.info("no longer master of switch %016x", dpid)
            self._became_slave(dpid)
        with self._lock:
            told = self._slave_at.get(dpid)
        if (told is None or told < epoch) and self._role(channel, ofp.OFPCR_ROLE_SLAVE, epoch):
            with self._lock:
                self._slave_at[dpid] = epoch

    def _expire_held(self) -> None:
        """Stop acting as master of switches whose lease ran out unrenewed."""
        now = time.monotonic()
        with self._lock:
            gone = [d for d, (_, until) in self._held.items() if now >= until]
        for dpid in gone:
            if self._release(dpid):
                LOG.warning("lease of switch %016x ran out unrenewed", dpid)
                self._became_slave(dpid)

    def _release(self, dpid: int) -> bool:
        """Forget the lease held on a switch (and count the rest); whether one was."""
        with self._lock:
            was = self._held.pop(dpid, None)
            count = len(self._held)
        metrics.MASTERSHIPS.set(count)
        return was is not None

    def _note_health(self, leases: Mapping[int, Lease]) -> None:
        """Track since when each switch's lease has been renewed by one holder at one epoch
        (a holder renews every tick: more than two ticks without is a holder in trouble)."""
        now = time.monotonic()
        healthy = self._store.lease_seconds - 2 * self._tick
        with self._lock:
            for dpid, lease in leases.items():
                key = (lease.holder, lease.epoch)
                before = self._healthy_since.get(dpid)
                if lease.remaining < healthy:
                    self._healthy_since.pop(dpid, None)
                elif before is None or before[0] != key:
                    self._healthy_since[dpid] = (key, now)

    def _role(self, channel: Channel, role: int, epoch: int) -> bool:
        try:
            channel.request(parser.OFPRoleRequest(channel.datapath, role, epoch))
            return True
        except SwitchError as error:  # OFPRRFC_STALE: another claimed a newer epoch
            LOG.info(
                "switch %016x refused role %d at epoch %d: %s", channel.dpid, role, epoch, error
            )
            return False
