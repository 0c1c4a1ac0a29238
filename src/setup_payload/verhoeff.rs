//! The Verhoeff check digit of the manual pairing code (Matter 1.3 §5.1.4.1 "Manual Pairing Code",
//! check digit per Verhoeff's dihedral-group scheme). It catches every single-digit error and every
//! transposition of adjacent digits.

/// Multiplication table of the dihedral group D5.
const MULTIPLY: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// The position-dependent permutation, applied `i mod 8` times at position `i` from the right.
const PERMUTE: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Inverses in D5.
const INVERSE: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// Folds `digits` (values 0..=9, most significant first) into the group, as if followed by a check
/// digit position when `shift` is 1.
fn fold(digits: impl DoubleEndedIterator<Item = u8>, shift: usize) -> u8 {
    digits.rev().enumerate().fold(0u8, |c, (i, d)| {
        // Callers pass digits below 10 and `c` stays below 10, so all indexes are in bounds.
        MULTIPLY[usize::from(c)][usize::from(PERMUTE[(i + shift) % 8][usize::from(d % 10)])]
    })
}

/// The check digit (0..=9) for `digits`, given as ASCII decimal digits.
///
/// Returns `None` if `digits` holds anything but `'0'..='9'`.
pub fn check_digit(digits: &str) -> Option<u8> {
    let values = ascii_digits(digits)?;
    Some(INVERSE[usize::from(fold(values.into_iter(), 1))])
}

/// Whether `digits` (ASCII, check digit last) carries a correct check digit.
pub fn is_valid(digits: &str) -> bool {
    match ascii_digits(digits) {
        Some(values) if !values.is_empty() => fold(values.into_iter(), 0) == 0,
        _ => false,
    }
}

fn ascii_digits(digits: &str) -> Option<Vec<u8>> {
    digits
        .bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_check_digits() {
        // The textbook example of the Verhoeff scheme: 236 -> 3.
        assert_eq!(check_digit("236"), Some(3));
        assert!(is_valid("2363"));
        // CHIP SDK src/setup_payload/tests/run_python_setup_payload_test.py: 34970112332 is the
        // manual code of passcode 20202021 / discriminator 3840, so its check digit is 2.
        assert_eq!(check_digit("3497011233"), Some(2));
        assert!(is_valid("34970112332"));
        assert!(!is_valid("34970112331"));
        assert_eq!(check_digit("12a"), None);
        assert!(!is_valid(""));
    }

    #[test]
    fn catches_single_errors_and_adjacent_transpositions() {
        let code = "34970112332";
        let bytes = code.as_bytes();
        for i in 0..bytes.len() {
            for d in b'0'..=b'9' {
                if d == bytes[i] {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = d;
                let changed = String::from_utf8(changed).unwrap_or_default();
                assert!(!is_valid(&changed), "{changed}");
            }
            if i + 1 < bytes.len() && bytes[i] != bytes[i + 1] {
                let mut swapped = bytes.to_vec();
                swapped.swap(i, i + 1);
                let swapped = String::from_utf8(swapped).unwrap_or_default();
                assert!(!is_valid(&swapped), "{swapped}");
            }
        }
    }
}
