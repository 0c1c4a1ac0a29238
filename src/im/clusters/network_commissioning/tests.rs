//! Network Commissioning tests: the Ethernet instance's attributes and InterfaceEnabled, and the
//! Wi-Fi instance's commands through the data model (privilege and path checks included), each
//! NetworkingStatus outcome, the fail-safe's rollback, persistence, and golden response bytes.

use super::*;
use crate::fabric::{FailSafeEnd, NodeState, RecordKind, Subject};
use crate::im::clusters::test_support::{self as ts, c, field, fields, response, st};
use crate::im::model::{DataModel, ReadScope};
use crate::im::path::ConcreteAttributePath;
use crate::rng::TestRng;
use crate::time::Instant;
use crate::tlv::{TlvReader, TlvValue};

fn model_with(c: NetworkCommissioning) -> DataModel {
    let mut m = DataModel::new();
    m.add_endpoint(0, vec![crate::im::ROOT_NODE_DEVICE_TYPE])
        .add_cluster(Box::new(c), 7);
    m
}

fn p(attribute: u32) -> ConcreteAttributePath {
    ConcreteAttributePath {
        endpoint: 0,
        cluster: id::NETWORK_COMMISSIONING,
        attribute,
    }
}

fn raw_as(
    m: &DataModel,
    s: &NodeState,
    subject: Subject,
    attribute: u32,
) -> Result<Vec<u8>, AttrError> {
    let scope = ReadScope {
        state: s,
        subject,
        fabric_filtered: false,
        now: Instant::ZERO,
    };
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    m.read_attribute(&scope, p(attribute), &mut w, Tag::Anonymous)?;
    Ok(buf)
}

fn raw(m: &DataModel, s: &NodeState, attribute: u32) -> Result<Vec<u8>, AttrError> {
    raw_as(m, s, Subject::pase(None), attribute)
}

fn read(m: &DataModel, s: &NodeState, attribute: u32) -> Result<TlvValue, AttrError> {
    raw(m, s, attribute).map(|b| TlvValue::decode(&b).expect("own encoding").1)
}

// ---- Ethernet ----

#[test]
fn reports_one_connected_ethernet_network() {
    let m = model_with(NetworkCommissioning::ethernet("enp3s0"));
    let s = NodeState::default();
    // Golden: [ { 0: "enp3s0" (octets), 1: true } ]
    assert_eq!(
        raw(&m, &s, attr::NETWORKS).unwrap(),
        [
            0x16, 0x15, 0x30, 0x00, 0x06, b'e', b'n', b'p', b'3', b's', b'0', 0x29, 0x01, 0x18,
            0x18
        ]
    );
    assert_eq!(read(&m, &s, attr::MAX_NETWORKS), Ok(TlvValue::UInt(1)));
    assert_eq!(
        read(&m, &s, attr::INTERFACE_ENABLED),
        Ok(TlvValue::Bool(true))
    );
    for a in [
        attr::LAST_NETWORKING_STATUS,
        attr::LAST_NETWORK_ID,
        attr::LAST_CONNECT_ERROR_VALUE,
    ] {
        assert_eq!(read(&m, &s, a), Ok(TlvValue::Null), "attribute {a}");
    }
    assert_eq!(
        read(&m, &s, 0xFFFC),
        Ok(TlvValue::UInt(4)),
        "FeatureMap = ET"
    );
    assert_eq!(read(&m, &s, 0xFFFD), Ok(TlvValue::UInt(2)));
    // No WiFi/Thread attributes, no commands.
    assert_eq!(
        read(&m, &s, 0x0002),
        Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE))
    );
    assert_eq!(read(&m, &s, 0xFFF9), Ok(TlvValue::Array(vec![])));
    // Administer to read the network list, View for InterfaceEnabled.
    let c = NetworkCommissioning::ethernet("x");
    assert_eq!(c.read_privilege(attr::NETWORKS), Privilege::Administer);
    assert_eq!(c.read_privilege(attr::INTERFACE_ENABLED), Privilege::View);
    // NetworkFeature::Ethernet is the same instance.
    let m2 = model_with(NetworkCommissioning::new(
        "enp3s0",
        &NetworkFeature::Ethernet,
    ));
    assert_eq!(raw(&m2, &s, attr::NETWORKS), raw(&m, &s, attr::NETWORKS));
}

fn write(m: &mut DataModel, s: &mut NodeState, a: u32, v: &Value<'_>) -> Status {
    let mut ctx = WriteContext {
        endpoint: 0,
        state: s,
        subject: Subject::pase(None),
        now: Instant::ZERO,
        timed: false,
    };
    m.write_attribute(&mut ctx, p(a), None, v)
}

