#!/usr/bin/env python3
"""Judges a scripts/vm-test run on the host, after the VM stopped.

The guest (scripts/vm/guest) only runs the centrals and keeps, per step, NAME.result.json (the
central's JSON line), NAME.rc (its exit status) and NAME.central.log, plus cases.tsv (case,
wall time, device start time or "no", "ok"/"forced" stop). Python under the VM's software
emulation needs ~10 s per start, so every check runs here instead.

Usage: judge.py LOGS_DIR BLUEZ_NAMES ONLY_REGEX EXPECT_SERVICE_DATA PRODUCT_ID
Prints one line per case, "PASS|FAIL  bluez-X/case  wall  times; details", then the tails of the
failed cases' logs, and as its last line "N passed, M failed". Exit 0 only if all passed.
"""

import json
import os
import re
import sys

CASES = ["ours-read", "drop-mid-pase-then-reconnect", "ours-wrong-then-right", "commission-toggle"]
# The phases of a commissioning, as the commissioner's JSON names them (milliseconds).
PHASES = ["ble_connect", "pase", "attestation", "addnoc", "network", "case", "complete", "total"]
if os.environ.get("VM_CHIP") == "1":
    CASES += ["chip-read", "chip-wrong-then-right"]


class Fail(Exception):
    pass


