//! The network configuration the Network Commissioning cluster (Matter 1.3 §11.9) manages:
//! InterfaceEnabled, the Wi-Fi network list with its credentials and which entry is connected
//! ([`NetworkConfig`], guarded by the fail-safe and persisted), and the outcome of the last scan
//! or connection attempt ([`NetworkStatus`], neither guarded nor persisted, as in the CHIP SDK,
//! which starts every boot with those attributes null).
//!
//! The list operations here apply the spec's rules for the Networks attribute (§11.9.7.5 add or
//! update, §11.9.7.6 remove, §11.9.7.10 reorder) and answer with the NetworkingStatus the
//! response carries; the cluster decodes requests, checks the fail-safe and encodes responses.
//!
//! Wi-Fi credentials are secrets: they live in [`Zeroizing`] buffers, `Debug` shows only their
//! length, and nothing logs them. They are persisted (a device must rejoin its network after a
//! restart) in the private state folder.

use core::fmt;

use zeroize::Zeroizing;

/// NetworkID / SSID length bounds: 1..=32 octets (§11.9.5.5.1).
pub const MAX_NETWORK_ID_LEN: usize = 32;
/// Credentials are at most 64 octets (§11.9.7.3.2).
pub const MAX_CREDENTIALS_LEN: usize = 64;

/// NetworkCommissioningStatusEnum (Matter 1.3 §11.9.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum NetworkingStatus {
    /// OK, no error.
    Success = 0,
    /// A value (network identifier, credentials, index) outside its range.
    OutOfRange = 1,
    /// The list would exceed MaxNetworks.
    BoundsExceeded = 2,
    /// The NetworkID is not among the configured networks.
    NetworkIdNotFound = 3,
    /// The NetworkID is already among the configured networks.
    DuplicateNetworkId = 4,
    /// The access point was not found.
    NetworkNotFound = 5,
    /// Band, channel or regulatory domain mismatch.
    RegulatoryError = 6,
    /// Authentication failed.
    AuthFailure = 7,
    /// Unsupported security mode.
    UnsupportedSecurity = 8,
    /// Other association failure.
    OtherConnectionFailure = 9,
    /// No IPv6 address.
    Ipv6Failed = 10,
    /// Wi-Fi and IP interfaces could not be bound.
    IpBindFailed = 11,
    /// Unknown error.
    UnknownError = 12,
}

impl NetworkingStatus {
    /// From the wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        use NetworkingStatus::*;
        Some(match v {
            0 => Success,
            1 => OutOfRange,
            2 => BoundsExceeded,
            3 => NetworkIdNotFound,
            4 => DuplicateNetworkId,
            5 => NetworkNotFound,
            6 => RegulatoryError,
            7 => AuthFailure,
            8 => UnsupportedSecurity,
            9 => OtherConnectionFailure,
            10 => Ipv6Failed,
            11 => IpBindFailed,
            12 => UnknownError,
            _ => return None,
        })
    }
}

/// Whether `id` is a valid NetworkID / SSID: 1..=32 octets of any encoding (§11.9.5.5.1 note:
/// SSIDs are byte strings, not text).
pub fn is_valid_network_id(id: &[u8]) -> bool {
    (1..=MAX_NETWORK_ID_LEN).contains(&id.len())
}

/// Whether `c` is a valid Credentials value (§11.9.7.3.2): empty (open network), 5 octets
/// (WEP-64 passphrase), 8..=63 octets (WPA/WPA2/WPA3 passphrase; the 10-hex-digit WEP-64 key,
/// the 13-octet WEP-128 passphrase and the 26-hex-digit WEP-128 key fall in this range), or
/// exactly 64 hexadecimal digits (raw WPA PSK).
pub fn is_valid_credentials(c: &[u8]) -> bool {
    match c.len() {
        0 | 5 | 8..=63 => true,
        64 => c.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

/// One Wi-Fi network configuration: SSID and credentials (Debug hides the credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct WifiNetwork {
    ssid: Vec<u8>,
    credentials: Zeroizing<Vec<u8>>,
}

impl WifiNetwork {
    /// A configuration, checked as AddOrUpdateWiFiNetwork checks it.
    ///
    /// # Errors
    /// [`NetworkingStatus::OutOfRange`] for an SSID outside 1..=32 octets or credentials that
    /// fail [`is_valid_credentials`].
    pub fn new(ssid: &[u8], credentials: &[u8]) -> Result<Self, NetworkingStatus> {
        if !is_valid_network_id(ssid) || !is_valid_credentials(credentials) {
            return Err(NetworkingStatus::OutOfRange);
        }
        Ok(Self {
            ssid: ssid.to_vec(),
            credentials: Zeroizing::new(credentials.to_vec()),
        })
    }

    /// The SSID (its NetworkID).
    pub fn ssid(&self) -> &[u8] {
        &self.ssid
    }

    /// The passphrase or PSK (a secret: never log it).
    pub fn credentials(&self) -> &[u8] {
        &self.credentials
    }
}

impl fmt::Debug for WifiNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WifiNetwork")
            .field("ssid", &String::from_utf8_lossy(&self.ssid))
            .field("credentials_len", &self.credentials.len())
            .finish()
    }
}

