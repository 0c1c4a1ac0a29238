#!/usr/bin/env python3
"""CHIP SDK Python controller as a BLE commissioner: PASE over BTP by discriminator and passcode,
then a read of Basic Information over that PASE session.

Part of matter-ble's second-tier interop tests (scripts/interop-test, cases ble/*). The central
runs on a BlueZ adapter (--adapter N = hciN, `chip.native.Init(bluetoothAdapter=N)`); in the
tests that is an adapter of the bluezoo BlueZ mock on a private bus (DBUS_SYSTEM_BUS_ADDRESS),
with the device under test advertising on another adapter of the same mock.

Steps: `EstablishPASESessionBLE(passcode, discriminator, nodeid)` (scan for the Matter service
data with that discriminator, connect, BTP handshake, PASE), then `ReadAttribute` of Basic
Information (0x0028) VendorName (0x0001) and ProductID (0x0004) on endpoint 0 over the PASE
session. No commissioning, no CASE.

Exit codes as chip_pase_read.py: 0 ok; 3 PASE failed (wrong passcode, device not found, BTP
failure: the controller reports them alike, its C++ log on stderr tells which); 4 PASE worked
but the read failed; 1/2 internal or usage error.

One JSON object goes to stdout: pase_ms is the wall time from the start of
EstablishPASESessionBLE (scan + connect + BTP + PASE) to PASE established, read_ms the read on
top of it. The controller's C++ log goes to stderr; `chip_ble_pase_read.py --timeline LOG
RESULT` then adds the times between its milestones (scan -> connect, connect -> BTP
established, -> PASE established, -> first encrypted response) to the result, as the harness
does.
"""

import argparse
import asyncio
import sys
import tempfile
import time

from chip_common import T0, merge_into_result, ms_since, read_basic_info, run_main, start_controller

EXIT_OK, EXIT_PASE, EXIT_READ = 0, 3, 4


async def run(args):
    storage = tempfile.mkdtemp(prefix="mbt-chip-ble-")
    t_init = time.monotonic()
    ctrl, _keepalive = start_controller(storage, args.adapter)
    result = {"peer": "chip-python-controller", "transport": "ble", "adapter": f"hci{args.adapter}",
              "discriminator": args.discriminator, "stack_init_ms": ms_since(t_init)}

    t = time.monotonic()
    # Under emulation (scripts/vm-test) advertising reports can come late: a scan that found
    # nothing (the controller's scan has a fixed 20 s limit) is started again, at most
    # --scan-retries times, counted in the result; any other failure ends the run.
    for attempt in range(1 + args.scan_retries):
        try:
            await asyncio.wait_for(
                ctrl.EstablishPASESessionBLE(args.passcode, args.discriminator, args.node_id),
                max(1.0, args.timeout - (time.monotonic() - t)))
            ok, err = True, None
        except Exception as e:  # ChipStackError, asyncio.TimeoutError
            ok, err = False, f"{type(e).__name__}: {e}"
        result["scan_attempts"] = attempt + 1
        scan_found_nothing = err is not None and "BLEManagerImpl" in err and "Timeout" in err
        if ok or not scan_found_nothing or time.monotonic() - t >= args.timeout:
            break
        await asyncio.sleep(0.5)
    result.update(pase_ok=ok, pase_ms=ms_since(t), since_process_start_ms=ms_since(T0))
    if not ok:
        result["error"] = err
        return result, EXIT_PASE
    try:
        result.update(await asyncio.wait_for(read_basic_info(ctrl, args.node_id), args.timeout))
    except Exception as e:
        result["error"] = f"read: {type(e).__name__}: {e}"
        return result, EXIT_READ
    # Leave the link cleanly: the device then sees a disconnect, not a lost central.
    try:
        ctrl.CloseBLEConnection()
    except Exception as e:  # already closed by the stack: not a test failure
        result["close_ble_error"] = f"{type(e).__name__}: {e}"
    return result, EXIT_OK


# Milestones in the controller's C++ log (home-assistant-chip-core 2025.7.0 wording), each line
# starting with "[<unix seconds>.<micros>]". The first match of each counts; the encrypted
# response is the first secure ("(S)") message received after PASE.
TIMELINE = (
    ("scan", "CHIP:BLE: BLE initiating scan"),
    ("connect", "CHIP:BLE: New device connected"),
    ("btp", "CHIP:IN: BleConnectionComplete"),
    ("pase", "CHIP:CTL: Remote device completed SPAKE2+ handshake"),
)


def timeline(log_path):
    """Wall times between the milestones of one run, from the controller's log."""
    import re

    stamps = {}
    stamp = re.compile(r"^\[(\d+\.\d+)\]")
    with open(log_path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace")
            m = stamp.match(line)
            if not m:
                continue
            t = float(m.group(1))
            for key, text in TIMELINE:
                if key not in stamps and text in line:
                    stamps[key] = t
            if "pase" in stamps and "encrypted" not in stamps and "(S) Msg RX" in line:
                stamps["encrypted"] = t
    out = {}

    def span(name, a, b):
        if a in stamps and b in stamps:
            out[name] = round((stamps[b] - stamps[a]) * 1000.0, 1)

    span("scan_to_connect_ms", "scan", "connect")
    span("connect_to_btp_ms", "connect", "btp")
    span("connect_to_pase_ms", "connect", "pase")
    span("connect_to_first_encrypted_ms", "connect", "encrypted")
    return out


def merge_timeline(log_path, result_path):
    """Prints the last JSON result of result_path with the log's timeline added."""
    return merge_into_result(result_path, timeline(log_path))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--timeline":
        # Harness helper: `--timeline CONTROLLER_LOG RESULT_JSON`.
        return merge_timeline(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapter", type=int, default=1, help="BlueZ adapter index N of hciN")
    ap.add_argument("--discriminator", type=int, default=3840)
    ap.add_argument("--passcode", type=int, default=20202021)
    ap.add_argument("--node-id", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds for PASE (and for the read)")
    ap.add_argument("--scan-retries", type=int, default=0,
                    help="start the BLE scan again this often when it found nothing")
    args = ap.parse_args()
    if not 0 <= args.discriminator <= 0xFFF:
        ap.error("--discriminator must be 0..4095")

    run_main(run, args)


if __name__ == "__main__":
    sys.exit(main())