class Run:
    def __init__(self, logs, expect_sd, product_id):
        self.logs, self.expect_sd, self.product_id = logs, expect_sd, product_id

    def result(self, step):
        """The last JSON line of a step, and its exit status."""
        path = os.path.join(self.logs, step + ".result.json")
        try:
            with open(path) as f:
                lines = [l for l in f.read().splitlines() if l.strip().startswith("{")]
        except OSError:
            raise Fail(f"{step}: no result file (the step did not run)")
        try:
            rc = int(open(os.path.join(self.logs, step + ".rc")).read().strip())
        except (OSError, ValueError):
            rc = None
        if not lines:
            raise Fail(f"{step}: no JSON result (exit {rc}; killed by the runner's timeout if 124)")
        return json.loads(lines[-1]), rc

    def log_has(self, step, text):
        try:
            with open(os.path.join(self.logs, step + ".central.log"), "rb") as f:
                return text.encode() in f.read()
        except OSError:
            return False

    def read_ok(self, step):
        r, rc = self.result(step)
        if not (rc == 0 and r.get("ok") is True and r.get("pase_ok") is True):
            raise Fail(f"{step}: PASE + read failed (exit {rc}): {r.get('error')}")
        if r.get("vendor_name") != "matter-ble" or r.get("product_id") != self.product_id:
            raise Fail(f"{step}: read returned VendorName={r.get('vendor_name')!r} "
                       f"ProductID={r.get('product_id')!r}, want 'matter-ble' / {self.product_id:#06x}")
        return r

    def wrong_rejected(self, step, chip):
        r, rc = self.result(step)
        if rc != 3 or r.get("pase_ok") is not False:
            raise Fail(f"{step}: a wrong passcode was not rejected as a PASE failure (exit {rc}): {r.get('error')}")
        if (r.get("pase_ms") or 1e9) > 20000:
            raise Fail(f"{step}: the wrong passcode took {r.get('pase_ms')} ms to fail (a timeout, not a rejection)")
        if chip:
            if not self.log_has(step, "Failed to verify peer's MAC"):
                raise Fail(f"{step}: PASE failed, but not on the CHIP controller's MAC check")
        elif not (r.get("btp_established") and "confirmation" in (r.get("error") or "")):
            raise Fail(f"{step}: PASE failed, but not on the key confirmation: {r.get('error')}")
        return f"wrong passcode rejected after {r.get('pase_ms')} ms"

    # Each check returns (result with the timings, detail) or raises Fail.
    def ours_read(self, s):
        r = self.read_ok(s)
        if not r.get("btp_established"):
            raise Fail(f"{s}: no BTP session")
        if r.get("adv_service_data") != self.expect_sd or r.get("adv_local_name") != "MATTER-3840":
            raise Fail(f"{s}: advertisement as received: service data {r.get('adv_service_data')} "
                       f"name {r.get('adv_local_name')!r}, want {self.expect_sd} 'MATTER-3840'")
        # Our C2 uses StartNotify, so BlueZ hands each indication's ATT confirmation to us as a
        # D-Bus Confirm call (and our device sends the next indication only after it). bluetoothd
        # -d logs each ATT confirmation; from 5.7x it also logs the method calls it makes.
        bluez = s.rsplit(".", 1)[0]
        try:
            with open(os.path.join(self.logs, bluez + ".bluetoothd.log"), "rb") as f:
                text = f.read()
        except OSError:
            text = b""
        att_confs = text.count(b"GATT server received confirmation")
        dbus_confirms = text.count(b"org.bluez.GattCharacteristic1.Confirm")
        if att_confs == 0:
            raise Fail(f"{s}: bluetoothd logged no indication confirmation")
        confirms = f"{att_confs} ATT confirmations" + (f", {dbus_confirms} D-Bus Confirm calls logged" if dbus_confirms else "")
        return r, (f"adv {r['adv_service_data']} {r['adv_local_name']}; ATT MTU {r.get('att_mtu')}, "
                   f"BTP fragment {r.get('fragment_size')} window {r.get('window')}; {confirms} (whole run)")

    def file(self, step, suffix):
        try:
            with open(os.path.join(self.logs, f"{step}.{suffix}"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return None

    def commission_toggle(self, s):
        r, rc = self.result(s)
        if not (rc == 0 and r.get("ok") is True and r.get("commissioned") is True):
            raise Fail(f"{s}: commissioning failed at {r.get('commission_step')} (exit {rc}): {r.get('error')}")
        if not r.get("device_has_wifi") or r.get("network_ms") is None:
            raise Fail(f"{s}: no Wi-Fi network setup (device_has_wifi {r.get('device_has_wifi')})")
        if (r.get("on_off_before"), r.get("on_off_after")) != (False, True):
            raise Fail(f"{s}: OnOff {r.get('on_off_before')} -> {r.get('on_off_after')}, want False -> True")
        dev = self.file(s, "device.log") or ""
        if "commissioning complete" not in dev:
            raise Fail(f"{s}: the device did not log commissioning complete")
        if "advertising stopped" not in dev:
            raise Fail(f"{s}: the device did not log that advertising stopped")
        adv = (self.file(s, "adv_after") or "").split("\n", 1)[0].strip()
        if adv != "not-advertising":
            raise Fail(f"{s}: BlueZ after CommissioningComplete: {adv or 'no check'} (want not-advertising)")
        onoff = [l.strip() for l in (self.file(s, "onoff") or "").splitlines() if l.strip()]
        if not onoff or onoff[-1] != "1" or "0" not in onoff:
            raise Fail(f"{s}: the --on-change command saw {onoff}, want 0 then 1")
        table = ", ".join(f"{p} {r[p + '_ms']:.0f}" for p in PHASES if r.get(p + "_ms") is not None)
        return r, (f"phases (ms): {table}; OnOff false -> true (toggle {r.get('toggle_ms')} ms), "
                   f"on-change saw {' '.join(onoff)}; advertising off after CommissioningComplete; "
                   f"BLE closed by the device: {r.get('ble_closed_by_device')}")

    def chip_read(self, s):
        r = self.read_ok(s)
        if "connect_to_pase_ms" not in r:
            raise Fail(f"{s}: no connect→PASE milestone in the CHIP controller's log")
        return r, f"CHIP scans: {r.get('scan_attempts')}, stack start {r.get('stack_init_ms', 0) / 1000:.0f} s"

    def drop_mid_pase_then_reconnect(self, s):
        d, rc = self.result(s + ".drop")
        if not (rc == 0 and d.get("dropped_mid_pase") is True and d.get("pase_ok") is False):
            raise Fail(f"{s}.drop: the dropping central did not get to Pake2 (exit {rc}): {d.get('error')}")
        return self.read_ok(s), "dropped after Pake2, then a clean reconnect"

    def ours_wrong_then_right(self, s):
        detail = self.wrong_rejected(s + ".wrong", chip=False)
        return self.read_ok(s), detail + ", then the right one"

    def chip_wrong_then_right(self, s):
        detail = self.wrong_rejected(s + ".wrong", chip=True)
        return self.read_ok(s), detail + " (MAC check), then the right one"


def times(r):
    parts = []
    for key, label in (("connect_to_pase_ms", "connect→PASE"),
                       ("connect_to_first_encrypted_ms", "connect→1st encrypted"),
                       ("scan_to_connect_ms", "scan→connect")):
        if r.get(key) is not None:
            parts.append(f"{label} {r[key]:.0f} ms")
    return ", ".join(parts)


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()[-n:]
    except OSError:
        return []


def main():
    logs, bluez_names, only, expect_sd, product_id = sys.argv[1:6]
    run = Run(logs, expect_sd, int(product_id, 0))
    ran = {}
    try:
        with open(os.path.join(logs, "cases.tsv")) as f:
            for line in f:
                name, wall, up, stop = line.rstrip("\n").split("\t")
                ran[name] = (wall, up, stop)
    except OSError:
        pass
    expected = [f"{b}/{c}" for b in bluez_names.split() for c in CASES]
    expected = [n for n in expected if not only or re.search(only, n)]
    passed = failed = 0
    failures = []
    for name in expected:
        bluez, case = name.split("/")
        wall, up, stop = ran.get(name, ("-", "no", "ok"))
        if f"{bluez}/controllers-up" in ran:
            status, text = "FAIL", "btvirt/bluetoothd bring-up failed 3 times"
        elif name not in ran:
            status, text = "FAIL", "not run (the guest stopped early: see vm-console.log)"
        elif up == "no":
            status, text = "FAIL", "our device did not start advertising within 30 s"
        else:
            try:
                r, detail = getattr(run, case.replace("-", "_"))(f"{bluez}.{case}")
                status, text = "PASS", "; ".join(p for p in (times(r), f"device up in {up}", detail) if p)
            except Fail as e:
                status, text = "FAIL", str(e)
            if stop != "ok":
                status, text = "FAIL", text + "; the device did not exit within 5 s of SIGTERM"
        if status == "PASS":
            passed += 1
        else:
            failed += 1
            failures.append(f"{bluez}.{case}")
            text += f"; logs: {logs}/{bluez}.{case}.*"
        print(f"{status:4}  {name:44} {wall:>7}  {text}")
    for safe in failures:
        for fn in sorted(os.listdir(logs)):
            if fn.startswith(safe + ".") and fn.endswith((".device.log", ".central.log")):
                print(f"--- {fn} (last lines)")
                print("\n".join(tail(os.path.join(logs, fn))))
    # The commissioning phase table (ms), one row per BlueZ that commissioned.
    rows = []
    for name in expected:
        bluez, case = name.split("/")
        if case != "commission-toggle":
            continue
        try:
            r, _ = run.result(f"{bluez}.{case}")
        except Fail:
            continue
        if r.get("commissioned"):
            rows.append((bluez, [r.get(p + "_ms") for p in PHASES]))
    if rows:
        print("commissioning phases (ms): " + " ".join(f"{p:>11}" for p in ["bluez"] + PHASES))
        for bluez, vals in rows:
            cells = ["-" if v is None else f"{v:.0f}" for v in vals]
            print("                           " + " ".join(f"{c:>11}" for c in [bluez] + cells))
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
