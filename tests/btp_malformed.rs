//! Malformed and out-of-order input, each with the error it must close the session with, for both
//! roles. Every row starts from a fresh engine driven to the named state.

use hex_literal::hex;
use matter_ble::btp::{BtpConfig, BtpEngine, BtpError, BtpEvent, SendError, Violation};
use matter_ble::error::DecodeError;
use matter_ble::time::Instant;

const T0: Instant = Instant::ZERO;

/// One table row: name, frames fed in order, the close reason expected (`None` = stays open).
type Row<'a> = (&'a str, &'a [&'a [u8]], Option<BtpError>);

/// A peripheral that has answered a request from a central with window 3 and MTU 23
/// (fragment 20), and whose response has been confirmed.
fn established_peripheral() -> BtpEngine {
    let mut p = BtpEngine::peripheral(BtpConfig::default(), None);
    p.handle_segment(T0, &hex!("65 6c 04 00 00 00 17 00 03"));
    p.handle_subscribed(T0);
    let mut buf = Vec::new();
    let _ = p.poll_transmit(T0, &mut buf).unwrap();
    assert_eq!(buf, hex!("65 6c 04 14 00 03"));
    p.handle_indication_done(T0);
    while p.poll_event().is_some() {}
    p
}

/// A central that has received a response (fragment 20, window 3).
fn established_central() -> BtpEngine {
    let mut c = BtpEngine::central(
        BtpConfig {
            max_window: 3,
            ..BtpConfig::default()
        },
        None,
    );
    let mut buf = Vec::new();
    let _ = c.poll_transmit(T0, &mut buf).unwrap();
    c.handle_indication_done(T0);
    c.handle_segment(T0, &hex!("65 6c 04 14 00 03"));
    while c.poll_event().is_some() {}
    c
}

