//! Identify (Application Cluster Specification §1.2): IdentifyTime and its countdown,
//! TriggerEffect.

use super::*;

// ---- Identify ----

#[test]
fn identify_time_counts_down_in_seconds() {
    let mut m = model();
    let mut s = state();
    let a = case(ADMIN);
    assert_eq!(
        read(&m, &s, id::IDENTIFY, 1),
        TlvValue::UInt(0),
        "IdentifyType None"
    );
    assert_eq!(
        write(
            &mut m,
            &mut s,
            case(OPERATOR),
            ms(0),
            id::IDENTIFY,
            0,
            |w| w.u16(Tag::Anonymous, 3)
        ),
        Status::SUCCESS
    );
    assert!(s.light.is_identifying());
    run_until(&mut s, ms(2_999));
    assert_eq!(read(&m, &s, id::IDENTIFY, 0), TlvValue::UInt(1));
    run_until(&mut s, ms(3_000));
    assert_eq!(read(&m, &s, id::IDENTIFY, 0), TlvValue::UInt(0));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(
        write(&mut m, &mut s, a, ms(0), id::IDENTIFY, 0, |w| w
            .u32(Tag::Anonymous, 70_000)),
        Status::CONSTRAINT_ERROR
    );
    // The Identify command restarts it; 0 stops it.
    let secs = |v: u16| fields(move |w| w.u16(Tag::Context(0), v));
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(10_000),
            id::IDENTIFY,
            icmd::IDENTIFY,
            Some(&secs(60))
        ),
        OK
    );
    run_until(&mut s, ms(20_000));
    assert_eq!(s.light.identify_time, 50);
    light(
        &mut m,
        &mut s,
        ms(20_000),
        id::IDENTIFY,
        icmd::IDENTIFY,
        Some(&secs(0)),
    );
    assert!(!s.light.is_identifying());
    assert_eq!(s.poll_timeout(), None);
    // The commands need Manage.
    assert_eq!(
        invoke_at(
            &mut m,
            &mut s,
            case(OPERATOR),
            ms(0),
            1,
            id::IDENTIFY,
            icmd::IDENTIFY,
            Some(&secs(5))
        ),
        st(Status::UNSUPPORTED_ACCESS)
    );
    assert_eq!(
        light(&mut m, &mut s, ms(0), id::IDENTIFY, icmd::IDENTIFY, None),
        st(Status::INVALID_COMMAND)
    );
}

#[test]
fn trigger_effect_accepts_the_enum_and_refuses_the_rest() {
    let mut m = model();
    let mut s = state();
    let effect = |id: u8, variant: u8| {
        fields(move |w| {
            w.u8(Tag::Context(0), id)?;
            w.u8(Tag::Context(1), variant)
        })
    };
    for e in [0x00, 0x01, 0x02, 0x0B, 0xFE, 0xFF] {
        assert_eq!(
            light(
                &mut m,
                &mut s,
                ms(0),
                id::IDENTIFY,
                icmd::TRIGGER_EFFECT,
                Some(&effect(e, 0))
            ),
            OK,
            "{e:#x}"
        );
    }
    // An unknown variant is the default one (§1.2.6.2.2).
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(0),
            id::IDENTIFY,
            icmd::TRIGGER_EFFECT,
            Some(&effect(0, 7))
        ),
        OK
    );
    for e in [0x03, 0x0A, 0x0C, 0xFD] {
        assert_eq!(
            light(
                &mut m,
                &mut s,
                ms(0),
                id::IDENTIFY,
                icmd::TRIGGER_EFFECT,
                Some(&effect(e, 0))
            ),
            st(Status::CONSTRAINT_ERROR),
            "{e:#x}"
        );
    }
}
