#!/usr/bin/env python3
"""CHIP SDK Python controller as a commissioner: PASE, then the commissioning steps up to AddNOC.

Part of matter-ble's second-tier interop tests (scripts/interop-test). PASE over UDP
(`EstablishPASESessionIP`) or over BLE (`EstablishPASESessionBLE`, --ble), then the controller's
own auto-commissioner (`Commission(nodeid)`) with `SetSkipCommissioningComplete(True)`: it reads
the commissioning info, arms the fail-safe, sets the regulatory config, fetches and verifies the
attestation chain (against the PAA trust store in scripts/interop/paa/) and the certification
declaration, requests a CSR, sends the trusted root and AddNOC, and stops there (operational
discovery, CASE and CommissioningComplete are skipped). With --ble --wifi SSID:PASS the
controller also provisions Wi-Fi after AddNOC (AddOrUpdateWiFiNetwork, ConnectNetwork), as it
requires over BLE; PASE and commissioning then run in one ConnectBLE call.

Exit codes: 0 commissioned through AddNOC; 3 PASE failed; 7 a commissioning step failed (the
result names the last step that succeeded and the first that failed, from the controller's log
on stderr: use --steps LOG RESULT afterwards, as the harness does); 1/2 internal/usage error.
"""

import argparse
import asyncio
import base64
import os
import re
import sys
import tempfile
import time

from chip_common import T0, merge_into_result, ms_since, pase_ip, run_main, start_controller

EXIT_OK, EXIT_PASE, EXIT_COMMISSION = 0, 3, 7
HERE = os.path.dirname(os.path.abspath(__file__))


def der_trust_store(pem_dir):
    """The PEM certificates of pem_dir as .der files in a new folder (what the controller reads)."""
    out = tempfile.mkdtemp(prefix="mbt-paa-")
    for name in sorted(os.listdir(pem_dir)):
        if not name.endswith(".pem"):
            continue
        with open(os.path.join(pem_dir, name)) as f:
            body = "".join(l.strip() for l in f if l.strip() and not l.startswith("-----"))
        with open(os.path.join(out, name[:-4] + ".der"), "wb") as f:
            f.write(base64.b64decode(body))
    return out


async def run(args):
    storage = tempfile.mkdtemp(prefix="mbt-chip-comm-")
    t_init = time.monotonic()
    paa = der_trust_store(args.paa_dir)
    ctrl, _keepalive = start_controller(storage, adapter=args.adapter if args.ble else None,
                                        paa_trust_store=paa)
    result = {"peer": "chip-python-controller", "transport": "ble" if args.ble else "udp",
              "stack_init_ms": ms_since(t_init)}
    t = time.monotonic()
    if args.ble and args.wifi:
        return await run_ble_wifi(ctrl, args, result)
    if args.ble:
        try:
            await asyncio.wait_for(ctrl.EstablishPASESessionBLE(args.passcode, args.discriminator,
                                                                args.node_id), args.timeout)
            ok, err = True, None
        except Exception as e:
            ok, err = False, f"{type(e).__name__}: {e}"
    else:
        ok, _, err = await pase_ip(ctrl, args.ip, args.passcode, args.node_id, args.port, args.timeout)
    result.update(pase_ok=ok, pase_ms=ms_since(t), since_process_start_ms=ms_since(T0))
    if not ok:
        result["error"] = err
        return result, EXIT_PASE
    ctrl.SetSkipCommissioningComplete(True)
    t = time.monotonic()
    try:
        node = await asyncio.wait_for(ctrl.Commission(args.node_id), args.timeout)
        result.update(commission_ms=ms_since(t), effective_node_id=node)
    except Exception as e:
        result.update(commission_ms=ms_since(t), error=f"commission: {type(e).__name__}: {e}")
        return result, EXIT_COMMISSION
    return result, EXIT_OK


async def run_ble_wifi(ctrl, args, result):
    """--ble --wifi: PASE and commissioning in one call (ConnectBLE), since only it uses the
    credentials SetWiFiCredentials stores (Commission(nodeid) starts from empty parameters); the
    auto-commissioner then runs AddOrUpdateWiFiNetwork and ConnectNetwork after AddNOC. PASE
    and step times come from the controller's log (--steps)."""
    ssid, _, password = args.wifi.partition(":")
    ctrl.SetWiFiCredentials(ssid, password)
    ctrl.SetSkipCommissioningComplete(True)
    t = time.monotonic()
    try:
        node = await asyncio.wait_for(ctrl.ConnectBLE(args.discriminator, args.passcode, args.node_id),
                                      args.timeout)
        result.update(commission_ms=ms_since(t), effective_node_id=node, wifi=True)
    except Exception as e:
        result.update(commission_ms=ms_since(t), wifi=True, error=f"commission: {type(e).__name__}: {e}")
        return result, EXIT_COMMISSION
    return result, EXIT_OK


# "Successfully finished commissioning step 'X'" / "Error on commissioning step 'X': 'E'" in the
# controller's C++ log (home-assistant-chip-core 2025.7.0 wording), each line starting with
# "[<unix seconds>.<micros>]".
STEP_OK = re.compile(r"^\[(\d+\.\d+)\].*Successfully finished commissioning step '([^']+)'")
STEP_ERR = re.compile(r"^\[(\d+\.\d+)\].*Error on commissioning step '([^']+)': '([^']*)'")
PASE_DONE = re.compile(r"^\[(\d+\.\d+)\].*Remote device completed SPAKE2\+ handshake")


def steps(log_path):
    """The commissioning steps the controller finished, in order, with ms since PASE."""
    done, failed, t_pase = [], None, None
    with open(log_path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace")
            m = PASE_DONE.match(line)
            if m and t_pase is None:
                t_pase = float(m.group(1))
            m = STEP_OK.match(line)
            if m:
                at = float(m.group(1))
                done.append({"step": m.group(2),
                             "at_ms": round((at - t_pase) * 1000.0, 1) if t_pase else None})
                continue
            m = STEP_ERR.match(line)
            if m and failed is None:
                failed = {"step": m.group(2), "error": m.group(3)}
    return {"steps": done, "last_step": done[-1]["step"] if done else None, "failed_step": failed}


def merge_steps(log_path, result_path):
    """Prints the last JSON result of result_path with the log's commissioning steps added."""
    return merge_into_result(result_path, steps(log_path))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--steps":
        # Harness helper: `--steps CONTROLLER_LOG RESULT_JSON`.
        return merge_steps(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ip", default="::1")
    ap.add_argument("--port", type=int, default=5540)
    ap.add_argument("--ble", action="store_true", help="PASE over BLE instead of UDP")
    ap.add_argument("--adapter", type=int, default=1, help="BlueZ adapter index N of hciN (--ble)")
    ap.add_argument("--discriminator", type=int, default=3840)
    ap.add_argument("--passcode", type=int, default=20202021)
    ap.add_argument("--node-id", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds for PASE, and for commissioning")
    ap.add_argument("--wifi", metavar="SSID:PASS",
                    help="with --ble: Wi-Fi credentials for the commissioner to provision")
    ap.add_argument("--paa-dir", default=os.path.join(HERE, "paa"), help="folder of PAA certificates (PEM)")
    args = ap.parse_args()
    run_main(run, args)


if __name__ == "__main__":
    sys.exit(main())
