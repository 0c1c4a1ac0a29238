#!/usr/bin/env python3
"""CHIP SDK Python controller as a subscriber: PASE over UDP, then a subscription over that session.

Part of matter-ble's second-tier interop tests (scripts/interop-test, cases */chip-pase-subscribe).
Steps, all over the PASE session (no commissioning, no CASE):
  1. `EstablishPASESessionIP(ip, passcode, nodeid, port)`;
  2. `ReadAttribute(nodeid, [(0, BasicInformation.Attributes.NodeLabel)], reportInterval=(MIN, MAX),
     autoResubscribe=False)`: SubscribeRequest, the priming report, SubscribeResponse; the
     granted intervals come from `GetReportingIntervalsSeconds()`;
  3. `WriteAttribute` of NodeLabel (--label) and wait for the change report;
  4. stay subscribed for two MaxIntervals plus slack: with no data changes only the device's
     empty keep-alive reports keep the controller's liveness timer from ending the
     subscription (autoResubscribe is off, so a lost subscription shows as an error).

Exit codes: 0 ok; 3 PASE failed; 4 the subscription was not established; 5 the write failed;
6 no change report with the written value; 7 the subscription ended or errored while idle
(no keep-alives); 1/2 internal or usage error.

One JSON object goes to stdout; the controller's own log goes to stderr.
"""

import argparse
import asyncio
import tempfile
import time

from chip_common import T0, ms_since, pase_ip, run_main, start_controller

EXIT_OK, EXIT_PASE, EXIT_SUBSCRIBE, EXIT_WRITE, EXIT_NO_CHANGE, EXIT_DROPPED = 0, 3, 4, 5, 6, 7


async def subscribe_and_watch(ctrl, args, result):
    import chip.clusters as Clusters
    from chip.interaction_model import Status

    bi = Clusters.BasicInformation
    loop = asyncio.get_running_loop()
    t = time.monotonic()
    try:
        sub = await asyncio.wait_for(
            ctrl.ReadAttribute(args.node_id, [(0, bi.Attributes.NodeLabel)],
                               reportInterval=(args.min_interval, args.max_interval),
                               keepSubscriptions=False, autoResubscribe=False),
            args.timeout)
    except Exception as e:
        result["error"] = f"subscribe: {type(e).__name__}: {e}"
        return EXIT_SUBSCRIBE
    result["subscribe_ms"] = ms_since(t)
    result["subscription_id"] = sub.subscriptionId
    try:
        result["priming_node_label"] = sub.GetAttributes()[0][bi][bi.Attributes.NodeLabel]
        granted_min, granted_max = sub.GetReportingIntervalsSeconds()
    except Exception as e:
        result["error"] = f"priming report: {type(e).__name__}: {e}"
        return EXIT_SUBSCRIBE
    result.update(min_interval=granted_min, max_interval=granted_max)

    changes, errors = [], []
    changed = asyncio.Event()

    def on_change(path, transaction):
        # Called from the controller's callback context; hand over to our loop.
        value = transaction.GetAttribute(path)
        loop.call_soon_threadsafe(lambda: (changes.append((ms_since(t_write), value)), changed.set()))

    def on_error(code, transaction):
        loop.call_soon_threadsafe(errors.append, f"error {code}")

    def on_resubscribe(transaction, code, next_ms):
        loop.call_soon_threadsafe(errors.append, f"resubscription after error {code}")

    sub.SetAttributeUpdateCallback(on_change)
    sub.SetErrorCallback(on_error)
    sub.SetResubscriptionAttemptedCallback(on_resubscribe)

    t_write = time.monotonic()
    try:
        statuses = await asyncio.wait_for(
            ctrl.WriteAttribute(args.node_id, [(0, bi.Attributes.NodeLabel(args.label))]), args.timeout)
        status = statuses[0].Status
    except Exception as e:
        result["error"] = f"write: {type(e).__name__}: {e}"
        return EXIT_WRITE
    result["write_status"] = str(status)
    if status != Status.Success:
        result["error"] = f"write refused: {status}"
        return EXIT_WRITE
    deadline = time.monotonic() + granted_max + 5
    while not any(v == args.label for _, v in changes) and time.monotonic() < deadline:
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
    result["changes"] = [{"ms_after_write": ms, "value": v} for ms, v in changes]
    hit = [ms for ms, v in changes if v == args.label]
    if not hit:
        result["error"] = "no change report with the written NodeLabel"
        return EXIT_NO_CHANGE
    result["change_report_ms"] = hit[0]

    # Idle: only keep-alives arrive now. Two MaxIntervals plus slack exceed the controller's
    # liveness timeout (MaxInterval plus the MRP retransmission time) at least once.
    idle_s = 2 * granted_max + 5
    await asyncio.sleep(idle_s)
    result["idle_s"] = idle_s
    result["subscription_errors"] = errors
    sub.Shutdown()
    if errors:
        result["error"] = "subscription dropped while idle: " + "; ".join(errors)
        return EXIT_DROPPED
    return EXIT_OK


async def run(args):
    storage = tempfile.mkdtemp(prefix="mbt-chip-sub-")
    t_init = time.monotonic()
    ctrl, _keepalive = start_controller(storage)
    result = {"peer": "chip-python-controller", "mode": "subscribe", "ip": args.ip, "port": args.port,
              "stack_init_ms": ms_since(t_init)}
    ok, pase_ms, err = await pase_ip(ctrl, args.ip, args.passcode, args.node_id, args.port, args.timeout)
    result.update(pase_ok=ok, pase_ms=pase_ms, since_process_start_ms=ms_since(T0))
    if not ok:
        result["error"] = err
        return result, EXIT_PASE
    rc = await subscribe_and_watch(ctrl, args, result)
    return result, rc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ip", default="::1")
    ap.add_argument("--port", type=int, default=5540)
    ap.add_argument("--passcode", type=int, default=20202021)
    ap.add_argument("--node-id", type=int, default=1)
    ap.add_argument("--min-interval", type=int, default=1, help="MinIntervalFloor, seconds")
    ap.add_argument("--max-interval", type=int, default=10, help="MaxIntervalCeiling, seconds")
    ap.add_argument("--label", default="interop-kitchen", help="NodeLabel to write")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per step")
    args = ap.parse_args()
    if not 0 <= args.min_interval <= args.max_interval <= 0xFFFF:
        ap.error("need 0 <= --min-interval <= --max-interval <= 65535")

    run_main(run, args)


if __name__ == "__main__":
    main()
