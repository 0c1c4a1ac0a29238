//! Errors of the BlueZ shell, each carrying the fix in its message.
//!
//! `bluer` reports D-Bus failures as a generic `bluer::Error { kind, message }`; [`classify`] turns
//! the ones a user can fix (daemon missing, adapter missing or off, permissions, advertisement
//! slots) into typed variants so the binary can print a useful message.

use std::fmt;

/// An error from the BlueZ peripheral (GATT application, advertisement, links).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BleError {
    /// The D-Bus system bus itself cannot be reached.
    #[error(
        "cannot connect to the D-Bus system bus ({detail}); is dbus running? \
         (`systemctl status dbus`; DBUS_SYSTEM_BUS_ADDRESS overrides the socket path)"
    )]
    BusUnavailable {
        /// What libdbus said.
        detail: String,
    },
    /// Nobody owns the `org.bluez` name on the system bus.
    #[error(
        "bluetoothd is not running (no owner of org.bluez on the system bus); start it with \
         `sudo systemctl enable --now bluetooth` (package `bluez`)"
    )]
    BluetoothdNotRunning,
    /// BlueZ knows no adapter at all.
    #[error(
        "no Bluetooth adapter found; check `btmgmt info` / `rfkill list` (an rfkill block or a \
         missing firmware hides the adapter), or run scripts/setup-host"
    )]
    NoAdapter,
    /// The adapter named on the command line does not exist.
    #[error(
        "Bluetooth adapter {name:?} not found; available adapters: {}",
        AdapterList(available)
    )]
    AdapterNotFound {
        /// The name asked for.
        name: String,
        /// The adapters BlueZ reported.
        available: Vec<String>,
    },
    /// The adapter is off and BlueZ refused to power it on.
    #[error(
        "Bluetooth adapter {adapter} is powered off and powering it on failed ({detail}); \
         run `rfkill unblock bluetooth` and `bluetoothctl power on`, or set AutoEnable=true in \
         /etc/bluetooth/main.conf (scripts/setup-host does this)"
    )]
    AdapterPoweredOff {
        /// Adapter name, e.g. `hci0`.
        adapter: String,
        /// Why powering on failed.
        detail: String,
    },
    /// The D-Bus policy does not let this user talk to BlueZ.
    #[error(
        "permission denied by the D-Bus policy while {action} ({detail}); run as a user in group \
         `bluetooth` with the policy from scripts/setup-host installed \
         (/etc/dbus-1/system.d/matter-ble.conf), or as root"
    )]
    PermissionDenied {
        /// What we were doing.
        action: &'static str,
        /// What D-Bus said.
        detail: String,
    },
    /// The controller has no free advertising instance.
    #[error(
        "no free advertisement slot on the adapter ({detail}); another program (or a stale \
         registration) holds them: stop other advertisers, or `sudo systemctl restart bluetooth`"
    )]
    AdvertisementSlotsExhausted {
        /// What BlueZ said.
        detail: String,
    },
    /// The commissionable advertisement is not valid (e.g. discriminator out of range).
    #[error("invalid advertisement: {0}")]
    InvalidAdvertisement(&'static str),
    /// An indication was not confirmed in time: the link is treated as failed.
    #[error("indication not confirmed within {0:?}; the central is gone or stuck")]
    IndicationTimeout(std::time::Duration),
    /// The link is unknown (already disconnected) or has no subscription on C2.
    #[error("link {0} is not connected or not subscribed")]
    LinkGone(crate::ble::LinkId),
    /// The GATT server task is gone (the peripheral was dropped).
    #[error("the BLE peripheral has shut down")]
    ShutDown,
    /// Any other BlueZ failure.
    #[error("BlueZ error while {action}: {source}")]
    Bluez {
        /// What we were doing.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: bluer::Error,
    },
}

