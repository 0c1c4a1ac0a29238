// matter.js as a commissioner: on-network commissioning found over DNS-SD, then the On/Off light.
//
// Part of matter-ble's second-tier interop tests (scripts/interop-test, cases */matterjs-commission
// and the second administrator of */multi-admin). It uses the @matter/node client API: a ServerNode
// with ControllerBehavior is the controller (commissioning of itself disabled, storage in
// --state-dir so a later run is the same administrator), `peers.commission({ passcode,
// longDiscriminator })` browses `_matterc._udp` for the long-discriminator subtype, runs PASE,
// the commissioning flow (attestation, CSR, AddNOC, CASE, CommissioningComplete) and gives the
// commissioned ClientNode; the light actions go over its CASE session (commands and reads through
// the ClientNode's interaction: invoke, and read with known data versions
// left out, so every read is answered by the device, not by a cache).
//
// Usage: node matterjs_commission.mjs --mode commission --passcode 20202021 --discriminator 3840
//             [--state-dir DIR] [--light toggle] [--timeout 60] [--mdns-interface IF] [--own-port 5599]
//        node matterjs_commission.mjs --mode control --state-dir DIR [--light read,toggle]
// --light: comma list of read, toggle (read, Toggle, read: must flip), on, off ("" = none).
// Prints one JSON line on stdout (matter.js logs go to stderr): discovery+commissioning wall time,
// the OnOff values read ("onoff_reads", last one "onoff"), the device's fabric index for us
// ("device_fabric_index", read from CurrentFabricIndex).
// Exit codes: 0 ok; 3 commissioning failed (discovery, PASE or a step); 5 no such commissioned
// peer in --state-dir (control); 8 a light action failed or read a wrong value; 1 internal error.

import { Environment, Logger, Seconds, ServerNode } from "@matter/main";
import { OnOff } from "@matter/main/clusters/on-off";
import { OperationalCredentials } from "@matter/main/clusters/operational-credentials";
import { Invoke, Read } from "@matter/main/protocol";
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
const mode = arg("mode", "commission");
const passcode = Number.parseInt(arg("passcode", "20202021"), 10);
const discriminator = Number.parseInt(arg("discriminator", "3840"), 10);
const timeoutS = Number.parseFloat(arg("timeout", "60"));
const ownPort = Number.parseInt(arg("own-port", "5599"), 10);
const stateDir = arg("state-dir", "") || mkdtempSync(join(tmpdir(), "mbt-mjscomm-"));
const mdnsInterface = arg("mdns-interface", "");
const actions = arg("light", mode === "commission" ? "toggle" : "read").split(",").filter(a => a);

// Our JSON is the only thing on stdout: route matter.js logging to stderr.
const realLog = console.log.bind(console);
Logger.destinations.default.write = text => process.stderr.write(text + "\n");
console.log = (...a) => console.error(...a);

const result = { peer: "matter.js-controller", mode };
let rc = 1;