/// Network configuration guarded by the fail-safe (§11.10.7.2.2 step 4 restores it): the
/// interface's InterfaceEnabled, the Wi-Fi network list in priority order and the network
/// ConnectNetwork last joined. An Ethernet instance uses InterfaceEnabled only.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkConfig {
    /// InterfaceEnabled.
    pub interface_enabled: bool,
    wifi: Vec<WifiNetwork>,
    connected: Option<Vec<u8>>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            interface_enabled: true,
            wifi: Vec::new(),
            connected: None,
        }
    }
}

impl NetworkConfig {
    /// The Wi-Fi networks, highest priority first.
    pub fn wifi_networks(&self) -> &[WifiNetwork] {
        &self.wifi
    }

    /// The NetworkID ConnectNetwork last joined successfully (cleared by a failed attempt on
    /// it or its removal).
    pub fn connected(&self) -> Option<&[u8]> {
        self.connected.as_deref()
    }

    /// The index of the network `id`.
    pub fn position(&self, id: &[u8]) -> Option<usize> {
        self.wifi.iter().position(|n| n.ssid == id)
    }

    /// AddOrUpdateWiFiNetwork's list edit (§11.9.7.5): an SSID already configured is updated in
    /// place (its priority unchanged), a new one is appended at the lowest priority. Returns the
    /// entry's index.
    ///
    /// # Errors
    /// [`NetworkingStatus::BoundsExceeded`] when the SSID is new and the list already holds
    /// `max_networks` entries (the list is unchanged).
    pub fn add_or_update_wifi(
        &mut self,
        network: WifiNetwork,
        max_networks: u8,
    ) -> Result<u8, NetworkingStatus> {
        let index = match self.position(&network.ssid) {
            Some(i) => {
                if let Some(slot) = self.wifi.get_mut(i) {
                    *slot = network;
                }
                i
            }
            None if self.wifi.len() >= usize::from(max_networks) => {
                return Err(NetworkingStatus::BoundsExceeded)
            }
            None => {
                self.wifi.push(network);
                self.wifi.len() - 1
            }
        };
        // The list never exceeds max_networks (a u8), so the index fits.
        u8::try_from(index).map_err(|_| NetworkingStatus::UnknownError)
    }

    /// RemoveNetwork (§11.9.7.6): removes `id`, keeping the others' order. Returns the index it
    /// had.
    ///
    /// # Errors
    /// [`NetworkingStatus::NetworkIdNotFound`].
    pub fn remove(&mut self, id: &[u8]) -> Result<u8, NetworkingStatus> {
        let i = self
            .position(id)
            .ok_or(NetworkingStatus::NetworkIdNotFound)?;
        self.wifi.remove(i);
        if self.connected.as_deref() == Some(id) {
            self.connected = None;
        }
        u8::try_from(i).map_err(|_| NetworkingStatus::UnknownError)
    }

    /// ReorderNetwork (§11.9.7.10): moves `id` to `index`, the others keeping their relative
    /// order. Returns `index`.
    ///
    /// # Errors
    /// [`NetworkingStatus::NetworkIdNotFound`] (checked first), then
    /// [`NetworkingStatus::OutOfRange`] for an index at or past the end of the list.
    pub fn reorder(&mut self, id: &[u8], index: u8) -> Result<u8, NetworkingStatus> {
        let from = self
            .position(id)
            .ok_or(NetworkingStatus::NetworkIdNotFound)?;
        let to = usize::from(index);
        if to >= self.wifi.len() {
            return Err(NetworkingStatus::OutOfRange);
        }
        let entry = self.wifi.remove(from);
        self.wifi.insert(to, entry);
        Ok(index)
    }

    /// Records the outcome of a connection attempt to `id`: on success it is the connected
    /// network (all others are not); on failure it is not connected.
    pub fn set_connect_result(&mut self, id: &[u8], success: bool) {
        if success {
            self.connected = Some(id.to_vec());
        } else if self.connected.as_deref() == Some(id) {
            self.connected = None;
        }
    }