#[test]
fn interface_enabled_write_is_state_and_guarded_by_the_fail_safe() {
    let mut m = model_with(NetworkCommissioning::ethernet("eth1"));
    let mut s = NodeState::default();
    assert_eq!(
        write(&mut m, &mut s, attr::INTERFACE_ENABLED, &Value::UInt(1)),
        Status::INVALID_DATA_TYPE
    );
    assert_eq!(
        write(&mut m, &mut s, attr::MAX_NETWORKS, &Value::UInt(2)),
        Status::UNSUPPORTED_WRITE
    );
    s.arm_fail_safe(Instant::ZERO, None, false, 60, 0).unwrap();
    assert_eq!(
        write(&mut m, &mut s, attr::INTERFACE_ENABLED, &Value::Bool(false)),
        Status::SUCCESS
    );
    assert_eq!(
        read(&m, &s, attr::INTERFACE_ENABLED),
        Ok(TlvValue::Bool(false))
    );
    let TlvValue::Array(entries) = read(&m, &s, attr::NETWORKS).unwrap() else {
        panic!("not an array")
    };
    let (_, TlvValue::Struct(fields)) = &entries[0] else {
        panic!("not a struct")
    };
    assert_eq!(fields[1], (Tag::Context(1), TlvValue::Bool(false)));
    // The fail-safe expires: InterfaceEnabled comes back.
    assert!(s.handle_timeout(Instant::from_millis(60_000)));
    assert_eq!(
        read(&m, &s, attr::INTERFACE_ENABLED),
        Ok(TlvValue::Bool(true))
    );
}

#[test]
fn network_id_rules() {
    assert_eq!(NetworkCommissioning::ethernet("").network_id(), b"eth0");
    let long = "x".repeat(40);
    assert_eq!(NetworkCommissioning::ethernet(&long).network_id().len(), 32);
    assert_eq!(default_interface_name(["lo", "wlp2s0", "eth0"]), "wlp2s0");
    assert_eq!(default_interface_name(["lo"]), "eth0");
    assert_eq!(default_interface_name([]), "eth0");
    let m = model_with(NetworkCommissioning::ethernet("br0"));
    let b = raw(&m, &NodeState::default(), attr::NETWORKS).unwrap();
    assert!(TlvReader::new(&b).read_element().is_ok());
}

#[test]
fn ethernet_refuses_wifi_commands() {
    let mut m = model_with(NetworkCommissioning::ethernet("eth0"));
    let mut s = NodeState::default();
    s.arm_fail_safe(Instant::ZERO, None, false, 60, 0).unwrap();
    let f = add_fields(b"home", b"password", None);
    assert_eq!(
        invoke_as(
            &mut m,
            &mut s,
            Subject::pase(None),
            cmd::ADD_OR_UPDATE_WIFI_NETWORK,
            &f
        ),
        st(Status::UNSUPPORTED_COMMAND)
    );
}

// ---- Wi-Fi ----

struct Wifi {
    m: DataModel,
    s: NodeState,
    link: HostLink,
}

impl Wifi {
    fn new(max_networks: u8) -> Self {
        let link = HostLink::new(true);
        let settings = WifiSettings {
            max_networks,
            ..WifiSettings::host_managed(link.clone())
        };
        Self {
            m: model_with(NetworkCommissioning::wifi("wlp2s0", settings)),
            s: NodeState::default(),
            link,
        }
    }

    /// A Wi-Fi instance with the fail-safe armed over PASE (no fabric) at time 0 for 60 s.
    fn armed(max_networks: u8) -> Self {
        let mut w = Self::new(max_networks);
        w.s.arm_fail_safe(Instant::ZERO, None, false, 60, 0)
            .expect("arm");
        w
    }

    fn invoke(&mut self, command: u32, f: &[u8]) -> InvokeResult {
        invoke_as(&mut self.m, &mut self.s, Subject::pase(None), command, f)
    }

    fn add(&mut self, ssid: &[u8], creds: &[u8]) -> InvokeResult {
        self.invoke(
            cmd::ADD_OR_UPDATE_WIFI_NETWORK,
            &add_fields(ssid, creds, None),
        )
    }

    fn connect(&mut self, id: &[u8]) -> InvokeResult {
        self.invoke(cmd::CONNECT_NETWORK, &id_fields(id, None))
    }

    fn read(&self, a: u32) -> TlvValue {
        read(&self.m, &self.s, a).expect("read")
    }

    /// Networks as (SSID, connected) pairs.
    fn networks(&self) -> Vec<(Vec<u8>, bool)> {
        let TlvValue::Array(entries) = self.read(attr::NETWORKS) else {
            panic!("not a list")
        };
        entries
            .into_iter()
            .map(|(_, v)| {
                let TlvValue::Struct(m) = v else {
                    panic!("not a struct")
                };
                match (field(&m, 0), field(&m, 1)) {
                    (Some(TlvValue::Octets(id)), Some(TlvValue::Bool(c))) => (id.clone(), *c),
                    other => panic!("{other:?}"),
                }
            })
            .collect()
    }
}

