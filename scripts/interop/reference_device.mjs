// Reference Matter device for scripts/interop-test: a matter.js (@matter/main) on/off light.
//
// It stands in for our own device while ours cannot yet run PASE over UDP, so the controller
// scripts can be proven against a known-good peer. Binds to the loopback addresses only; the
// harness also runs it inside a private network namespace, so its mDNS never leaves the host.
//
// Usage: node reference_device.mjs [--port 5540] [--passcode 20202021] [--discriminator 3840]
//                                  [--vendor-id 0xFFF1] [--product-id 0x8000] [--storage DIR]
// Prints "REFERENCE_DEVICE_READY port=<port>" on stdout once it is listening.

import { Environment, ServerNode, VendorId } from "@matter/main";
import { OnOffLightDevice } from "@matter/main/devices/on-off-light";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function arg(name, dflt) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const num = s => Number.parseInt(s, s.startsWith("0x") || s.startsWith("0X") ? 16 : 10);

const port = num(arg("port", "5540"));
const passcode = num(arg("passcode", "20202021"));
const discriminator = num(arg("discriminator", "3840"));
const vendorId = num(arg("vendor-id", "0xFFF1"));
const productId = num(arg("product-id", "0x8000"));
const storage = arg("storage", mkdtempSync(join(tmpdir(), "mbt-refdev-")));

// A fresh storage folder each run: an uncommissioned device with an open window.
const env = Environment.default;
env.vars.set("storage.path", storage);

const node = await ServerNode.create({
    id: "reference-light",
    network: {
        port,
        listeningAddressIpv4: "127.0.0.1",
        listeningAddressIpv6: "::1",
    },
    commissioning: { passcode, discriminator },
    productDescription: { name: "matter-ble reference light", deviceType: OnOffLightDevice.deviceType },
    basicInformation: {
        vendorName: "matter-ble-reference",
        vendorId: VendorId(vendorId),
        productName: "Reference Light",
        productId,
        nodeLabel: "reference",
        serialNumber: "mbt-ref-0001",
        uniqueId: "mbt-ref-uid-0001",
    },
});
await node.add(OnOffLightDevice);

const stop = async () => {
    await node.close();
    process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

await node.start();
console.log(`REFERENCE_DEVICE_READY port=${port}`);
