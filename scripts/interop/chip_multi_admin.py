#!/usr/bin/env python3
"""Multi-admin: the CHIP controller (fabric A) and matter.js (fabric B) on one light, then B removed.

Part of matter-ble's second-tier interop tests (scripts/interop-test, case */multi-admin). Steps,
each recorded in the result with its wall time:
  1. CHIP commissions the device over UDP to the end (PASE, attestation, AddNOC, DNS-SD, CASE,
     CommissioningComplete) and toggles the light (fabric A).
  2. CHIP opens an enhanced commissioning window over CASE (`OpenCommissioningWindow(nodeid,
     timeout, iteration, discriminator, option=1)`: a new random passcode and its PAKE verifier,
     a discriminator of its own, --window-discriminator).
  3. matter.js (scripts/interop/matterjs_commission.mjs, a child process) finds that window over
     `_matterc._udp` by the new discriminator, commissions with the new passcode (fabric B) and
     toggles the light.
  4. CHIP reads OperationalCredentials Fabrics unfiltered (2 entries: A and B) and
     CurrentFabricIndex (A), toggles and reads.
  5. CHIP sends RemoveFabric(B's index) (NOCResponse status OK), reads Fabrics (1 entry: A),
     toggles and reads: A still controls the light.
  6. matter.js with its stored fabric B tries to read OnOff: it must fail.
Exit codes: 0 all as expected; 3 PASE failed; 7 commissioning (A) failed; 8 a light action of A
failed; 9 the window did not open; 10 matter.js did not commission or control (B); 11 the
Fabrics list was wrong; 12 RemoveFabric failed; 13 B still controls the light after its removal;
1/2 internal/usage error.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

from chip_commission import der_trust_store
from chip_commission_full import light_actions, start_persistent_controller
from chip_common import ms_since, pase_ip, run_main

HERE = os.path.dirname(os.path.abspath(__file__))


async def matterjs(args, mode, state_dir, light, passcode=None, timeout=None):
    """Runs matterjs_commission.mjs; returns (exit code, its JSON result)."""
    cmd = ["node", os.path.join(HERE, "matterjs_commission.mjs"), "--mode", mode, "--state-dir", state_dir,
           "--light", light, "--timeout", str(timeout or args.timeout), "--discriminator",
           str(args.window_discriminator)]
    if passcode is not None:
        cmd += ["--passcode", str(passcode)]
    # Its log goes to ours (stderr), prefixed by nothing: the harness keeps one controller log.
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE, stderr=sys.stderr)
    out, _ = await proc.communicate()
    lines = [l for l in out.decode("utf-8", "replace").splitlines() if l.startswith("{")]
    return proc.returncode, (json.loads(lines[-1]) if lines else {})


async def read_fabrics(ctrl, nodeid):
    import chip.clusters as Clusters

    oc = Clusters.OperationalCredentials
    res = await ctrl.ReadAttribute(nodeid, [(0, oc.Attributes.Fabrics), (0, oc.Attributes.CurrentFabricIndex)],
                                   fabricFiltered=False)
    ep0 = res[0][oc]
    fabrics = [{"fabric_index": f.fabricIndex, "fabric_id": f.fabricID, "vendor_id": f.vendorID,
                "node_id": f.nodeID} for f in ep0[oc.Attributes.Fabrics]]
    return fabrics, ep0[oc.Attributes.CurrentFabricIndex]


async def run(args):
    import chip.clusters as Clusters

    storage = tempfile.mkdtemp(prefix="mbt-chip-multi-")
    mjs_state = tempfile.mkdtemp(prefix="mbt-mjs-multi-")
    paa = der_trust_store(args.paa_dir)
    ctrl, _keepalive = start_persistent_controller(storage, paa_trust_store=paa)
    result = {"peer": "chip-python-controller+matter.js", "timings": {}}
    steps = result["timings"]
    nodeid = args.node_id

    # 1. Fabric A.
    t = time.monotonic()
    ok, _, err = await pase_ip(ctrl, args.ip, args.passcode, nodeid, args.port, args.timeout)
    if not ok:
        result["error"] = f"A: PASE: {err}"
        return result, 3
    try:
        await asyncio.wait_for(ctrl.Commission(nodeid), args.timeout)
    except Exception as e:
        result["error"] = f"A: commission: {type(e).__name__}: {e}"
        return result, 7
    steps["a_commission_ms"] = ms_since(t)
    a = {}
    err = await light_actions(ctrl, nodeid, ["toggle"], args.timeout, a)
    result["a_first"] = a
    if err:
        result["error"] = f"A: light: {err}"
        return result, 8

    # 2. Enhanced commissioning window.
    t = time.monotonic()
    try:
        params = await asyncio.wait_for(
            ctrl.OpenCommissioningWindow(nodeid, args.window_timeout, 1000, args.window_discriminator, 1),
            args.timeout)
    except Exception as e:
        result["error"] = f"OpenCommissioningWindow: {type(e).__name__}: {e}"
        return result, 9
    steps["open_window_ms"] = ms_since(t)
    result["window"] = {"discriminator": args.window_discriminator, "manual_code": params.setupManualCode}

    # 3. Fabric B.
    t = time.monotonic()
    rc, b = await matterjs(args, "commission", mjs_state, "toggle", passcode=params.setupPinCode)
    steps["b_commission_and_toggle_ms"] = ms_since(t)
    result["b_first"] = b
    if rc != 0:
        result["error"] = f"B: matter.js exit {rc}: {b.get('error')}"
        return result, 10

    # 4. Both fabrics, seen by A; A still controls.
    try:
        fabrics, own = await asyncio.wait_for(read_fabrics(ctrl, nodeid), args.timeout)
    except Exception as e:
        result["error"] = f"read Fabrics: {type(e).__name__}: {e}"
        return result, 11
    result.update(fabrics_before=fabrics, a_fabric_index=own)
    b_index = b.get("device_fabric_index")
    if len(fabrics) != 2 or own not in [f["fabric_index"] for f in fabrics] \
            or b_index not in [f["fabric_index"] for f in fabrics] or b_index == own:
        result["error"] = f"expected fabrics A={own} and B={b_index}, read {fabrics}"
        return result, 11
    a = {}
    err = await light_actions(ctrl, nodeid, ["toggle"], args.timeout, a)
    result["a_after_b"] = a
    if err:
        result["error"] = f"A after B joined: light: {err}"
        return result, 8

    # 5. A removes B.
    t = time.monotonic()
    oc = Clusters.OperationalCredentials
    try:
        resp = await asyncio.wait_for(ctrl.SendCommand(nodeid, 0, oc.Commands.RemoveFabric(fabricIndex=b_index)),
                                      args.timeout)
        status = int(resp.statusCode)
    except Exception as e:
        result["error"] = f"RemoveFabric: {type(e).__name__}: {e}"
        return result, 12
    steps["remove_fabric_ms"] = ms_since(t)
    result["remove_fabric_status"] = status
    if status != 0:
        result["error"] = f"RemoveFabric answered NOCResponse status {status}"
        return result, 12
    try:
        fabrics, own = await asyncio.wait_for(read_fabrics(ctrl, nodeid), args.timeout)
    except Exception as e:
        result["error"] = f"read Fabrics after removal: {type(e).__name__}: {e}"
        return result, 11
    result["fabrics_after"] = fabrics
    if [f["fabric_index"] for f in fabrics] != [own]:
        result["error"] = f"after RemoveFabric({b_index}) expected only A={own}, read {fabrics}"
        return result, 11
    a = {}
    err = await light_actions(ctrl, nodeid, ["toggle"], args.timeout, a)
    result["a_after_removal"] = a
    if err:
        result["error"] = f"A after removing B: light: {err}"
        return result, 8

    # 6. B is out.
    t = time.monotonic()
    rc, b2 = await matterjs(args, "control", mjs_state, "read", timeout=args.removed_timeout)
    steps["b_after_removal_ms"] = ms_since(t)
    result["b_after_removal"] = {"exit_code": rc, "error": b2.get("error"), "onoff_reads": b2.get("onoff_reads")}
    if rc == 0:
        result["error"] = "B still reads the light after RemoveFabric"
        return result, 13
    return result, 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ip", default="::1")
    ap.add_argument("--port", type=int, default=5540)
    ap.add_argument("--passcode", type=int, default=20202021)
    ap.add_argument("--node-id", type=int, default=1)
    ap.add_argument("--window-discriminator", type=int, default=3841)
    ap.add_argument("--window-timeout", type=int, default=180, help="seconds the enhanced window stays open")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per step")
    ap.add_argument("--removed-timeout", type=float, default=8.0,
                    help="seconds matter.js may try to reach the light after its fabric was removed")
    ap.add_argument("--paa-dir", default=os.path.join(HERE, "paa"), help="folder of PAA certificates (PEM)")
    args = ap.parse_args()
    run_main(run, args)


if __name__ == "__main__":
    sys.exit(main())
