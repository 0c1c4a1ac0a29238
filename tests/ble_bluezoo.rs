//! The BlueZ shell against the bluezoo BlueZ mock (PyPI `bluezoo`, virtual adapters on a
//! private D-Bus bus): our GATT application and advertisement on one adapter, a `bluer` central
//! on another, through bluezoo's real org.bluez D-Bus API.
//!
//! These tests are `#[ignore]`d: they need the mock. Run them with `scripts/bluezoo-env test`,
//! which starts a private dbus-daemon + bluezoo with twelve adapters (hci0..hci11), sets
//! `DBUS_SYSTEM_BUS_ADDRESS` and `MATTER_BLE_BLUEZOO=1`, and runs
//! `cargo test --test ble_bluezoo -- --ignored --test-threads=1`. Each peripheral/central pair
//! is used once because bluezoo cannot reconnect the same pair (it keeps stale GATT objects):
//! hci0+hci1 raw events, hci2+hci3 router, hci4+hci5+hci6 two centrals, hci6 advertising slots,
//! hci7 adapter power, hci8+hci9 engine close, hci10+hci11 BTP session.

use std::time::{Duration, Instant};

use bluer::{AdapterEvent, Address, Session};
use futures::{Stream, StreamExt};
use matter_ble::ble::gatt::{C1_UUID, C2_UUID, C3_UUID, MATTER_SERVICE_UUID};
use matter_ble::ble::link::{LinkExit, LinkOutput};
use matter_ble::ble::{
    open_adapter, Advertiser, BleError, BlePeripheral, CommissionableAdvertisement, LinkClock,
    LinkEngine, LinkEvent, LinkId, LinkRouter, PeripheralConfig,
};
use matter_ble::time::Instant as CoreInstant;
use tokio::sync::mpsc;
use tokio::time::timeout;

const STEP: Duration = Duration::from_secs(10);

// Matter Core spec §5.4.2.5.6 layout: opcode 0, u16 LE discriminator (12 bits) + version 0, u16 LE
// vendor id, u16 LE product id, flags; name "MATTER-" + the discriminator as 4 decimal digits.
/// Discriminator 3840, vendor 0xFFF1, product 0x8000, additional data on C3.
const EXPECTED_3840: Expected = Expected {
    service_data: [0x00, 0x00, 0x0F, 0xF1, 0xFF, 0x00, 0x80, 0x01],
    local_name: "MATTER-3840",
};
/// Discriminator 0x123 = 291, vendor 0xFFF1, product 0x8001.
const EXPECTED_0123: Expected = Expected {
    service_data: [0x00, 0x23, 0x01, 0xF1, 0xFF, 0x01, 0x80, 0x00],
    local_name: "MATTER-0291",
};
/// Discriminator 0xABC = 2748, vendor 0xFFF1, product 0x8002.
const EXPECTED_0ABC: Expected = Expected {
    service_data: [0x00, 0xBC, 0x0A, 0xF1, 0xFF, 0x02, 0x80, 0x00],
    local_name: "MATTER-2748",
};

/// Refuses to run against a real system bus.
fn require_mock_bus() {
    let addr = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_default();
    assert!(
        std::env::var("MATTER_BLE_BLUEZOO").as_deref() == Ok("1")
            && addr.contains(".cache/bluezoo"),
        "run these tests through scripts/bluezoo-env test (private bus with bluezoo), got \
         DBUS_SYSTEM_BUS_ADDRESS={addr:?}"
    );
}