fn invoke_as(
    m: &mut DataModel,
    s: &mut NodeState,
    subject: Subject,
    command: u32,
    f: &[u8],
) -> InvokeResult {
    let mut rng = TestRng::new(9);
    let challenge = [1u8; 16];
    let mut ctx = InvokeContext {
        endpoint: 0,
        now: Instant::ZERO,
        timed: false,
        subject,
        state: s,
        rng: &mut rng,
        attestation_challenge: &challenge,
    };
    m.invoke(&mut ctx, id::NETWORK_COMMISSIONING, command, c(f))
}

fn add_fields(ssid: &[u8], creds: &[u8], breadcrumb: Option<u64>) -> Vec<u8> {
    fields(|w| {
        w.octets(Tag::Context(0), ssid)?;
        w.octets(Tag::Context(1), creds)?;
        if let Some(b) = breadcrumb {
            w.u64(Tag::Context(2), b)?;
        }
        Ok(())
    })
}

fn id_fields(id: &[u8], breadcrumb: Option<u64>) -> Vec<u8> {
    fields(|w| {
        w.octets(Tag::Context(0), id)?;
        if let Some(b) = breadcrumb {
            w.u64(Tag::Context(1), b)?;
        }
        Ok(())
    })
}

fn reorder_fields(id: &[u8], index: u8) -> Vec<u8> {
    fields(|w| {
        w.octets(Tag::Context(0), id)?;
        w.u8(Tag::Context(1), index)
    })
}

/// A NetworkConfigResponse's (NetworkingStatus, NetworkIndex).
fn config(r: &InvokeResult) -> (u64, Option<u64>) {
    let (command, m) = response(r);
    assert_eq!(command, cmd::NETWORK_CONFIG_RESPONSE);
    let status = match field(&m, 0) {
        Some(TlvValue::UInt(v)) => *v,
        other => panic!("{other:?}"),
    };
    let index = match field(&m, 2) {
        Some(TlvValue::UInt(v)) => Some(*v),
        None => None,
        other => panic!("{other:?}"),
    };
    (status, index)
}

/// A ConnectNetworkResponse's (NetworkingStatus, ErrorValue).
fn connected(r: &InvokeResult) -> (u64, TlvValue) {
    let (command, m) = response(r);
    assert_eq!(command, cmd::CONNECT_NETWORK_RESPONSE);
    let status = match field(&m, 0) {
        Some(TlvValue::UInt(v)) => *v,
        other => panic!("{other:?}"),
    };
    (
        status,
        field(&m, 2).expect("ErrorValue is mandatory").clone(),
    )
}

const SUCCESS: u64 = NetworkingStatus::Success as u64;
const OUT_OF_RANGE: u64 = NetworkingStatus::OutOfRange as u64;

