"""Controller set-up shared by the CHIP SDK Python controller scripts of scripts/interop-test
(chip_pase_read.py, chip_ble_pase_read.py, chip_pase_subscribe.py).

Uses PyPI home-assistant-chip-core (the CHIP SDK's own controller). Import this module first
thing in a script's run(): the `chip` packages are imported lazily, after json_out() has taken
fd 1 away from the native library's printf log.
"""

import asyncio
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


def start_controller(storage_dir, adapter=None):
    """A controller (fabric 1, node 112233) and the objects that must outlive it.

    `adapter` is the BlueZ adapter index N of hciN for BLE, chosen once per process at native
    init; None for IP only.
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
    ctrl = admin.NewController(nodeId=112233)
    # The CA manager, CA and fabric admin shut their controllers down in __del__: keep them alive
    # for the whole run (they are returned and held by the caller).
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
    """One PASE attempt over IP that reached the wire; returns (ok, elapsed_ms, error string)."""
    for _ in range(10):
        ok, ms, err = await pase_ip_once(ctrl, ip, passcode, nodeid, port, timeout_s)
        if ok:
            return ok, ms, err
        await asyncio.sleep(SETTLE_S)
        if LOCAL_REFUSAL not in (err or ""):
            return ok, ms, err
    return ok, ms, err


async def read_basic_info(ctrl, nodeid):
    """Reads Basic Information (0x0028) VendorName (0x0001) and ProductID (0x0004) on endpoint 0."""
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


def finish(main):
    """Runs `main` (returns an exit code) and leaves without the native stack's exit crash.

    The native stack aborts in a static destructor at exit (VerifyOrDie in InetLayer.h with
    home-assistant-chip-core 2025.7.0), which would replace our exit code with 134.
    """
    rc = main()
    sys.stderr.flush()
    os._exit(rc)