const withTimeout = (promise, what) =>
    Promise.race([
        promise,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: timed out after ${timeoutS} s`)), timeoutS * 1000)),
    ]);

async function readAttr(peer, endpoint, cluster, attribute, fabricFiltered = true) {
    const request = {
        ...Read(Read.Attribute({ endpoint, cluster, attributes: [attribute] })),
        includeKnownVersions: true,
        isFabricFiltered: fabricFiltered,
    };
    let value;
    for await (const chunk of peer.interaction.read(request)) {
        for await (const entry of chunk) {
            if (entry.kind === "attr-value") value = entry.value;
            else throw new Error(`read ${attribute}: ${entry.kind} ${entry.status ?? ""}`);
        }
    }
    return value;
}

// The command through the peer's interaction (not `commandsOf` on a part: a peer loaded from
// storage without a subscription has no endpoint structure yet).
async function invoke(peer, endpoint, cluster, command) {
    for await (const chunk of peer.interaction.invoke(Invoke(Invoke.ConcreteCommandRequest({ endpoint, cluster, command })))) {
        for (const entry of Array.isArray(chunk) ? chunk : [chunk]) {
            if (entry?.kind === "cmd-status" && entry.status !== undefined && entry.status !== 0) {
                throw new Error(`${command}: status ${entry.status}`);
            }
        }
    }
}

async function lightActions(peer) {
    result.onoff_reads = [];
    result.light_ms = {};
    const readOnOff = async () => {
        const v = await readAttr(peer, 1, OnOff, "onOff");
        if (typeof v !== "boolean") throw new Error(`OnOff read returned ${JSON.stringify(v)}`);
        result.onoff_reads.push(v);
        return v;
    };
    for (const action of actions) {
        const t = performance.now();
        try {
            if (action === "read") {
                await withTimeout(readOnOff(), "read");
            } else if (["toggle", "on", "off"].includes(action)) {
                const before = action === "toggle" ? await withTimeout(readOnOff(), "read") : undefined;
                await withTimeout(invoke(peer, 1, OnOff, action), action);
                const after = await withTimeout(readOnOff(), "read");
                const want = action === "toggle" ? !before : action === "on";
                if (after !== want) throw new Error(`${action}: OnOff reads ${after} afterwards, expected ${want}`);
            } else {
                throw new Error(`unknown light action ${action}`);
            }
        } catch (e) {
            result.error = `light: ${action}: ${e?.constructor?.name}: ${e?.message}`;
            result.light_ms[action] = ms(t);
            return false;
        }
        result.light_ms[action] = ms(t);
    }
    if (result.onoff_reads.length) result.onoff = result.onoff_reads[result.onoff_reads.length - 1];
    return true;
}

let controller;
try {
    Environment.default.vars.set("storage.path", stateDir);
    if (mdnsInterface) Environment.default.vars.set("mdns.networkInterface", mdnsInterface);
    const tInit = performance.now();
    controller = await ServerNode.create({
        id: "mbt-interop-controller",
        network: { port: ownPort },
        commissioning: { enabled: false },
    });
    controller.behaviors.require(ControllerBehavior);
    await controller.start();
    result.stack_init_ms = ms(tInit);

    let peer;
    if (mode === "commission") {
        const t = performance.now();
        try {
            await withTimeout(
                controller.peers.commission({
                    id: "device",
                    passcode,
                    longDiscriminator: discriminator,
                    timeout: Seconds(timeoutS),
                    autoSubscribe: false,
                }),
                "commission",
            );
            peer = controller.peers.get("device");
            if (peer === undefined) throw new Error("commissioned, but no peer 'device'");
            result.commissioned = true;
            result.commission_ms = ms(t);
            result.since_process_start_ms = ms(t0);
        } catch (e) {
            result.commissioned = false;
            result.commission_ms = ms(t);
            result.error = `commission: ${e?.constructor?.name}: ${e?.message}`;
            rc = 3;
            throw e;
        }
    } else {
        peer = controller.peers.get("device");
        if (peer === undefined) {
            result.error = `no commissioned peer in ${stateDir}`;
            rc = 5;
            throw new Error(result.error);
        }
        await peer.start();
    }
    // Which fabric index the device gave us (commission mode only: in control mode a removed
    // fabric would spend the whole timeout here before the light actions are even tried).
    if (mode === "commission") try {
        result.device_fabric_index = await withTimeout(
            readAttr(peer, 0, OperationalCredentials, "currentFabricIndex"),
            "read CurrentFabricIndex",
        );
    } catch (e) {
        result.fabric_index_error = `${e?.constructor?.name}: ${e?.message}`;
    }
    rc = (await lightActions(peer)) ? 0 : 8;
} catch (e) {
    if (rc === 1) result.error = `internal: ${e?.constructor?.name}: ${e?.message}`;
}
result.ok = rc === 0;
result.exit_code = rc;
realLog(JSON.stringify(result));
// No controller.close(): it would wait for the peer's subscription/session teardown; the state
// is on disk already (matter.js writes it as it changes).
process.exit(rc);