/// Maps a `bluer` error raised while doing `action` to the most specific [`BleError`].
pub fn classify(action: &'static str, err: bluer::Error) -> BleError {
    use bluer::ErrorKind;

    let dbus_name = match &err.kind {
        ErrorKind::Internal(bluer::InternalErrorKind::DBus(name)) => Some(name.as_str()),
        _ => None,
    };
    match dbus_name {
        Some(
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner",
        ) => return BleError::BluetoothdNotRunning,
        Some("org.freedesktop.DBus.Error.AccessDenied") => {
            return BleError::PermissionDenied {
                action,
                detail: err.message,
            }
        }
        Some(
            "org.freedesktop.DBus.Error.NoServer"
            | "org.freedesktop.DBus.Error.FileNotFound"
            | "org.freedesktop.DBus.Error.Disconnected"
            | "org.freedesktop.DBus.Error.BadAddress",
        ) => {
            return BleError::BusUnavailable {
                detail: err.message,
            }
        }
        _ => {}
    }
    // BlueZ answers a full advertising table with org.bluez.Error.Failed "Maximum advertisements
    // reached" (src/advertising.c); bluezoo with NotPermitted once its 15 instances are used.
    if action == ACTION_ADVERTISE
        && (err.message.contains("Maximum advertisements")
            || matches!(err.kind, ErrorKind::NotPermitted))
    {
        return BleError::AdvertisementSlotsExhausted {
            detail: err.message,
        };
    }
    if matches!(err.kind, ErrorKind::NotAuthorized) {
        return BleError::PermissionDenied {
            action,
            detail: err.message,
        };
    }
    BleError::Bluez {
        action,
        source: err,
    }
}

/// The `action` string used when registering an advertisement (see [`classify`]).
pub(crate) const ACTION_ADVERTISE: &str = "registering the advertisement";

struct AdapterList<'a>(&'a [String]);

impl fmt::Display for AdapterList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&self.0.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dbus_err(name: &str, msg: &str) -> bluer::Error {
        bluer::Error {
            kind: bluer::ErrorKind::Internal(bluer::InternalErrorKind::DBus(name.to_string())),
            message: msg.to_string(),
        }
    }

    #[test]
    fn daemon_missing_is_recognised() {
        let e = classify(
            "listing adapters",
            dbus_err(
                "org.freedesktop.DBus.Error.ServiceUnknown",
                "The name org.bluez was not provided by any .service files",
            ),
        );
        assert!(matches!(e, BleError::BluetoothdNotRunning), "{e:?}");
        assert!(e.to_string().contains("systemctl enable --now bluetooth"));
    }

    #[test]
    fn access_denied_names_the_policy() {
        let e = classify(
            "registering the GATT application",
            dbus_err(
                "org.freedesktop.DBus.Error.AccessDenied",
                "Rejected send message",
            ),
        );
        assert!(matches!(e, BleError::PermissionDenied { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("group `bluetooth`") && text.contains("matter-ble.conf"),
            "{text}"
        );
    }

    #[test]
    fn advertisement_slots() {
        let bluez = bluer::Error {
            kind: bluer::ErrorKind::Failed,
            message: "Maximum advertisements reached".into(),
        };
        assert!(matches!(
            classify(ACTION_ADVERTISE, bluez),
            BleError::AdvertisementSlotsExhausted { .. }
        ));
        let zoo = bluer::Error {
            kind: bluer::ErrorKind::NotPermitted,
            message: "Not Permitted".into(),
        };
        assert!(matches!(
            classify(ACTION_ADVERTISE, zoo),
            BleError::AdvertisementSlotsExhausted { .. }
        ));
        // The same kind elsewhere is not about advertising slots.
        let other = bluer::Error {
            kind: bluer::ErrorKind::Failed,
            message: "x".into(),
        };
        assert!(matches!(classify("reading", other), BleError::Bluez { .. }));
    }

    #[test]
    fn missing_adapter_lists_the_others() {
        let e = BleError::AdapterNotFound {
            name: "hci7".into(),
            available: vec!["hci0".into(), "hci1".into()],
        };
        assert_eq!(
            e.to_string(),
            "Bluetooth adapter \"hci7\" not found; available adapters: hci0, hci1"
        );
        let none = BleError::AdapterNotFound {
            name: "hci7".into(),
            available: vec![],
        };
        assert!(none.to_string().ends_with("available adapters: none"));
    }

    #[test]
    fn bus_missing() {
        let e = classify(
            "connecting",
            dbus_err("org.freedesktop.DBus.Error.FileNotFound", "No such file"),
        );
        assert!(matches!(e, BleError::BusUnavailable { .. }));
    }
}
