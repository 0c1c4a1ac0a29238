//! The message stack through its public API only, as the node layer will use it: a device and a
//! controller exchange PASE-like unsecured messages, switch to the secure session PASE hands
//! over, run an Interaction Model request/response over a lossy link, and close the session.

use matter_ble::exchange::{ExchangeConfig, ExchangeEvent, ExchangeManager, Role};
use matter_ble::message::{InteractionModelOpcode, ProtocolId, SecureChannelOpcode};
use matter_ble::rng::TestRng;
use matter_ble::session::params::SessionParameters;
use matter_ble::session::{
    CloseReason, PaseHandover, PeerAddress, SecureSessionParams, Session, SessionManagerEvent,
};
use matter_ble::time::Instant;
use zeroize::Zeroizing;

/// The node layer's address type, reduced to what the stack needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PeerAddr {
    Udp(u16),
    Ble(u32),
}

impl PeerAddress for PeerAddr {
    fn is_reliable_transport(&self) -> bool {
        matches!(self, Self::Ble(_))
    }
}

type Stack = ExchangeManager<PeerAddr, &'static str, TestRng>;

const DEV: PeerAddr = PeerAddr::Udp(5540);
const CTL: PeerAddr = PeerAddr::Udp(50000);

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Delivers everything `from` wants to send; every `drop_every`-th datagram is lost.
fn pump(
    now: Instant,
    from: &mut Stack,
    from_addr: &PeerAddr,
    to: &mut Stack,
    sent: &mut u32,
    drop_every: u32,
) {
    let mut buf = Vec::new();
    while let Some(tx) = from.poll_transmit(now, &mut buf) {
        assert_eq!(tx.len, buf.len());
        *sent += 1;
        if drop_every == 0 || !(*sent).is_multiple_of(drop_every) {
            let _ = to.handle_datagram(now, from_addr.clone(), &buf);
        }
        buf.clear();
    }
}

