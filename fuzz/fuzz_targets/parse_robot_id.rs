#![no_main]

use libfuzzer_sys::fuzz_target;
use robotid_domain::code::{CodeError, CountryCode, RobotId, Segment, Serial};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };

    let parsed = RobotId::parse(input);
    let issued = RobotId::parse_issued(input);
    match (&parsed, &issued) {
        (Ok(id), Ok(issued_id)) => {
            assert_eq!(id, issued_id);
            assert!(id.has_valid_check_character());
        }
        (Ok(id), Err(CodeError::CheckCharacter { expected, found })) => {
            assert!(!id.has_valid_check_character());
            assert_ne!(expected, found);
            assert_eq!(*found, id.as_str().chars().last().unwrap());
        }
        // Syntax is checked before the check character, with the same error.
        (Err(error), Err(issued_error)) => assert_eq!(error, issued_error),
        outcome => panic!("parse and parse_issued disagree on {input:?}: {outcome:?}"),
    }

    match parsed {
        Ok(id) => {
            let canonical = id.as_str();
            assert_eq!(canonical.len(), RobotId::LEN);
            assert!(canonical.bytes().all(|b| ALPHABET.contains(&b)));
            assert!(canonical.as_bytes()[..2].iter().all(u8::is_ascii_uppercase));
            assert_eq!(RobotId::parse(canonical).as_ref(), Ok(&id));
            assert_eq!(RobotId::parse(&id.display()).as_ref(), Ok(&id));
            assert_eq!(id.to_string(), canonical);
            let rebuilt = [
                id.country().as_str(),
                id.manufacturer().as_str(),
                id.model().as_str(),
                id.serial().as_str(),
            ]
            .concat();
            assert_eq!(rebuilt, canonical);
            if let Some(sequence) = id.sequence() {
                let again =
                    RobotId::issue(&id.country(), &id.manufacturer(), &id.model(), sequence);
                assert_eq!(again, id);
            }
        }
        Err(CodeError::Character {
            segment,
            position,
            found,
        }) => {
            assert!(segment.position_range().contains(&(position - 1)));
            assert!(input.contains(found));
        }
        Err(CodeError::Separator { position }) => {
            assert!((1..=input.trim().chars().count()).contains(&position));
        }
        Err(CodeError::Length { found }) => assert_ne!(found, RobotId::LEN),
        Err(CodeError::Empty) => assert!(input.trim().is_empty()),
        Err(other) => panic!("RobotId::parse gave a segment error: {other:?}"),
    }

    // The standalone segment parsers share the alphabet rules.
    if let Ok(country) = CountryCode::parse(input) {
        assert_eq!(country.as_str().len(), 2);
        assert!(country.as_str().bytes().all(|b| b.is_ascii_uppercase()));
    }
    match Serial::parse(input) {
        Ok(serial) => assert_eq!(serial.as_str(), input.trim().to_ascii_uppercase()),
        Err(CodeError::SegmentLength {
            segment,
            expected,
            found,
        }) => {
            assert_eq!((segment, expected), (Segment::Serial, 17));
            assert_ne!(found, 17);
        }
        Err(CodeError::Character {
            segment, position, ..
        }) => {
            assert_eq!(segment, Segment::Serial);
            assert!(Segment::Serial.position_range().contains(&(position - 1)));
        }
        Err(other) => panic!("Serial::parse gave {other:?}"),
    }
});
