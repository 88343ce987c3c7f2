"""A network namespace joined to the root namespace by a veth pair: a worker on the far
side of a link the test can cut.

The root side of the pair holds the host address, the namespace side the namespace
address, on a /30 of 10.231.0.0/16 chosen at random among those no root interface uses;
names are unique per call, so that runs side by side do not meet. `cut()` takes the root
side down: packets between the two are dropped (connections hang, then time out), as
when a cable or a switch port goes, while the root namespace still reaches the host
address; `restore()` brings it back. Everything is removed on exit, even after a failure.
"""

from __future__ import annotations

import ipaddress
import random
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from tests.support.host_tools import require_commands, require_root, run

PRIVATE_RANGE = ipaddress.ip_network("10.231.0.0/16")


@dataclass(frozen=True)
class VethLink:
    """A namespace and the veth pair joining it to the root namespace."""

    namespace: str
    host_interface: str
    namespace_interface: str
    host_address: str
    namespace_address: str

    def exec_prefix(self) -> list[str]:
        """The words that run a command inside the namespace."""
        return ["ip", "netns", "exec", self.namespace]

    def cut(self) -> None:
        """Take the root side down: nothing passes between the namespace and the host."""
        run("ip", "link", "set", self.host_interface, "down")

    def restore(self, timeout: float = 10) -> None:
        """Bring the root side back up and wait until the pair carries packets again."""
        run("ip", "link", "set", self.host_interface, "up")
        deadline = time.monotonic() + timeout
        while "LOWER_UP" not in run("ip", "-o", "link", "show", self.host_interface):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.host_interface} has no carrier {timeout:.0f} s "
                                   "after it was brought up")
            time.sleep(0.05)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 of PRIVATE_RANGE that no address of the root namespace falls in."""
    used = [ipaddress.ip_interface(word).ip
            for line in run("ip", "-4", "-o", "addr", "show").splitlines()
            for word in line.split()[3:4]]
    subnets = list(PRIVATE_RANGE.subnets(new_prefix=30))
    for subnet in random.sample(subnets, 64):
        if not any(address in subnet for address in used):
            return subnet
    raise RuntimeError(f"no free /30 in {PRIVATE_RANGE} after 64 tries")


@contextmanager
def veth_namespace() -> Iterator[VethLink]:
    """A fresh namespace joined by a veth pair, both ends up; removed on exit."""
    require_root("it creates a network namespace and a veth pair")
    require_commands({"ip": "iproute2"})
    suffix = secrets.token_hex(4)
    subnet = _free_subnet()
    host, far = (str(address) for address in list(subnet.hosts())[:2])
    link = VethLink(namespace=f"caviar-{suffix}", host_interface=f"cvh{suffix}",
                    namespace_interface=f"cvn{suffix}", host_address=host,
                    namespace_address=far)
    inside = link.exec_prefix()
    try:
        run("ip", "netns", "add", link.namespace)
        run("ip", "link", "add", link.host_interface, "type", "veth", "peer", "name",
            link.namespace_interface)
        run("ip", "link", "set", link.namespace_interface, "netns", link.namespace)
        run("ip", "addr", "add", f"{host}/{subnet.prefixlen}", "dev", link.host_interface)
        run(*inside, "ip", "addr", "add", f"{far}/{subnet.prefixlen}", "dev",
            link.namespace_interface)
        run(*inside, "ip", "link", "set", "lo", "up")
        run(*inside, "ip", "link", "set", link.namespace_interface, "up")
        link.restore()
        yield link
    finally:
        _remove(link)


def _remove(link: VethLink) -> None:
    """Delete the pair (deleting one end deletes both) and the namespace; RuntimeError if
    either is still there afterwards."""
    with suppress(RuntimeError):
        run("ip", "link", "delete", link.host_interface)
    with suppress(RuntimeError):
        run("ip", "netns", "delete", link.namespace)
    left = [name for name, listing in [(link.namespace, run("ip", "netns", "list")),
                                       (link.host_interface, run("ip", "-o", "link", "show"))]
            if name in listing]
    if left:
        raise RuntimeError(f"could not remove {', '.join(left)}")
