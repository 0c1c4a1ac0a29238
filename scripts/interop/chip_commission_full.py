#!/usr/bin/env python3
"""CHIP SDK Python controller: complete commissioning, then the On/Off light over CASE.

Part of matter-ble's second-tier interop tests (scripts/interop-test, cases */chip-commission-full
and */restart). Modes:

  commission (default)  PASE over UDP (`EstablishPASESessionIP`, --ip/--port) or over BLE
                        (`EstablishPASESessionBLE`, --ble --adapter N --discriminator D), then the
                        controller's auto-commissioner to the end (`Commission(nodeid)`, no
                        SetSkipCommissioningComplete): attestation against the test PAAs in
                        scripts/interop/paa/, CSR, AddNOC, over BLE the Wi-Fi network step
                        (`SetWiFiCredentials`, then `ConnectBLE` for PASE and commissioning in
                        one call, the only one that uses those credentials: the AutoCommissioner
                        insists on them when the device reports the Wi-Fi feature), operational
                        discovery over
                        DNS-SD (`_matter._tcp`), CASE over UDP, CommissioningComplete. Then the
                        light actions of --light over that CASE session.
  control               no commissioning: the fabric, node and (if any) CASE resumption state
                        come from --storage (a folder an earlier run of this script left), and
                        the light actions of --light run over a fresh CASE session.

--wait-restart DIR (either mode): after the light actions, create DIR/ready and wait for the
harness to restart the device and create DIR/restarted; then drop our side of the CASE session
and run --light-after: the new CASE session is the controller's resumption attempt
(`--phases` then counts the Sigma1/Sigma2/Sigma2Resume messages after the restart).

--light is a comma list of: read (OnOff of endpoint 1), toggle (read, Toggle, read: the value must
flip), on, off (the command, then a read), vendor (Basic Information VendorName instead: any
interaction over CASE, for a device without the light). Every read value goes into the result ("onoff_reads"),
the last one is "onoff".

Exit codes: 0 ok; 3 PASE failed; 7 a commissioning step failed (`--phases LOG RESULT` names it,
as the harness runs it afterwards); 8 a light action failed or returned a wrong value (CASE, the
command or the read); 1/2 internal/usage error.

`chip_commission_full.py --phases LOG RESULT` adds to the result the commissioning steps and the
wall time of each phase from the controller's C++ log: BLE connect (start -> link up, BLE only),
PASE (-> SPAKE2+ done), attestation (-> AttestationVerification done), AddNOC (-> SendNOC done),
network (-> WiFiNetworkEnable done, when the device asked for it), CASE (-> the first operational
discovery + CASE step done; inside it dnssd_ms, lookup -> address, and sigma_ms, Sigma1 ->
session established), complete (-> SendComplete done), and the total.
"""

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time

from chip_commission import der_trust_store
from chip_common import T0, merge_into_result, ms_since, pase_ip, run_main

EXIT_OK, EXIT_PASE, EXIT_COMMISSION, EXIT_LIGHT = 0, 3, 7, 8
HERE = os.path.dirname(os.path.abspath(__file__))


def start_persistent_controller(storage_dir, adapter=None, paa_trust_store=None, node_id=112233,
                                fabric_id=1):
    """A controller whose CA, fabric and session state live in storage_dir/chip-repl.json.

    A second process with the same folder is the same administrator on the same fabric (the
    CA's root key, the fabric admin and the CASE resumption records are all in that file), so
    it reaches an already commissioned node without commissioning it again.
    Returns (controller, keepalive) as chip_common.start_controller.
    """
    import chip.CertificateAuthority
    import chip.native
    from chip.ChipStack import ChipStack

    os.makedirs("/data", exist_ok=True)
    os.makedirs(storage_dir, exist_ok=True)
    if adapter is None:
        chip.native.Init()
    else:
        chip.native.Init(bluetoothAdapter=adapter)
    stack = ChipStack(persistentStoragePath=os.path.join(storage_dir, "chip-repl.json"),
                      enableServerInteractions=False)
    ca_mgr = chip.CertificateAuthority.CertificateAuthorityManager(stack, stack.GetStorageManager())
    ca_mgr.LoadAuthoritiesFromStorage()
    if ca_mgr.activeCaList:
        ca = ca_mgr.activeCaList[0]
    else:
        ca = ca_mgr.NewCertificateAuthority()
    admin = ca.adminList[0] if ca.adminList else ca.NewFabricAdmin(vendorId=0xFFF1, fabricId=fabric_id)
    kwargs = {"nodeId": node_id}
    if paa_trust_store:
        kwargs["paaTrustStorePath"] = paa_trust_store
    ctrl = admin.NewController(**kwargs)
    return ctrl, (stack, ca_mgr, ca, admin)