#[test]
fn pase_then_secure_interaction_then_close() {
    let mut dev: Stack = ExchangeManager::new(ExchangeConfig::default(), TestRng::new(1));
    let mut ctl: Stack = ExchangeManager::new(ExchangeConfig::default(), TestRng::new(2));
    let mut sent = 0;

    // --- Unsecured: PBKDFParamRequest / Response (stand-ins for the PASE messages). ---
    let us = ctl.add_unsecured_initiator(t(0), DEV);
    let cx = ctl.new_exchange(us, ProtocolId::SECURE_CHANNEL).unwrap();
    ctl.send(
        t(0),
        cx,
        SecureChannelOpcode::PBKDF_PARAM_REQUEST.value(),
        b"req",
    )
    .unwrap();
    pump(t(1), &mut ctl, &CTL, &mut dev, &mut sent, 0);
    let Some(ExchangeEvent::Incoming {
        session: dev_us,
        exchange: dx,
        message,
    }) = dev.poll_event()
    else {
        panic!("device got nothing");
    };
    assert_eq!(dx.role, Role::Responder);
    assert_eq!(
        message.payload_header.secure_channel_opcode(),
        Some(SecureChannelOpcode::PBKDF_PARAM_REQUEST)
    );
    assert!(!dev.sessions().session(dev_us).unwrap().is_secure());

    // The device allocates its session id for PBKDFParamResponse.
    let dev_id = dev.sessions_mut().allocate_session_id().unwrap();
    dev.send(
        t(2),
        dx,
        SecureChannelOpcode::PBKDF_PARAM_RESPONSE.value(),
        &dev_id.to_le_bytes(),
    )
    .unwrap();
    dev.close_exchange(t(2), dx);
    dev.close_unsecured_session(t(2), dev_us);
    pump(t(3), &mut dev, &DEV, &mut ctl, &mut sent, 0);
    let evs: Vec<_> = std::iter::from_fn(|| ctl.poll_event()).collect();
    assert!(evs
        .iter()
        .any(|e| matches!(e, ExchangeEvent::Incoming { .. })));
    ctl.close_exchange(t(3), cx); // flushes its ack
    pump(t(3), &mut ctl, &CTL, &mut dev, &mut sent, 0);
    assert!(
        dev.sessions().session(dev_us).is_none(),
        "unsecured session gone once acked"
    );

    // --- PASE succeeded on both sides (Ke as PASE would hand it over). ---
    let ke = [0x5a; 16];
    let ctl_id = ctl.sessions_mut().allocate_session_id().unwrap();
    let ds = dev
        .add_pase_session(
            t(4),
            CTL,
            PaseHandover {
                local_session_id: dev_id,
                peer_session_id: ctl_id,
                ke: Zeroizing::new(ke),
                is_initiator: false,
                peer_parameters: SessionParameters {
                    active_interval_ms: Some(200),
                    ..SessionParameters::default()
                },
            },
            "device ctx",
        )
        .unwrap();
    let cs = ctl
        .add_secure_session(
            t(4),
            DEV,
            SecureSessionParams {
                local_session_id: ctl_id,
                peer_session_id: dev_id,
                peer_node_id: 0,
                shared_secret: &ke,
                salt: &[],
                is_initiator: true,
                is_resumption: false,
                fabric: None,
                context: "controller ctx",
                peer_parameters: SessionParameters::default(),
                mrp_enabled: true,
            },
        )
        .unwrap();
    assert_eq!(*dev.sessions().secure(ds).unwrap().context(), "device ctx");
    assert_eq!(
        dev.sessions()
            .secure(ds)
            .unwrap()
            .mrp_parameters()
            .active_interval
            .as_millis(),
        200
    );

    // --- Interaction Model over a link that loses every third datagram. ---
    let mut now = 10;
    let mut answered = 0;
    for n in 0..5u8 {
        let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
        ctl.send(
            t(now),
            x,
            InteractionModelOpcode::READ_REQUEST.value(),
            &[n],
        )
        .unwrap();
        let mut got_reply = false;
        for _ in 0..200 {
            pump(t(now), &mut ctl, &CTL, &mut dev, &mut sent, 3);
            while let Some(e) = dev.poll_event() {
                if let ExchangeEvent::Incoming {
                    exchange, message, ..
                } = e
                {
                    assert_eq!(message.payload, [n], "each request delivered once");
                    dev.send(
                        t(now),
                        exchange,
                        InteractionModelOpcode::REPORT_DATA.value(),
                        &[n, n],
                    )
                    .unwrap();
                    dev.close_exchange(t(now), exchange);
                }
            }
            pump(t(now), &mut dev, &DEV, &mut ctl, &mut sent, 3);
            while let Some(e) = ctl.poll_event() {
                if let ExchangeEvent::Incoming {
                    exchange, message, ..
                } = e
                {
                    assert_eq!(message.payload, [n, n]);
                    assert!(!got_reply, "reply delivered once");
                    got_reply = true;
                    ctl.close_exchange(t(now), exchange);
                }
            }
            let next = [dev.poll_timeout(), ctl.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(next) => {
                    now = now.max(next.as_millis());
                    dev.handle_timeout(t(now));
                    ctl.handle_timeout(t(now));
                }
                None => break,
            }
        }
        assert!(got_reply, "request {n} answered");
        answered += 1;
    }
    assert_eq!(answered, 5);

    // --- The controller closes the session; the device drops it. ---
    ctl.close_session(t(now), cs, Some(false));
    let mut buf = Vec::new();
    let tx = ctl.poll_transmit(t(now), &mut buf).unwrap();
    assert_eq!(tx.dest, DEV);
    dev.handle_datagram(t(now), CTL, &buf).unwrap();
    assert!(dev.sessions().secure(ds).is_none());
    let closed = std::iter::from_fn(|| dev.poll_event()).any(|e| {
        matches!(
            e,
            ExchangeEvent::Session(SessionManagerEvent::Closed { session, reason: CloseReason::PeerClosed, .. })
                if session == ds
        )
    });
    assert!(closed);
    assert!(PeerAddr::Ble(0).is_reliable_transport() && !DEV.is_reliable_transport());
}
