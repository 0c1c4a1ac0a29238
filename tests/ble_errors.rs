//! Environment errors of the BlueZ shell, each against a real D-Bus set-up made by
//! `scripts/bluezoo-env test`. Each test needs its own bus address, so the script runs them one
//! by one (`--exact`) with `MATTER_BLE_ERRORS` naming the case and `DBUS_SYSTEM_BUS_ADDRESS`
//! pointing at:
//! - `no-bus`: a socket path that does not exist;
//! - `no-bluetoothd`: a private bus with nobody owning org.bluez;
//! - `access-denied`: a private bus with bluezoo whose policy denies calls to org.bluez.
//!
//! They are `#[ignore]`d, and each refuses to run without its case set, so a plain
//! `cargo test -- --ignored` fails loudly instead of testing the wrong thing.

use matter_ble::ble::{BleError, BlePeripheral, CommissionableAdvertisement, PeripheralConfig};

fn require_case(case: &str) {
    let got = std::env::var("MATTER_BLE_ERRORS").unwrap_or_default();
    let addr = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_default();
    assert!(
        got == case && addr.contains(".cache/bluezoo"),
        "run through scripts/bluezoo-env test (wanted MATTER_BLE_ERRORS={case}, got {got:?}; bus {addr:?})"
    );
}

async fn start() -> Result<(), BleError> {
    let adv = CommissionableAdvertisement::new(3840, 0xFFF1, 0x8000).unwrap();
    BlePeripheral::start(PeripheralConfig::new(adv))
        .await
        .map(drop)
}

#[tokio::test]
#[ignore = "needs scripts/bluezoo-env test (case no-bus)"]
async fn no_system_bus() {
    require_case("no-bus");
    match start().await {
        Err(e @ BleError::BusUnavailable { .. }) => {
            let text = e.to_string();
            assert!(text.contains("systemctl status dbus"), "{text}");
        }
        other => panic!("expected BusUnavailable, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs scripts/bluezoo-env test (case no-bluetoothd)"]
async fn bluetoothd_not_running() {
    require_case("no-bluetoothd");
    match start().await {
        Err(e @ BleError::BluetoothdNotRunning) => {
            assert!(
                e.to_string().contains("systemctl enable --now bluetooth"),
                "{e}"
            );
        }
        other => panic!("expected BluetoothdNotRunning, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs scripts/bluezoo-env test (case access-denied)"]
async fn dbus_access_denied() {
    require_case("access-denied");
    match start().await {
        Err(e @ BleError::PermissionDenied { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("group `bluetooth`") && text.contains("setup-host"),
                "{text}"
            );
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}
