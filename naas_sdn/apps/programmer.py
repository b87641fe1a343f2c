"""Converges every switch to the compiler's desired state: diff, then one atomic bundle.

One worker thread. Any model or fabric change marks switches dirty; the worker compiles once
and sends each switch only the difference from what it holds, so one API change costs
flow-mods in proportion to what it changes, not to the size of the model. On (re)connect the
switch's own tables are read first (flows carrying our cookie, groups, meters), so a
controller restart leaves correct flows untouched and removes only stale ones of ours. It
only reads the model: ports are bound to their VIFs by the binding app (apps/binding.py).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping

from os_ken.ofproto import ofproto_v1_3 as ofproto
from os_ken.ofproto import ofproto_v1_3_parser as parser

from naas_sdn.apps import codec, metrics
from naas_sdn.apps.channel import BundleRejected, Channel, MetersRejected, SwitchError
from naas_sdn.flows import compiler, ofp
from naas_sdn.flows.compilation import Compilation
from naas_sdn.flows.incremental import IncrementalInputs
from naas_sdn.flows.layout import (
    MAX_GROUP_ID,
    PACKET_IN_METER,
    PORT_METER_BASE,
    identity,
    owner_of,
    with_generation,
)

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Plan:
    """What one switch must be sent to go from installed to desired."""

    flow_adds: list
    flow_deletes: list
    group_adds: list
    group_modifies: list
    group_deletes: list
    meter_adds: list
    meter_modifies: list
    meter_deletes: list = dataclasses.field(default_factory=list)

    def __bool__(self):
        return any(dataclasses.astuple(self))

    def summary(self) -> str:
        return (
            f"flows +{len(self.flow_adds)} -{len(self.flow_deletes)}, groups "
            f"+{len(self.group_adds)} ~{len(self.group_modifies)} -{len(self.group_deletes)}"
            f", meters +{len(self.meter_adds)} ~{len(self.meter_modifies)}"
            f" -{len(self.meter_deletes)}"
        )


def wire_order(flow: ofp.Flow) -> tuple:
    """A total order of flows, so a bundle is the same for the same plan. Not the flow's key:
    a masked match value is a (value, mask) tuple, an exact one a string or a number, and
    the two do not compare; their reprs do."""
    return (flow.table, flow.priority, repr(flow.match))


def plan(desired: ofp.SwitchState, installed: ofp.SwitchState) -> Plan:
    """The difference, owner by owner: an owner whose flows are the same object (the
    compiler memoizes them) costs nothing, so a pass is cheap however large the model."""
    flow_adds: list[ofp.Flow] = []
    flow_deletes: list[ofp.Flow] = []
    empty: frozenset[ofp.Flow] = frozenset()
    owners = _changed_owners(desired, installed)
    for owner in owners:
        want = desired.parts.get(owner)
        have = installed.parts.get(owner, empty)
        if want is None:
            flow_deletes += have  # an owner gone: all its flows go
            continue
        if have is want:
            continue
        have_index = {f.key: f for f in have}
        want_index = {f.key: f for f in want}
        flow_adds += [
            f for k, f in want_index.items() if k not in have_index or have_index[k].body != f.body
        ]
        flow_deletes += [f for k, f in have_index.items() if k not in want_index]
    added = {f.key for f in flow_adds}  # an entry moving between owners is simply replaced
    flow_deletes = [f for f in flow_deletes if f.key not in added]
    groups = _group_plan(desired.groups, installed.groups)
    meters = _meter_plan(desired.meters, installed.meters)
    return Plan(
        sorted(flow_adds, key=wire_order), sorted(flow_deletes, key=wire_order), *groups, *meters
    )


def _group_plan(desired: frozenset, installed: frozenset) -> tuple[list, list, list]:
    """Groups to add, modify and delete; nothing to look at when they are the same set."""
    if desired is installed:
        return [], [], []
    have = {g.group_id: g for g in installed}
    want = {g.group_id: g for g in desired}
    return (
        [g for i, g in sorted(want.items()) if i not in have],
        [g for i, g in sorted(want.items()) if i in have and have[i] != g],
        [g for i, g in sorted(have.items()) if i not in want],
    )


def _meter_plan(desired: frozenset, installed: frozenset) -> tuple[list, list, list]:
    """Meters to add, modify and delete, the same way."""
    if desired is installed:
        return [], [], []
    have = {m.meter_id: m for m in installed}
    wanted = {m.meter_id for m in desired}
    return (
        [m for m in desired if m.meter_id not in have],
        [m for m in desired if m.meter_id in have and have[m.meter_id] != m],
        sorted((m for i, m in have.items() if i not in wanted), key=lambda m: m.meter_id),
    )


def _changed_owners(desired: ofp.SwitchState, installed: ofp.SwitchState):
    """The owners a plan must look at: those the compilation says changed, when ``desired``
    follows the very state installed; else every owner of either."""
    if desired.since is not None:
        previous, owners = desired.since
        if previous() is installed:
            return owners
    return desired.parts.keys() | installed.parts.keys()


class Programmer:
    COALESCE = 0.002  # seconds a pass in a burst waits for more changes; bounds added latency
    QUIET = 0.05  # seconds with no pass after which a change is programmed at once

    def __init__(
        self,
        model_source,
        fabric_state,
        options: compiler.Options,
        generation: int,
        ready=lambda: True,
        settle: float = 3.0,
        may_program=lambda dpid: True,
        compiled=lambda model, fabric, states, changes: None,
    ):
        self._model = model_source
        # whether this process is still the switch's master (several processes: a lease)
        self._may_program = may_program
        # told each pass's model, fabric, desired states and the model's changes (the
        # revision they follow, and collection -> ids, or None: all): what traces read
        self._compiled = compiled
        self._fabric = fabric_state
        self._options = options
        self._generation = generation
        self._ready = ready
        self._settle = settle
        self._channels: dict[int, Channel] = {}
        # dpid -> SwitchState believed installed (None: read it)
        self._installed: dict[int, ofp.SwitchState | None] = {}
        self._wake = threading.Condition()
        self._dirty = False
        self._stop = False
        # dpid -> monotonic time of next attempt after a failure
        self._retry_at: dict[int, float] = {}
        # dpid -> {flow: reason} left out until a reconnect or resync; meters the same
        self._rejected: dict[int, dict[ofp.Flow, str]] = {}
        self._rejected_meters: dict[int, dict[ofp.Meter, str]] = {}
        self._filtered: dict[int, dict[int, tuple]] = {}  # dpid -> {owner: (flows, rejected, kept)}
        self._compile_failures: dict[int, dict[int, str]] = {}  # dpid -> {owner: error} reported
        self._kept = IncrementalInputs()  # the compiler's inputs, kept from pass to pass
        self._compilation = Compilation(options)  # every switch's desired state, the same
        self._revision: int | None = None  # the model revision they were derived from
        self._synced: dict[int, ofp.SwitchState] = {}  # dpid -> desired state it was synced to
        self._last_pass = float("-inf")  # monotonic time the last pass ended
        self._thread = threading.Thread(target=self._run, name="programmer", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        with self._wake:
            self._stop = True
            self._wake.notify()

    # -- events from below and above --------------------------------------------------------
    def switch_connected(self, channel):
        with self._wake:
            self._channels[channel.dpid] = channel
            self._installed[channel.dpid] = None
            self._forget_rejections(channel.dpid)
            self._dirty = True
            self._wake.notify()

    def switch_disconnected(self, dpid: int):
        with self._wake:
            self._channels.pop(dpid, None)
            self._installed.pop(dpid, None)
            self._retry_at.pop(dpid, None)
            self._forget_rejections(dpid)

    def changed(self, *_args):
        with self._wake:
            self._dirty = True
            self._wake.notify()

    def resync(self, dpid: int):
        """Forget what we believe a switch holds: the next pass reads its tables again."""
        with self._wake:
            if dpid in self._installed:
                self._installed[dpid] = None
                self._forget_rejections(dpid)
                self._dirty = True
                self._wake.notify()

    def _forget_rejections(self, dpid: int) -> None:
        """A switch reconnecting or resynchronised is given every flow again (under the
        lock)."""
        self._synced.pop(dpid, None)
        self._rejected.pop(dpid, None)
        self._rejected_meters.pop(dpid, None)
        self._filtered.pop(dpid, None)
        self._compile_failures.pop(dpid, None)

    def installed_flow_counts(self) -> dict[int, int]:
        """Flows believed installed on each switch whose tables have been read."""
        with self._wake:
            states = dict(self._installed)
        return {
            dpid: sum(len(part) for part in state.parts.values())
            for dpid, state in states.items()
            if state is not None
        }

    # -- worker -----------------------------------------------------------------------------
    def _run(self):
        while True:
            with self._wake:
                if not self._dirty and not self._stop:
                    self._wake.wait(timeout=1.0)
                if self._stop:
                    return
                due = self._dirty or any(
                    state is None or time.monotonic() >= self._retry_at.get(dpid, 0)
                    for dpid, state in self._installed.items()
                    if state is None or dpid in self._retry_at
                )
                self._dirty = False
                channels = dict(self._channels)
            if not due:
                continue
            # In a burst of changes (a pass ended moments ago), let more land before
            # compiling: one pass serves them all. A change after a quiet spell, such as a
            # VM plugged, goes at once.
            if time.monotonic() - self._last_pass < self.QUIET:
                time.sleep(self.COALESCE)
                with self._wake:
                    self._dirty = False
            try:
                self._pass(channels)
            except Exception:
                LOG.exception("programmer pass failed")
                time.sleep(0.5)
                self.changed()
            finally:
                self._last_pass = time.monotonic()

    def _pass(self, channels):
        if not self._ready():
            return  # switches wait with no state read; the 1 s tick comes back here
        if not channels:
            return
        started = time.monotonic()
        model, fabric, changes, (bound, routers, rules) = self._inputs()
        take_vif_times = getattr(self._fabric, "take_vif_times", None)
        vif_times = take_vif_times(fabric.vifs) if take_vif_times else {}
        try:
            states = self._compilation.update(
                sorted(channels), bound, fabric.topology, routers, rules, model.extra
            )
        except Exception:
            self._compilation = Compilation(self._options)  # left half advanced: start afresh
            raise
        try:
            self._compiled(model, fabric, states, changes)
        except Exception:  # what traces read must never keep the switches from their flows
            LOG.exception("publishing the compiled states to traces failed")
        connected = self._fabric.connected()
        # The switches of ports that came or changed go last: by the time a new VM's frames
        # enter the pipeline, every switch already leads back to it (its address answers,
        # lookups on the way, flooding toward it), so its first exchange is not lost. Within
        # each wave the switches are programmed side by side: a change to a network on 20
        # switches waits for the slowest bundle, not for the sum of them.
        last = self._compilation.local_changes
        waves: tuple[list, list] = ([], [])
        for dpid, channel in sorted(channels.items()):
            if time.monotonic() < self._retry_at.get(dpid, 0):
                continue
            with self._wake:
                unchanged = self._installed.get(dpid) is not None and (
                    states[dpid] is self._synced.get(dpid)
                )
            if not unchanged:
                waves[dpid in last].append((dpid, channel))
        for wave in waves:
            if len(wave) == 1:
                self._sync_switch(wave[0], states, connected)
            elif wave:
                _side_by_side(
                    [lambda item=item: self._sync_switch(item, states, connected) for item in wave]
                )
        done = time.monotonic()
        if any(waves):
            metrics.PASS_SECONDS.observe(done - started)
        for port_id, seen in vif_times.items():
            if port_id in model.ports:
                metrics.VIF_PROGRAMMED_SECONDS.observe(max(0.0, done - seen))

    def _sync_switch(self, switch: tuple, states: Mapping, connected: Mapping) -> None:
        """Bring one switch (dpid, channel) to its desired state; a switch that fails is read
        again and retried a second later."""
        dpid, channel = switch
        if not self._may_program(dpid):
            return  # its lease ran out: stepping down, or already another's
        self._retry_at.pop(dpid, None)
        desired = states[dpid]
        self._report_compile_failures(dpid, desired.failed)
        try:
            self._sync(channel, desired, connected.get(dpid))
        except SwitchError as error:
            LOG.warning("switch %016x: %s; will read its tables and retry", dpid, error)
            metrics.SYNC_FAILURES.inc()
            with self._wake:
                if dpid in self._installed:
                    self._installed[dpid] = None
                self._retry_at[dpid] = time.monotonic() + 1.0

    def _inputs(self) -> tuple:
        """The model, the fabric, its changes (the revision they follow, and what changed
        since) and the pass's inputs, advanced from the last pass's by the
        views that changed since (a model source without ``snapshot_since`` is derived
        afresh every pass)."""
        since = getattr(self._model, "snapshot_since", None)
        base = self._revision
        model, changed = since(base) if since else (self._model.snapshot(), None)
        fabric = self._fabric.snapshot()
        try:
            inputs = self._kept.update(model, fabric, changed)
        except Exception:
            self._revision = None  # left half advanced: derive all afresh next time
            raise
        self._revision = model.revision
        return model, fabric, (base, changed), inputs

    def _sync(self, channel, desired: ofp.SwitchState, connected_at):
        dpid = channel.dpid
        installed = self._installed.get(dpid)
        first = installed is None
        if installed is None:
            installed = self.read_switch(channel)
            ours = bool(installed.parts)
            # Existing flows of ours: wait until link discovery has had its chance, so that
            # a restart never tears down inter-switch forwarding it has not re-learnt yet.
            if ours and connected_at is not None and time.monotonic() - connected_at < self._settle:
                with self._wake:
                    self._retry_at[dpid] = connected_at + self._settle
                return
        self._forget_rejected_undesired(dpid, desired)
        wanted = self._without_rejected(dpid, desired)
        # The compilation hands an unchanged switch the state it holds: nothing to diff.
        todo = plan(wanted, installed) if wanted is not installed else None
        if todo:
            todo = self._apply(channel, desired, installed, todo)
            # Every change touches a few switches: its updates are for debugging, a resync
            # (a switch connected or read back) is news for the operator.
            LOG.log(
                logging.INFO if first else logging.DEBUG,
                "switch %016x %s: %s",
                dpid,
                "resync" if first else "update",
                todo.summary(),
            )
        elif first:
            LOG.info("switch %016x resync: already correct (%d flows)", dpid, len(desired.flows))
        with self._wake:
            if dpid in self._channels:  # what the switch refused while applying is left out
                self._installed[dpid] = self._without_rejected(dpid, desired)
                self._synced[dpid] = desired
        metrics.SWITCH_SYNCS.labels(kind="full" if first else "update").inc()

    def read_switch(self, channel) -> ofp.SwitchState:
        dp = channel.datapath
        stats = channel.request(
            parser.OFPFlowStatsRequest(
                dp,
                0,
                ofproto.OFPTT_ALL,
                ofproto.OFPP_ANY,
                ofproto.OFPG_ANY,
                codec.OURS_COOKIE,
                codec.COOKIE_MAGIC_MASK,
                parser.OFPMatch(),
            )
        )
        flows = [codec.parse_flow(s) for s in stats]
        groups = channel.request(parser.OFPGroupDescStatsRequest(dp, 0))
        meters = channel.request(parser.OFPMeterConfigStatsRequest(dp, 0, ofproto.OFPM_ALL))
        return ofp.SwitchState.from_flows(
            flows,
            [codec.parse_group(g, {}) for g in groups if 0 < g.group_id <= MAX_GROUP_ID],
            [
                codec.parse_meter(m)
                for m in meters
                if m.meter_id == PACKET_IN_METER or m.meter_id >= PORT_METER_BASE
            ],
        )

    def _apply(
        self, channel, desired: ofp.SwitchState, installed: ofp.SwitchState, todo: Plan
    ) -> Plan:
        """Send a plan. What os-ken cannot encode or the switch refuses is left out (see
        :meth:`_reject`) and the rest planned anew and sent again at once. Returns the plan
        that was applied."""
        dp, dpid = channel.datapath, channel.dpid

        def replan():
            return plan(self._without_rejected(dpid, desired), installed)

        # Meters cannot ride in an OVS bundle: they go in the same write, ahead of the adds
        # that use them, with the first bundle (fenced alone if there is none).
        meters = todo.meter_adds + todo.meter_modifies
        meter_msgs = [codec.meter_mod(dp, m, "add") for m in todo.meter_adds] + [
            codec.meter_mod(dp, m, "modify") for m in todo.meter_modifies
        ]
        pending = meter_msgs

        def reject_meters(rejections):
            self._reject_meters(
                dpid, desired, {meters[r.index]: (r.reason, r.detail) for r in rejections}
            )

        while True:
            adds, unencodable = self._flow_adds(dp, todo.flow_adds)
            if unencodable:
                self._reject(dpid, unencodable)
                todo = replan()
                continue
            before = (
                [codec.group_mod(dp, g, "add") for g in todo.group_adds]
                + [codec.group_mod(dp, g, "modify") for g in todo.group_modifies]
                + [codec.flow_delete(dp, f) for f in todo.flow_deletes]
            )
            msgs = before + adds + [codec.group_mod(dp, g, "delete") for g in todo.group_deletes]
            if not msgs:
                if not pending:
                    break
                rejected, pending = channel.send_fenced(pending), []
                if not rejected:
                    break
                reject_meters(rejected)  # and what used them: planned anew
                todo = replan()
                continue
            sending, pending = pending, []  # taken by the switch unless it says otherwise
            try:
                channel.bundle(msgs, meters=sending)
                break
            except MetersRejected as error:
                reject_meters(error.rejections)
                todo = replan()
            except BundleRejected as error:
                flows = {}
                for rejection in error.rejections:
                    if not len(before) <= rejection.index < len(before) + len(adds):
                        raise  # not a flow of one owner: the whole switch is retried
                    flows[todo.flow_adds[rejection.index - len(before)]] = (
                        rejection.reason,
                        rejection.detail,
                    )
                self._reject(dpid, flows)
                todo = replan()
        # After the bundle: no flow refers to these meters any more.
        if todo.meter_deletes:
            for rejection in channel.send_fenced(
                [codec.meter_mod(dp, m, "delete") for m in todo.meter_deletes]
            ):
                LOG.warning(
                    "switch %016x: meter %#x not deleted: %s %s",
                    dpid,
                    todo.meter_deletes[rejection.index].meter_id,
                    rejection.reason,
                    rejection.detail,
                )
        metrics.FLOW_MODS.inc(len(todo.flow_adds) + len(todo.flow_deletes))
        metrics.GROUP_MODS.inc(
            len(todo.group_adds) + len(todo.group_modifies) + len(todo.group_deletes)
        )
        metrics.METER_MODS.inc(len(meter_msgs) + len(todo.meter_deletes))
        return todo

    def _flow_adds(self, dp, flows) -> tuple[list, dict]:
        """The flow-mods of ``flows``, and the flows whose message cannot be built."""
        msgs, unencodable = [], {}
        for f in flows:
            try:
                msgs.append(codec.flow_add(dp, f, with_generation(f.cookie, self._generation)))
            except Exception as error:
                unencodable[f] = ("encode", f"{type(error).__name__}: {error}")
        return msgs, unencodable

    # -- flows left out ---------------------------------------------------------------------
    def _reject(self, dpid: int, flows: dict) -> None:
        """Leave flows out of the switch until it reconnects or is resynchronised: one
        owner's bad flow must never stop the programming of everyone else's.

        Args:
            flows: flow -> (reason, detail), reason "encode" or "refused".
        """
        with self._wake:
            rejected = self._rejected.setdefault(dpid, {})
            for f, (reason, detail) in flows.items():
                rejected[f] = reason
                LOG.error(
                    "switch %016x: flow of %s left out (%s: %s): table=%d priority=%d "
                    "match=%s instructions=%s",
                    dpid,
                    _owner_name(f.cookie),
                    reason,
                    detail,
                    f.table,
                    f.priority,
                    f.match,
                    f.instructions,
                )
                metrics.FLOWS_REJECTED.labels(reason=reason).inc()

    def _reject_meters(self, dpid: int, desired: ofp.SwitchState, meters: dict) -> None:
        """Leave out meters the switch did not take (a QoS limit of 0 kbps is refused),
        and with them the flows that use them: the switch would refuse those too, or lose
        them when such a meter is deleted."""
        reasons = {m.meter_id: reason for m, (reason, _) in meters.items()}
        with self._wake:
            rejected = self._rejected_meters.setdefault(dpid, {})
            for meter, (reason, detail) in meters.items():
                rejected[meter] = reason
                LOG.error(
                    "switch %016x: meter %#x (rate %d) left out (%s: %s), and the flows using it",
                    dpid,
                    meter.meter_id,
                    meter.rate,
                    reason,
                    detail,
                )
        self._reject(
            dpid,
            {
                f: (reasons[i[1]], f"uses meter {i[1]:#x}, which was left out")
                for f in desired.flows
                for i in f.instructions
                if i[0] == "meter" and i[1] in reasons
            },
        )

    def _forget_rejected_undesired(self, dpid: int, desired: ofp.SwitchState) -> None:
        """A rejected flow the compiler no longer asks for is forgotten: should it come
        back, it is tried again."""
        with self._wake:
            rejected = self._rejected.get(dpid)
            if rejected:
                self._rejected[dpid] = {
                    f: reason
                    for f, reason in rejected.items()
                    if f in desired.parts.get(identity(f.cookie), ())
                }
            if self._rejected_meters.get(dpid):
                self._rejected_meters[dpid] = {
                    m: reason
                    for m, reason in self._rejected_meters[dpid].items()
                    if m in desired.meters
                }

    def _without_rejected(self, dpid: int, desired: ofp.SwitchState) -> ofp.SwitchState:
        """The desired state less the flows left out. An owner's filtered flows are kept
        while its flows and rejections stay the same, so :func:`plan` still skips it by
        identity on every later pass."""
        with self._wake:
            rejected = dict(self._rejected.get(dpid, {}))
            meters = frozenset(self._rejected_meters.get(dpid, ()))
        if meters:
            desired = dataclasses.replace(desired, meters=desired.meters - meters)
        if not rejected:
            return desired
        by_owner: dict[int, set] = {}
        for f in rejected:
            by_owner.setdefault(identity(f.cookie), set()).add(f)
        cache = self._filtered.setdefault(dpid, {})
        parts = dict(desired.parts)
        for owner, rejected_flows in by_owner.items():
            part = parts.get(owner)
            if part is None:
                continue
            bad = frozenset(rejected_flows)
            kept = cache.get(owner)
            if kept is None or kept[0] is not part or kept[1] != bad:
                kept = cache[owner] = (part, bad, part - bad)
            parts[owner] = kept[2]
        return dataclasses.replace(desired, parts=parts)

    def _report_compile_failures(self, dpid: int, failed: Mapping[int, str]) -> None:
        """Log and count, once while it lasts, each owner the compiler could not build
        flows for; the switch is programmed without them."""
        with self._wake:
            known = self._compile_failures.get(dpid, {})
            self._compile_failures[dpid] = dict(failed)
        for owner, error in failed.items():
            if known.get(owner) != error:
                LOG.error(
                    "switch %016x: flows of %s not compiled, left out: %s",
                    dpid,
                    _owner_name(owner),
                    error,
                )
                metrics.FLOWS_REJECTED.labels(reason="compile").inc()


def _side_by_side(calls: list) -> None:
    """Run ``calls`` each on a thread of its own and wait for all; the first exception one
    raised is raised here. Daemon threads: a switch that hangs never holds up a shutdown."""
    errors: list[BaseException] = []

    def run(call):
        try:
            call()
        except BaseException as error:  # handed to the pass, which logs and retries
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(call,), name="programmer-sync", daemon=True)
        for call in calls
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _owner_name(value: int) -> str:
    """The owner a cookie names, kind and key, for the log: "port 12", "acl 0"."""
    owner = owner_of(value)
    return f"{owner[0].name.lower()} {owner[1]}" if owner else f"cookie {value:#x}"
