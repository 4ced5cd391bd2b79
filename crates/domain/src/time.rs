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

/// Why a time a caller sent is not one this system takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("nanos must be 0 to 999,999,999, found {0}")]
    Nanos(i32),
    #[error(
        "outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, the range of a protobuf Timestamp"
    )]
    OutOfRange,
    #[error(
        "before 2000-01-01T00:00:00Z: no robot's life reported here starts that early (a zero or unset time?)"
    )]
    TooEarly,
    #[error(
        "{ahead_seconds} s in the future: at most {max_skew_seconds} s ahead of this service's clock"
    )]
    InFuture {
        ahead_seconds: i64,
        max_skew_seconds: u64,
    },
}

impl Timestamp {
    /// 0001-01-01T00:00:00Z, the first second a protobuf Timestamp holds.
    pub const MIN_SECONDS: i64 = -62_135_596_800;
    /// 9999-12-31T23:59:59Z, the last second a protobuf Timestamp holds.
    pub const MAX_SECONDS: i64 = 253_402_300_799;
    /// 2000-01-01T00:00:00Z: the earliest a robot's production or an event
    /// of its life may be reported. Humanoid robots with identity codes
    /// came long after; a time before it is a client's unset or zero
    /// value (1970-01-01), not a fact.
    pub const EARLIEST_REPORTED: Timestamp = Timestamp(946_684_800 * 1_000_000);

    /// Seconds and nanoseconds as a caller sent them: within the range a
    /// protobuf Timestamp may hold, with nanos in `0..1e9`, as the
    /// Timestamp's own contract says.
    pub fn from_wire_parts(seconds: i64, nanos: i32) -> Result<Self, TimeError> {
        if !(0..1_000_000_000).contains(&nanos) {
            return Err(TimeError::Nanos(nanos));
        }
        if !(Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&seconds) {
            return Err(TimeError::OutOfRange);
        }
        Ok(Self::from_parts(seconds, nanos))
    }

    /// A time a caller reports something happened at (an event, a robot's
    /// production): not before [`Self::EARLIEST_REPORTED`], and at most
    /// `max_skew` after `now` (clocks differ a little; the future did not
    /// happen yet).
    pub fn check_reported(self, now: Timestamp, max_skew: Duration) -> Result<Self, TimeError> {
        if self < Self::EARLIEST_REPORTED {
            return Err(TimeError::TooEarly);
        }
        let skew = i64::try_from(max_skew.as_micros()).unwrap_or(i64::MAX);
        let ahead = self.0.saturating_sub(now.0);
        if ahead > skew {
            return Err(TimeError::InFuture {
                ahead_seconds: ahead / 1_000_000,
                max_skew_seconds: max_skew.as_secs(),
            });
        }
        Ok(self)
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
    fn wire_parts_keep_to_the_protobuf_range_and_valid_nanos() {
        assert!(Timestamp::from_wire_parts(1_764_172_800, 999_999_999).is_ok());
        assert_eq!(Timestamp::from_wire_parts(0, -1), Err(TimeError::Nanos(-1)));
        assert_eq!(
            Timestamp::from_wire_parts(0, 1_000_000_000),
            Err(TimeError::Nanos(1_000_000_000))
        );
        assert!(Timestamp::from_wire_parts(Timestamp::MIN_SECONDS, 0).is_ok());
        assert!(Timestamp::from_wire_parts(Timestamp::MAX_SECONDS, 999_999_999).is_ok());
        for seconds in [
            Timestamp::MIN_SECONDS - 1,
            Timestamp::MAX_SECONDS + 1,
            1 << 62,
            i64::MIN,
        ] {
            assert_eq!(
                Timestamp::from_wire_parts(seconds, 0),
                Err(TimeError::OutOfRange)
            );
        }
    }

    #[test]
    fn a_reported_time_is_not_before_2000_nor_beyond_the_clock_skew() {
        let now = Timestamp::from_parts(1_764_172_800, 0);
        let skew = Duration::from_secs(300);
        assert!(now.check_reported(now, skew).is_ok());
        let soon = Timestamp::from_parts(1_764_172_800 + 300, 0);
        assert!(soon.check_reported(now, skew).is_ok());
        let later = Timestamp::from_parts(1_764_172_800 + 301, 0);
        assert!(matches!(
            later.check_reported(now, skew),
            Err(TimeError::InFuture {
                ahead_seconds: 301,
                max_skew_seconds: 300
            })
        ));
        assert_eq!(
            Timestamp::from_parts(0, 0).check_reported(now, skew),
            Err(TimeError::TooEarly)
        );
        assert!(
            Timestamp::EARLIEST_REPORTED
                .check_reported(now, skew)
                .is_ok()
        );
        let far = Timestamp::from_parts(Timestamp::MAX_SECONDS, 0);
        assert!(far.check_reported(now, skew).is_err());
    }

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
