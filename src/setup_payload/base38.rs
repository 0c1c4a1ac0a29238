//! Base38, the text encoding of the Matter onboarding QR payload (Matter 1.3 §5.1.3.1
//! "Encoding of the Onboarding Payload", Base38 alphabet in Table 40).
//!
//! The input is cut into 3-byte chunks read little-endian; each becomes 5 characters, least
//! significant digit first. A final 2-byte chunk becomes 4 characters and a final single byte 2, so
//! the length of the text fixes the length of the data.

use super::SetupPayloadError;

/// The 38 characters, in digit order. All of them are in the QR alphanumeric set, so the payload
/// fits the QR code's dense alphanumeric mode.
pub const ALPHABET: &[u8; 38] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.";

/// Characters per chunk, indexed by the chunk's byte count (1, 2 or 3).
const CHARS_FOR_BYTES: [usize; 4] = [0, 2, 4, 5];

/// Encodes `data` as Base38 text.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 5);
    for chunk in data.chunks(3) {
        let mut value = chunk
            .iter()
            .rev()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        for _ in 0..CHARS_FOR_BYTES[chunk.len()] {
            // `value % 38` is below 38, so the index is in bounds.
            out.push(char::from(ALPHABET[(value % 38) as usize]));
            value /= 38;
        }
    }
    out
}

/// Decodes Base38 text.
///
/// # Errors
/// [`SetupPayloadError::Base38Character`] for a character outside [`ALPHABET`],
/// [`SetupPayloadError::Base38Length`] when the length leaves a 1- or 3-character tail, and
/// [`SetupPayloadError::Base38Overflow`] when a chunk's value does not fit its byte count.
pub fn decode(text: &str) -> Result<Vec<u8>, SetupPayloadError> {
    // Characters first: a typo is the likelier mistake, and it also makes every byte ASCII below.
    if let Some((position, character)) = text
        .char_indices()
        .find(|&(_, c)| !c.is_ascii() || digit_of(c as u8).is_none())
    {
        return Err(SetupPayloadError::Base38Character {
            character,
            position,
        });
    }
    let bytes = text.as_bytes();
    let tail_bytes = match bytes.len() % 5 {
        0 => 0,
        2 => 1,
        4 => 2,
        _ => return Err(SetupPayloadError::Base38Length(bytes.len())),
    };
    let mut out = Vec::with_capacity(bytes.len() / 5 * 3 + tail_bytes);
    for (index, chunk) in bytes.chunks(5).enumerate() {
        let byte_count = if chunk.len() == 5 { 3 } else { tail_bytes };
        // At most 5 digits: 38^5 - 1 < 2^27, no overflow. Every character was checked above.
        let value = chunk.iter().rev().fold(0u32, |acc, &c| {
            acc * 38 + u32::from(digit_of(c).unwrap_or(0))
        });
        if value >> (8 * byte_count) != 0 {
            return Err(SetupPayloadError::Base38Overflow {
                position: index * 5,
            });
        }
        out.extend_from_slice(&value.to_le_bytes()[..byte_count]);
    }
    Ok(out)
}

/// The digit value of one Base38 character.
fn digit_of(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        b'-' => Some(36),
        b'.' => Some(37),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from the CHIP SDK, src/setup_payload/tests/TestQRCode.cpp, TEST(TestQRCode, TestBase38).
    #[test]
    fn chip_sdk_encode_vectors() {
        let cases: &[(&[u8], &str)] = &[
            (&[], ""),
            (&[10], "A0"),
            (&[10, 10], "OT10"),
            (&[10, 10, 10], "-N.B0"),
            (&[10, 10, 0], "OT100"),
            (&[10, 10, 40], "Y6V91"),
            (&[10, 10, 41], "KL0B1"),
            (&[10, 10, 255], "Q-M08"),
            (&[35], "Z0"),
            (&[255, 0], "R600"),
            (&[46, 0, 0], "81000"),
            (&[255], "R6"),
            (&[255, 255], "NE71"),
            (&[255, 255, 255], "PLS18"),
            (b"Hello World!", "KKHF3W2S013OPM3EJX11"),
        ];
        for (data, text) in cases {
            assert_eq!(encode(data), *text, "encode {data:?}");
            assert_eq!(decode(text).as_deref(), Ok(*data), "decode {text}");
        }
    }

    #[test]
    fn chip_sdk_decode_limits() {
        // Same source: the largest value each chunk size holds, and one more.
        assert_eq!(decode("R6"), Ok(vec![255]));
        assert_eq!(
            decode("S6"),
            Err(SetupPayloadError::Base38Overflow { position: 0 })
        );
        assert_eq!(decode("S600"), Ok(vec![0, 1]));
        assert_eq!(decode("NE71"), Ok(vec![255, 255]));
        assert_eq!(
            decode("OE71"),
            Err(SetupPayloadError::Base38Overflow { position: 0 })
        );
        assert_eq!(decode("OE710"), Ok(vec![0, 0, 1]));
        assert_eq!(decode("PLS18"), Ok(vec![255, 255, 255]));
        assert_eq!(
            decode("QLS18"),
            Err(SetupPayloadError::Base38Overflow { position: 0 })
        );
        // The largest 5-character value (38^5 - 1) overflows 3 bytes too.
        assert!(decode(".....").is_err());
    }

    #[test]
    fn rejects_characters_outside_the_alphabet() {
        // Same source: each of these characters next to a valid one.
        for bad in [
            "0\u{1}", "\u{1}0", "[0", "0[", " 0", "!0", "\"0", "#0", "$0", "%0", "&0", "'0", "(0",
            ")0", "*0", "+0", ",0", ";0", "<0", "=0", ">0", "@0", "a0", "é0",
        ] {
            assert!(
                matches!(decode(bad), Err(SetupPayloadError::Base38Character { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            decode("00[00"),
            Err(SetupPayloadError::Base38Character {
                character: '[',
                position: 2
            })
        );
    }

    #[test]
    fn rejects_lengths_that_cannot_be_chunks() {
        for len in [1usize, 3, 6, 8, 11] {
            assert_eq!(
                decode(&"0".repeat(len)),
                Err(SetupPayloadError::Base38Length(len))
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let text = encode(&data);
            proptest::prop_assert_eq!(text.len(), data.len() / 3 * 5 + CHARS_FOR_BYTES[data.len() % 3]);
            proptest::prop_assert_eq!(decode(&text), Ok(data));
        }

        #[test]
        fn never_panics(text in "[0-9A-Z.\\-a-z ]{0,40}") {
            let _ = decode(&text);
        }
    }
}