#[test]
fn wifi_attributes_and_lists() {
    let w = Wifi::new(4);
    assert_eq!(w.read(0xFFFC), TlvValue::UInt(1), "FeatureMap = WI");
    assert_eq!(w.read(attr::MAX_NETWORKS), TlvValue::UInt(4));
    assert_eq!(w.read(attr::NETWORKS), TlvValue::Array(vec![]));
    assert_eq!(w.read(attr::SCAN_MAX_TIME_SECONDS), TlvValue::UInt(10));
    assert_eq!(w.read(attr::CONNECT_MAX_TIME_SECONDS), TlvValue::UInt(20));
    assert_eq!(w.read(attr::INTERFACE_ENABLED), TlvValue::Bool(true));
    for a in [
        attr::LAST_NETWORKING_STATUS,
        attr::LAST_NETWORK_ID,
        attr::LAST_CONNECT_ERROR_VALUE,
    ] {
        assert_eq!(w.read(a), TlvValue::Null, "attribute {a}");
    }
    // Golden SupportedWiFiBands: [2G4 (0), 5G (2)].
    assert_eq!(
        raw(&w.m, &w.s, attr::SUPPORTED_WIFI_BANDS).unwrap(),
        [0x16, 0x04, 0x00, 0x04, 0x02, 0x18]
    );
    let ids = |v: TlvValue| -> Vec<u64> {
        let TlvValue::Array(a) = v else { panic!() };
        a.into_iter()
            .map(|(_, v)| match v {
                TlvValue::UInt(u) => u,
                o => panic!("{o:?}"),
            })
            .collect()
    };
    assert_eq!(ids(w.read(0xFFFB))[..9], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(ids(w.read(0xFFF9)), [0, 2, 4, 6, 8]);
    assert_eq!(ids(w.read(0xFFF8)), [1, 5, 7]);
    // Minima enforced: MaxNetworks 0 becomes 1, no bands becomes 2.4 GHz.
    let c = NetworkCommissioning::wifi(
        "w",
        WifiSettings {
            max_networks: 0,
            bands: vec![],
            backend: WifiBackend::HostManaged(HostLink::new(true)),
        },
    );
    let m = model_with(c);
    let s = NodeState::default();
    assert_eq!(read(&m, &s, attr::MAX_NETWORKS), Ok(TlvValue::UInt(1)));
    assert_eq!(
        read(&m, &s, attr::SUPPORTED_WIFI_BANDS),
        Ok(TlvValue::Array(vec![(Tag::Anonymous, TlvValue::UInt(0))]))
    );
}

#[test]
fn wifi_read_privileges() {
    // The spec's split (§11.9.6, §11.9.7), as the cluster declares it to the data model's
    // access check.
    let c = NetworkCommissioning::wifi("w", WifiSettings::host_managed(HostLink::new(true)));
    for a in [
        attr::SCAN_MAX_TIME_SECONDS,
        attr::CONNECT_MAX_TIME_SECONDS,
        attr::INTERFACE_ENABLED,
        attr::SUPPORTED_WIFI_BANDS,
    ] {
        assert_eq!(c.read_privilege(a), Privilege::View, "attribute {a}");
    }
    for a in [
        attr::MAX_NETWORKS,
        attr::NETWORKS,
        attr::LAST_NETWORKING_STATUS,
        attr::LAST_NETWORK_ID,
        attr::LAST_CONNECT_ERROR_VALUE,
    ] {
        assert_eq!(c.read_privilege(a), Privilege::Administer, "attribute {a}");
    }
    for cm in WIFI_ACCEPTED {
        assert_eq!(c.invoke_privilege(cm), Privilege::Administer);
    }
}

#[test]
fn commands_need_administer() {
    // A CASE subject on fabric 1 with View only: UNSUPPORTED_ACCESS before the cluster runs.
    let mut w = Wifi::armed(4);
    let (mut s, _) = ts::state_with_fabric(0xFFF1);
    s.acl
        .add_entry(crate::fabric::AclEntry {
            fabric_index: crate::fabric::FabricIndex(1),
            privilege: Privilege::View,
            auth_mode: crate::fabric::AuthMode::Case,
            subjects: vec![0x22],
            targets: vec![],
        })
        .expect("entry");
    let viewer = Subject::case(crate::fabric::FabricIndex(1), 0x22, Default::default());
    let f = add_fields(b"home", b"password", None);
    assert_eq!(
        invoke_as(
            &mut w.m,
            &mut s,
            viewer,
            cmd::ADD_OR_UPDATE_WIFI_NETWORK,
            &f
        ),
        st(Status::UNSUPPORTED_ACCESS)
    );
    assert!(s.network.wifi_networks().is_empty());
}

#[test]
fn every_config_command_needs_the_fail_safe() {
    let mut w = Wifi::new(4);
    for (command, f) in [
        (cmd::SCAN_NETWORKS, fields(|_| Ok(()))),
        (
            cmd::ADD_OR_UPDATE_WIFI_NETWORK,
            add_fields(b"home", b"password", None),
        ),
        (cmd::REMOVE_NETWORK, id_fields(b"home", None)),
        (cmd::CONNECT_NETWORK, id_fields(b"home", None)),
    ] {
        assert_eq!(
            w.invoke(command, &f),
            st(Status::FAILSAFE_REQUIRED),
            "command {command}"
        );
    }
    // Armed by another fabric: still FAILSAFE_REQUIRED for this (fabric-less PASE) subject.
    w.s.arm_fail_safe(
        Instant::ZERO,
        Some(crate::fabric::FabricIndex(1)),
        false,
        60,
        0,
    )
    .expect("arm");
    assert_eq!(w.add(b"home", b"password"), st(Status::FAILSAFE_REQUIRED));
    // ReorderNetwork needs no fail-safe, but not someone else's.
    assert_eq!(
        w.invoke(cmd::REORDER_NETWORK, &reorder_fields(b"home", 0)),
        st(Status::BUSY)
    );
    assert!(w.s.network.wifi_networks().is_empty());
    assert_eq!(w.read(attr::LAST_NETWORKING_STATUS), TlvValue::Null);
}

#[test]
fn malformed_requests_are_invalid_command() {
    let mut w = Wifi::armed(4);
    let cases: [(u32, Vec<u8>); 5] = [
        // SSID missing.
        (
            cmd::ADD_OR_UPDATE_WIFI_NETWORK,
            fields(|w| w.octets(Tag::Context(1), b"x")),
        ),
        // Credentials of the wrong type.
        (
            cmd::ADD_OR_UPDATE_WIFI_NETWORK,
            fields(|w| {
                w.octets(Tag::Context(0), b"home")?;
                w.utf8(Tag::Context(1), "password")
            }),
        ),
        (cmd::REMOVE_NETWORK, fields(|_| Ok(()))),
        (cmd::CONNECT_NETWORK, fields(|w| w.u8(Tag::Context(0), 1))),
        (
            cmd::REORDER_NETWORK,
            fields(|w| w.octets(Tag::Context(0), b"home")),
        ),
    ];
    for (command, f) in cases {
        assert_eq!(
            w.invoke(command, &f),
            st(Status::INVALID_COMMAND),
            "command {command}"
        );
    }
    assert!(w.s.network.wifi_networks().is_empty());
}

#[test]
fn add_or_update_outcomes() {
    let mut w = Wifi::armed(2);
    // Success, with the index and the breadcrumb.
    let r = w.invoke(
        cmd::ADD_OR_UPDATE_WIFI_NETWORK,
        &add_fields(b"home", b"password", Some(5)),
    );
    assert_eq!(config(&r), (SUCCESS, Some(0)));
    assert_eq!(w.s.fail_safe.breadcrumb(), 5);
    assert!(w.s.fail_safe.context().expect("armed").network_changed);
    assert_eq!(w.networks(), [(b"home".to_vec(), false)]);
    assert_eq!(
        w.read(attr::LAST_NETWORKING_STATUS),
        TlvValue::UInt(SUCCESS)
    );
    assert_eq!(
        w.read(attr::LAST_NETWORK_ID),
        TlvValue::Octets(b"home".to_vec())
    );
    assert_eq!(w.read(attr::LAST_CONNECT_ERROR_VALUE), TlvValue::Null);

    // OutOfRange: SSID empty or over 32 octets, credentials of an invalid length or a 64-octet
    // PSK that is not hex. The breadcrumb stays, the list too; NetworkIndex is absent.
    for (ssid, creds) in [
        (&b""[..], &b"password"[..]),
        (&[b's'; 33][..], &b"password"[..]),
        (&b"cafe"[..], &b"1234"[..]),
        (&b"cafe"[..], &b"123456"[..]),
        (&b"cafe"[..], &[b'z'; 64][..]),
        (&b"cafe"[..], &[b'a'; 65][..]),
    ] {
        let r = w.invoke(
            cmd::ADD_OR_UPDATE_WIFI_NETWORK,
            &add_fields(ssid, creds, Some(9)),
        );
        assert_eq!(
            config(&r),
            (OUT_OF_RANGE, None),
            "{ssid:?} / {} octets",
            creds.len()
        );
        assert_eq!(w.s.fail_safe.breadcrumb(), 5);
    }
    assert_eq!(
        w.read(attr::LAST_NETWORKING_STATUS),
        TlvValue::UInt(OUT_OF_RANGE)
    );
    assert_eq!(
        w.read(attr::LAST_NETWORK_ID),
        TlvValue::Octets(b"cafe".to_vec())
    );
    // The valid credential forms: open, WEP-64 passphrase, 64 hex digits.
    assert_eq!(config(&w.add(b"open", b"")), (SUCCESS, Some(1)));
    // BoundsExceeded when full (MaxNetworks 2).
    let r = w.add(b"third", b"password");
    assert_eq!(config(&r), (NetworkingStatus::BoundsExceeded as u64, None));
    assert_eq!(w.networks().len(), 2);
    // Same SSID again: an update in place (the spec's add-or-update, not DuplicateNetworkID),
    // allowed even when full.
    assert_eq!(config(&w.add(b"home", b"abcde")), (SUCCESS, Some(0)));
    assert_eq!(config(&w.add(b"open", &[b'A'; 64])), (SUCCESS, Some(1)));
    assert_eq!(w.s.network.wifi_networks()[0].credentials(), b"abcde");
    assert_eq!(w.networks().len(), 2);
}

#[test]
fn remove_and_reorder_outcomes() {
    let mut w = Wifi::armed(4);
    for s in [&b"a"[..], b"b", b"c"] {
        assert_eq!(config(&w.add(s, b"password")).0, SUCCESS);
    }
    // Reorder: NetworkIDNotFound, OutOfRange, then Success with the new index.
    let r = w.invoke(cmd::REORDER_NETWORK, &reorder_fields(b"x", 0));
    assert_eq!(
        config(&r),
        (NetworkingStatus::NetworkIdNotFound as u64, None)
    );
    let r = w.invoke(cmd::REORDER_NETWORK, &reorder_fields(b"a", 3));
    assert_eq!(config(&r), (OUT_OF_RANGE, None));
    let r = w.invoke(cmd::REORDER_NETWORK, &reorder_fields(b"c", 0));
    assert_eq!(config(&r), (SUCCESS, Some(0)));
    let order: Vec<Vec<u8>> = w.networks().into_iter().map(|(s, _)| s).collect();
    assert_eq!(order, [b"c".to_vec(), b"a".to_vec(), b"b".to_vec()]);

    // Remove: NetworkIDNotFound (and OutOfRange for an invalid id), then Success with the index
    // the entry had, the breadcrumb set.
    let r = w.invoke(cmd::REMOVE_NETWORK, &id_fields(b"x", Some(3)));
    assert_eq!(
        config(&r),
        (NetworkingStatus::NetworkIdNotFound as u64, None)
    );
    assert_eq!(w.s.fail_safe.breadcrumb(), 0, "no breadcrumb on failure");
    assert_eq!(
        w.read(attr::LAST_NETWORK_ID),
        TlvValue::Octets(b"x".to_vec())
    );
    let r = w.invoke(cmd::REMOVE_NETWORK, &id_fields(b"", None));
    assert_eq!(config(&r), (OUT_OF_RANGE, None));
    assert_eq!(w.read(attr::LAST_NETWORK_ID), TlvValue::Null);
    let r = w.invoke(cmd::REMOVE_NETWORK, &id_fields(b"a", Some(3)));
    assert_eq!(config(&r), (SUCCESS, Some(1)));
    assert_eq!(w.s.fail_safe.breadcrumb(), 3);
    let order: Vec<Vec<u8>> = w.networks().into_iter().map(|(s, _)| s).collect();
    assert_eq!(order, [b"c".to_vec(), b"b".to_vec()]);
    // Removing every network makes the Last* attributes null again (§11.9.6.6).
    for s in [&b"c"[..], b"b"] {
        assert_eq!(
            config(&w.invoke(cmd::REMOVE_NETWORK, &id_fields(s, None))).0,
            SUCCESS
        );
    }
    assert_eq!(w.read(attr::LAST_NETWORKING_STATUS), TlvValue::Null);
}

#[test]
fn connect_network_outcomes_and_last_attributes() {
    let mut w = Wifi::armed(4);
    // Not configured: NetworkIDNotFound, ErrorValue null.
    let (status, error) = connected(&w.connect(b"home"));
    assert_eq!(status, NetworkingStatus::NetworkIdNotFound as u64);
    assert_eq!(error, TlvValue::Null);
    // Invalid NetworkID: OutOfRange.
    assert_eq!(connected(&w.connect(&[b'x'; 33])).0, OUT_OF_RANGE);

    assert_eq!(config(&w.add(b"home", b"password")).0, SUCCESS);
    assert_eq!(config(&w.add(b"other", b"password")).0, SUCCESS);
    // Link up: Success; the network reads connected; Last* say so; the breadcrumb is set.
    let r = w.invoke(cmd::CONNECT_NETWORK, &id_fields(b"home", Some(8)));
    assert_eq!(connected(&r), (SUCCESS, TlvValue::Null));
    assert_eq!(w.s.fail_safe.breadcrumb(), 8);
    assert_eq!(
        w.networks(),
        [(b"home".to_vec(), true), (b"other".to_vec(), false)]
    );
    assert_eq!(
        w.read(attr::LAST_NETWORKING_STATUS),
        TlvValue::UInt(SUCCESS)
    );
    assert_eq!(
        w.read(attr::LAST_NETWORK_ID),
        TlvValue::Octets(b"home".to_vec())
    );
    assert_eq!(w.read(attr::LAST_CONNECT_ERROR_VALUE), TlvValue::Null);
    // Connecting to the other one moves the Connected flag.
    assert_eq!(connected(&w.connect(b"other")).0, SUCCESS);
    assert_eq!(
        w.networks(),
        [(b"home".to_vec(), false), (b"other".to_vec(), true)]
    );

    // The host's link goes down: OtherConnectionFailure with the implementation's ErrorValue,
    // the entry not connected, LastConnectErrorValue set; no breadcrumb.
    w.link.set_up(false);
    let r = w.invoke(cmd::CONNECT_NETWORK, &id_fields(b"other", Some(99)));
    let want = NetworkingStatus::OtherConnectionFailure as u64;
    assert_eq!(
        connected(&r),
        (
            want,
            TlvValue::Int(i64::from(connect_error::HOST_LINK_DOWN))
        )
    );
    assert_eq!(w.s.fail_safe.breadcrumb(), 8);
    assert!(w.networks().iter().all(|(_, c)| !c));
    assert_eq!(w.read(attr::LAST_NETWORKING_STATUS), TlvValue::UInt(want));
    assert_eq!(
        w.read(attr::LAST_CONNECT_ERROR_VALUE),
        TlvValue::Int(i64::from(connect_error::HOST_LINK_DOWN))
    );
    // InterfaceEnabled false: refused too.
    w.link.set_up(true);
    w.s.network.interface_enabled = false;
    assert_eq!(
        connected(&w.connect(b"home")),
        (
            want,
            TlvValue::Int(i64::from(connect_error::INTERFACE_DISABLED))
        )
    );
    w.s.network.interface_enabled = true;
    assert_eq!(connected(&w.connect(b"home")), (SUCCESS, TlvValue::Null));
    assert_eq!(w.read(attr::LAST_CONNECT_ERROR_VALUE), TlvValue::Null);
    // Connected follows the link: down now, so not connected, without another command.
    w.link.set_up(false);
    assert!(w.networks().iter().all(|(_, c)| !c));
}

#[test]
fn scan_networks_reports_an_empty_list() {
    let mut w = Wifi::armed(4);
    // Undirected, no fields at all.
    let r = w.invoke(cmd::SCAN_NETWORKS, &fields(|_| Ok(())));
    let (command, m) = response(&r);
    assert_eq!(command, cmd::SCAN_NETWORKS_RESPONSE);
    assert_eq!(field(&m, 0), Some(&TlvValue::UInt(SUCCESS)));
    assert_eq!(field(&m, 2), Some(&TlvValue::Array(vec![])));
    // Directed, with a breadcrumb; null SSID; empty SSID (taken as null).
    let directed = fields(|w| {
        w.octets(Tag::Context(0), b"home")?;
        w.u64(Tag::Context(1), 4)
    });
    assert_eq!(
        response(&w.invoke(cmd::SCAN_NETWORKS, &directed)).0,
        cmd::SCAN_NETWORKS_RESPONSE
    );
    assert_eq!(w.s.fail_safe.breadcrumb(), 4);
    for f in [
        fields(|w| w.null(Tag::Context(0))),
        fields(|w| w.octets(Tag::Context(0), b"")),
    ] {
        let (_, m) = response(&w.invoke(cmd::SCAN_NETWORKS, &f));
        assert_eq!(field(&m, 0), Some(&TlvValue::UInt(SUCCESS)));
    }
    // An SSID over 32 octets: OutOfRange, no results, breadcrumb unchanged.
    let long = fields(|w| {
        w.octets(Tag::Context(0), &[b's'; 33])?;
        w.u64(Tag::Context(1), 6)
    });
    let (_, m) = response(&w.invoke(cmd::SCAN_NETWORKS, &long));
    assert_eq!(field(&m, 0), Some(&TlvValue::UInt(OUT_OF_RANGE)));
    assert_eq!(field(&m, 2), None);
    assert_eq!(w.s.fail_safe.breadcrumb(), 4);
    // Golden bytes of the undirected answer: { 0: 0, 2: [] }.
    let InvokeResult::Response { fields: b, .. } = r else {
        panic!()
    };
    assert_eq!(b, [0x15, 0x24, 0x00, 0x00, 0x36, 0x02, 0x18, 0x18]);
}

#[test]
fn golden_response_encodings() {
    // Hand-assembled from §11.9.7.7 / §11.9.7.9 field tables and TLV (Appendix A):
    // NetworkConfigResponse { 0: Success, 2: NetworkIndex 1 }.
    let InvokeResult::Response { command, fields } =
        config_response(NetworkingStatus::Success, Some(1))
    else {
        panic!()
    };
    assert_eq!(command, 0x05);
    assert_eq!(fields, [0x15, 0x24, 0x00, 0x00, 0x24, 0x02, 0x01, 0x18]);
    // Failure: no NetworkIndex, even if given.
    let InvokeResult::Response { fields, .. } =
        config_response(NetworkingStatus::BoundsExceeded, Some(1))
    else {
        panic!()
    };
    assert_eq!(fields, [0x15, 0x24, 0x00, 0x02, 0x18]);
    // ConnectNetworkResponse { 0: Success, 2: null }.
    let InvokeResult::Response { command, fields } =
        connect_response(NetworkingStatus::Success, "", None)
    else {
        panic!()
    };
    assert_eq!(command, 0x07);
    assert_eq!(fields, [0x15, 0x24, 0x00, 0x00, 0x34, 0x02, 0x18]);
    // ConnectNetworkResponse { 0: OtherConnectionFailure (9), 1: "x", 2: -1 (int8) }.
    let InvokeResult::Response { fields, .. } =
        connect_response(NetworkingStatus::OtherConnectionFailure, "x", Some(-1))
    else {
        panic!()
    };
    assert_eq!(
        fields,
        [0x15, 0x24, 0x00, 0x09, 0x2C, 0x01, 0x01, b'x', 0x20, 0x02, 0xFF, 0x18]
    );
}

#[test]
fn fail_safe_expiry_rolls_the_networks_back() {
    let mut w = Wifi::armed(4);
    assert_eq!(config(&w.add(b"home", b"password")).0, SUCCESS);
    assert_eq!(connected(&w.connect(b"home")).0, SUCCESS);
    assert!(w.s.handle_timeout(Instant::from_millis(60_000)));
    assert!(w.s.network.wifi_networks().is_empty());
    assert_eq!(w.s.network.connected(), None);
    assert_eq!(w.read(attr::NETWORKS), TlvValue::Array(vec![]));
    assert_eq!(w.read(attr::LAST_NETWORKING_STATUS), TlvValue::Null);

    // Committed networks survive a later fail-safe that removes them and then expires.
    let mut w = Wifi::armed(4);
    assert_eq!(config(&w.add(b"home", b"password")).0, SUCCESS);
    let ctx_fabric = crate::fabric::FabricIndex(1);
    w.s.fabrics.add(ts::fabric(1, 0xFFF1)).expect("room");
    if let Some(c) = w.s.fail_safe.context_mut() {
        c.fabric = Some(ctx_fabric);
    }
    w.s.commissioning_complete(Some(ctx_fabric), true)
        .expect("commit");
    w.s.arm_fail_safe(Instant::from_millis(1_000), None, false, 10, 0)
        .expect("arm");
    assert_eq!(
        config(&w.invoke(cmd::REMOVE_NETWORK, &id_fields(b"home", None))).0,
        SUCCESS
    );
    assert!(w.s.network.wifi_networks().is_empty());
    w.s.arm_fail_safe(Instant::from_millis(2_000), None, false, 0, 0)
        .expect("disarm");
    assert_eq!(w.networks(), [(b"home".to_vec(), false)]);
    let mut saw_end = false;
    while let Some(e) = w.s.poll_effect() {
        saw_end |= matches!(
            e,
            crate::fabric::Effect::FailSafeEnded(FailSafeEnd::Disarmed)
        );
    }
    assert!(saw_end);
}

#[test]
fn networks_persist_once_committed() {
    let mut w = Wifi::armed(4);
    drop(w.s.take_records());
    assert_eq!(config(&w.add(b"home", b"pass phrase!")).0, SUCCESS);
    assert_eq!(config(&w.add(b"cafe", b"")).0, SUCCESS);
    assert_eq!(connected(&w.connect(b"cafe")).0, SUCCESS);
    assert!(
        !w.s.take_records()
            .iter()
            .any(|r| r.kind == RecordKind::NetworkCommissioning),
        "held back while the fail-safe is armed"
    );
    let f = crate::fabric::FabricIndex(1);
    w.s.fabrics.add(ts::fabric(1, 0xFFF1)).expect("room");
    if let Some(c) = w.s.fail_safe.context_mut() {
        c.fabric = Some(f);
    }
    w.s.commissioning_complete(Some(f), true).expect("commit");
    let recs = w.s.take_records();
    let rec = recs
        .iter()
        .find(|r| r.kind == RecordKind::NetworkCommissioning)
        .expect("written at commit");
    assert!(format!("{rec:?}").contains("len"), "Debug shows no bytes");
    let loaded = NodeState::default()
        .load([(RecordKind::NetworkCommissioning, &rec.bytes[..])])
        .expect("load");
    assert_eq!(loaded.network, w.s.network);
    assert_eq!(loaded.network.connected(), Some(&b"cafe"[..]));
    assert_eq!(
        loaded.network.wifi_networks()[0].credentials(),
        b"pass phrase!"
    );
    // A record naming a connected network that is not in the list, or an invalid SSID, is an
    // error, not a silent reset.
    let bad = fields(|w| {
        w.u8(Tag::Context(0), 1)?;
        w.bool(Tag::Context(1), true)?;
        w.start_array(Tag::Context(2))?;
        w.end_container()?;
        w.octets(Tag::Context(3), b"ghost")
    });
    assert!(matches!(
        NodeState::default().load([(RecordKind::NetworkCommissioning, &bad[..])]),
        Err(crate::fabric::LoadError::Invalid { .. })
    ));
    let bad = fields(|w| {
        w.u8(Tag::Context(0), 1)?;
        w.bool(Tag::Context(1), true)?;
        w.start_array(Tag::Context(2))?;
        w.start_struct(Tag::Anonymous)?;
        w.octets(Tag::Context(0), b"")?;
        w.octets(Tag::Context(1), b"")?;
        w.end_container()?;
        w.end_container()
    });
    assert!(matches!(
        NodeState::default().load([(RecordKind::NetworkCommissioning, &bad[..])]),
        Err(crate::fabric::LoadError::Invalid { .. })
    ));
}

#[test]
fn commands_mark_the_changed_attributes() {
    let mut w = Wifi::armed(4);
    drop(w.m.take_changed());
    assert_eq!(config(&w.add(b"home", b"password")).0, SUCCESS);
    let changed: Vec<Option<u32>> =
        w.m.take_changed()
            .into_iter()
            .filter(|c| c.cluster == id::NETWORK_COMMISSIONING)
            .map(|c| c.attribute)
            .collect();
    for a in [
        attr::NETWORKS,
        attr::LAST_NETWORKING_STATUS,
        attr::LAST_NETWORK_ID,
    ] {
        assert!(changed.contains(&Some(a)), "{a} in {changed:?}");
    }
}
