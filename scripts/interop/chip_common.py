"""Shared by chip_pase_read.py (PASE over IP) and chip_ble_pase_read.py (PASE over BLE): the CHIP
SDK Python controller's set-up, the Basic Information read, and the JSON/exit plumbing.

Part of matter-ble's interop tests (scripts/interop-test, scripts/vm-test).
"""

import json
import os
import sys
import time


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


def start_controller(storage_dir, bluetooth_adapter=None):
    """A controller on a fresh fabric; `bluetooth_adapter` N = hciN (chosen once per process)."""
    import chip.CertificateAuthority
    import chip.native
    from chip.ChipStack import ChipStack

    os.makedirs("/data", exist_ok=True)
    if bluetooth_adapter is None:
        chip.native.Init()
    else:
        chip.native.Init(bluetoothAdapter=bluetooth_adapter)
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


async def read_basic_info(ctrl, nodeid):
    """VendorName and ProductID of Basic Information (0x0028) on endpoint 0."""
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


def finish(out, result, rc, ok_code=0):
    """Writes the JSON result with ok/exit_code and leaves without the native stack's teardown.

    The native stack aborts in a static destructor at exit (VerifyOrDie in InetLayer.h with
    home-assistant-chip-core 2025.7.0), which would replace our exit code with 134.
    """
    result["ok"] = rc == ok_code
    result["exit_code"] = rc
    out.write(json.dumps(result) + "\n")
    out.flush()
    sys.stderr.flush()
    os._exit(rc)
