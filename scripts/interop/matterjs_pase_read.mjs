// matter.js as a test commissioner: PASE over UDP to ip:port, then a read over the PASE session.
//
// Part of matter-ble's second-tier interop tests (scripts/interop-test). No commissioning, no CASE,
// no mDNS discovery: the lowest public matter.js (@matter/protocol 0.17) API that does PASE to a
// known address is ControllerCommissioner.establishPase({ addresses, passcode }), which returns
// the PASE NodeSession; the read goes through ClientInteraction over a
// DedicatedChannelExchangeProvider bound to that session (the same pair matter.js's own
// commissioning flow uses for its reads before it has an operational session). The
// ControllerCommissioner needs a node environment (transports, session and exchange managers, a
// certificate authority), so a ServerNode is started as the host of the controller, on a loopback
// port of its own, with commissioning disabled.
//
// Usage: node matterjs_pase_read.mjs --ip ::1 --port 5540 --passcode 20202021 [--timeout 30]
// Prints one JSON line on stdout; matter.js logs go to stderr.
// Exit codes: 0 ok; 3 PASE failed; 4 read failed; 1 internal error.

import { Environment, Logger, Seconds, ServerNode } from "@matter/main";
import {
    ControllerCommissioner,
    ClientInteraction,
    DedicatedChannelExchangeProvider,
    ExchangeManager,
    Read,
} from "@matter/main/protocol";
import { BasicInformation } from "@matter/main/clusters/basic-information";
import { ControllerBehavior } from "@matter/node";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const t0 = performance.now();
const ms = t => Math.round((performance.now() - t) * 10) / 10;

function arg(name, dflt) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const ip = arg("ip", "::1");
const port = Number.parseInt(arg("port", "5540"), 10);
const passcode = Number.parseInt(arg("passcode", "20202021"), 10);
const timeoutS = Number.parseFloat(arg("timeout", "30"));
const ownPort = Number.parseInt(arg("own-port", "5599"), 10);

// Our JSON is the only thing on stdout: route matter.js logging to stderr.
const realLog = console.log.bind(console);
Logger.destinations.default.write = text => process.stderr.write(text + "\n");
console.log = (...a) => console.error(...a);

const result = { peer: "matter.js-controller", ip, port };
let rc = 1;
let node;
try {
    Environment.default.vars.set("storage.path", mkdtempSync(join(tmpdir(), "mbt-mjsctl-")));
    const tInit = performance.now();
    node = await ServerNode.create({
        id: "mbt-interop-controller",
        network: { port: ownPort, listeningAddressIpv4: "127.0.0.1", listeningAddressIpv6: "::1" },
        commissioning: { enabled: false },
    });
    // Controller support is added at run time, as matter.js's own Discovery does.
    node.behaviors.require(ControllerBehavior);
    await node.start();
    await node.act(agent => agent.load(ControllerBehavior));
    result.stack_init_ms = ms(tInit);

    const commissioner = node.env.get(ControllerCommissioner);
    const tPase = performance.now();
    let paseSession;
    try {
        ({ paseSession } = await commissioner.establishPase({
            addresses: [{ type: "udp", ip, port }],
            passcode,
            timeout: Seconds(timeoutS),
        }));
        result.pase_ok = true;
        result.pase_ms = ms(tPase);
        result.since_process_start_ms = ms(t0);
    } catch (e) {
        result.pase_ok = false;
        result.pase_ms = ms(tPase);
        result.error = `${e?.constructor?.name}: ${e?.message}`;
        rc = 3;
        throw e;
    }

    try {
        const tRead = performance.now();
        const interaction = new ClientInteraction({
            environment: node.env,
            exchangeProvider: new DedicatedChannelExchangeProvider(node.env.get(ExchangeManager), paseSession),
        });
        const values = {};
        const request = Read(
            Read.Attribute({ endpoint: 0, cluster: BasicInformation, attributes: ["vendorName", "productId"] }),
        );
        for await (const chunk of interaction.read(request)) {
            for await (const entry of chunk) {
                if (entry.kind === "attr-value") {
                    values[entry.path.attributeId] = entry.value;
                } else {
                    values[`status-${entry.path?.attributeId}`] = entry.status ?? entry.kind;
                }
            }
        }
        result.read_ms = ms(tRead);
        result.vendor_name = values[BasicInformation.attributes.vendorName.id];
        result.product_id = values[BasicInformation.attributes.productId.id];
        if (typeof result.vendor_name !== "string" || typeof result.product_id !== "number") {
            result.error = `read: unexpected result ${JSON.stringify(values)}`;
            rc = 4;
        } else {
            rc = 0;
        }
        // Close the PASE session on the device side too (sends CloseSession), so the device can
        // accept the next initiator at once.
        await paseSession.initiateClose?.().catch(() => {});
    } catch (e) {
        result.error = `read: ${e?.constructor?.name}: ${e?.message}`;
        rc = 4;
    }
} catch (e) {
    if (rc === 1) result.error = `internal: ${e?.constructor?.name}: ${e?.message}`;
}
result.ok = rc === 0;
result.exit_code = rc;
realLog(JSON.stringify(result));
// No node.close(): the storage is a throw-away temp folder and the PASE session was already
// closed above; a graceful close only adds seconds to every case.
process.exit(rc);
