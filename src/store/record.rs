//! The on-disk form of one record: a fixed header, then the payload. Pure functions (no IO), so
//! every way a file can be damaged is tested on bytes.
//!
//! ```text
//!  offset  size  field
//!  0       6     magic "MBLEST" (matter-ble state)
//!  6       2     format version, little-endian (1)
//!  8       4     payload length in bytes, little-endian
//!  12      4     CRC-32 (IEEE 802.3) over the record's name, a 0 byte, then the payload; LE
//!  16      n     payload
//! ```
//!
//! The length field catches truncation and appended bytes, the CRC catches changed bytes (every
//! error burst up to 32 bits, and any other change with probability 1 - 2^-32). The name is part
//! of the checksum so that a file copied over another record's name is reported instead of being
//! read as that record. CRC-32 rather than a hash: its whole state is 4 bytes, so computing it
//! over a secret (an operational key) leaves no buffered copy of the secret behind, and it is not
//! meant to resist an attacker: whoever can write the state folder can write any record.

use thiserror::Error;

/// The first bytes of every record file.
pub const MAGIC: [u8; 6] = *b"MBLEST";
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 16;
/// The largest payload a record may hold (1 MiB): far above any certificate, key or ACL list,
/// and small enough that reading a wrong or damaged file cannot exhaust memory.
pub const MAX_PAYLOAD_LEN: usize = 1 << 20;

/// What is wrong with a record file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RecordFault {
    /// Shorter than the header.
    #[error(
        "it is {len} bytes long, shorter than the {HEADER_LEN}-byte record header (truncated)"
    )]
    Truncated {
        /// The file's length.
        len: u64,
    },
    /// The file does not start with [`MAGIC`].
    #[error("it does not start with the matter-ble record header (not written by matter-ble?)")]
    BadMagic,
    /// A format version this build does not read.
    #[error(
        "its format version {found} is not supported (this matter-ble reads version {VERSION}; \
         was it written by a newer release?)"
    )]
    UnsupportedVersion {
        /// The version in the header.
        found: u16,
    },
    /// The header announces more than [`MAX_PAYLOAD_LEN`] bytes.
    #[error("its header announces {announced} payload bytes, more than any record may hold")]
    Oversized {
        /// The length in the header.
        announced: u64,
    },
    /// The header's length and the file's disagree.
    #[error(
        "its header announces {announced} payload bytes but {actual} follow (truncated or \
         extended)"
    )]
    LengthMismatch {
        /// The length in the header.
        announced: u64,
        /// The bytes after the header.
        actual: u64,
    },
    /// The checksum does not match the content.
    #[error(
        "its checksum does not match (stored {stored:08x}, computed {computed:08x}): the content \
         is damaged, or the file was copied over another record's name"
    )]
    Checksum {
        /// The CRC in the header.
        stored: u32,
        /// The CRC of the name and payload as found.
        computed: u32,
    },
}

/// The header for `payload` stored under `name`. The caller writes it, then the payload (so the
/// payload, possibly a secret, is not copied into another buffer).
///
/// The caller checks `payload.len() <= MAX_PAYLOAD_LEN` (which fits the 4-byte length field).
pub fn header(name: &str, payload: &[u8]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..6].copy_from_slice(&MAGIC);
    h[6..8].copy_from_slice(&VERSION.to_le_bytes());
    // Saturating: a caller that broke the size rule gets a record that reads back as corrupt
    // rather than one whose length wrapped.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&checksum(name, payload).to_le_bytes());
    h
}

/// Checks a whole record file's bytes and returns where the payload lies in them.
///
/// # Errors
/// A [`RecordFault`] for each way the bytes can be damaged, checked in the order of the table in
/// the module documentation.
pub fn verify(name: &str, file: &[u8]) -> Result<core::ops::Range<usize>, RecordFault> {
    let len = file.len() as u64;
    let (Some(magic), Some(version), Some(length), Some(crc)) = (
        file.get(0..6),
        file.get(6..8),
        file.get(8..12),
        file.get(12..16),
    ) else {
        return Err(RecordFault::Truncated { len });
    };
    if magic != MAGIC {
        return Err(RecordFault::BadMagic);
    }
    let found = u16::from_le_bytes([version[0], version[1]]);
    if found != VERSION {
        return Err(RecordFault::UnsupportedVersion { found });
    }
    let announced = u64::from(u32::from_le_bytes([
        length[0], length[1], length[2], length[3],
    ]));
    if announced > MAX_PAYLOAD_LEN as u64 {
        return Err(RecordFault::Oversized { announced });
    }
    let actual = len - HEADER_LEN as u64;
    if announced != actual {
        return Err(RecordFault::LengthMismatch { announced, actual });
    }
    let payload = HEADER_LEN..file.len();
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = checksum(name, file.get(payload.clone()).unwrap_or_default());
    if stored != computed {
        return Err(RecordFault::Checksum { stored, computed });
    }
    Ok(payload)
}