async def read_onoff(ctrl, nodeid, timeout_s):
    import chip.clusters as Clusters

    onoff = Clusters.OnOff
    res = await asyncio.wait_for(ctrl.ReadAttribute(nodeid, [(1, onoff.Attributes.OnOff)]), timeout_s)
    value = res[1][onoff][onoff.Attributes.OnOff]
    if not isinstance(value, bool):
        raise RuntimeError(f"OnOff read returned {value!r}")
    return value


async def light_actions(ctrl, nodeid, actions, timeout_s, result):
    """Runs the --light actions; fills result; returns None or an error string."""
    import chip.clusters as Clusters

    onoff = Clusters.OnOff
    reads = result.setdefault("onoff_reads", [])
    cmds = {"toggle": onoff.Commands.Toggle, "on": onoff.Commands.On, "off": onoff.Commands.Off}
    for action in actions:
        t = time.monotonic()
        try:
            if action == "read":
                reads.append(await read_onoff(ctrl, nodeid, timeout_s))
            elif action == "vendor":
                # Not the light: any interaction over CASE (to debug devices without endpoint 1).
                bi = Clusters.BasicInformation
                res = await asyncio.wait_for(ctrl.ReadAttribute(nodeid, [(0, bi.Attributes.VendorName)]), timeout_s)
                result["vendor_name"] = res[0][bi][bi.Attributes.VendorName]
            elif action in cmds:
                before = await read_onoff(ctrl, nodeid, timeout_s) if action == "toggle" else None
                if before is not None:
                    reads.append(before)
                await asyncio.wait_for(ctrl.SendCommand(nodeid, 1, cmds[action]()), timeout_s)
                after = await read_onoff(ctrl, nodeid, timeout_s)
                reads.append(after)
                want = (not before) if action == "toggle" else (action == "on")
                if after != want:
                    return f"{action}: OnOff reads {after} afterwards, expected {want}"
            else:
                return f"unknown light action {action!r}"
        except Exception as e:
            return f"{action}: {type(e).__name__}: {e}"
        finally:
            result.setdefault("light_ms", {})[action] = ms_since(t)
    if reads:
        result["onoff"] = reads[-1]
    return None


async def commission(ctrl, args, result):
    """The auto-commissioner on the PASE session: None when done, else the exit code."""
    t = time.monotonic()
    try:
        node = await asyncio.wait_for(ctrl.Commission(args.node_id), args.timeout)
        result.update(commission_ms=ms_since(t), effective_node_id=node, commissioned=True)
    except Exception as e:
        result.update(commission_ms=ms_since(t), commissioned=False,
                      error=f"commission: {type(e).__name__}: {e}")
        return EXIT_COMMISSION
    if args.ble:
        try:
            ctrl.CloseBLEConnection()
        except Exception as e:  # the device may have closed it on CommissioningComplete
            result["close_ble_error"] = f"{type(e).__name__}: {e}"
    return None


