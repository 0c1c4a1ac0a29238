# scripts/interop/common.sh — shell helpers shared by scripts/interop-test and scripts/vm-test
# (sourced, not run): the pinned CHIP Python controller venv, and the checks and one-line
# summaries of the JSON results the controllers print.
#
# The sourcing script sets: HERE (scripts/interop), CACHE (where the venv lives), PYTHON_BIN
# (interpreter for the venv), and defines log() and die(). After ensure_chip_venv, PY is the
# venv's python.

stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# Python venv with the pinned CHIP controller ($CACHE/venv). Re-installed only when the pins or
# the interpreter change.
ensure_chip_venv() {
    local want venv="$CACHE/venv"
    want="$(stamp_of "$HERE/requirements.txt")-$("$PYTHON_BIN" -c 'import sys; print(sys.version.split()[0])')"
    if ! { [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$want" ]; }; then
        log "installing the CHIP Python controller into $venv"
        rm -rf "$venv"
        "$PYTHON_BIN" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
        "$venv/bin/python" -c 'import chip.ChipDeviceCtrl, chip.clusters, chip.setup_payload' \
            || die "the CHIP controller does not import after install"
        echo "$want" > "$venv/.stamp"
    fi
    PY="$venv/bin/python"
}

# Result checks: python over the last JSON line a controller printed.
# check_json FILE 'python expression on r'
check_json() {
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
with open(sys.argv[1]) as f:
    lines = [l for l in f.read().splitlines() if l.strip().startswith("{")]
if not lines:
    print("no JSON result", file=sys.stderr); sys.exit(1)
r = json.loads(lines[-1])
ok = eval(sys.argv[2], {}, {"r": r})
if not ok:
    print(f"check failed: {sys.argv[2]}  on {lines[-1]}", file=sys.stderr)
sys.exit(0 if ok else 1)
PYEOF
}

# Short timing summary of a controller result, for the case line.
summary() {
    "$PY" - "$1" <<'PYEOF' 2>/dev/null || true
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip().startswith("{")]
r = json.loads(lines[-1]) if lines else {}
parts = []
for k, label in (("scan_to_connect_ms", "scan→connect"), ("connect_to_btp_ms", "connect→BTP"),
                 ("connect_to_pase_ms", "connect→PASE"), ("pase_ms", "pase"),
                 ("connect_to_first_encrypted_ms", "connect→1st encrypted"), ("read_ms", "read"),
                 ("right_after_lockout_ms", "after-lockout"), ("commission_ms", "commission"),
                 ("subscribe_ms", "subscribe"), ("change_report_ms", "change report after write")):
    if r.get(k) is not None: parts.append(f"{label} {r[k]} ms")
if "wrong_attempt_ms" in r: parts.append(f"{r['wrong_attempts']} wrong tries, max {max(r['wrong_attempt_ms'])} ms")
if r.get("vendor_name") is not None and r.get("product_id") is not None: parts.append(f"VendorName={r['vendor_name']!r} ProductID=0x{r['product_id']:04X}")
if r.get("max_interval") is not None: parts.append(f"MaxInterval {r['max_interval']} s")
if r.get("steps"):
    noc = [s for s in r["steps"] if s["step"] == "SendNOC"]
    parts.append(f"{len(r['steps'])} steps, last {r['last_step']}" + (f", AddNOC at {noc[0]['at_ms']} ms after PASE" if noc else ", no AddNOC"))
if r.get("failed_step"): parts.append(f"failed step {r['failed_step']['step']}")
ph = r.get("phases") or {}
if ph.get("total_ms") is not None:
    names = (("ble_connect_ms", "BLE"), ("pase_ms", "PASE"), ("attestation_ms", "attestation"), ("addnoc_ms", "AddNOC"),
             ("network_ms", "Wi-Fi"), ("case_ms", "CASE"), ("complete_ms", "complete"))
    parts.append(f"commissioned in {ph['total_ms']} ms (" + ", ".join(f"{l} {ph[k]}" for k, l in names if ph.get(k) is not None) + ")")
if r.get("onoff_reads"): parts.append(f"OnOff reads {r['onoff_reads']}")
if r.get("after_restart", {}).get("onoff_reads"): parts.append(f"after restart OnOff reads {r['after_restart']['onoff_reads']}")
if r.get("case_after_restart"):
    c = r["case_after_restart"]
    parts.append(f"CASE after restart: {c['sigma1']} Sigma1, {c['sigma2_resume']} Sigma2Resume, {c['sigma2']} Sigma2")
if r.get("fabrics_before") is not None:
    parts.append(f"fabrics {len(r['fabrics_before'])} -> {len(r.get('fabrics_after') or [])} after RemoveFabric; B afterwards: exit {r.get('b_after_removal', {}).get('exit_code')}")
if r.get("error") and r.get("steps"): parts.append("error: " + str(r["error"])[:160])
if r.get("error") and not r.get("steps"): parts.append("error: " + r["error"][:120])
print("; ".join(parts))
PYEOF
}
