"""The core resources — networks, subnets and ports — declared like every other slice, with
their relational rules, and the attributes the security rules add to them. Always loaded: the
``core`` plugin serves them."""

from . import networks, port_security, ports, subnets

__all__ = ["networks", "port_security", "ports", "subnets"]