async def run(args):
    storage = args.storage or tempfile.mkdtemp(prefix="mbt-chip-full-")
    t_init = time.monotonic()
    paa = der_trust_store(args.paa_dir)
    ctrl, _keepalive = start_persistent_controller(storage, adapter=args.adapter if args.ble else None,
                                                   paa_trust_store=paa)
    result = {"peer": "chip-python-controller", "mode": args.mode,
              "transport": "ble" if args.ble else "udp", "stack_init_ms": ms_since(t_init),
              "compressed_fabric_id": f"{ctrl.GetCompressedFabricId():016X}"}
    actions = [a for a in args.light.split(",") if a]
    if args.mode == "commission":
        # Wall-clock start, to line the phases up with the C++ log's unix time stamps.
        result["start_unix"] = time.time()
        t = time.monotonic()
        if args.ble and args.wifi_ssid:
            # PASE and commissioning in one call: only ConnectBLE uses the credentials that
            # SetWiFiCredentials stores (Commission(nodeid) starts from empty parameters, and the
            # AutoCommissioner then fails after SendNOC, AutoCommissioner.cpp:305 "Invalid
            # argument", for a device with the Wi-Fi feature). PASE's time comes from the log.
            ctrl.SetWiFiCredentials(args.wifi_ssid, args.wifi_pass)
            try:
                node = await asyncio.wait_for(ctrl.ConnectBLE(args.discriminator, args.passcode, args.node_id),
                                              args.timeout)
                result.update(commission_ms=ms_since(t), effective_node_id=node, commissioned=True)
            except Exception as e:
                result.update(commission_ms=ms_since(t), commissioned=False,
                              error=f"commission: {type(e).__name__}: {e}")
                return result, EXIT_COMMISSION
            try:
                ctrl.CloseBLEConnection()
            except Exception as e:  # the device may have closed it on CommissioningComplete
                result["close_ble_error"] = f"{type(e).__name__}: {e}"
        elif args.ble:
            try:
                await asyncio.wait_for(ctrl.EstablishPASESessionBLE(args.passcode, args.discriminator,
                                                                    args.node_id), args.timeout)
                ok, err = True, None
            except Exception as e:
                ok, err = False, f"{type(e).__name__}: {e}"
        else:
            ok, _, err = await pase_ip(ctrl, args.ip, args.passcode, args.node_id, args.port, args.timeout)
        if not (args.ble and args.wifi_ssid):
            result.update(pase_ok=ok, pase_wall_ms=ms_since(t), since_process_start_ms=ms_since(T0))
            if not ok:
                result["error"] = err
                return result, EXIT_PASE
            rc = await commission(ctrl, args, result)
            if rc is not None:
                return result, rc
    t = time.monotonic()
    err = await light_actions(ctrl, args.node_id, actions, args.timeout, result)
    result["light_total_ms"] = ms_since(t)
    if err:
        result["error"] = f"light: {err}"
        return result, EXIT_LIGHT
    if args.wait_restart:
        # Hand-shake with the harness: it restarts the device while this process keeps its CASE
        # resumption record, then the next CASE session is set up against the restarted device.
        open(os.path.join(args.wait_restart, "ready"), "w").close()
        restarted = os.path.join(args.wait_restart, "restarted")
        deadline = time.monotonic() + args.timeout
        while not os.path.exists(restarted):
            if time.monotonic() > deadline:
                result["error"] = "the harness did not restart the device in time"
                return result, EXIT_LIGHT
            await asyncio.sleep(0.1)
        result["restart_unix"] = time.time()
        # Our side of the old session goes (the device's side went with its restart), so the next
        # interaction needs a new CASE session, which the controller first tries to resume.
        ctrl.ExpireSessions(args.node_id)
        after = {}
        t = time.monotonic()
        err = await light_actions(ctrl, args.node_id, [a for a in args.light_after.split(",") if a],
                                  args.timeout, after)
        after["light_total_ms"] = ms_since(t)
        result["after_restart"] = after
        if err:
            result["error"] = f"light after restart: {err}"
            return result, EXIT_LIGHT
    return result, EXIT_OK


# Milestones in the controller's C++ log (home-assistant-chip-core 2025.7.0 wording), each line
# starting with "[<unix seconds>.<micros>]".
STAMP = re.compile(r"^\[(\d+\.\d+)\]")
STEP_OK = re.compile(r"Successfully finished commissioning step '([^']+)'")
STEP_ERR = re.compile(r"Error on commissioning step '([^']+)': '([^']*)'")
BLE_CONNECTED = "CHIP:BLE: New device connected"
PASE_DONE = "Remote device completed SPAKE2+ handshake"
SIGMA1_SENT = "CHIP:SC: Sent Sigma1 msg"
LOOKUP_STARTED = "CHIP:DIS: Lookup started for"
ADDRESS_FOUND = "Updating device address to"
CASE_DONE = "CHIP:SC: Success status report received. Session was established"
SIGMA2_RESUME = "CHIP:SC: Received Sigma2Resume msg"
SIGMA2_FULL = "CHIP:SC: Received Sigma2 msg"


