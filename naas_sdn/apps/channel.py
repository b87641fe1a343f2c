"""Request/reply over one switch connection: xid -> waiter, errors included, with timeouts.

os-ken's ``send_msg`` is fire-and-forget and ``ofctl.api`` has no timeout; the programmer needs
to know, for each message it sends, whether the switch refused it, and must never hang on a
dead switch. Replies are delivered here by the OpenFlow app's handlers (wire order).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import queue
import threading

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

_XIDS = itertools.count(0x40000000)
_XID_LOCK = threading.Lock()


class SwitchError(Exception):
    """The switch refused a message, or did not answer in time."""


@dataclasses.dataclass(frozen=True)
class Rejection:
    """One message a switch did not take: os-ken could not ``encode`` it, or the switch
    ``refused`` it (detail: the error's type and code)."""

    index: int  # position of the message in what was sent
    reason: str
    detail: str


class MetersRejected(SwitchError):
    """Some meter-mods sent before a bundle were not taken; the bundle was discarded, the
    other meter-mods took effect (meters are not part of a bundle)."""

    def __init__(self, dpid: int, rejections: list[Rejection]):
        self.rejections = sorted(rejections, key=lambda r: r.index)
        super().__init__(f"switch {dpid:016x} did not take {len(self.rejections)} meter-mod(s)")


class BundleRejected(SwitchError):
    """Some messages of a bundle were not taken; the bundle was discarded, none of it
    applied, so the rest can be sent again without them."""

    def __init__(self, dpid: int, rejections: list[Rejection]):
        self.rejections = sorted(rejections, key=lambda r: r.index)
        first = self.rejections[0]
        super().__init__(
            f"switch {dpid:016x} did not take {len(self.rejections)} message(s) "
            f"of a bundle, first #{first.index}: {first.reason} {first.detail}"
        )


class Replies(list):
    """The bodies of a multipart reply, with its size on the wire and the arrival number of
    its last part (see :meth:`Channel.deliver`)."""

    wire_bytes = 0
    arrival = 0


class Together(parser.MsgBase):
    """Messages already serialized, sent in one write: os-ken's ``send_msg`` hands each
    message to the connection's send thread on its own (a queue put, a thread switch under
    the GIL, a ``sendall``), which for a bundle of dozens of flow-mods to 20 switches at once
    added up to more than the switch took to apply them."""

    def __init__(self, datapath, messages):
        super().__init__(datapath)
        self.messages = messages
        self.xid = 0  # each message has its own: send_msg must not number this one

    def serialize(self):
        self.buf = b"".join(msg.buf for msg in self.messages)


def _next_xid() -> int:
    with _XID_LOCK:
        return next(_XIDS) & 0xFFFFFFFF


class Channel:
    def __init__(self, datapath, timeout: float = 10.0):
        self.datapath = datapath
        self.timeout = timeout
        self._waiters: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self._arrivals = itertools.count(1)
        self._removed: list = []  # flow-removed messages not yet taken, in arrival order
        self.closed = False

    @property
    def dpid(self) -> int:
        return self.datapath.id

    def close(self):
        self.closed = True
        with self._lock:
            waiters = list(self._waiters.values())
        for waiter in waiters:
            waiter.put(None)

    def deliver(self, msg) -> bool:
        """Called by the app for every reply or error; True if a waiter took it. Messages are
        numbered in wire order (``msg.arrival``), flow-removed ones included, so the statistics
        poller knows whether a flow was removed before or after a reply was taken."""
        with self._lock:
            msg.arrival = next(self._arrivals)
            waiter = self._waiters.get(msg.xid)
        if waiter is None:
            return False
        waiter.put(msg)
        return True

    def flow_removed(self, msg) -> None:
        with self._lock:
            msg.arrival = next(self._arrivals)
            self._removed.append(msg)

    def take_removed(self) -> list:
        """The flow-removed messages received since the last call, in arrival order."""
        with self._lock:
            taken, self._removed = self._removed, []
        return taken

    def _register(self, msg, waiter: queue.Queue) -> int:
        msg.xid = _next_xid()
        with self._lock:
            self._waiters[msg.xid] = waiter
        return msg.xid

    def _forget(self, *xids):
        with self._lock:
            for xid in xids:
                self._waiters.pop(xid, None)

    def _get(self, waiter: queue.Queue):
        try:
            msg = waiter.get(timeout=self.timeout)
        except queue.Empty:
            raise SwitchError(
                f"switch {self.dpid:016x} did not answer in {self.timeout}s"
            ) from None
        if msg is None:
            raise SwitchError(f"switch {self.dpid:016x} disconnected")
        return msg

    def send(self, msg) -> None:
        if self.closed:
            raise SwitchError(f"switch {self.dpid:016x} disconnected")
        self.datapath.send_msg(msg)

    def request(self, msg):
        """Send one request and return its reply; multipart replies are collected."""
        waiter: queue.Queue = queue.Queue()  # replies, or None when the switch goes
        xid = self._register(msg, waiter)
        try:
            self.send(msg)
            replies = Replies()
            while True:
                reply = self._get(waiter)
                if isinstance(reply, parser.OFPErrorMsg):
                    raise SwitchError(
                        f"switch {self.dpid:016x} refused {type(msg).__name__}: "
                        f"type={reply.type} code={reply.code}"
                    )
                if not isinstance(reply, parser.OFPMultipartReply):
                    return reply
                replies.extend(reply.body)
                replies.wire_bytes += reply.msg_len or 0
                replies.arrival = reply.arrival
                if not reply.flags & ofp.OFPMPF_REPLY_MORE:
                    return replies
        finally:
            self._forget(xid)

    def send_fenced(self, msgs) -> list[Rejection]:
        """Send messages then a barrier; return those os-ken could not encode or the switch
        refused, by their index in ``msgs``."""
        errors: queue.Queue = queue.Queue()
        xids = [self._register(m, errors) for m in msgs]
        try:
            with self._fenced() as barrier:
                unencodable = self._send_together(msgs, after=barrier)
            return sorted(unencodable + self._refused(errors, xids), key=lambda r: r.index)
        finally:
            self._forget(*xids)

    def bundle(self, msgs, meters=()) -> None:
        """Apply messages all-or-nothing: open, add, fence, check errors, commit or discard.

        OVS rejects a bad bundle-add but would commit the rest; checking the adds' errors
        behind a barrier before committing makes the bundle atomic for real. A message that
        cannot be encoded or that the switch refuses (when added, or when the commit tries
        it) raises :class:`BundleRejected` naming it, so the caller can leave it out.

        Two round trips, not three: the open goes out with the adds and the barrier, in one
        write, and its reply, which the switch sends before the barrier's, is checked after
        the fence. Under load (a change to 20 switches at once) each round trip is what a
        switch waits longest for. ``meters``, meter-mods the adds may use (OVS cannot bundle
        them), ride in the same write between the open and the adds, which the switch
        handles in order: one of them not taken raises :class:`MetersRejected` naming it
        (by its index in ``meters``) and commits nothing.
        """
        bundle_id = _next_xid()
        flags = ofp.ONF_BF_ATOMIC | ofp.ONF_BF_ORDERED
        opening = parser.ONFBundleCtrlMsg(
            self.datapath, bundle_id, ofp.ONF_BCT_OPEN_REQUEST, flags, []
        )
        opened: queue.Queue = queue.Queue()
        open_xid = self._register(opening, opened)
        adds = [parser.ONFBundleAddMsg(self.datapath, bundle_id, flags, m, []) for m in msgs]
        # the switch names a message failing at commit by its add's xid
        errors: queue.Queue = queue.Queue()
        xids = [self._register(add, errors) for add in adds]
        meter_errors: queue.Queue = queue.Queue()
        meter_xids = [self._register(m, meter_errors) for m in meters]
        try:
            try:
                with self._fenced() as barrier:
                    unencodable = self._send_together(
                        [*meters, *adds], before=[opening], after=barrier
                    )
                self._check_control(self._get(opened), ofp.ONF_BCT_OPEN_REQUEST)
                meters_rejected = [r for r in unencodable if r.index < len(meters)]
                meters_rejected += self._refused(meter_errors, meter_xids)
                rejected = [
                    dataclasses.replace(r, index=r.index - len(meters))
                    for r in unencodable
                    if r.index >= len(meters)
                ]
                rejected += self._refused(errors, xids)
            except SwitchError:
                self._discard(bundle_id)
                raise
            if meters_rejected:
                self._discard(bundle_id)
                raise MetersRejected(self.dpid, meters_rejected)
            if rejected:
                self._discard(bundle_id)
                raise BundleRejected(self.dpid, rejected)
            try:
                self._control(bundle_id, ofp.ONF_BCT_COMMIT_REQUEST, flags)
            except SwitchError:
                refused = self._refused(errors, xids)  # the commit tried it and undid all
                if refused:
                    raise BundleRejected(self.dpid, refused) from None
                raise
        finally:
            self._forget(open_xid, *xids, *meter_xids)

    def _send_together(self, msgs, before=(), after=()) -> list[Rejection]:
        """Send ``msgs`` between ``before`` and ``after`` in one write (one hand-over to the
        connection's send thread, not one per message). One os-ken cannot serialize is left
        out and returned instead, by its index in ``msgs``."""
        unencodable, ready = [], []
        for index, msg in enumerate(msgs):
            try:
                msg.serialize()
            except Exception as error:
                unencodable.append(Rejection(index, "encode", f"{type(error).__name__}: {error}"))
            else:
                ready.append(msg)
        for msg in (*before, *after):
            msg.serialize()
        self.send(Together(self.datapath, [*before, *ready, *after]))
        return unencodable

    @contextlib.contextmanager
    def _fenced(self):
        """A barrier for the caller to send last (as a one-message sequence); on leaving,
        wait until the switch has handled everything sent before it."""
        barrier = parser.OFPBarrierRequest(self.datapath)
        done: queue.Queue = queue.Queue()
        xid = self._register(barrier, done)
        try:
            yield [barrier]
            if isinstance(self._get(done), parser.OFPErrorMsg):
                raise SwitchError(f"switch {self.dpid:016x} refused a barrier")
        finally:
            self._forget(xid)

    def _refused(self, errors: queue.Queue, xids: list) -> list[Rejection]:
        """The errors the switch has sent so far for the messages with these xids."""
        index_of = {xid: index for index, xid in enumerate(xids)}
        found = []
        while not errors.empty():
            error = errors.get_nowait()
            if error is None:
                raise SwitchError(f"switch {self.dpid:016x} disconnected")
            found.append(
                Rejection(index_of[error.xid], "refused", f"type={error.type} code={error.code}")
            )
        return found

    def _control(self, bundle_id: int, kind: int, flags: int):
        reply = self.request(parser.ONFBundleCtrlMsg(self.datapath, bundle_id, kind, flags, []))
        self._check_control(reply, kind)

    def _check_control(self, reply, kind: int) -> None:
        """Raise unless ``reply`` is the switch's success answer to a bundle control of
        ``kind`` (an error, such as a refused open, is not)."""
        expected = {
            ofp.ONF_BCT_OPEN_REQUEST: ofp.ONF_BCT_OPEN_REPLY,
            ofp.ONF_BCT_COMMIT_REQUEST: ofp.ONF_BCT_COMMIT_REPLY,
            ofp.ONF_BCT_DISCARD_REQUEST: ofp.ONF_BCT_DISCARD_REPLY,
        }[kind]
        if isinstance(reply, parser.OFPErrorMsg):
            raise SwitchError(
                f"switch {self.dpid:016x} refused a bundle control: "
                f"type={reply.type} code={reply.code}"
            )
        if getattr(reply, "type", None) != expected:
            raise SwitchError(f"switch {self.dpid:016x}: unexpected bundle reply {reply!r}")

    def _discard(self, bundle_id: int):
        # the switch drops an uncommitted bundle when the connection ends anyway
        with contextlib.suppress(SwitchError):
            self._control(
                bundle_id, ofp.ONF_BCT_DISCARD_REQUEST, ofp.ONF_BF_ATOMIC | ofp.ONF_BF_ORDERED
            )
