//! Turning SDUs into segments and segments back into SDUs (Matter 1.4 §4.19.3.2 "Segmentation
//! and reassembly").
//!
//! [`Segmenter`] cuts one outgoing SDU into segments no longer than the fragment size: the first
//! carries B and the 16-bit SDU length, later ones C, the last one E (together with C, as the CHIP
//! SDK sends it). [`Reassembler`] checks the flags, bounds the declared length before allocating,
//! and refuses any byte past it.

use super::error::Violation;
use super::wire::{header_len, HeaderFlags, SegmentHeader};

/// The outgoing SDU being cut into segments.
#[derive(Debug, Default)]
pub(crate) struct Segmenter {
    sdu: Vec<u8>,
    /// Bytes of `sdu` already sent; `None` when idle.
    offset: Option<usize>,
}

impl Segmenter {
    /// Whether an SDU is being sent.
    pub(crate) fn is_active(&self) -> bool {
        self.offset.is_some()
    }

    /// Starts sending `sdu`. The caller checked that it is non-empty and at most 65535 bytes.
    pub(crate) fn start(&mut self, sdu: Vec<u8>) {
        self.sdu = sdu;
        self.offset = Some(0);
    }

    /// Writes the next segment (header and payload) into `out` and returns whether it ended the
    /// SDU and how many payload bytes it carries. `None` if idle.
    pub(crate) fn next_segment(
        &mut self,
        seq: u8,
        ack: Option<u8>,
        fragment_size: u16,
        out: &mut Vec<u8>,
    ) -> Option<(bool, usize)> {
        let offset = self.offset?;
        let first = offset == 0;
        let room = usize::from(fragment_size).saturating_sub(header_len(ack.is_some(), first));
        let rest = self.sdu.get(offset..).unwrap_or_default();
        // The fragment size is at least MIN_FRAGMENT_SIZE, so `room` is at least 1.
        let take = rest.len().min(room.max(1));
        let last = take == rest.len();
        let mut flags = if first {
            HeaderFlags::BEGINNING
        } else {
            HeaderFlags::CONTINUING
        };
        if last {
            flags = flags.with(HeaderFlags::ENDING);
        }
        // The SDU length fits in u16: `send_sdu` refuses anything longer.
        let msg_len = first.then(|| u16::try_from(self.sdu.len()).unwrap_or(u16::MAX));
        SegmentHeader::new(flags, ack, seq, msg_len).emit(out);
        out.extend_from_slice(rest.get(..take).unwrap_or_default());
        if last {
            self.offset = None;
            self.sdu = Vec::new();
        } else {
            self.offset = Some(offset + take);
        }
        Some((last, take))
    }

    /// Drops the SDU in progress; returns whether there was one.
    pub(crate) fn abandon(&mut self) -> bool {
        self.sdu = Vec::new();
        self.offset.take().is_some()
    }
}

/// The incoming SDU being put together.
#[derive(Debug)]
pub(crate) struct Reassembler {
    buf: Vec<u8>,
    /// The declared length of the SDU in progress; `None` when idle.
    declared: Option<u16>,
    max_sdu_size: usize,
}

impl Reassembler {
    /// A reassembler that refuses SDUs longer than `max_sdu_size`.
    pub(crate) fn new(max_sdu_size: usize) -> Self {
        Self {
            buf: Vec::new(),
            declared: None,
            max_sdu_size,
        }
    }

    /// Adds one data segment. Returns the SDU when this segment completes it.
    pub(crate) fn push(
        &mut self,
        header: &SegmentHeader,
        payload: &[u8],
    ) -> Result<Option<Vec<u8>>, Violation> {
        let flags = header.flags;
        match (self.declared, header.msg_len) {
            (None, Some(declared)) => {
                if usize::from(declared) > self.max_sdu_size {
                    return Err(Violation::MessageTooLarge {
                        declared,
                        max: self.max_sdu_size,
                    });
                }
                self.declared = Some(declared);
                self.buf = Vec::with_capacity(usize::from(declared));
            }
            (None, None) => return Err(Violation::ContinuationWithoutBeginning),
            (Some(_), Some(_)) => return Err(Violation::BeginningDuringMessage),
            // A later segment. The CHIP SDK accepts C, E or both here; so do we.
            (Some(_), None) => {}
        }
        let declared = self.declared.unwrap_or_default();
        let received = self.buf.len() + payload.len();
        if received > usize::from(declared) {
            // The CHIP SDK trims excess bytes at the ending segment; a correct sender never sends
            // them, so we treat them as the length error they are.
            return Err(Violation::LengthMismatch { declared, received });
        }
        self.buf.extend_from_slice(payload);
        if !flags.contains(HeaderFlags::ENDING) {
            return Ok(None);
        }
        if received != usize::from(declared) {
            return Err(Violation::LengthMismatch { declared, received });
        }
        self.declared = None;
        Ok(Some(core::mem::take(&mut self.buf)))
    }

    /// Bytes of an unfinished SDU (what a close now would lose).
    pub(crate) fn partial_len(&self) -> usize {
        if self.declared.is_some() {
            self.buf.len()
        } else {
            0
        }
    }

    /// Drops any unfinished SDU.
    pub(crate) fn clear(&mut self) {
        self.buf = Vec::new();
        self.declared = None;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn segments(sdu: &[u8], fragment_size: u16) -> Vec<Vec<u8>> {
        let mut s = Segmenter::default();
        s.start(sdu.to_vec());
        let mut out = Vec::new();
        let mut seq = 0u8;
        loop {
            let mut seg = Vec::new();
            let ack = seq.is_multiple_of(3).then_some(seq);
            let (last, _) = s.next_segment(seq, ack, fragment_size, &mut seg).unwrap();
            out.push(seg);
            seq = seq.wrapping_add(1);
            if last {
                return out;
            }
        }
    }

    #[test]
    fn one_segment_sdu_has_b_and_e() {
        let segs = segments(&[0xaa, 0xbb], 20);
        // flags B|E|A, ack 0, seq 0, length 2, payload.
        assert_eq!(segs, [vec![0x0d, 0x00, 0x00, 0x02, 0x00, 0xaa, 0xbb]]);
    }

    #[test]
    fn last_segment_keeps_continuing_flag() {
        let sdu: Vec<u8> = (0..20).collect();
        let segs = segments(&sdu, 20);
        assert_eq!(segs.len(), 2);
        // First: A|B, ack 0, seq 0, len 20, 15 bytes of payload (20 - 5).
        assert_eq!(segs[0][..5], [0x09, 0x00, 0x00, 0x14, 0x00]);
        assert_eq!(segs[0].len(), 20);
        // Second: C|E without ack (seq 1), the remaining 5 bytes.
        assert_eq!(segs[1], [0x06, 0x01, 15, 16, 17, 18, 19]);
    }

    proptest! {
        /// Segment-then-reassemble returns the SDU for every length and fragment size, and no
        /// segment exceeds the fragment size.
        #[test]
        fn round_trip(len in 1usize..3000, fragment_size in 6u16..=244) {
            let sdu: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut r = Reassembler::new(4096);
            let segs = segments(&sdu, fragment_size);
            let mut done = None;
            for (i, seg) in segs.iter().enumerate() {
                prop_assert!(seg.len() <= usize::from(fragment_size));
                let (h, payload) = SegmentHeader::parse(seg).unwrap();
                let got = r.push(&h, payload).unwrap();
                prop_assert_eq!(got.is_some(), i + 1 == segs.len());
                done = got;
            }
            prop_assert_eq!(done, Some(sdu));
            prop_assert_eq!(r.partial_len(), 0);
        }
    }
}
