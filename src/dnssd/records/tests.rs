//! Golden tests of the DNS-SD records: names, subtypes and TXT entries.

use super::*;
use crate::rng::TestRng;
use crate::time::Duration;

fn sample() -> Commissionable {
    Commissionable {
        instance: InstanceName([0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x23, 0x45, 0x67]),
        discriminator: 3840,
        vendor_id: 0xFFF1,
        product_id: 0x8001,
        device_type: None,
        device_name: Some("Porch light".into()),
        mode: CommissioningMode::Basic,
        pairing_hint: pairing_hint::POWER_CYCLE,
        pairing_instruction: None,
        mrp: MrpParameters::DEFAULT,
    }
}

fn txt(s: &Service) -> Vec<String> {
    s.txt_strings()
}

#[test]
fn commissionable_golden() {
    // Discriminator 3840, VID 0xFFF1, PID 0x8001, in the formats of Matter 1.3 §4.3.1 (decimal
    // without leading zeros, `VP=<vid>+<pid>`) as the CHIP SDK's Advertiser_ImplMinimalMdns.cpp
    // writes them: `_L3840`, `_S15`, `_V65521`, `_CM`, `D=3840`, `CM=1`, `VP=65521+32769`.
    let s = commissionable_service(&sample(), 5540);
    assert_eq!(s.instance, "DEADBEEF01234567");
    assert_eq!(s.service_type, "_matterc._udp");
    assert_eq!(s.port, 5540);
    assert_eq!(s.subtypes, ["_L3840", "_S15", "_V65521", "_CM"]);
    assert_eq!(
        txt(&s),
        [
            "D=3840",
            "CM=1",
            "VP=65521+32769",
            "DN=Porch light",
            "SII=500",
            "SAI=300",
            "SAT=4000",
            "PH=1",
        ]
    );
    assert_eq!(s.subtype_name("_L3840"), "_L3840._sub._matterc._udp");
    assert!(s.is_commissionable());
}

#[test]
fn enhanced_window_with_device_type_and_instruction() {
    let mut c = sample();
    c.discriminator = 0x0123; // 291: short discriminator 1
    c.mode = CommissioningMode::Enhanced;
    c.device_type = Some(0x0100); // On/Off Light
    c.pairing_hint = pairing_hint::ADMINISTRATOR | pairing_hint::CUSTOM_INSTRUCTION;
    c.pairing_instruction = Some("Ask your hub".into());
    c.device_name = None;
    let s = commissionable_service(&c, 5541);
    assert_eq!(s.subtypes, ["_L291", "_S1", "_V65521", "_T256", "_CM"]);
    assert_eq!(
        txt(&s),
        [
            "D=291",
            "CM=2",
            "VP=65521+32769",
            "DT=256",
            "SII=500",
            "SAI=300",
            "SAT=4000",
            "PH=20",
            "PI=Ask your hub",
        ]
    );
}

#[test]
fn short_discriminator_is_the_top_four_bits() {
    // Matter 1.3 §5.1.1.5: short = upper 4 bits of the 12-bit value.
    for (long, short) in [
        (0u16, 0u16),
        (0x0FF, 0),
        (0x100, 1),
        (0xF00, 15),
        (0xFFF, 15),
    ] {
        let mut c = sample();
        c.discriminator = long;
        let s = commissionable_service(&c, 1);
        assert_eq!(s.subtypes[1], format!("_S{short}"), "long {long}");
        assert_eq!(s.subtypes[0], format!("_L{long}"));
    }
}

#[test]
fn no_leading_zeros_and_no_pairing_hint_key_when_zero() {
    let mut c = sample();
    c.discriminator = 7;
    c.vendor_id = 1;
    c.product_id = 0;
    c.pairing_hint = 0;
    let s = commissionable_service(&c, 1);
    let t = txt(&s);
    assert!(t.contains(&"D=7".to_owned()));
    assert!(t.contains(&"VP=1+0".to_owned()));
    assert!(!t.iter().any(|e| e.starts_with("PH=")));
    // T and ICD are never published (no TCP, not an ICD).
    assert!(!t
        .iter()
        .any(|e| e.starts_with("T=") || e.starts_with("ICD=")));
}