async fn next_event(events: &mut mpsc::Receiver<LinkEvent>, what: &str) -> LinkEvent {
    match timeout(STEP, events.recv()).await {
        Ok(Some(ev)) => ev,
        Ok(None) => panic!("event channel closed while waiting for {what}"),
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

struct Central {
    device: bluer::Device,
    c1: bluer::gatt::remote::Characteristic,
    c2: bluer::gatt::remote::Characteristic,
    c3: bluer::gatt::remote::Characteristic,
}

/// What a central must see in the advertisement, written out (not computed by the code under
/// test).
struct Expected {
    service_data: [u8; 8],
    local_name: &'static str,
}

/// Discovers `peripheral` from `adapter_name`, checks its advertisement, connects and finds the
/// Matter characteristics.
async fn discover_and_connect(
    session: &Session,
    adapter_name: &str,
    peripheral: Address,
    expected: &Expected,
) -> Central {
    connect(discover(session, adapter_name, peripheral, expected).await).await
}

/// Discovers `peripheral` from `adapter_name` and checks its advertisement.
async fn discover(
    session: &Session,
    adapter_name: &str,
    peripheral: Address,
    expected: &Expected,
) -> bluer::Device {
    let adapter = session.adapter(adapter_name).expect("central adapter");
    let started = Instant::now();
    let mut disco = adapter.discover_devices().await.expect("discovery");
    let device = loop {
        match timeout(STEP, disco.next()).await {
            Ok(Some(AdapterEvent::DeviceAdded(a))) if a == peripheral => {
                let d = adapter.device(a).expect("device");
                let sd = d
                    .service_data()
                    .await
                    .expect("service data")
                    .unwrap_or_default();
                if sd.contains_key(&MATTER_SERVICE_UUID) {
                    break d;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("discovery ended"),
            Err(_) => panic!("peripheral {peripheral} not discovered"),
        }
    };
    drop(disco);
    println!("discovered {peripheral} after {:?}", started.elapsed());

    // The advertisement as a central sees it.
    let sd = device.service_data().await.unwrap().unwrap_or_default();
    assert_eq!(
        sd.get(&MATTER_SERVICE_UUID).map(Vec::as_slice),
        Some(&expected.service_data[..])
    );
    let uuids = device.uuids().await.unwrap().unwrap_or_default();
    assert!(uuids.contains(&MATTER_SERVICE_UUID), "{uuids:?}");
    assert_eq!(
        device.name().await.unwrap().as_deref(),
        Some(expected.local_name)
    );
    device
}

/// Connects and finds the Matter characteristics.
async fn connect(device: bluer::Device) -> Central {
    timeout(STEP, device.connect())
        .await
        .expect("connect timeout")
        .expect("connect");
    let services = timeout(STEP, device.services())
        .await
        .expect("services timeout")
        .expect("services");
    let mut found = None;
    for s in services {
        if s.uuid().await.unwrap() == MATTER_SERVICE_UUID {
            found = Some(s);
        }
    }
    let service = found.expect("Matter service 0xFFF6 on the peripheral");
    let (mut c1, mut c2, mut c3) = (None, None, None);
    for c in service.characteristics().await.unwrap() {
        let uuid = c.uuid().await.unwrap();
        let flags = c.flags().await.unwrap();
        if uuid == C1_UUID {
            assert!(
                flags.write && !flags.write_without_response,
                "C1 is write with response"
            );
            c1 = Some(c);
        } else if uuid == C2_UUID {
            assert!(flags.indicate && !flags.notify, "C2 is indicate only");
            c2 = Some(c);
        } else if uuid == C3_UUID {
            assert!(flags.read, "C3 is readable");
            c3 = Some(c);
        }
    }
    Central {
        device,
        c1: c1.expect("C1"),
        c2: c2.expect("C2"),
        c3: c3.expect("C3"),
    }
}

async fn next_value(stream: &mut (impl Stream<Item = Vec<u8>> + Unpin), what: &str) -> Vec<u8> {
    match timeout(STEP, stream.next()).await {
        Ok(Some(v)) => v,
        Ok(None) => panic!("notification stream ended before {what}"),
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

async fn peripheral(
    adapter: &str,
    adv: CommissionableAdvertisement,
    c3: &[u8],
) -> (BlePeripheral, mpsc::Receiver<LinkEvent>, Address) {
    let mut config = PeripheralConfig::new(adv);
    config.adapter = Some(adapter.into());
    config.gatt.additional_data = c3.to_vec();
    let (p, events) = BlePeripheral::start(config)
        .await
        .expect("peripheral start");
    p.open_window().await.expect("advertise");
    let addr = p.adapter().address().await.unwrap();
    (p, events, addr)
}

/// The raw LinkEvents, in order, for one central doing what a BTP central does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bluezoo: scripts/bluezoo-env test"]
async fn gatt_events_in_order() {
    require_mock_bus();
    let adv = CommissionableAdvertisement::new(3840, 0xFFF1, 0x8000)
        .unwrap()
        .with_additional_data(true);
    let c3_bytes = [0x15, 0x30, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF, 0x18];
    let (p, mut events, p_addr) = peripheral("hci0", adv, &c3_bytes).await;
    let gatt = p.gatt();

    let session = Session::new().await.unwrap();
    let central_addr = session.adapter("hci1").unwrap().address().await.unwrap();
    let central = discover_and_connect(&session, "hci1", p_addr, &EXPECTED_3840).await;
    let t0 = Instant::now();

    // 1. BTP handshake request on C1 (the CHIP central writes before it subscribes).
    let handshake = [0x65, 0x6C, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06];
    central.c1.write(&handshake).await.expect("C1 write");
    let link = match next_event(&mut events, "C1 write").await {
        LinkEvent::Write { link, data, mtu } => {
            assert_eq!(link, LinkId(central_addr));
            assert_eq!(data, handshake);
            assert_eq!(mtu, 512, "bluezoo reports ATT MTU 512");
            link
        }
        other => panic!("expected Write, got {other:?}"),
    };

    // A connected central pauses the advertisement (the window stays open).
    let hci0 = p.adapter().clone();
    wait_instances(&hci0, 0, "advertising paused while connected").await;
    let status = p.advertiser().status().await;
    assert!(
        status.open && status.paused && status.phase.is_none(),
        "{status:?}"
    );

    // 2. Subscribe to C2.
    let mut values = Box::pin(central.c2.notify().await.expect("C2 StartNotify"));
    match next_event(&mut events, "Subscribed").await {
        LinkEvent::Subscribed { link: l, mtu } => assert_eq!((l, mtu), (link, 512)),
        other => panic!("expected Subscribed, got {other:?}"),
    }

    // 3. Two indications queued at once: they go out one at a time, each confirmed.
    let response = vec![0x65, 0x6C, 0x04, 0xF4, 0x00, 0x06];
    let second = vec![0x0D, 0x00, 0x01, 0x02, 0x00, 0xAA, 0xBB];
    gatt.indicate(link, response.clone()).unwrap();
    gatt.indicate(link, second.clone()).unwrap();
    assert_eq!(next_value(&mut values, "first indication").await, response);
    match next_event(&mut events, "first IndicationDone").await {
        LinkEvent::IndicationDone { link: l } => assert_eq!(l, link),
        other => panic!("expected IndicationDone, got {other:?}"),
    }
    assert_eq!(next_value(&mut values, "second indication").await, second);
    match next_event(&mut events, "second IndicationDone").await {
        LinkEvent::IndicationDone { link: l } => assert_eq!(l, link),
        other => panic!("expected IndicationDone, got {other:?}"),
    }
    println!(
        "write → subscribe → 2 confirmed indications: {:?}",
        t0.elapsed()
    );

    // 4. C3 read returns the caller's bytes.
    assert_eq!(central.c3.read().await.expect("C3 read"), c3_bytes);

    // 5. A second write on the same link.
    central.c1.write(&[0x05, 0x01, 0x00]).await.unwrap();
    match next_event(&mut events, "second write").await {
        LinkEvent::Write { link: l, data, .. } => {
            assert_eq!((l, data.as_slice()), (link, &[5u8, 1, 0][..]))
        }
        other => panic!("expected Write, got {other:?}"),
    }

    // 6. Disconnect: Disconnected, and the advertisement is registered again.
    central.device.disconnect().await.expect("disconnect");
    loop {
        match next_event(&mut events, "Disconnected").await {
            LinkEvent::Disconnected { link: l } => {
                assert_eq!(l, link);
                break;
            }
            // bluezoo sends no StopNotify on disconnect; real BlueZ may, first.
            LinkEvent::Unsubscribed { link: l } => assert_eq!(l, link),
            other => panic!("expected Disconnected, got {other:?}"),
        }
    }
    let mut readvertised = false;
    for _ in 0..50 {
        if hci0.active_advertising_instances().await.unwrap() == 1 {
            readvertised = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        readvertised,
        "advertisement not registered again after the disconnect"
    );
    assert!(p.advertiser().is_open().await);

    // 7. Closing the window unregisters the advertisement.
    p.close_window().await.unwrap();
    let mut gone = false;
    for _ in 0..50 {
        if hci0.active_advertising_instances().await.unwrap() == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "advertisement still registered after close_window");
    p.shutdown().await;
}

/// A toy engine driven by the real router over bluezoo: sends "hello" once subscribed, echoes
/// each C1 write reversed, and counts confirmations.
#[derive(Default)]
struct Echo {
    out: std::collections::VecDeque<Vec<u8>>,
    events: std::collections::VecDeque<String>,
    closed: bool,
}

impl LinkEngine for Echo {
    type Command = Vec<u8>;
    type Event = String;
    fn handle_segment(&mut self, _now: CoreInstant, mtu: u16, segment: &[u8]) {
        self.events
            .push_back(format!("segment mtu={mtu} len={}", segment.len()));
        if segment == b"bye" {
            self.closed = true;
            return;
        }
        self.out.push_back(segment.iter().rev().copied().collect());
    }
    fn handle_subscribed(&mut self, _now: CoreInstant, mtu: u16) {
        self.events.push_back(format!("subscribed mtu={mtu}"));
        self.out.push_back(b"hello".to_vec());
    }
    fn handle_unsubscribed(&mut self, _now: CoreInstant) {
        self.events.push_back("unsubscribed".into());
        self.closed = true;
    }
    fn handle_indication_done(&mut self, _now: CoreInstant) {
        self.events.push_back("confirmed".into());
    }
    fn handle_timeout(&mut self, _now: CoreInstant) {}
    fn handle_command(&mut self, _now: CoreInstant, c: Vec<u8>) {
        self.out.push_back(c);
    }
    fn poll_transmit(&mut self, _now: CoreInstant, buf: &mut Vec<u8>) -> bool {
        self.out
            .pop_front()
            .map(|v| buf.extend_from_slice(&v))
            .is_some()
    }
    fn poll_timeout(&self) -> Option<CoreInstant> {
        None
    }
    fn poll_event(&mut self) -> Option<String> {
        self.events.pop_front()
    }
    fn is_closed(&self) -> bool {
        self.closed
    }
}

/// The per-link driver and router over real D-Bus: engine outputs become confirmed indications,
/// app commands reach the engine, disconnect closes the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bluezoo: scripts/bluezoo-env test"]
async fn link_router_drives_engine() {
    require_mock_bus();
    let adv = CommissionableAdvertisement::new(0x0123, 0xFFF1, 0x8001).unwrap();
    let (p, events, p_addr) = peripheral("hci2", adv, &[]).await;
    let (out_tx, mut out) = mpsc::channel(32);
    tokio::spawn(
        LinkRouter::new(p.gatt(), LinkClock::new(), |_| Echo::default()).run(events, out_tx),
    );

    let session = Session::new().await.unwrap();
    let central = discover_and_connect(&session, "hci3", p_addr, &EXPECTED_0123).await;
    // Empty additional data: C3 reads as empty.
    assert!(central.c3.read().await.unwrap().is_empty());

    // Subscribe before the first write (a central may do that): the hub parks the subscription
    // until the write names the link. Subscribing first also means bluer's notification stream
    // is listening before any indication exists (bluer installs its match rule only after
    // StartNotify returns, so an indication sent at once could pass it by).
    let t0 = Instant::now();
    let mut values = Box::pin(central.c2.notify().await.unwrap());
    central.c1.write(b"abc").await.unwrap();
    let commands = match timeout(STEP, out.recv()).await.expect("Opened") {
        Some(LinkOutput::Opened { commands, .. }) => commands,
        other => panic!("expected Opened, got {other:?}"),
    };
    assert_eq!(next_value(&mut values, "hello").await, b"hello");
    assert_eq!(next_value(&mut values, "echo").await, b"cba");
    commands.send(b"from-app".to_vec()).await.unwrap();
    assert_eq!(next_value(&mut values, "app command").await, b"from-app");
    // bluezoo confirms after it has passed the value on, so wait for the third confirmation
    // before disconnecting (else the disconnect may overtake it).
    let mut seen = Vec::new();
    while seen.iter().filter(|e| *e == "confirmed").count() < 3 {
        match timeout(STEP, out.recv()).await.expect("confirmations") {
            Some(LinkOutput::Event { event, .. }) => seen.push(event),
            other => panic!("{other:?}"),
        }
    }
    println!(
        "router: write → 3 confirmed indications in {:?}",
        t0.elapsed()
    );

    central.device.disconnect().await.unwrap();
    loop {
        match timeout(STEP, out.recv()).await.expect("Closed") {
            Some(LinkOutput::Event { event, .. }) => seen.push(event),
            Some(LinkOutput::Closed { reason, .. }) => {
                assert_eq!(reason, LinkExit::Disconnected);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let expected = [
        "subscribed mtu=512",
        "segment mtu=512 len=3",
        "confirmed",
        "confirmed",
        "confirmed",
        "unsubscribed",
    ];
    assert_eq!(seen, expected);
    p.shutdown().await;
}

/// Two centrals on one peripheral: writes are told apart by device address; C2 has one
/// subscriber at a time (BlueZ's StartNotify path carries no device), so the second
/// subscription takes C2 over and the first link is told it lost it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bluezoo: scripts/bluezoo-env test"]
async fn two_centrals_one_subscriber() {
    require_mock_bus();
    let adv = CommissionableAdvertisement::new(0x0ABC, 0xFFF1, 0x8002).unwrap();
    let (p, mut events, p_addr) = peripheral("hci4", adv, &[]).await;
    let gatt = p.gatt();
    let session = Session::new().await.unwrap();
    let a_addr = LinkId(session.adapter("hci5").unwrap().address().await.unwrap());
    let b_addr = LinkId(session.adapter("hci6").unwrap().address().await.unwrap());

    // B finds the peripheral before A connects: while a central is connected the peripheral
    // does not advertise.
    let b_device = discover(&session, "hci6", p_addr, &EXPECTED_0ABC).await;
    let a = discover_and_connect(&session, "hci5", p_addr, &EXPECTED_0ABC).await;
    a.c1.write(b"A1").await.unwrap();
    match next_event(&mut events, "A write").await {
        LinkEvent::Write { link, data, .. } => {
            assert_eq!((link, data.as_slice()), (a_addr, &b"A1"[..]))
        }
        other => panic!("{other:?}"),
    }
    let mut a_values = Box::pin(a.c2.notify().await.unwrap());
    match next_event(&mut events, "A subscribed").await {
        LinkEvent::Subscribed { link, .. } => assert_eq!(link, a_addr),
        other => panic!("{other:?}"),
    }

    let b = connect(b_device).await;
    b.c1.write(b"B1").await.unwrap();
    match next_event(&mut events, "B write").await {
        LinkEvent::Write { link, data, .. } => {
            assert_eq!((link, data.as_slice()), (b_addr, &b"B1"[..]))
        }
        other => panic!("{other:?}"),
    }
    // A still owns C2.
    gatt.indicate(a_addr, b"to-A".to_vec()).unwrap();
    assert_eq!(next_value(&mut a_values, "indication to A").await, b"to-A");
    match next_event(&mut events, "A confirmation").await {
        LinkEvent::IndicationDone { link } => assert_eq!(link, a_addr),
        other => panic!("{other:?}"),
    }
    // An indication for B before B subscribes is dropped, not sent to A.
    gatt.indicate(b_addr, b"early".to_vec()).unwrap();

    let mut b_values = Box::pin(b.c2.notify().await.unwrap());
    match next_event(&mut events, "A loses C2").await {
        LinkEvent::Unsubscribed { link } => assert_eq!(link, a_addr),
        other => panic!("{other:?}"),
    }
    match next_event(&mut events, "B subscribed").await {
        LinkEvent::Subscribed { link, .. } => assert_eq!(link, b_addr),
        other => panic!("{other:?}"),
    }
    gatt.indicate(b_addr, b"to-B".to_vec()).unwrap();
    assert_eq!(next_value(&mut b_values, "indication to B").await, b"to-B");
    match next_event(&mut events, "B confirmation").await {
        LinkEvent::IndicationDone { link } => assert_eq!(link, b_addr),
        other => panic!("{other:?}"),
    }
    // A's indications are refused now (it has no subscription): nothing is emitted for them.
    gatt.indicate(a_addr, b"late".to_vec()).unwrap();

    a.device.disconnect().await.unwrap();
    match next_event(&mut events, "A disconnected").await {
        LinkEvent::Disconnected { link } => assert_eq!(link, a_addr),
        other => panic!("{other:?}"),
    }
    // B keeps working after A left.
    b.c1.write(b"B2").await.unwrap();
    match next_event(&mut events, "B second write").await {
        LinkEvent::Write { link, data, .. } => {
            assert_eq!((link, data.as_slice()), (b_addr, &b"B2"[..]))
        }
        other => panic!("{other:?}"),
    }
    b.device.disconnect().await.unwrap();
    match next_event(&mut events, "B disconnected").await {
        LinkEvent::Disconnected { link } => assert_eq!(link, b_addr),
        other => panic!("{other:?}"),
    }
    assert!(
        timeout(Duration::from_millis(300), events.recv())
            .await
            .is_err(),
        "no further events after both disconnects"
    );
    p.shutdown().await;
}

/// Adapter selection and power errors, against bluezoo's adapters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bluezoo: scripts/bluezoo-env test"]
async fn adapter_missing_and_powered_off() {
    require_mock_bus();
    let session = Session::new().await.unwrap();
    match open_adapter(&session, Some("hci42"), true).await {
        Err(e @ BleError::AdapterNotFound { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("\"hci42\"") && text.contains("hci0") && text.contains("hci7"),
                "{text}"
            );
        }
        other => panic!("expected AdapterNotFound, got {other:?}"),
    }
    let hci7 = session.adapter("hci7").unwrap();
    hci7.set_powered(false).await.unwrap();
    wait_powered(&hci7, false).await;
    match open_adapter(&session, Some("hci7"), false).await {
        Err(e @ BleError::AdapterPoweredOff { .. }) => {
            assert!(e.to_string().contains("hci7"), "{e}")
        }
        other => panic!("expected AdapterPoweredOff, got {other:?}"),
    }
    let adapter = open_adapter(&session, Some("hci7"), true)
        .await
        .expect("powers the adapter on");
    wait_powered(&adapter, true).await;
}

async fn wait_powered(adapter: &bluer::Adapter, want: bool) {
    for _ in 0..50 {
        if adapter.is_powered().await.unwrap() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} never became powered={want}", adapter.name());
}

/// A full advertising table gives the typed error with its fix (bluezoo has 15 slots).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bluezoo: scripts/bluezoo-env test"]
async fn advertisement_slots_exhausted() {
    require_mock_bus();
    let session = Session::new().await.unwrap();
    let adapter = session.adapter("hci6").unwrap();
    let mut hogs = Vec::new();
    loop {
        let free = adapter.supported_advertising_instances().await.unwrap();
        if free == 0 {
            break;
        }
        assert!(
            hogs.len() < 64,
            "bluezoo never ran out of advertising slots"
        );
        let adv = bluer::adv::Advertisement {
            local_name: Some(format!("hog{}", hogs.len())),
            ..Default::default()
        };
        hogs.push(adapter.advertise(adv).await.unwrap());
    }
    let adv = CommissionableAdvertisement::new(1, 2, 3).unwrap();
    let advertiser = Advertiser::spawn(adapter.clone(), adv, Duration::from_secs(30));
    match advertiser.start().await {
        Err(e @ BleError::AdvertisementSlotsExhausted { .. }) => {
            assert!(e.to_string().contains("stop other advertisers"), "{e}")
        }
        other => panic!("expected AdvertisementSlotsExhausted, got {other:?}"),
    }
    assert!(
        !advertiser.is_open().await,
        "a failed start leaves the window closed"
    );
    drop(hogs);
}

/// When the engine closes on its own (a BTP error or timeout), the router disconnects the
/// central through BlueZ and advertising resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bluezoo: scripts/bluezoo-env test"]
async fn engine_close_disconnects_central() {
    require_mock_bus();
    let adv = CommissionableAdvertisement::new(0x0FFF, 0xFFF1, 0x8003).unwrap();
    let (p, events, p_addr) = peripheral("hci8", adv, &[]).await;
    let (out_tx, mut out) = mpsc::channel(32);
    tokio::spawn(
        LinkRouter::new(p.gatt(), LinkClock::new(), |_| Echo::default()).run(events, out_tx),
    );
    let session = Session::new().await.unwrap();
    let expected = Expected {
        service_data: [0x00, 0xFF, 0x0F, 0xF1, 0xFF, 0x03, 0x80, 0x00],
        local_name: "MATTER-4095",
    };
    let central_addr = session.adapter("hci9").unwrap().address().await.unwrap();
    let central = discover_and_connect(&session, "hci9", p_addr, &expected).await;
    central.c1.write(b"bye").await.unwrap();
    loop {
        match timeout(STEP, out.recv()).await.expect("Closed") {
            Some(LinkOutput::Closed { reason, .. }) => {
                assert_eq!(reason, LinkExit::EngineClosed);
                break;
            }
            Some(_) => {}
            None => panic!("router ended"),
        }
    }
    // bluezoo applies a peripheral-side Disconnect to the peripheral's view of the central only
    // (the central's own Device1 stays Connected: a bluezoo gap), so check that view.
    let seen_by_peripheral = p.adapter().device(central_addr).unwrap();
    let mut disconnected = false;
    for _ in 0..50 {
        if !seen_by_peripheral.is_connected().await.unwrap() {
            disconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        disconnected,
        "the central was not disconnected after the engine closed"
    );
    drop(central);
    let hci8 = p.adapter().clone();
    let mut readvertised = false;
    for _ in 0..50 {
        if hci8.active_advertising_instances().await.unwrap() == 1 {
            readvertised = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(readvertised, "advertising did not resume");
    p.shutdown().await;
}

/// Listens for `Value` changes of the characteristics under `device_path` on a separate D-Bus
/// connection whose match rule is in place before the caller subscribes (bluer's own
/// `notify()` stream only starts listening after `StartNotify` returns, so a value indicated at
/// once, like the BTP handshake response, could pass it by).
fn listen_values(
    device_path: String,
) -> (
    mpsc::UnboundedReceiver<Vec<u8>>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use dbus::blocking::stdintf::org_freedesktop_dbus::PropertiesPropertiesChanged;
    use dbus::message::MatchRule;
    use std::sync::atomic::{AtomicBool, Ordering};

    let (tx, rx) = mpsc::unbounded_channel();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        let conn = dbus::blocking::Connection::new_system().expect("listener connection");
        let rule = MatchRule::new_signal("org.freedesktop.DBus.Properties", "PropertiesChanged")
            .with_namespaced_path(device_path);
        conn.add_match(rule, move |p: PropertiesPropertiesChanged, _, _| {
            if p.interface_name == "org.bluez.GattCharacteristic1" {
                if let Some(v) = dbus::arg::prop_cast::<Vec<u8>>(&p.changed_properties, "Value") {
                    let _ = tx.send(v.clone());
                }
            }
            true
        })
        .expect("AddMatch");
        ready_tx.send(()).expect("ready");
        while !stop2.load(Ordering::Relaxed) {
            if conn.process(Duration::from_millis(20)).is_err() {
                break;
            }
        }
    });
    ready_rx.recv().expect("listener started");
    (rx, stop)
}

/// The real BTP engine on both ends over bluezoo's D-Bus GATT: the peripheral is
/// `LinkRouter` + `BtpLink`, the central a `BtpEngine` in the central role driven through a
/// bluer central. Handshake in the CHIP central's order (request written, then subscribe, MTU 0
/// in the request), then a multi-segment SDU each way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bluezoo: scripts/bluezoo-env test"]
async fn btp_session_over_bluezoo() {
    use matter_ble::ble::{BtpLink, BtpLinkCommand, BtpLinkEvent};
    use matter_ble::btp::{BtpConfig, BtpEngine, BtpError, BtpEvent};

    require_mock_bus();
    let adv = CommissionableAdvertisement::new(0x0F00, 0xFFF1, 0x8004).unwrap();
    let (p, events, p_addr) = peripheral("hci10", adv, &[]).await;
    let (out_tx, mut out) = mpsc::channel(64);
    tokio::spawn(
        LinkRouter::new(p.gatt(), LinkClock::new(), |_| {
            BtpLink::new(BtpConfig::default())
        })
        .run(events, out_tx),
    );
    let session = Session::new().await.unwrap();
    let expected = Expected {
        service_data: [0x00, 0x00, 0x0F, 0xF1, 0xFF, 0x04, 0x80, 0x00],
        local_name: "MATTER-3840",
    };
    let central = discover_and_connect(&session, "hci11", p_addr, &expected).await;
    let t_connected = Instant::now();
    let device_path = format!(
        "/org/bluez/hci11/dev_{}",
        p_addr.to_string().replace(':', "_")
    );
    let (mut values, stop) = listen_values(device_path);

    let clock = std::time::Instant::now();
    let now = || CoreInstant::from_millis(clock.elapsed().as_millis() as u64);
    let mut btp = BtpEngine::central(BtpConfig::default(), None);
    let mut buf = Vec::new();
    let mut subscription = None;
    let mut commands = None;
    let mut central_established = None;
    let mut peripheral_established = None;
    let mut peripheral_got = None;
    let mut central_got = None;
    let to_peripheral: Vec<u8> = (0..1200u32).map(|i| (i % 251) as u8).collect();
    let to_central: Vec<u8> = (0..900u32).map(|i| (i % 239) as u8).collect();
    let mut sent_up = false;
    let mut sent_down = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "BTP exchange did not finish");
        // Central outputs: each value is a C1 write with response.
        while btp.poll_transmit(now(), &mut buf).is_some() {
            central.c1.write(&buf).await.expect("C1 write");
            btp.handle_indication_done(now());
            if subscription.is_none() {
                // CHIP order: subscribe to C2 after the handshake request is written.
                subscription = Some(Box::pin(central.c2.notify().await.expect("StartNotify")));
                btp.handle_subscribed(now());
            }
        }
        while let Some(ev) = btp.poll_event() {
            match ev {
                BtpEvent::Established {
                    fragment_size,
                    window,
                    ..
                } => {
                    central_established = Some((fragment_size, window, t_connected.elapsed()));
                }
                BtpEvent::SduReceived(sdu) => central_got = Some(sdu),
                other => panic!("central: {other:?}"),
            }
        }
        if central_got.is_some() && peripheral_got.is_some() {
            break;
        }
        if central_established.is_some() && !sent_up {
            btp.send_sdu(now(), to_peripheral.clone()).unwrap();
            sent_up = true;
            continue;
        }
        if let (Some(cmds), Some(_), false) = (&commands, &peripheral_established, sent_down) {
            let cmds: &mpsc::Sender<BtpLinkCommand> = cmds;
            cmds.send(BtpLinkCommand::Send(to_central.clone()))
                .await
                .unwrap();
            sent_down = true;
        }
        let timer = btp.poll_timeout();
        let sleep = async {
            match timer {
                Some(t) => {
                    let wait = t.as_millis().saturating_sub(now().as_millis());
                    tokio::time::sleep(Duration::from_millis(wait)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            v = values.recv() => btp.handle_segment(now(), &v.expect("listener ended")),
            o = out.recv() => match o.expect("router ended") {
                LinkOutput::Opened { commands: c, .. } => commands = Some(c),
                LinkOutput::Event { event: BtpLinkEvent::Btp(BtpEvent::Established { fragment_size, window, .. }), .. } => {
                    peripheral_established = Some((fragment_size, window));
                }
                LinkOutput::Event { event: BtpLinkEvent::Btp(BtpEvent::SduReceived(sdu)), .. } => {
                    peripheral_got = Some(sdu);
                }
                other => panic!("peripheral: {other:?}"),
            },
            () = sleep => btp.handle_timeout(now()),
        }
    }
    let (frag, window, elapsed) = central_established.expect("central established");
    // bluezoo reports ATT MTU 512; BTP caps segments at 244 (§4.19.4.2) and window 6.
    assert_eq!(peripheral_established, Some((frag, window)));
    assert_eq!(frag, 244, "MTU 512 - 3 capped at 244");
    assert_eq!(window, 6);
    assert_eq!(peripheral_got.as_deref(), Some(&to_peripheral[..]));
    assert_eq!(central_got.as_deref(), Some(&to_central[..]));
    println!(
        "BTP over bluezoo: connection → established {elapsed:?}, fragment {frag}, window {window}; \
         1200 B up + 900 B down done {:?} after connection",
        t_connected.elapsed()
    );
    // The central unsubscribes (bluer's StopNotify when the stream drops): BTP closes with
    // `Unsubscribed` and the router disconnects the central.
    drop(subscription);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut btp_closed = None;
    loop {
        match timeout(STEP, out.recv()).await.expect("Closed") {
            Some(LinkOutput::Closed { reason, .. }) => {
                assert_eq!(reason, LinkExit::Unsubscribed);
                break;
            }
            Some(LinkOutput::Event {
                event: BtpLinkEvent::Btp(BtpEvent::Closed { reason }),
                ..
            }) => btp_closed = Some(reason),
            Some(LinkOutput::Event { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(btp_closed, Some(BtpError::Unsubscribed));
    let central_addr = session.adapter("hci11").unwrap().address().await.unwrap();
    let seen_by_peripheral = p.adapter().device(central_addr).unwrap();
    let mut disconnected = false;
    for _ in 0..50 {
        if !seen_by_peripheral.is_connected().await.unwrap() {
            disconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        disconnected,
        "the router did not disconnect the unsubscribed central"
    );
    p.shutdown().await;
}

async fn wait_instances(adapter: &bluer::Adapter, want: u8, what: &str) {
    for _ in 0..50 {
        if adapter.active_advertising_instances().await.unwrap() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: active advertising instances never became {want}");
}

/// Fast intervals for the configured period, then the advertisement is swapped for the slow
/// one without a gap in the slot count; closing the window removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bluezoo: scripts/bluezoo-env test"]
async fn advertising_fast_then_slow() {
    use matter_ble::ble::AdvertisingPhase;

    require_mock_bus();
    let adv = CommissionableAdvertisement::new(7, 0xFFF1, 0x8005)
        .unwrap()
        .with_local_name("matter-ble test");
    let mut config = PeripheralConfig::new(adv);
    config.adapter = Some("hci7".into());
    config.fast_advertising = Duration::from_millis(400);
    let (p, _events) = BlePeripheral::start(config).await.unwrap();
    p.open_window().await.unwrap();
    let t0 = Instant::now();
    assert_eq!(
        p.advertiser().status().await.phase,
        Some(AdvertisingPhase::Fast)
    );
    wait_instances(p.adapter(), 1, "fast advertisement").await;
    // The name override reaches a scanning central.
    let session = Session::new().await.unwrap();
    let p_addr = p.adapter().address().await.unwrap();
    let expected = Expected {
        service_data: [0x00, 0x07, 0x00, 0xF1, 0xFF, 0x05, 0x80, 0x00],
        local_name: "matter-ble test",
    };
    let _ = discover(&session, "hci0", p_addr, &expected).await;
    loop {
        let phase = p.advertiser().status().await.phase;
        if phase == Some(AdvertisingPhase::Slow) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "never switched to slow: {phase:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "switched early: {:?}",
        t0.elapsed()
    );
    wait_instances(p.adapter(), 1, "slow advertisement").await;
    p.close_window().await.unwrap();
    wait_instances(p.adapter(), 0, "closed window").await;
    assert_eq!(p.advertiser().status().await, Default::default());
    p.shutdown().await;
}
