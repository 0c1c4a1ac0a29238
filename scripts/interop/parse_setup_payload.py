#!/usr/bin/env python3
"""Parse a Matter QR code and/or manual pairing code with the CHIP SDK's own parser.

Part of matter-ble's second-tier interop tests (scripts/interop-test). The parser is the one in
PyPI home-assistant-chip-core (`chip.setup_payload.SetupPayload`), a real peer's implementation, so a
code that round-trips here is what chip-tool and the CHIP-based commissioners will read.

Usage:
  parse_setup_payload.py [--qr MT:...] [--manual 34970112332]
  parse_setup_payload.py --generate --passcode N --discriminator N --vendor-id N --product-id N
                         [--capabilities N]

Prints one JSON object on stdout: {"qr": {...fields...}, "manual": {...fields...}} (or, with
--generate, {"qr": "MT:...", "manual": "..."}). Exits 2 on a parse error, with the CHIP error on
stderr.
"""

import argparse
import json
import os
import sys


def fields(payload):
    """Fields of a parsed chip SetupPayload as plain JSON values (None where a code lacks them)."""
    attrs = dict(payload.attributes)
    out = {
        "version": payload.version,
        "vendor_id": payload.vendor_id,
        "product_id": payload.product_id,
        "passcode": payload.setup_passcode,
        "long_discriminator": payload.long_discriminator,
        "short_discriminator": payload.short_discriminator,
        "commissioning_flow": payload.commissioning_flow,
        "raw_attributes": attrs,
        "vendor_attributes": {str(k): v for k, v in payload.vendor_attributes.items()},
    }
    # The manual code carries no rendezvous information; report null instead of the getter's 0.
    if "RendezvousInformation" in attrs:
        rv = payload.rendezvous_information
        out["rendezvous_information"] = rv
        out["rendezvous_ble"] = bool(rv & 0b010)
        out["rendezvous_on_network"] = bool(rv & 0b100)
        out["rendezvous_soft_ap"] = bool(rv & 0b001)
    else:
        out["rendezvous_information"] = None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qr")
    ap.add_argument("--manual")
    ap.add_argument("--generate", action="store_true")
    ap.add_argument("--passcode", type=lambda s: int(s, 0))
    ap.add_argument("--discriminator", type=lambda s: int(s, 0))
    ap.add_argument("--vendor-id", type=lambda s: int(s, 0), default=0xFFF1)
    ap.add_argument("--product-id", type=lambda s: int(s, 0), default=0x8001)
    ap.add_argument("--capabilities", type=lambda s: int(s, 0), default=0b010,
                    help="rendezvous bitmap for --generate: 1 SoftAP, 2 BLE, 4 on-network")
    args = ap.parse_args()

    # The CHIP native library logs to fd 1 with printf: keep the real stdout for our JSON and
    # send everything else written to fd 1 to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    # Imported late so --help works without the native library.
    import chip.native
    from chip.setup_payload import SetupPayload

    # SetupPayload refuses to run until the native stack's common part is initialised (no
    # controller, no fabric: nothing is written to disk).
    chip.native.Init()

    if args.generate:
        if args.passcode is None or args.discriminator is None:
            ap.error("--generate needs --passcode and --discriminator")
        sp = SetupPayload()
        qr = sp.GenerateQrCode(args.passcode, args.vendor_id, args.product_id, args.discriminator,
                               0, args.capabilities, 0)
        manual = sp.GenerateManualPairingCode(args.passcode, args.vendor_id, args.product_id,
                                              args.discriminator, 0, args.capabilities, 0)
        out.write(json.dumps({"qr": qr, "manual": manual}) + "\n")
        out.flush()
        return 0

    if not args.qr and not args.manual:
        ap.error("give --qr and/or --manual")
    result = {}
    try:
        if args.qr:
            result["qr"] = fields(SetupPayload().ParseQrCode(args.qr))
        if args.manual:
            result["manual"] = fields(SetupPayload().ParseManualPairingCode(args.manual.replace("-", "").replace(" ", "")))
    except Exception as e:  # the CHIP binding raises ChipStackError subclasses
        print(f"parse failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    out.write(json.dumps(result, indent=1) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The native stack aborts in a static destructor at interpreter exit (VerifyOrDie in
    # InetLayer.h, seen with home-assistant-chip-core 2025.7.0), which would turn every exit code
    # into 134. Leave without running destructors.
    os._exit(rc)