def phases(log_path, result_path):
    with open(result_path) as f:
        lines = [l for l in f.read().splitlines() if l.strip().startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    start = result.get("start_unix")
    connect = pase = None
    done, failed = [], None
    restart = result.get("restart_unix")
    after_restart = {"sigma1": 0, "sigma2": 0, "sigma2_resume": 0}
    sub = {}
    with open(log_path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace")
            m = STAMP.match(line)
            if not m:
                continue
            t = float(m.group(1))
            if connect is None and BLE_CONNECTED in line:
                connect = t
            # The first operational discovery and CASE handshake (inside the CASE phase).
            if restart is None or t < restart:
                if LOOKUP_STARTED in line and "lookup" not in sub:
                    sub["lookup"] = t
                if ADDRESS_FOUND in line and "lookup" in sub and "address" not in sub:
                    sub["address"] = t
                if SIGMA1_SENT in line and "address" in sub and "sigma1" not in sub:
                    sub["sigma1"] = t
                if (CASE_DONE in line or SIGMA2_RESUME in line) and "sigma1" in sub and "case" not in sub:
                    sub["case"] = t
            if pase is None and PASE_DONE in line:
                pase = t
            if restart is not None and t >= restart:
                if SIGMA1_SENT in line:
                    after_restart["sigma1"] += 1
                if SIGMA2_RESUME in line:
                    after_restart["sigma2_resume"] += 1
                if SIGMA2_FULL in line:
                    after_restart["sigma2"] += 1
            s = STEP_OK.search(line)
            if s:
                done.append((s.group(1), t))
                continue
            s = STEP_ERR.search(line)
            if s and failed is None:
                failed = {"step": s.group(1), "error": s.group(2)}
    at = {}
    for name, t in done:
        at.setdefault(name, t)
    find_op = next((t for name, t in done if name.startswith("kFindOperational")), None)
    network = at.get("WiFiNetworkEnable") or at.get("ThreadNetworkEnable")
    marks = [("ble_connect", connect), ("pase", pase), ("attestation", at.get("AttestationVerification")),
             ("addnoc", at.get("SendNOC")), ("network", network), ("case", find_op),
             ("complete", at.get("SendComplete"))]
    out = {}
    prev = start
    for name, t in marks:
        if t is None:
            continue
        out[f"{name}_ms"] = round((t - prev) * 1000.0, 1) if prev is not None else None
        prev = t
    if start is not None and at.get("SendComplete") is not None:
        out["total_ms"] = round((at["SendComplete"] - start) * 1000.0, 1)
    # Inside the CASE phase: DNS-SD (lookup started -> the address the controller picked) and the
    # Sigma handshake (Sigma1 sent -> session established).
    if "address" in sub:
        out["dnssd_ms"] = round((sub["address"] - sub["lookup"]) * 1000.0, 1)
    if "case" in sub:
        out["sigma_ms"] = round((sub["case"] - sub["sigma1"]) * 1000.0, 1)
    extra = {}
    if restart is not None:
        # The CASE handshakes after the device restart: a resumed one is answered by Sigma2Resume.
        extra["case_after_restart"] = after_restart
    return {**extra, "phases": out,
            "steps": [{"step": n, "at_ms": round((t - pase) * 1000.0, 1) if pase else None} for n, t in done],
            "last_step": done[-1][0] if done else None, "failed_step": failed}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--phases":
        # Harness helper: `--phases CONTROLLER_LOG RESULT_JSON`.
        return merge_into_result(sys.argv[3], phases(sys.argv[2], sys.argv[3]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("commission", "control"), default="commission")
    ap.add_argument("--ip", default="::1")
    ap.add_argument("--port", type=int, default=5540)
    ap.add_argument("--ble", action="store_true", help="PASE over BLE instead of UDP")
    ap.add_argument("--adapter", type=int, default=1, help="BlueZ adapter index N of hciN (--ble)")
    ap.add_argument("--discriminator", type=int, default=3840)
    ap.add_argument("--passcode", type=int, default=20202021)
    ap.add_argument("--node-id", type=int, default=1)
    ap.add_argument("--wifi-ssid", default="", help="SetWiFiCredentials(ssid, pass) before commissioning")
    ap.add_argument("--wifi-pass", default="")
    ap.add_argument("--light", default="toggle", help="comma list of read,toggle,on,off,vendor ('' = none)")
    ap.add_argument("--wait-restart", default="", metavar="DIR",
                    help="after the light actions create DIR/ready, wait for DIR/restarted, then run --light-after")
    ap.add_argument("--light-after", default="read", help="light actions after the restart (--wait-restart)")
    ap.add_argument("--storage", default="", help="controller state folder (kept; default: a new temp one)")
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds for PASE, for commissioning, and per light step")
    ap.add_argument("--paa-dir", default=os.path.join(HERE, "paa"), help="folder of PAA certificates (PEM)")
    args = ap.parse_args()
    run_main(run, args)


if __name__ == "__main__":
    sys.exit(main())
