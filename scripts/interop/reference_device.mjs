// Reference Matter device for scripts/interop-test: a matter.js (@matter/main) on/off light.
//
// It is the known-good peer every controller harness is proven against before it is pointed at
// our device. By default it binds to the loopback addresses only; `--listen any` (used by the
// harness, inside its private network namespace, whose only other interface is a veth with
// addresses the harness made) binds to all addresses, so the operational addresses it announces
// over DNS-SD are reachable. Its mDNS never leaves the host either way.
//
// Usage: node reference_device.mjs [--port 5540] [--passcode 20202021] [--discriminator 3840]
//                                  [--vendor-id 0xFFF1] [--product-id 0x8000] [--state-dir DIR]
//                                  [--listen loopback|any] [--mdns-interface IFNAME]
// --state-dir DIR keeps the fabrics and the light's state there (a restart with the same DIR is
// the same commissioned device); without it a fresh temp folder is used. (Not "--storage":
// matter.js reads "--storage..." from the command line as its own storage settings.)
// Logs "REFERENCE_ON_OFF <true|false>" on stdout whenever the light's OnOff changes.
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
const storage = arg("state-dir", mkdtempSync(join(tmpdir(), "mbt-refdev-")));
const listen = arg("listen", "loopback");
const mdnsInterface = arg("mdns-interface", "");

// A fresh storage folder (the default): an uncommissioned device with an open window.
const env = Environment.default;
env.vars.set("storage.path", storage);
if (mdnsInterface) env.vars.set("mdns.networkInterface", mdnsInterface);

const node = await ServerNode.create({
    id: "reference-light",
    network: listen === "any" ? { port } : { port, listeningAddressIpv4: "127.0.0.1", listeningAddressIpv6: "::1" },
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
const light = await node.add(OnOffLightDevice);
light.events.onOff.onOff$Changed.on(value => console.log(`REFERENCE_ON_OFF ${value}`));

const stop = async () => {
    await node.close();
    process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

await node.start();
console.log(`REFERENCE_DEVICE_READY port=${port}`);
