#!/usr/bin/env python3
"""scripts/dnssd/browse.py - the independent DNS-SD browser of scripts/dnssd-test (python-zeroconf).

Browses _matterc._udp and its subtypes (_L<long>, _S<short>, _V<vendor>, _T<device type>, _CM), resolves the
instance found, checks the SRV port and TXT keys against what Matter 1.3 §4.3.1 requires of our
device, then writes READY to --ready-file and waits for the instance to be withdrawn (goodbye
packets: the PTR TTL is far longer than the wait, so only a goodbye removes it in time).
Prints one "PASS name" / "FAIL name: detail" line per check; exit status 0 only if all passed.
"""

import argparse
import re
import sys
import threading
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf

BASE = "_matterc._udp.local."


class Listener(ServiceListener):
    def __init__(self):
        self.lock = threading.Lock()
        self.present = {}  # browse type -> set of instance full names
        self.removed = set()  # (type, name)

    def add_service(self, zc, type_, name):
        with self.lock:
            self.present.setdefault(type_, set()).add(name)

    def update_service(self, zc, type_, name):
        self.add_service(zc, type_, name)

    def remove_service(self, zc, type_, name):
        with self.lock:
            self.present.get(type_, set()).discard(name)
            self.removed.add((type_, name))


failures = 0


def result(ok, name, detail=""):
    global failures
    if ok:
        print(f"PASS {name}", flush=True)
    else:
        failures += 1
        print(f"FAIL {name}: {detail}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--discriminator", type=int, required=True)
    ap.add_argument("--vendor-id", type=int, required=True)
    ap.add_argument("--product-id", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--device-type", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--removal-timeout", type=float, default=15.0)
    a = ap.parse_args()

    short = a.discriminator >> 8
    subtypes = [f"_L{a.discriminator}", f"_S{short}", f"_V{a.vendor_id}", f"_T{a.device_type}", "_CM"]
    types = [BASE] + [f"{s}._sub.{BASE}" for s in subtypes]
    # IPv4 and IPv6 sockets: Matter nodes SHALL publish AAAA records (Matter 1.3 §4.3).
    zc = Zeroconf(ip_version=IPVersion.All)
    listener = Listener()
    browsers = [ServiceBrowser(zc, t, listener) for t in types]
    label = a.label

    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        with listener.lock:
            if all(listener.present.get(t) for t in types):
                break
        time.sleep(0.2)
    with listener.lock:
        found = {t: set(listener.present.get(t, set())) for t in types}
    for t in types:
        result(bool(found[t]), f"{label}/browse {t}", "no instance found")
    names = set().union(*found.values())
    if len(names) != 1:
        result(False, f"{label}/one-instance", f"instances: {sorted(names)}")
        zc.close()
        return 1
    name = names.pop()
    instance = name[: -len("." + BASE)]
    result(re.fullmatch(r"[0-9A-F]{16}", instance) is not None, f"{label}/instance-name",
           f"{instance!r} is not 16 uppercase hex digits")

    info = zc.get_service_info(BASE, name, timeout=5000)
    if info is None:
        result(False, f"{label}/resolve", "no SRV/TXT")
        zc.close()
        return 1
    result(info.port == a.port, f"{label}/port", f"port {info.port}, want {a.port}")
    v6 = info.parsed_addresses(IPVersion.V6Only)
    v4 = info.parsed_addresses(IPVersion.V4Only)
    result(bool(v6), f"{label}/aaaa", f"no AAAA record (A: {v4})")
    result("10.231.0.1" in v4, f"{label}/a", f"A records {v4}, want 10.231.0.1")
    txt = {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()}
    want = {
        "D": str(a.discriminator),
        "CM": "1",
        "VP": f"{a.vendor_id}+{a.product_id}",
        "SII": "500",
        "SAI": "300",
        "SAT": "4000",
        "PH": "1",
        "DT": str(a.device_type),
    }
    for k, v in want.items():
        result(txt.get(k) == v, f"{label}/txt {k}", f"{k}={txt.get(k)!r}, want {v!r} (TXT {txt})")
    result(bool(txt.get("DN")), f"{label}/txt DN", f"TXT {txt}")
    result("T" not in txt and "ICD" not in txt, f"{label}/txt no T/ICD", f"TXT {txt}")

    with open(a.ready_file, "w") as f:
        f.write("READY\n")
    deadline = time.monotonic() + a.removal_timeout
    gone = False
    while time.monotonic() < deadline:
        with listener.lock:
            if (BASE, name) in listener.removed and not listener.present.get(BASE):
                gone = True
                break
        time.sleep(0.2)
    result(gone, f"{label}/withdrawn-on-exit", "the instance was not withdrawn (no goodbye)")
    for b in browsers:
        b.cancel()
    zc.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