#[test]
fn device_name_and_instruction_are_cut_on_char_boundaries() {
    let mut c = sample();
    // 31 ASCII bytes then a 2-byte character: the character would end at byte 33.
    c.device_name = Some(format!("{}é", "a".repeat(31)));
    c.pairing_instruction = Some("ü".repeat(100)); // 200 bytes
    c.pairing_hint = pairing_hint::CUSTOM_INSTRUCTION;
    let s = commissionable_service(&c, 1);
    let dn = s
        .txt
        .iter()
        .find(|(k, _)| k == "DN")
        .map(|(_, v)| v.clone());
    assert_eq!(dn.as_deref(), Some("a".repeat(31).as_str()));
    let pi = s.txt.iter().find(|(k, _)| k == "PI").map(|(_, v)| v.len());
    assert_eq!(pi, Some(128));
    // An empty name is left out rather than published as "DN=".
    c.device_name = Some(String::new());
    let s = commissionable_service(&c, 1);
    assert!(!s.txt.iter().any(|(k, _)| k == "DN"));
}

#[test]
fn mrp_values_are_clamped_to_the_spec_ranges() {
    let mut c = sample();
    c.mrp = MrpParameters {
        idle_interval: Duration::from_millis(10_000_000),
        active_interval: Duration::from_millis(1),
        active_threshold: Duration::from_millis(100_000),
    };
    let t = txt(&commissionable_service(&c, 1));
    assert!(t.contains(&"SII=3600000".to_owned()));
    assert!(t.contains(&"SAI=1".to_owned()));
    assert!(t.contains(&"SAT=65535".to_owned()));
}

#[test]
fn operational_golden() {
    // Matter 1.3 §4.3.2 example: compressed fabric id 2906-C908-D115-D362 and node id
    // 8FC7-7724-01CD-0696 give `2906C908D115D362-8FC7772401CD0696._matter._tcp` with subtype
    // `_I2906C908D115D362`.
    let o = Operational {
        compressed_fabric_id: [0x29, 0x06, 0xC9, 0x08, 0xD1, 0x15, 0xD3, 0x62],
        node_id: 0x8FC7_7724_01CD_0696,
        mrp: MrpParameters::DEFAULT,
    };
    let s = operational_service(&o, 5540);
    assert_eq!(s.instance, "2906C908D115D362-8FC7772401CD0696");
    assert_eq!(s.service_type, "_matter._tcp");
    assert_eq!(s.subtypes, ["_I2906C908D115D362"]);
    assert_eq!(txt(&s), ["SII=500", "SAI=300", "SAT=4000"]);
    assert!(!s.is_commissionable());
    // Leading zeros are kept: the names are fixed-width.
    let o = Operational {
        compressed_fabric_id: [0, 0, 0, 0, 0, 0, 0, 1],
        node_id: 2,
        mrp: MrpParameters::DEFAULT,
    };
    assert_eq!(o.instance_name(), "0000000000000001-0000000000000002");
}

