//! On/Off (Application Cluster Specification §1.5): reads, writes, each command, the
//! OnWithTimedOff countdown under simulated time, and a property test over op sequences.

use super::*;

// ---- On/Off ----

#[test]
fn on_off_attributes_read_their_defaults() {
    let m = model();
    let s = state();
    assert_eq!(
        read(&m, &s, id::ON_OFF, attr::ON_OFF),
        TlvValue::Bool(false)
    );
    assert_eq!(
        read(&m, &s, id::ON_OFF, attr::GLOBAL_SCENE_CONTROL),
        TlvValue::Bool(true)
    );
    assert_eq!(read(&m, &s, id::ON_OFF, attr::ON_TIME), TlvValue::UInt(0));
    assert_eq!(
        read(&m, &s, id::ON_OFF, attr::OFF_WAIT_TIME),
        TlvValue::UInt(0)
    );
    assert_eq!(
        read(&m, &s, id::ON_OFF, attr::START_UP_ON_OFF),
        TlvValue::Null
    );
}

#[test]
fn on_off_writes_check_type_range_and_privilege() {
    let mut m = model();
    let mut s = state();
    let t0 = Instant::ZERO;
    let su = attr::START_UP_ON_OFF;
    let a = case(ADMIN);
    // StartUpOnOffEnum: 0..=2 or null; 3..=0xFF are out of the enum.
    for bad in [3u8, 0x7F, 0xFE, 0xFF] {
        assert_eq!(
            write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
                .u8(Tag::Anonymous, bad)),
            Status::CONSTRAINT_ERROR,
            "{bad}"
        );
    }
    assert_eq!(
        write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
            .u16(Tag::Anonymous, 0x100)),
        Status::CONSTRAINT_ERROR
    );
    assert_eq!(
        write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
            .bool(Tag::Anonymous, true)),
        Status::INVALID_DATA_TYPE
    );
    assert_eq!(
        s.light.start_up_on_off, None,
        "refused writes change nothing"
    );
    assert_eq!(
        write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
            .u8(Tag::Anonymous, 2)),
        Status::SUCCESS
    );
    assert_eq!(read(&m, &s, id::ON_OFF, su), TlvValue::UInt(2));
    // StartUpOnOff needs Manage: an operator may not write it, but may write OnTime.
    assert_eq!(
        write(&mut m, &mut s, case(OPERATOR), t0, id::ON_OFF, su, |w| w
            .null(Tag::Anonymous)),
        Status::UNSUPPORTED_ACCESS
    );
    assert_eq!(
        write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
            .null(Tag::Anonymous)),
        Status::SUCCESS
    );
    assert_eq!(s.light.start_up_on_off, None);
    assert_eq!(
        write(
            &mut m,
            &mut s,
            case(OPERATOR),
            t0,
            id::ON_OFF,
            attr::ON_TIME,
            |w| w.u16(Tag::Anonymous, 300)
        ),
        Status::SUCCESS
    );
    assert_eq!(read(&m, &s, id::ON_OFF, attr::ON_TIME), TlvValue::UInt(300));
    assert_eq!(
        write(
            &mut m,
            &mut s,
            case(VIEWER),
            t0,
            id::ON_OFF,
            attr::ON_TIME,
            |w| w.u16(Tag::Anonymous, 1)
        ),
        Status::UNSUPPORTED_ACCESS
    );
    assert_eq!(
        write(
            &mut m,
            &mut s,
            a,
            t0,
            id::ON_OFF,
            attr::OFF_WAIT_TIME,
            |w| w.u32(Tag::Anonymous, 0x1_0000)
        ),
        Status::CONSTRAINT_ERROR
    );
    assert_eq!(
        write(
            &mut m,
            &mut s,
            a,
            t0,
            id::ON_OFF,
            attr::OFF_WAIT_TIME,
            |w| w.utf8(Tag::Anonymous, "5")
        ),
        Status::INVALID_DATA_TYPE
    );
    // OnOff and GlobalSceneControl are read-only.
    for ro in [attr::ON_OFF, attr::GLOBAL_SCENE_CONTROL] {
        assert_eq!(
            write(&mut m, &mut s, a, t0, id::ON_OFF, ro, |w| w
                .bool(Tag::Anonymous, true)),
            Status::UNSUPPORTED_WRITE
        );
    }
    // Writing OnTime while no countdown runs starts none (§1.5.6.4).
    assert_eq!(s.poll_timeout(), None);
    assert!(!s.light.on_off);
}