/// CRC-32 of `name`, a 0 byte (names never contain one), then `payload`.
fn checksum(name: &str, payload: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(name.as_bytes());
    crc.update(&[0]);
    crc.update(payload);
    crc.finish()
}

/// CRC-32 as in IEEE 802.3 (reflected polynomial 0xEDB88320, initial value and final XOR
/// 0xFFFFFFFF): the CRC of zip, gzip and PNG.
struct Crc32(u32);

/// The byte-at-a-time table, computed at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    fn new() -> Self {
        Self(0xFFFF_FFFF)
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            // The index is masked to 0..=255, within the table.
            self.0 = CRC_TABLE[((self.0 ^ u32::from(b)) & 0xFF) as usize] ^ (self.0 >> 8);
        }
    }

    fn finish(&self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc(bytes: &[u8]) -> u32 {
        let mut c = Crc32::new();
        c.update(bytes);
        c.finish()
    }

    #[test]
    fn crc32_check_values() {
        // The CRC catalogue's check value for CRC-32/ISO-HDLC (the IEEE 802.3 CRC): the CRC of
        // the nine ASCII bytes "123456789" (reveng.sourceforge.io/crc-catalogue).
        assert_eq!(crc(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc(b""), 0);
        // RFC 1952 (gzip) uses this CRC; "The quick brown fox jumps over the lazy dog" is the
        // widely published example value.
        assert_eq!(
            crc(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    fn file(name: &str, payload: &[u8]) -> Vec<u8> {
        let mut f = header(name, payload).to_vec();
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn golden_header() {
        let f = file("fabric-1", b"abc");
        let crc = crc(b"fabric-1\0abc");
        let mut expected = b"MBLEST\x01\x00\x03\x00\x00\x00".to_vec();
        expected.extend_from_slice(&crc.to_le_bytes());
        expected.extend_from_slice(b"abc");
        assert_eq!(f, expected);
        assert_eq!(verify("fabric-1", &f), Ok(16..19));
        assert_eq!(verify("empty", &file("empty", b"")), Ok(16..16));
    }

    #[test]
    fn every_fault_is_reported() {
        let good = file("rec", b"payload bytes");
        let with = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut f = good.clone();
            edit(&mut f);
            verify("rec", &f)
        };
        assert_eq!(verify("rec", &[]), Err(RecordFault::Truncated { len: 0 }));
        assert_eq!(
            verify("rec", &good[..15]),
            Err(RecordFault::Truncated { len: 15 })
        );
        assert_eq!(with(&|f| f[0] = b'X'), Err(RecordFault::BadMagic));
        assert_eq!(
            with(&|f| f[6] = 2),
            Err(RecordFault::UnsupportedVersion { found: 2 })
        );
        assert_eq!(
            with(&|f| f[8..12].copy_from_slice(&0x0010_0001u32.to_le_bytes())),
            Err(RecordFault::Oversized {
                announced: 0x0010_0001
            })
        );
        assert_eq!(
            verify("rec", &good[..good.len() - 1]),
            Err(RecordFault::LengthMismatch {
                announced: 13,
                actual: 12
            })
        );
        assert_eq!(
            with(&|f| f.push(0)),
            Err(RecordFault::LengthMismatch {
                announced: 13,
                actual: 14
            })
        );
        assert!(matches!(
            with(&|f| f[20] ^= 0x01),
            Err(RecordFault::Checksum { .. })
        ));
        assert!(matches!(
            with(&|f| f[13] ^= 0x80),
            Err(RecordFault::Checksum { .. })
        ));
        // The same bytes under another name.
        assert!(matches!(
            verify("other", &good),
            Err(RecordFault::Checksum { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn round_trip_and_any_single_bit_flip_is_caught(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            bit in 0usize..4800,
        ) {
            let f = file("r", &payload);
            proptest::prop_assert_eq!(verify("r", &f), Ok(HEADER_LEN..f.len()));
            let bit = bit % (f.len() * 8);
            let mut bad = f.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            proptest::prop_assert!(verify("r", &bad).is_err());
        }

        #[test]
        fn verify_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = verify("r", &bytes);
        }
    }
}
