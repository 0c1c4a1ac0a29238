//! The UDP shell: one tokio socket carrying Matter messages (with MRP, handled in the core).
//!
//! Binds `[::]:port` dual-stack so IPv6 and IPv4-mapped peers share one socket, and falls back to
//! `0.0.0.0:port` on hosts with IPv6 disabled. Holds no protocol state.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;
use tracing::{debug, warn};

/// The largest Matter message over UDP (Matter 1.3 §4.4.4: IPv6 minimum MTU minus headers).
pub const MAX_UDP_PAYLOAD: usize = 1280;

/// A bound UDP socket for Matter traffic.
#[derive(Debug)]
pub struct UdpTransport {
    socket: UdpSocket,
}

impl UdpTransport {
    /// Binds `port` on all interfaces, IPv6 (dual-stack) first, IPv4 if IPv6 is unavailable.
    ///
    /// # Errors
    /// The bind error of the IPv4 fallback when both fail (port in use, permission denied).
    pub async fn bind(port: u16) -> io::Result<Self> {
        match UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port)).await {
            Ok(socket) => Ok(Self { socket }),
            Err(e6) => {
                warn!(error = %e6, "IPv6 UDP bind failed, trying IPv4 only");
                let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).await?;
                Ok(Self { socket })
            }
        }
    }

    /// Binds exactly `addr` (tests bind loopback).
    ///
    /// # Errors
    /// The bind error.
    pub async fn bind_addr(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self {
            socket: UdpSocket::bind(addr).await?,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Receives one datagram into `buf`. IPv4-mapped IPv6 peers are reported as IPv4, so a
    /// peer has one address whichever way the kernel delivered it.
    ///
    /// # Errors
    /// Socket errors other than those a UDP peer can cause (ICMP port unreachable reported as
    /// `ConnectionRefused` is retried here: it says nothing about the next datagram).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            match self.socket.recv_from(buf).await {
                Ok((n, addr)) => return Ok((n, canonical(addr))),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    debug!("ignoring ICMP port unreachable");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one datagram. A failure is logged and dropped: MRP retransmits what matters.
    pub async fn send(&self, data: &[u8], to: SocketAddr) {
        let to = match (to, self.socket.local_addr()) {
            // An IPv4 peer on a dual-stack IPv6 socket must be addressed as IPv4-mapped.
            (SocketAddr::V4(v4), Ok(SocketAddr::V6(_))) => {
                SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
            }
            (other, _) => other,
        };
        if let Err(e) = self.socket.send_to(data, to).await {
            warn!(%to, error = %e, "UDP send failed");
        }
    }
}

/// `::ffff:a.b.c.d` -> `a.b.c.d`; other addresses unchanged.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_round_trip_v4_and_v6() {
        let server = UdpTransport::bind(0).await.expect("bind");
        let port = server.local_addr().expect("addr").port();
        for client_addr in ["127.0.0.1:0", "[::1]:0"] {
            let client = UdpSocket::bind(client_addr).await.expect("client bind");
            let dest: SocketAddr = if client_addr.starts_with('[') {
                (Ipv6Addr::LOCALHOST, port).into()
            } else {
                (Ipv4Addr::LOCALHOST, port).into()
            };
            client.send_to(b"ping", dest).await.expect("send");
            let mut buf = [0u8; 16];
            let (n, from) = server.recv(&mut buf).await.expect("recv");
            assert_eq!(&buf[..n], b"ping");
            // IPv4 peers come out as plain IPv4 addresses.
            assert_eq!(from.is_ipv4(), !client_addr.starts_with('['));
            server.send(b"pong", from).await;
            let (n, _) = client.recv_from(&mut buf).await.expect("reply");
            assert_eq!(&buf[..n], b"pong");
        }
    }
}