#[test]
fn off_on_toggle_switch_and_report() {
    let mut m = model();
    let mut s = state();
    let t0 = Instant::ZERO;
    assert_eq!(light(&mut m, &mut s, t0, id::ON_OFF, ocmd::ON, None), OK);
    assert!(s.light.on_off);
    // A second On changes nothing and queues nothing.
    assert_eq!(light(&mut m, &mut s, t0, id::ON_OFF, ocmd::ON, None), OK);
    assert_eq!(
        light(&mut m, &mut s, t0, id::ON_OFF, ocmd::TOGGLE, None),
        OK
    );
    assert_eq!(
        light(&mut m, &mut s, t0, id::ON_OFF, ocmd::TOGGLE, None),
        OK
    );
    assert_eq!(light(&mut m, &mut s, t0, id::ON_OFF, ocmd::OFF, None), OK);
    assert_eq!(switched(&mut s), vec![true, false, true, false]);
    let changed: Vec<_> = m
        .take_changed()
        .into_iter()
        .filter(|p| p.cluster == id::ON_OFF)
        .collect();
    assert!(
        changed
            .iter()
            .any(|p| p.endpoint == 1 && p.attribute == Some(attr::ON_OFF)),
        "{changed:?}"
    );
    // Off is Operate: a viewer may not switch the light.
    assert_eq!(
        invoke_at(
            &mut m,
            &mut s,
            case(VIEWER),
            t0,
            1,
            id::ON_OFF,
            ocmd::ON,
            None
        ),
        st(Status::UNSUPPORTED_ACCESS)
    );
    assert!(!s.light.on_off);
    let operator = invoke_at(
        &mut m,
        &mut s,
        case(OPERATOR),
        t0,
        1,
        id::ON_OFF,
        ocmd::TOGGLE,
        None,
    );
    assert_eq!(operator, OK);
    assert!(s.light.on_off);
}

#[test]
fn on_and_toggle_clear_off_wait_time_only_when_on_time_is_0() {
    let mut m = model();
    let mut s = state();
    let t0 = Instant::ZERO;
    s.write_off_wait_time(t0, 40);
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::ON, None);
    assert_eq!(
        s.light.off_wait_time, 0,
        "§1.5.7.2: OnTime 0 clears OffWaitTime"
    );
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::OFF, None);
    s.write_off_wait_time(t0, 40);
    s.write_on_time(t0, 10);
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::TOGGLE, None);
    assert_eq!(
        s.light.off_wait_time, 40,
        "OnTime above 0 keeps OffWaitTime"
    );
    // Toggle off (and Off) set OnTime to 0 (§1.5.7.3).
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::TOGGLE, None);
    assert_eq!((s.light.on_off, s.light.on_time), (false, 0));
}

#[test]
fn off_with_effect_and_recall_global_scene_follow_global_scene_control() {
    let mut m = model();
    let mut s = state();
    let t0 = Instant::ZERO;
    let effect = |id: u8, variant: u8| {
        fields(move |w| {
            w.u8(Tag::Context(0), id)?;
            w.u8(Tag::Context(1), variant)
        })
    };
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::ON, None);
    // Recall while GlobalSceneControl is true is ignored (§1.5.7.5).
    assert_eq!(
        light(
            &mut m,
            &mut s,
            t0,
            id::ON_OFF,
            ocmd::OFF_WITH_EFFECT,
            Some(&effect(2, 0))
        ),
        st(Status::CONSTRAINT_ERROR)
    );
    assert_eq!(
        light(&mut m, &mut s, t0, id::ON_OFF, ocmd::OFF_WITH_EFFECT, None),
        st(Status::INVALID_COMMAND)
    );
    assert!(s.light.on_off, "refused commands change nothing");
    // DyingLight with an unknown variant: the default variant (§1.5.7.4.2).
    assert_eq!(
        light(
            &mut m,
            &mut s,
            t0,
            id::ON_OFF,
            ocmd::OFF_WITH_EFFECT,
            Some(&effect(1, 9))
        ),
        OK
    );
    assert!(!s.light.on_off);
    assert!(!s.light.global_scene_control);
    light(
        &mut m,
        &mut s,
        t0,
        id::ON_OFF,
        ocmd::ON_WITH_RECALL_GLOBAL_SCENE,
        None,
    );
    assert!(s.light.on_off && s.light.global_scene_control);
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::OFF, None);
    // GlobalSceneControl is true again: a recall is ignored and the light stays off.
    light(
        &mut m,
        &mut s,
        t0,
        id::ON_OFF,
        ocmd::ON_WITH_RECALL_GLOBAL_SCENE,
        None,
    );
    assert!(!s.light.on_off);
    assert_eq!(switched(&mut s), vec![true, false, true, false]);
}

