//! Entry bundles of c2sp.org/tlog-tiles (`tile/entries/<N>[.p/<W>]`): the
//! entries of one level-0 tile, each a big-endian `u16` length and then its
//! bytes, end to end.

/// The longest entry a bundle can carry.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryBundleError {
    #[error("an entry of {0} bytes is longer than a bundle carries ({MAX_ENTRY_SIZE})")]
    EntryTooLong(usize),
    #[error("the bundle ends inside an entry")]
    Truncated,
}

/// The bundle of `entries`, in order.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, EntryBundleError> {
    let mut bundle = Vec::with_capacity(entries.iter().map(|e| 2 + e.as_ref().len()).sum());
    for entry in entries {
        let entry = entry.as_ref();
        let len =
            u16::try_from(entry.len()).map_err(|_| EntryBundleError::EntryTooLong(entry.len()))?;
        bundle.extend_from_slice(&len.to_be_bytes());
        bundle.extend_from_slice(entry);
    }
    Ok(bundle)
}

/// The entries of `bundle`, borrowed from it.
pub fn decode_entry_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, EntryBundleError> {
    let mut entries = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(EntryBundleError::Truncated)?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (entry, tail) = tail
            .split_at_checked(len)
            .ok_or(EntryBundleError::Truncated)?;
        entries.push(entry);
        rest = tail;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entries_are_length_prefixed_big_endian() {
        let bundle = encode_entry_bundle(&[&b"ab"[..], b"", &[7; 258]]).unwrap();
        assert_eq!(&bundle[..6], [0, 2, b'a', b'b', 0, 0]);
        assert_eq!(&bundle[6..8], [1, 2]);
        assert_eq!(
            decode_entry_bundle(&bundle).unwrap(),
            [&b"ab"[..], b"", &[7; 258]]
        );
        assert_eq!(
            encode_entry_bundle(&[vec![0; MAX_ENTRY_SIZE + 1]]),
            Err(EntryBundleError::EntryTooLong(MAX_ENTRY_SIZE + 1))
        );
        assert!(encode_entry_bundle(&[vec![0; MAX_ENTRY_SIZE]]).is_ok());
        assert_eq!(decode_entry_bundle(&[0]), Err(EntryBundleError::Truncated));
        assert_eq!(
            decode_entry_bundle(&[0, 3, 1, 2]),
            Err(EntryBundleError::Truncated)
        );
        assert_eq!(decode_entry_bundle(&[]), Ok(vec![]));
    }

    proptest! {
        #![proptest_config(crate::test_config())]

        #[test]
        fn bundles_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 0..20)) {
            let bundle = encode_entry_bundle(&entries).unwrap();
            let decoded = decode_entry_bundle(&bundle).unwrap();
            prop_assert_eq!(decoded, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
        }
    }
}