/// Feeds `frames` and returns the close reason (asserting it is reported exactly once, last).
fn close_reason(mut engine: BtpEngine, frames: &[&[u8]]) -> Option<BtpError> {
    for f in frames {
        engine.handle_segment(T0, f);
    }
    let events: Vec<_> = std::iter::from_fn(|| engine.poll_event()).collect();
    let closes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            BtpEvent::Closed { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert!(closes.len() <= 1, "{events:?}");
    if !closes.is_empty() {
        assert!(matches!(events.last(), Some(BtpEvent::Closed { .. })));
        assert_eq!(engine.poll_timeout(), None, "a timer survived the close");
        let mut buf = Vec::new();
        assert_eq!(engine.poll_transmit(T0, &mut buf), None);
    }
    closes.into_iter().next()
}

fn violation(v: Violation) -> Option<BtpError> {
    Some(BtpError::PeerMisbehaved(v))
}

#[test]
fn peripheral_handshake_table() {
    let fresh = || BtpEngine::peripheral(BtpConfig::default(), None);
    let rows: &[Row] = &[
        (
            "empty write",
            &[b""],
            violation(Violation::MalformedHandshake(DecodeError::Truncated {
                what: "BTP handshake request",
                needed: 2,
            })),
        ),
        (
            "short request",
            &[&hex!("65 6c 04 00 00 00 00 00")],
            violation(Violation::MalformedHandshake(DecodeError::Truncated {
                what: "BTP handshake request",
                needed: 1,
            })),
        ),
        (
            "long request",
            &[&hex!("65 6c 04 00 00 00 00 00 06 00")],
            violation(Violation::MalformedHandshake(DecodeError::TrailingData {
                what: "BTP handshake request",
                count: 1,
            })),
        ),
        (
            "old CHIP magic 'nl'",
            &[&hex!("6e 6c 04 00 00 00 00 00 06")],
            violation(Violation::MalformedHandshake(DecodeError::Invalid {
                what: "BTP handshake flags (expected 0x65)",
            })),
        ),
        (
            "wrong opcode",
            &[&hex!("65 6d 04 00 00 00 00 00 06")],
            violation(Violation::MalformedHandshake(DecodeError::Invalid {
                what: "BTP handshake opcode (expected 0x6c)",
            })),
        ),
        (
            "data instead of a request",
            &[&hex!("05 00 01 00 ff")],
            violation(Violation::MalformedHandshake(DecodeError::Invalid {
                what: "BTP handshake flags (expected 0x65)",
            })),
        ),
        (
            "window 0",
            &[&hex!("65 6c 04 00 00 00 00 00 00")],
            violation(Violation::InvalidWindow { window: 0 }),
        ),
        (
            "second request before subscription",
            &[
                &hex!("65 6c 04 00 00 00 00 00 06"),
                &hex!("65 6c 04 00 00 00 00 00 06"),
            ],
            violation(Violation::UnexpectedHandshake),
        ),
        (
            "data before the response",
            &[&hex!("65 6c 04 00 00 00 00 00 06"), &hex!("05 00 01 00 ff")],
            violation(Violation::SegmentBeforeHandshake),
        ),
        (
            "valid request",
            &[&hex!("65 6c 04 00 00 00 00 00 06")],
            None,
        ),
        (
            "versions 5 and 4: 4 chosen",
            &[&hex!("65 6c 45 00 00 00 00 00 06")],
            None,
        ),
    ];
    for (name, frames, expected) in rows {
        assert_eq!(&close_reason(fresh(), frames), expected, "{name}");
    }
}

#[test]
fn peripheral_established_table() {
    let rows: &[Row] = &[
        (
            "empty segment",
            &[b""],
            violation(Violation::Truncated(DecodeError::Truncated {
                what: "BTP segment header",
                needed: 1,
            })),
        ),
        (
            "ack flag, no ack byte",
            &[&hex!("08")],
            violation(Violation::Truncated(DecodeError::Truncated {
                what: "BTP segment header",
                needed: 1,
            })),
        ),
        (
            "beginning without length",
            &[&hex!("05 00 ff")],
            violation(Violation::Truncated(DecodeError::Truncated {
                what: "BTP segment header",
                needed: 1,
            })),
        ),
        (
            "segment longer than the fragment size",
            &[&[
                0x05, 0x00, 0x10, 0x00, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
            ][..]],
            violation(Violation::SegmentTooLong { len: 21, max: 20 }),
        ),
        (
            "handshake after the handshake",
            &[&hex!("65 6c 04 00 00 00 00 00 06")],
            violation(Violation::UnexpectedHandshake),
        ),
        (
            "management flag on data",
            &[&hex!("25 00 01 00 ff")],
            violation(Violation::UnexpectedManagement { flags: 0x25 }),
        ),
        (
            "beginning and continuing",
            &[&hex!("03 00 01 00 ff")],
            violation(Violation::ConflictingFlags { flags: 0x03 }),
        ),
        (
            "bytes after a standalone ack",
            &[&hex!("08 00 00 ff")],
            violation(Violation::TrailingBytes { count: 1 }),
        ),
        (
            "first segment is not seq 0",
            &[&hex!("05 01 01 00 ff")],
            violation(Violation::UnexpectedSequence {
                expected: 0,
                got: 1,
            }),
        ),
        (
            "repeated sequence number",
            &[&hex!("01 00 02 00 ff"), &hex!("06 00 ff")],
            violation(Violation::UnexpectedSequence {
                expected: 1,
                got: 0,
            }),
        ),
        (
            "ack of something never sent",
            &[&hex!("0d 01 00 01 00 ff")],
            violation(Violation::InvalidAck { ack: 1 }),
        ),
        (
            "repeated ack",
            &[&hex!("0d 00 00 01 00 ff"), &hex!("0d 00 01 01 00 ff")],
            violation(Violation::InvalidAck { ack: 0 }),
        ),
        (
            "continuation without beginning",
            &[&hex!("02 00 ff")],
            violation(Violation::ContinuationWithoutBeginning),
        ),
        (
            "ending without beginning",
            &[&hex!("04 00 ff")],
            violation(Violation::ContinuationWithoutBeginning),
        ),
        (
            "beginning inside a message",
            &[&hex!("01 00 04 00 ff"), &hex!("05 01 01 00 ff")],
            violation(Violation::BeginningDuringMessage),
        ),
        (
            "SDU longer than the maximum",
            &[&hex!("01 00 30 06 ff")],
            violation(Violation::MessageTooLarge {
                declared: 1584,
                max: 1583,
            }),
        ),
        (
            "more bytes than declared",
            &[&hex!("05 00 01 00 ff ee")],
            violation(Violation::LengthMismatch {
                declared: 1,
                received: 2,
            }),
        ),
        (
            "more bytes than declared, later segment",
            &[&hex!("01 00 02 00 ff"), &hex!("06 01 ee dd")],
            violation(Violation::LengthMismatch {
                declared: 2,
                received: 3,
            }),
        ),
        (
            "fewer bytes than declared at the end",
            &[&hex!("01 00 03 00 ff"), &hex!("06 01 ee")],
            violation(Violation::LengthMismatch {
                declared: 3,
                received: 2,
            }),
        ),
        (
            "window of 3 overrun",
            &[
                &hex!("01 00 10 00 ff"),
                &hex!("02 01 ff"),
                &hex!("02 02 ff"),
                &hex!("02 03 ff"),
            ],
            violation(Violation::WindowExceeded { window: 3 }),
        ),
        (
            "valid one-segment SDU acking the response",
            &[&hex!("0d 00 00 01 00 ff")],
            None,
        ),
        (
            "reserved bits are ignored",
            &[&hex!("95 00 01 00 ff")],
            None,
        ),
    ];
    for (name, frames, expected) in rows {
        assert_eq!(
            &close_reason(established_peripheral(), frames),
            expected,
            "{name}"
        );
    }
}

#[test]
fn central_handshake_table() {
    let sent = || {
        let mut c = BtpEngine::central(
            BtpConfig {
                max_window: 4,
                ..BtpConfig::default()
            },
            None,
        );
        let mut buf = Vec::new();
        let _ = c.poll_transmit(T0, &mut buf).unwrap();
        c.handle_indication_done(T0);
        c
    };
    let rows: &[(&str, &[u8], Option<BtpError>)] = &[
        (
            "short response",
            &hex!("65 6c 04 14 00"),
            violation(Violation::MalformedHandshake(DecodeError::Truncated {
                what: "BTP handshake response",
                needed: 1,
            })),
        ),
        (
            "data instead of a response",
            &hex!("05 00 01 00 ff"),
            violation(Violation::MalformedHandshake(DecodeError::Invalid {
                what: "BTP handshake flags (expected 0x65)",
            })),
        ),
        (
            "version 0: peripheral refused us",
            &hex!("65 6c 00 14 00 04"),
            Some(BtpError::UnsupportedVersion {
                offered: matter_ble::btp::wire::SupportedVersions::from_list(&[4]),
            }),
        ),
        (
            "version we did not offer",
            &hex!("65 6c 05 14 00 04"),
            violation(Violation::UnofferedVersion { version: 5 }),
        ),
        (
            "window 0",
            &hex!("65 6c 04 14 00 00"),
            violation(Violation::InvalidWindow { window: 0 }),
        ),
        (
            "window above the one offered",
            &hex!("65 6c 04 14 00 05"),
            violation(Violation::InvalidWindow { window: 5 }),
        ),
        (
            "fragment size too small for a header",
            &hex!("65 6c 04 05 00 04"),
            violation(Violation::InvalidFragmentSize { size: 5 }),
        ),
        ("valid", &hex!("65 6c 04 14 00 04"), None),
    ];
    for (name, frame, expected) in rows {
        assert_eq!(&close_reason(sent(), &[frame]), expected, "{name}");
    }
}

#[test]
fn central_established_table() {
    let rows: &[Row] = &[
        (
            "peripheral data must start at seq 1",
            &[&hex!("05 00 01 00 ff")],
            violation(Violation::UnexpectedSequence {
                expected: 1,
                got: 0,
            }),
        ),
        (
            "ack before we sent anything",
            &[&hex!("0d 00 01 01 00 ff")],
            violation(Violation::InvalidAck { ack: 0 }),
        ),
        (
            "window of 3 overrun (the response already holds one slot)",
            &[
                &hex!("01 01 10 00 ff"),
                &hex!("02 02 ff"),
                &hex!("02 03 ff"),
            ],
            violation(Violation::WindowExceeded { window: 3 }),
        ),
        ("valid", &[&hex!("05 01 01 00 ff")], None),
    ];
    for (name, frames, expected) in rows {
        assert_eq!(
            &close_reason(established_central(), frames),
            expected,
            "{name}"
        );
    }
}

#[test]
fn version_mismatch_is_answered_with_version_0_then_closed() {
    let mut p = BtpEngine::peripheral(BtpConfig::default(), Some(247));
    p.handle_segment(T0, &hex!("65 6c 03 00 00 00 00 00 06"));
    p.handle_subscribed(T0);
    let mut buf = Vec::new();
    let _ = p.poll_transmit(T0, &mut buf).unwrap();
    assert_eq!(buf, hex!("65 6c 00 f4 00 06"));
    assert_eq!(p.poll_event(), None);
    assert_eq!(p.send_sdu(T0, vec![1]), Err(SendError::Closed));
    p.handle_indication_done(T0);
    assert_eq!(
        p.poll_event(),
        Some(BtpEvent::Closed {
            reason: BtpError::UnsupportedVersion {
                offered: matter_ble::btp::wire::SupportedVersions::from_list(&[3]),
            }
        })
    );
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn send_sdu_refusals() {
    let mut p = established_peripheral();
    assert_eq!(p.send_sdu(T0, Vec::new()), Err(SendError::Empty));
    assert_eq!(
        p.send_sdu(T0, vec![0; 1584]),
        Err(SendError::TooLarge {
            len: 1584,
            max: 1583
        })
    );
    for _ in 0..8 {
        p.send_sdu(T0, vec![1]).unwrap();
    }
    assert_eq!(p.send_capacity(), 0);
    assert_eq!(p.send_sdu(T0, vec![1]), Err(SendError::Busy));
    p.handle_disconnected(T0);
    assert_eq!(p.send_sdu(T0, vec![1]), Err(SendError::Closed));
    assert_eq!(
        p.poll_event(),
        Some(BtpEvent::DataLost {
            outbound_sdus: 8,
            inbound_bytes: 0
        })
    );
    assert_eq!(
        p.poll_event(),
        Some(BtpEvent::Closed {
            reason: BtpError::Disconnected
        })
    );
    // Inputs after the close do nothing and report nothing.
    p.handle_unsubscribed(T0);
    p.handle_segment(T0, &hex!("05 00 01 00 ff"));
    p.handle_timeout(Instant::from_millis(1_000_000));
    assert_eq!(p.poll_event(), None);
}