#[test]
fn on_with_timed_off_turns_off_after_on_time_tenths() {
    let mut m = model();
    let mut s = state();
    let f = timed_off(0, 50, 30);
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(0),
            id::ON_OFF,
            ocmd::ON_WITH_TIMED_OFF,
            Some(&f)
        ),
        OK
    );
    assert!(s.light.on_off && s.light.is_timed());
    assert_eq!((s.light.on_time, s.light.off_wait_time), (50, 30));
    assert_eq!(s.poll_timeout(), Some(ms(100)));
    run_until(&mut s, ms(2_000));
    assert_eq!(s.light.on_time, 30, "one step each 1/10 s");
    run_until(&mut s, ms(4_900));
    assert!(s.light.on_off);
    assert_eq!(s.light.on_time, 1);
    run_until(&mut s, ms(5_000));
    // §1.5.7.6.4: at OnTime 0 the light goes off with OffWaitTime 0, and the countdown ends.
    assert!(!s.light.on_off);
    assert_eq!((s.light.on_time, s.light.off_wait_time), (0, 0));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(switched(&mut s), vec![true, false]);
}

#[test]
fn off_during_timed_on_starts_the_guard_that_refuses_timed_on() {
    let mut m = model();
    let mut s = state();
    light(
        &mut m,
        &mut s,
        ms(0),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(0, 50, 30)),
    );
    run_until(&mut s, ms(1_000));
    light(&mut m, &mut s, ms(1_000), id::ON_OFF, ocmd::OFF, None);
    assert_eq!((s.light.on_off, s.light.on_time), (false, 0));
    // Delayed Off: OffWaitTime counts down.
    run_until(&mut s, ms(2_000));
    assert_eq!(s.light.off_wait_time, 20);
    // A timed on during the guard does not switch on; it may shorten the guard (§1.5.7.6.4).
    let again = timed_off(0, 50, 50);
    light(
        &mut m,
        &mut s,
        ms(2_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&again),
    );
    assert!(!s.light.on_off);
    assert_eq!(s.light.off_wait_time, 20);
    let shorter = timed_off(0, 50, 5);
    light(
        &mut m,
        &mut s,
        ms(2_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&shorter),
    );
    assert_eq!(s.light.off_wait_time, 5);
    run_until(&mut s, ms(2_500));
    assert_eq!(s.light.off_wait_time, 0);
    assert_eq!(s.poll_timeout(), None, "the guard is over");
    light(
        &mut m,
        &mut s,
        ms(3_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&again),
    );
    assert!(s.light.on_off);
    assert_eq!(switched(&mut s), vec![true, false, true]);
}

#[test]
fn timed_on_extends_accepts_only_when_on_and_follows_writes() {
    let mut m = model();
    let mut s = state();
    // AcceptOnlyWhenOn while off: discarded.
    let only_on = timed_off(1, 20, 0);
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(0),
            id::ON_OFF,
            ocmd::ON_WITH_TIMED_OFF,
            Some(&only_on)
        ),
        OK
    );
    assert!(!s.light.on_off && !s.light.is_timed());
    light(
        &mut m,
        &mut s,
        ms(0),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(0, 20, 0)),
    );
    run_until(&mut s, ms(1_000));
    assert_eq!(s.light.on_time, 10);
    // While on: OnTime becomes the larger of the two.
    light(
        &mut m,
        &mut s,
        ms(1_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(1, 5, 0)),
    );
    assert_eq!(s.light.on_time, 10);
    light(
        &mut m,
        &mut s,
        ms(1_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(1, 30, 0)),
    );
    assert_eq!(s.light.on_time, 30);
    // A write of OnTime while timed takes effect (§1.5.6.4).
    let a = case(ADMIN);
    assert_eq!(
        write(
            &mut m,
            &mut s,
            a,
            ms(1_000),
            id::ON_OFF,
            attr::ON_TIME,
            |w| w.u16(Tag::Anonymous, 3)
        ),
        Status::SUCCESS
    );
    run_until(&mut s, ms(1_250));
    assert!(s.light.on_off);
    run_until(&mut s, ms(1_300));
    assert!(!s.light.on_off);
    // Constraints: OnOffControl 0 to 1, times max 0xFFFE; missing fields.
    for bad in [
        timed_off(2, 1, 1),
        timed_off(0, 0xFFFF, 1),
        timed_off(0, 1, 0xFFFF),
    ] {
        assert_eq!(
            light(
                &mut m,
                &mut s,
                ms(2_000),
                id::ON_OFF,
                ocmd::ON_WITH_TIMED_OFF,
                Some(&bad)
            ),
            st(Status::CONSTRAINT_ERROR)
        );
    }
    let short = fields(|w| w.u8(Tag::Context(0), 0));
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(2_000),
            id::ON_OFF,
            ocmd::ON_WITH_TIMED_OFF,
            Some(&short)
        ),
        st(Status::INVALID_COMMAND)
    );
    assert!(!s.light.on_off);
}