    /// Builds a configuration from persisted parts (see `persist.rs`), checking them as the
    /// commands would.
    pub(super) fn from_parts(
        interface_enabled: bool,
        wifi: Vec<WifiNetwork>,
        connected: Option<Vec<u8>>,
    ) -> Result<Self, &'static str> {
        for (i, n) in wifi.iter().enumerate() {
            if wifi.iter().skip(i + 1).any(|m| m.ssid == n.ssid) {
                return Err("duplicate network");
            }
        }
        if wifi.len() > usize::from(u8::MAX) {
            return Err("network list length");
        }
        if let Some(c) = &connected {
            if !wifi.iter().any(|n| &n.ssid == c) {
                return Err("connected network");
            }
        }
        Ok(Self {
            interface_enabled,
            wifi,
            connected,
        })
    }
}

/// The outcome of the last scan or connection attempt: LastNetworkingStatus, LastNetworkID and
/// LastConnectErrorValue (§11.9.6.6-8). Not rolled back by the fail-safe (they report what
/// happened) and not persisted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkStatus {
    /// LastNetworkingStatus.
    pub last_networking_status: Option<NetworkingStatus>,
    /// LastNetworkID.
    pub last_network_id: Option<Vec<u8>>,
    /// LastConnectErrorValue.
    pub last_connect_error_value: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(ssid: &str) -> WifiNetwork {
        WifiNetwork::new(ssid.as_bytes(), b"password").expect("valid")
    }

    fn ssids(c: &NetworkConfig) -> Vec<&[u8]> {
        c.wifi_networks().iter().map(WifiNetwork::ssid).collect()
    }

    #[test]
    fn credentials_lengths_follow_the_spec_table() {
        // §11.9.7.3.2: 0, 5, 8..=63 octets, or 64 hex digits.
        for len in 0..=70usize {
            let c = vec![b'a'; len];
            let want = matches!(len, 0 | 5 | 8..=64);
            assert_eq!(is_valid_credentials(&c), want, "length {len}");
        }
        let mut psk = vec![b'0'; 64];
        assert!(is_valid_credentials(&psk));
        psk[10] = b'g';
        assert!(!is_valid_credentials(&psk), "64 octets must be hex");
        assert!(!is_valid_network_id(b""));
        assert!(is_valid_network_id(&[0xFF; 32]), "any octets, not text");
        assert!(!is_valid_network_id(&[b'x'; 33]));
        assert_eq!(
            WifiNetwork::new(b"", b"password"),
            Err(NetworkingStatus::OutOfRange)
        );
        assert_eq!(
            WifiNetwork::new(b"home", b"1234"),
            Err(NetworkingStatus::OutOfRange)
        );
    }

    #[test]
    fn debug_never_shows_credentials() {
        let n = WifiNetwork::new(b"home", b"supersecret-pass").expect("valid");
        let s = format!(
            "{:?}",
            NetworkConfig {
                wifi: vec![n],
                ..NetworkConfig::default()
            }
        );
        assert!(
            s.contains("home") && s.contains("credentials_len: 16"),
            "{s}"
        );
        assert!(!s.contains("supersecret"), "{s}");
    }

    #[test]
    fn add_update_remove_reorder() {
        let mut c = NetworkConfig::default();
        assert_eq!(c.add_or_update_wifi(net("a"), 3), Ok(0));
        assert_eq!(c.add_or_update_wifi(net("b"), 3), Ok(1));
        assert_eq!(c.add_or_update_wifi(net("c"), 3), Ok(2));
        assert_eq!(
            c.add_or_update_wifi(net("d"), 3),
            Err(NetworkingStatus::BoundsExceeded)
        );
        // An existing SSID is an update in place, even when the list is full.
        let updated = WifiNetwork::new(b"b", b"new-password").expect("valid");
        assert_eq!(c.add_or_update_wifi(updated, 3), Ok(1));
        assert_eq!(ssids(&c), [b"a", b"b", b"c"]);
        assert_eq!(c.wifi_networks()[1].credentials(), b"new-password");

        c.set_connect_result(b"b", true);
        assert_eq!(c.connected(), Some(&b"b"[..]));
        // Reorder examples in the manner of §11.9.7.10: to the front, to the back, in place.
        assert_eq!(c.reorder(b"c", 0), Ok(0));
        assert_eq!(ssids(&c), [b"c", b"a", b"b"]);
        assert_eq!(c.reorder(b"c", 2), Ok(2));
        assert_eq!(ssids(&c), [b"a", b"b", b"c"]);
        assert_eq!(c.reorder(b"a", 0), Ok(0));
        assert_eq!(ssids(&c), [b"a", b"b", b"c"]);
        assert_eq!(c.reorder(b"a", 3), Err(NetworkingStatus::OutOfRange));
        assert_eq!(c.reorder(b"x", 0), Err(NetworkingStatus::NetworkIdNotFound));

        assert_eq!(c.remove(b"x"), Err(NetworkingStatus::NetworkIdNotFound));
        assert_eq!(c.remove(b"b"), Ok(1));
        assert_eq!(ssids(&c), [b"a", b"c"]);
        assert_eq!(c.connected(), None, "removing the connected network");
        c.set_connect_result(b"a", true);
        c.set_connect_result(b"c", false);
        assert_eq!(c.connected(), Some(&b"a"[..]), "a failure elsewhere");
        c.set_connect_result(b"a", false);
        assert_eq!(c.connected(), None);
    }

    #[test]
    fn from_parts_checks_consistency() {
        assert!(NetworkConfig::from_parts(true, vec![net("a"), net("a")], None).is_err());
        assert!(NetworkConfig::from_parts(true, vec![net("a")], Some(b"b".to_vec())).is_err());
        let c = NetworkConfig::from_parts(false, vec![net("a")], Some(b"a".to_vec()))
            .expect("consistent");
        assert!(!c.interface_enabled);
        assert_eq!(c.connected(), Some(&b"a"[..]));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, u8),
        Remove(u8),
        Reorder(u8, u8),
        Connect(u8, bool),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        // SSIDs from a small alphabet so operations hit existing entries often.
        prop_oneof![
            (0..6u8, 0..3u8).prop_map(|(s, c)| Op::Add(s, c)),
            (0..6u8).prop_map(Op::Remove),
            (0..6u8, 0..6u8).prop_map(|(s, i)| Op::Reorder(s, i)),
            (0..6u8, any::<bool>()).prop_map(|(s, ok)| Op::Connect(s, ok)),
        ]
    }

    proptest::proptest! {
        /// Against a plain Vec model: the list ops give the same list and outcomes, the list
        /// stays within MaxNetworks without duplicate SSIDs, and the connected network is
        /// always one of the list's.
        #[test]
        fn list_ops_match_a_model(
            max in 1..5u8,
            ops in proptest::collection::vec(op(), 0..40),
        ) {
            let mut c = NetworkConfig::default();
            let mut model: Vec<(u8, u8)> = Vec::new();
            let mut connected: Option<u8> = None;
            for op in ops {
                match op {
                    Op::Add(s, cr) => {
                        let creds = [b"password".as_slice(), b"", b"abcde"][usize::from(cr)];
                        let n = WifiNetwork::new(&[b'a' + s], creds).expect("valid");
                        let r = c.add_or_update_wifi(n, max);
                        let want = match model.iter().position(|(m, _)| *m == s) {
                            Some(i) => {
                                model[i].1 = cr;
                                Ok(i as u8)
                            }
                            None if model.len() >= usize::from(max) => {
                                Err(NetworkingStatus::BoundsExceeded)
                            }
                            None => {
                                model.push((s, cr));
                                Ok(model.len() as u8 - 1)
                            }
                        };
                        proptest::prop_assert_eq!(r, want);
                    }
                    Op::Remove(s) => {
                        let r = c.remove(&[b'a' + s]);
                        let want = match model.iter().position(|(m, _)| *m == s) {
                            Some(i) => {
                                model.remove(i);
                                if connected == Some(s) {
                                    connected = None;
                                }
                                Ok(i as u8)
                            }
                            None => Err(NetworkingStatus::NetworkIdNotFound),
                        };
                        proptest::prop_assert_eq!(r, want);
                    }
                    Op::Reorder(s, to) => {
                        let r = c.reorder(&[b'a' + s], to);
                        let want = match model.iter().position(|(m, _)| *m == s) {
                            None => Err(NetworkingStatus::NetworkIdNotFound),
                            Some(_) if usize::from(to) >= model.len() => {
                                Err(NetworkingStatus::OutOfRange)
                            }
                            Some(i) => {
                                let e = model.remove(i);
                                model.insert(usize::from(to), e);
                                Ok(to)
                            }
                        };
                        proptest::prop_assert_eq!(r, want);
                    }
                    Op::Connect(s, ok) => {
                        // The cluster only connects configured networks.
                        if model.iter().any(|(m, _)| *m == s) {
                            c.set_connect_result(&[b'a' + s], ok);
                            if ok {
                                connected = Some(s);
                            } else if connected == Some(s) {
                                connected = None;
                            }
                        }
                    }
                }
                let got: Vec<u8> = c.wifi_networks().iter().map(|n| n.ssid()[0] - b'a').collect();
                let want: Vec<u8> = model.iter().map(|(s, _)| *s).collect();
                proptest::prop_assert_eq!(got, want);
                proptest::prop_assert!(c.wifi_networks().len() <= usize::from(max));
                proptest::prop_assert_eq!(c.connected().map(|id| id[0] - b'a'), connected);
                if let Some(id) = c.connected() {
                    proptest::prop_assert!(c.position(id).is_some());
                }
            }
        }
    }

    #[test]
    fn status_round_trips() {
        for v in 0..=12u8 {
            assert_eq!(NetworkingStatus::from_u8(v).map(|s| s as u8), Some(v));
        }
        assert_eq!(NetworkingStatus::from_u8(13), None);
    }
}
