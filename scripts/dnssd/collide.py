#!/usr/bin/env python3
"""scripts/dnssd/collide.py NAME SECONDS - claims the _matterc._udp instance NAME from another host
(python-zeroconf, without the probe that would make it back off) for SECONDS, then withdraws it:
the device under test must notice the collision and move to a new instance name."""

import socket
import sys
import time

from zeroconf import IPVersion, ServiceInfo, Zeroconf

name, seconds = sys.argv[1], float(sys.argv[2])
zc = Zeroconf(ip_version=IPVersion.V4Only)
info = ServiceInfo(
    "_matterc._udp.local.",
    f"{name}._matterc._udp.local.",
    port=9999,
    properties={"D": "1"},
    server="mbt-collider.local.",
    addresses=[socket.inet_aton("10.231.0.2")],
)
zc.register_service(info, cooperating_responders=True)
print("claimed", name, flush=True)
time.sleep(seconds)
zc.unregister_service(info)
zc.close()