#[test]
fn instance_names_are_16_upper_hex_and_random() {
    let mut rng = TestRng::new(7);
    let a = InstanceName::random(&mut rng);
    let b = InstanceName::random(&mut rng);
    assert_ne!(a, b);
    let s = a.to_string();
    assert_eq!(s.len(), 16);
    assert!(s
        .chars()
        .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
}

#[test]
fn host_names() {
    let mac = parse_mac("b8:27:eb:5a:fb:45\n");
    assert_eq!(mac, Some([0xB8, 0x27, 0xEB, 0x5A, 0xFB, 0x45]));
    assert_eq!(host_name(mac, [1; 8]), "B827EB5AFB45");
    // No MAC (or the all-zero one of some virtual interfaces): 16 random hex digits.
    assert_eq!(host_name(None, [0xAB; 8]), "ABABABABABABABAB");
    assert_eq!(host_name(Some([0; 6]), [0x01; 8]), "0101010101010101");
    for bad in [
        "",
        "b8:27:eb:5a:fb",
        "b8:27:eb:5a:fb:45:00",
        "b8-27-eb-5a-fb-45",
        "zz:27:eb:5a:fb:45",
        "b8:27:eb:5a:fb:456",
    ] {
        assert_eq!(parse_mac(bad), None, "{bad:?}");
    }
}

#[test]
fn desired_lists_commissionable_first_then_each_fabric() {
    let op = |n| Operational {
        compressed_fabric_id: [n; 8],
        node_id: u64::from(n),
        mrp: MrpParameters::DEFAULT,
    };
    let d = Desired {
        commissionable: Some(sample()),
        operational: vec![op(1), op(2)],
        port: 5540,
    };
    let s = d.services();
    assert_eq!(s.len(), 3);
    assert!(s[0].is_commissionable());
    assert_eq!(s[1].instance, "0101010101010101-0000000000000001");
    assert!(s.iter().all(|x| x.port == 5540));
    assert!(Desired::default().services().is_empty());
}

#[test]
fn diff_adds_removes_and_replaces_changed_services() {
    let op = Operational {
        compressed_fabric_id: [9; 8],
        node_id: 1,
        mrp: MrpParameters::DEFAULT,
    };
    let closed = Desired {
        commissionable: None,
        operational: vec![op],
        port: 5540,
    }
    .services();
    let open = Desired {
        commissionable: Some(sample()),
        operational: vec![op],
        port: 5540,
    }
    .services();
    let mut enhanced_c = sample();
    enhanced_c.mode = CommissioningMode::Enhanced;
    enhanced_c.discriminator = 100;
    let enhanced = Desired {
        commissionable: Some(enhanced_c),
        operational: vec![op],
        port: 5540,
    }
    .services();

    assert!(diff(&open, &open).is_empty());
    let d = diff(&closed, &open);
    assert_eq!((d.remove.len(), d.add.len()), (0, 1));
    assert!(d.add[0].is_commissionable());
    let d = diff(&open, &closed);
    assert_eq!((d.remove.len(), d.add.len()), (1, 0));
    // A changed window (same instance, new discriminator and CM): withdrawn and published again.
    let d = diff(&open, &enhanced);
    assert_eq!((d.remove.len(), d.add.len()), (1, 1));
    assert_eq!(d.remove[0].key(), d.add[0].key());
    assert!(d.add[0].txt_strings().contains(&"CM=2".to_owned()));
    // Everything away (shutdown).
    let d = diff(&enhanced, &[]);
    assert_eq!(d.remove.len(), 2);
}

proptest::proptest! {
    #[test]
    fn commissionable_always_has_the_required_keys(
        disc in 0u16..=0xFFFF, vid in proptest::num::u16::ANY, pid in proptest::num::u16::ANY,
        name in "\\PC{0,40}", enhanced in proptest::bool::ANY,
    ) {
        let mut c = sample();
        c.discriminator = disc;
        c.vendor_id = vid;
        c.product_id = pid;
        c.device_name = Some(name);
        c.mode = if enhanced { CommissioningMode::Enhanced } else { CommissioningMode::Basic };
        let s = commissionable_service(&c, 5540);
        let d = disc & 0x0FFF;
        let t = txt(&s);
        let has_d = t.contains(&format!("D={d}"));
        proptest::prop_assert!(has_d);
        let cm_want = format!("CM={}", if enhanced { 2 } else { 1 });
        let has_cm = t.contains(&cm_want);
        proptest::prop_assert!(has_cm);
        proptest::prop_assert_eq!(&s.subtypes[0], &format!("_L{d}"));
        for (k, v) in &s.txt {
            // Every entry fits one TXT string (255 bytes) and DN its 32-byte limit.
            proptest::prop_assert!(k.len() + 1 + v.len() <= 255);
            if k == "DN" { proptest::prop_assert!(v.len() <= MAX_DEVICE_NAME_LEN); }
        }
    }
}
