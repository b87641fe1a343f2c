"""Get me a network: Neutron's ``auto-allocated-topology`` extension
(/v2.0/auto-allocated-topology/{project_id}).

The first GET for a project builds what a tenant needs to reach the world — a network
``auto_allocated_network`` with a subnet from each default subnet pool (IPv4, IPv6) and a
router ``auto_allocated_router`` with its gateway on the default external network
(``is_default: true``) and an interface on each subnet — and answers the network's id; later
GETs answer the same network. ``?fields=dry-run`` only checks that it could be built. DELETE
takes it down again. Unlike Neutron, which builds it step by step and cleans up after a
failure, it is built (and deleted) in one transaction: all or nothing.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import String

from naas_sdn.features.networking import networks, subnetpools
from naas_sdn.model import db, derived, errors, hooks, schema
from naas_sdn.model.common import Context
from naas_sdn.model.schema import field
from naas_sdn.model.store import Transaction

from .interfaces import add_interface, remove_interface
from .resource import GATEWAY_INFO

NETWORK_NAME, ROUTER_NAME = "auto_allocated_network", "auto_allocated_router"
DRY_RUN = "dry-run"  # the ``fields`` value that only checks
TOPOLOGIES = "auto_allocated_topologies"


@dataclasses.dataclass(frozen=True, kw_only=True)
class AutoAllocatedTopology(schema.Bare):
    """A project's auto-allocated network and router; ``id`` is the project's id."""

    id: str = field(String(db.PROJECT_LEN), primary_key=True)
    network_id: str = field(
        String(db.UUID_LEN), foreign_key="networks.id", on_delete="CASCADE", index=True
    )
    router_id: str | None = field(String(db.UUID_LEN), nullable=True)


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the API shows: the network's id, or ``dry-run=pass``, and the project."""

    id: str
    project_id: str


TOPOLOGY = schema.declare(
    schema.Resource(
        AutoAllocatedTopology,
        TOPOLOGIES,
        "auto_allocated_topology",
        prepare=lambda txn, ctx, attrs: {"id": attrs["id"]},
        # the network goes, the topology with it: the next GET builds a new one
        parent=schema.Parent("networks", "network_id"),
        not_found=lambda project_id: errors.ResourceNotFound(),
    )
)


def _project(ctx: Context, project_id: str) -> str:
    """Neutron's _validate: ``None`` is the caller's project; another project's is for
    admins only."""
    if project_id == "None":
        project_id = ctx.project_id
    if not ctx.is_admin and project_id != ctx.project_id:
        raise errors.NotAuthorized()
    return project_id


def _default_external_network(txn: Transaction) -> str:
    net = networks.default_external_network(txn)
    if net is None:
        raise errors.AutoAllocationFailure(reason="No default router:external network")
    return net.id


def _default_pools(txn: Transaction, ctx: Context) -> list:
    pools = [subnetpools.default_pool(txn, ctx, version) for version in (4, 6)]
    found = [pool for pool in pools if pool is not None]
    if not found:
        raise errors.AutoAllocationFailure(reason="No default subnetpools defined")
    return found


def _build(txn: Transaction, ctx: Context, project_id: str) -> str:
    external = _default_external_network(txn)
    pools = _default_pools(txn, ctx)
    try:
        net = txn.create(
            "networks", ctx, {"name": NETWORK_NAME, "project_id": project_id, "shared": False}
        )
        subnets = [
            txn.create(
                "subnets",
                ctx,
                {
                    "name": f"auto_allocated_subnet_v{pool.ip_version}",
                    "network_id": net.id,
                    "project_id": project_id,
                    "ip_version": pool.ip_version,
                    "subnetpool_id": pool.id,
                },
            )
            for pool in pools
        ]
    except (errors.BadRequest, errors.NotFound, errors.Conflict) as exc:
        raise errors.AutoAllocationFailure(
            reason="Unable to provide project private network"
        ) from exc
    try:
        router = txn.create(
            "routers",
            ctx,
            {
                "name": ROUTER_NAME,
                "project_id": project_id,
                GATEWAY_INFO: {"network_id": external},
            },
        )
        for subnet in subnets:
            add_interface(txn, ctx, txn.get("routers", router.id), {"subnet_id": subnet.id})
    except (errors.BadRequest, errors.NotFound, errors.Conflict) as exc:
        raise errors.AutoAllocationFailure(
            reason="Unable to provide external connectivity"
        ) from exc
    txn.create(TOPOLOGIES, ctx, {"id": project_id, "network_id": net.id, "router_id": router.id})
    # Neutron's internal creates skip quotas; a project's own network stays within them
    for name in ("network", "subnet", "router"):
        txn.service.enforce_quota(txn.conn, name, [project_id])
    return net.id


def get_topology(service, ctx: Context, project_id: str, fields: list[str]) -> Answer:
    """The project's auto-allocated network, built on first use; with ``fields=dry-run``,
    only whether it could be."""
    project_id = _project(ctx, project_id)

    def work(conn, changes) -> Answer:
        txn = Transaction(conn, changes, service, ctx)
        if DRY_RUN in fields:
            _default_external_network(txn)
            _default_pools(txn, ctx)
            return Answer(id="dry-run=pass", project_id=project_id)
        topology = txn.get(TOPOLOGIES, project_id)
        if topology is not None:
            return Answer(id=topology.network_id, project_id=project_id)
        return Answer(id=_build(txn, ctx, project_id), project_id=project_id)

    if fields and DRY_RUN not in fields:
        raise errors.BadRequest(resource="auto_allocate", msg="Unrecognized field")
    built = service.records(TOPOLOGIES).get(project_id)  # read once: a DELETE may commit
    if not fields and built is not None:
        return Answer(id=built.network_id, project_id=project_id)
    return service.write(work)


def peek_topology(service, ctx: Context, project_id: str) -> Answer:
    """The project's topology as it is, built or not (what a DELETE is authorized on)."""
    project_id = _project(ctx, project_id)
    topology = service.records(TOPOLOGIES).get(project_id)
    return Answer(id=topology.network_id if topology else "", project_id=project_id)


def delete_topology(service, ctx: Context, project_id: str) -> None:
    """The router (its interfaces and gateway) and the network go, in one transaction; a
    network with other ports on it stays (409 ``NetworkInUse``), as in Neutron."""
    project_id = _project(ctx, project_id)

    def work(conn, changes) -> None:
        txn = Transaction(conn, changes, service, ctx)
        topology = txn.get(TOPOLOGIES, project_id)
        if topology is None:
            return
        net = txn.get("networks", topology.network_id)
        router = txn.get("routers", topology.router_id) if topology.router_id else None
        if router is not None:
            for subnet_id in net.subnets:
                try:
                    remove_interface(
                        txn, ctx, txn.get("routers", router.id), {"subnet_id": subnet_id}
                    )
                except errors.NotFound:
                    continue  # the tenant took that interface away already
            txn.delete("routers", [txn.get("routers", router.id)])
        txn.delete("networks", [net])

    service.write(work)


# the topologies by their router
_BY_ROUTER = derived.Grouped(TOPOLOGIES, keys=lambda t: (t.router_id,) if t.router_id else ())


def _router_going(txn: Transaction, router) -> None:
    """A topology's router deleted by hand: the topology keeps its network only."""
    for topology in _BY_ROUTER.in_transaction(txn, router.id).values():
        txn.save(TOPOLOGIES, topology, {"router_id": None})


hooks.attach("routers", "before_delete", _router_going)