#[test]
fn on_during_the_guard_stays_on_and_ends_the_countdown() {
    let mut m = model();
    let mut s = state();
    light(
        &mut m,
        &mut s,
        ms(0),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(0, 10, 50)),
    );
    light(&mut m, &mut s, ms(500), id::ON_OFF, ocmd::OFF, None);
    assert!(s.light.is_timed(), "Delayed Off guard running");
    // On: OnTime is 0, so OffWaitTime goes to 0 (§1.5.7.2) and nothing is left to count.
    light(&mut m, &mut s, ms(700), id::ON_OFF, ocmd::ON, None);
    assert_eq!((s.light.on_time, s.light.off_wait_time), (0, 0));
    run_until(&mut s, ms(10_000));
    assert!(s.light.on_off, "the next step must not switch it off");
    assert_eq!(s.poll_timeout(), None);
    // A write of OnTime 0 during Timed On: no decrement to 0 happens, the light stays on.
    light(
        &mut m,
        &mut s,
        ms(10_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(0, 30, 0)),
    );
    s.write_on_time(ms(10_000), 0);
    run_until(&mut s, ms(20_000));
    assert!(s.light.on_off);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(switched(&mut s), vec![true, false, true]);
}

#[test]
fn a_late_timer_runs_every_missed_step() {
    let mut m = model();
    let mut s = state();
    light(
        &mut m,
        &mut s,
        ms(0),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(0, 10, 20)),
    );
    light(&mut m, &mut s, ms(500), id::ON_OFF, ocmd::OFF, None);
    // One call far past both deadlines (a suspended host): the guard has run out too.
    assert!(s.handle_timeout(ms(60_000)));
    assert_eq!(s.light.off_wait_time, 0);
    assert_eq!(s.poll_timeout(), None);
    // An early call is a no-op.
    assert!(!s.handle_timeout(ms(60_001)));
}

// ---- property: any sequence of commands, writes and waits ----

#[derive(Clone, Debug)]
enum Op {
    Off,
    On,
    Toggle,
    OffWithEffect,
    Recall,
    Timed(u8, u16, u16),
    WriteOnTime(u16),
    WriteOffWait(u16),
    Wait(u64),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Op::Off),
        Just(Op::On),
        Just(Op::Toggle),
        Just(Op::OffWithEffect),
        Just(Op::Recall),
        (0u8..2, 0u16..100, 0u16..100).prop_map(|(c, a, b)| Op::Timed(c, a, b)),
        (0u16..100).prop_map(Op::WriteOnTime),
        (0u16..100).prop_map(Op::WriteOffWait),
        (0u64..3_000).prop_map(Op::Wait),
    ]
}

proptest::proptest! {
    /// OnOffChanged is queued exactly when OnOff changes (so the events alternate and end in
    /// the current state), the deadline never lies in the past, and the countdown's timer
    /// stops within 20 s (the longest these values count) once no command comes: no step is
    /// scheduled that would count nothing.
    #[test]
    fn countdowns_end_and_events_follow_on_off(ops in proptest::collection::vec(op(), 1..40)) {
        let mut s = NodeState::default();
        let mut now = Instant::ZERO;
        let mut last = s.light.on_off;
        for o in ops {
            match o {
                Op::Off => s.light_off(now),
                Op::On => s.light_on(now),
                Op::Toggle => s.light_toggle(now),
                Op::OffWithEffect => s.light_off_with_effect(now),
                Op::Recall => s.light_on_with_recall_global_scene(now),
                Op::Timed(c, a, b) => s.light_on_with_timed_off(now, crate::fabric::TimedOff {
                    accept_only_when_on: c == 1,
                    on_time: a,
                    off_wait_time: b,
                }),
                Op::WriteOnTime(v) => s.write_on_time(now, v),
                Op::WriteOffWait(v) => s.write_off_wait_time(now, v),
                Op::Wait(d) => {
                    now += Duration::from_millis(d);
                    run_until(&mut s, now);
                    proptest::prop_assert!(s.poll_timeout().is_none_or(|t| t > now));
                }
            }
            for on in switched(&mut s) {
                proptest::prop_assert_ne!(on, last);
                last = on;
            }
            proptest::prop_assert_eq!(last, s.light.on_off);
        }
        now += Duration::from_secs(30);
        run_until(&mut s, now);
        proptest::prop_assert!(s.poll_timeout().is_none(), "{:?}", s.light);
    }
}
