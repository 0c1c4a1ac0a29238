"""Shared set-up for the CHIP SDK Python controller scripts of scripts/interop-test.

Every chip_*.py script here runs one controller stack in its own process, prints one JSON object
on stdout and lets the controller's (very chatty) C++ log go to stderr. This module holds what
they all need: the stdout/stderr split, the controller bring-up, the PASE retry rule and the
JSON-result main wrapper.
"""

import asyncio
import json
import os
import sys
import time

T0 = time.monotonic()


def ms_since(t):
    return round((time.monotonic() - t) * 1000.0, 1)


def json_out():
    """Keep the real stdout for our JSON and send everything else written to fd 1 to stderr.

    The CHIP native library logs to fd 1 directly (printf), so redirecting sys.stdout alone
    would not keep its lines out of our result.
    """
    real = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return real


def start_controller(storage_dir, adapter=None, paa_trust_store=None, node_id=112233):
    """One controller on a fresh fabric (vendor 0xFFF1, fabric 1).

    adapter: BlueZ adapter index N of hciN for BLE (chosen once per process at native init).
    paa_trust_store: folder of PAA certificates (DER) the controller's attestation verifier
    trusts; None keeps the library's default.
    Returns (controller, keepalive): hold keepalive for the whole run, because the CA manager,
    CA and fabric admin shut their controllers down in __del__.
    """
    import chip.CertificateAuthority
    import chip.native
    from chip.ChipStack import ChipStack

    os.makedirs("/data", exist_ok=True)
    if adapter is None:
        chip.native.Init()
    else:
        chip.native.Init(bluetoothAdapter=adapter)
    # enableServerInteractions=False: this process is only a client; nothing listens for
    # commissioning here.
    stack = ChipStack(persistentStoragePath=os.path.join(storage_dir, "chip-repl.json"),
                      enableServerInteractions=False)
    ca_mgr = chip.CertificateAuthority.CertificateAuthorityManager(stack, stack.GetStorageManager())
    ca = ca_mgr.NewCertificateAuthority()
    admin = ca.NewFabricAdmin(vendorId=0xFFF1, fabricId=1)
    kwargs = {"nodeId": node_id}
    if paa_trust_store:
        kwargs["paaTrustStorePath"] = paa_trust_store
    ctrl = admin.NewController(**kwargs)
    return ctrl, (stack, ca_mgr, ca, admin)


async def pase_ip_once(ctrl, ip, passcode, nodeid, port, timeout_s):
    t = time.monotonic()
    try:
        await asyncio.wait_for(ctrl.EstablishPASESessionIP(ip, passcode, nodeid, port), timeout_s)
        return True, ms_since(t), None
    except Exception as e:  # ChipStackError, asyncio.TimeoutError
        return False, ms_since(t), f"{type(e).__name__}: {e}"


# A failed PASE reports its completion callback twice in home-assistant-chip-core 2025.7.0 (first
# "Incorrect state" from the script pairing delegate, then the real error); the second call would
# fail the *next* attempt's future early while that attempt is still running natively, and the
# controller then refuses further attempts locally (CHIPDeviceController.cpp "Incorrect state").
# So after a failure we let the stack settle, and a purely local refusal is retried, not counted.
SETTLE_S = 0.5
LOCAL_REFUSAL = "CHIPDeviceController.cpp"


async def pase_ip(ctrl, ip, passcode, nodeid, port, timeout_s):
    """One PASE attempt over UDP that reached the wire; returns (ok, elapsed_ms, error string)."""
    for _ in range(10):
        ok, ms, err = await pase_ip_once(ctrl, ip, passcode, nodeid, port, timeout_s)
        if ok:
            return ok, ms, err
        await asyncio.sleep(SETTLE_S)
        if LOCAL_REFUSAL not in (err or ""):
            return ok, ms, err
    return ok, ms, err


async def read_basic_info(ctrl, nodeid):
    """VendorName and ProductID of Basic Information on endpoint 0, with the read's wall time."""
    import chip.clusters as Clusters

    bi = Clusters.BasicInformation
    t = time.monotonic()
    res = await ctrl.ReadAttribute(nodeid, [(0, bi.Attributes.VendorName), (0, bi.Attributes.ProductID)])
    ep0 = res[0][bi]
    vendor_name = ep0[bi.Attributes.VendorName]
    product_id = ep0[bi.Attributes.ProductID]
    # A per-attribute failure comes back as an error object instead of a value.
    if not isinstance(vendor_name, str) or not isinstance(product_id, int):
        raise RuntimeError(f"attribute error: VendorName={vendor_name!r} ProductID={product_id!r}")
    return {"vendor_name": vendor_name, "product_id": product_id, "read_ms": ms_since(t)}


def merge_into_result(result_path, extra):
    """Prints the last JSON result of result_path with the dict `extra` added (the harness
    appends the printed line to the file, so the checks read the merged result)."""
    with open(result_path) as f:
        lines = [l for l in f.read().splitlines() if l.strip().startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    result.update(extra)
    print(json.dumps(result))
    return 0


def run_main(coro_fn, args, ok_code=0):
    """Runs `coro_fn(args)` -> (result dict, exit code), prints the result as one JSON line on
    the real stdout and leaves the process with that code."""
    out = json_out()
    try:
        result, rc = asyncio.run(coro_fn(args))
    except Exception as e:
        result, rc = {"error": f"internal: {type(e).__name__}: {e}"}, 1
    result["ok"] = rc == ok_code
    result["exit_code"] = rc
    out.write(json.dumps(result) + "\n")
    out.flush()
    sys.stderr.flush()
    # The native stack aborts in a static destructor at exit (VerifyOrDie in InetLayer.h with
    # home-assistant-chip-core 2025.7.0), which would replace our exit code with 134.
    os._exit(rc)
