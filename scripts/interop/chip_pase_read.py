#!/usr/bin/env python3
"""CHIP SDK Python controller as a test commissioner: PASE over UDP, then a read over that session.

Part of matter-ble's second-tier interop tests (scripts/interop-test). Uses PyPI
home-assistant-chip-core (the CHIP SDK's own controller) as a real peer:
`ChipDeviceController.EstablishPASESessionIP(ip, passcode, nodeid, port)` and then
`ReadAttribute` of Basic Information (cluster 0x0028) VendorName (0x0001) and ProductID (0x0004)
on endpoint 0, over the PASE session (GetConnectedDevice allows PASE; no commissioning, no CASE).

Modes:
  read     PASE with --passcode, then the read. Exit 0 when both work.
  lockout  --attempts PASE tries with a wrong passcode (--passcode + 1, or --wrong-passcode),
           then one with --passcode. Exit 0 when every wrong try failed AND the right passcode
           then failed too (the commissioning window closed, as the CHIP SDK does after 20
           failures); exit 5 when the right passcode still worked afterwards.

Exit codes: 0 ok; 3 PASE failed (wrong passcode, unreachable device, window closed: the
controller reports all of these as "Incorrect state", its C++ log on stderr tells which);
4 PASE worked but the read failed; 5 lockout not enforced; 6 a wrong passcode was accepted;
1/2 internal or usage error.

One JSON object goes to stdout; the controller's own (very chatty) log goes to stderr.
The native stack needs a writable /data and /tmp; one controller stack per process.
"""

import argparse
import sys
import tempfile
import time

from chip_common import T0, ms_since, pase_ip as pase, read_basic_info, run_main, start_controller

EXIT_OK, EXIT_PASE, EXIT_READ, EXIT_NO_LOCKOUT, EXIT_WRONG_ACCEPTED = 0, 3, 4, 5, 6


async def run(args):
    storage = tempfile.mkdtemp(prefix="mbt-chip-")
    t_init = time.monotonic()
    ctrl, _keepalive = start_controller(storage)
    result = {"peer": "chip-python-controller", "mode": args.mode, "ip": args.ip, "port": args.port,
              "stack_init_ms": ms_since(t_init)}

    if args.mode == "read":
        ok, pase_ms, err = await pase(ctrl, args.ip, args.passcode, args.node_id, args.port, args.timeout)
        result.update(pase_ok=ok, pase_ms=pase_ms, since_process_start_ms=ms_since(T0))
        if not ok:
            result["error"] = err
            return result, EXIT_PASE
        try:
            result.update(await read_basic_info(ctrl, args.node_id))
        except Exception as e:
            result["error"] = f"read: {type(e).__name__}: {e}"
            return result, EXIT_READ
        return result, EXIT_OK

    # lockout
    wrong = args.wrong_passcode if args.wrong_passcode is not None else args.passcode + 1
    attempts = []
    for i in range(args.attempts):
        ok, pase_ms, err = await pase(ctrl, args.ip, wrong, args.node_id + 1 + i, args.port, args.timeout)
        attempts.append({"ok": ok, "ms": pase_ms, "error": err})
    result["wrong_attempts"] = len(attempts)
    result["wrong_accepted"] = sum(1 for a in attempts if a["ok"])
    result["wrong_attempt_ms"] = [a["ms"] for a in attempts]
    result["first_wrong_error"] = attempts[0]["error"] if attempts else None
    ok, pase_ms, err = await pase(ctrl, args.ip, args.passcode, args.node_id, args.port, args.timeout)
    result.update(right_after_lockout_ok=ok, right_after_lockout_ms=pase_ms, right_after_lockout_error=err)
    if result["wrong_accepted"]:
        return result, EXIT_WRONG_ACCEPTED
    if ok:
        return result, EXIT_NO_LOCKOUT
    return result, EXIT_OK


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ip", default="::1")
    ap.add_argument("--port", type=int, default=5540)
    ap.add_argument("--passcode", type=int, default=20202021)
    ap.add_argument("--wrong-passcode", type=int)
    ap.add_argument("--node-id", type=int, default=1)
    ap.add_argument("--mode", choices=["read", "lockout"], default="read")
    ap.add_argument("--attempts", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per PASE attempt")
    args = ap.parse_args()

    run_main(run, args)


if __name__ == "__main__":
    sys.exit(main())
