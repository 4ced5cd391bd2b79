//! Instants as the registry stores and hashes them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, UTC. Microseconds because both stores
/// keep them exactly and the hash chain must see the same value after a
/// round trip through either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Seconds and nanoseconds, as `google.protobuf.Timestamp` has them.
    pub fn from_parts(seconds: i64, nanos: i32) -> Self {
        Self(
            seconds
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(nanos) / 1_000),
        )
    }

    pub fn to_parts(self) -> (i64, i32) {
        let seconds = self.0.div_euclid(1_000_000);
        let nanos = (self.0.rem_euclid(1_000_000) * 1_000) as i32;
        (seconds, nanos)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(after.as_micros() as i64),
            Err(before) => Self(-(before.duration().as_micros() as i64)),
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(time: Timestamp) -> Self {
        if time.0 >= 0 {
            UNIX_EPOCH + Duration::from_micros(time.0 as u64)
        } else {
            UNIX_EPOCH - Duration::from_micros(time.0.unsigned_abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_including_before_the_epoch() {
        for micros in [
            0,
            1,
            999_999,
            1_000_000,
            -1,
            -1_000_001,
            1_764_172_800_123_456,
        ] {
            let time = Timestamp::from_micros(micros);
            let (seconds, nanos) = time.to_parts();
            assert!((0..1_000_000_000).contains(&nanos));
            assert_eq!(Timestamp::from_parts(seconds, nanos), time);
            assert_eq!(Timestamp::from(SystemTime::from(time)), time);
        }
    }
}
