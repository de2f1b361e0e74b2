//! Time: every timestamp as UTC milliseconds, read from the forms logs write
//! and written back as RFC 3339.

use chrono::{DateTime, SecondsFormat, Timelike};

/// Milliseconds since the Unix epoch, UTC. Every timestamp is normalised to this at ingest.
pub type Millis = i64;

/// The time of an audit record that carries none (trimmed exports): such a
/// denial is still diagnosed, without a snapshot, and left out of spikes.
pub const UNKNOWN_TIME: Millis = Millis::MIN;

/// The events grantgap reads: from 1970-01-01 up to (not including)
/// 2100-01-01, UTC. Nothing older or newer is a real API request; a log that
/// claims otherwise has a broken clock or a mis-mapped field, and one such
/// denial once stretched the timeline over 10,000 years (8.4 GB of buckets).
/// Tokens and snapshots may lie outside it (a token that never expires).
pub const EVENT_TIME_RANGE: std::ops::Range<Millis> = 0..4_102_444_800_000;

/// Epoch values below this are seconds, above it milliseconds: 1e11 seconds is
/// the year 5138, while 1e11 milliseconds is 1973, so real logs never straddle it.
const EPOCH_MILLIS_THRESHOLD: f64 = 1e11;

/// The end of the year 9999 in epoch milliseconds: no log is later, and times
/// beyond it cannot be printed as RFC 3339.
const LATEST_MILLIS: f64 = 253_402_300_799_999.0;

/// A timestamp written as text: RFC 3339 with any offset (a space for the `T`
/// too), or epoch seconds or milliseconds as a numeric string. The error says
/// why it is not one.
pub fn parse(text: &str) -> Result<Millis, String> {
    let s = text.trim();
    if let Some(ms) = utc_millis(s) {
        return Ok(ms);
    }
    match s.parse::<f64>() {
        Ok(x) => from_epoch(x).ok_or_else(|| {
            format!(
                "{} is not a timestamp",
                serde_json::Value::String(text.to_string())
            )
        }),
        Err(_) => rfc3339(s),
    }
}

/// Epoch seconds or milliseconds (see `EPOCH_MILLIS_THRESHOLD`) in milliseconds.
pub fn from_epoch(x: f64) -> Option<Millis> {
    if !x.is_finite() || !(0.0..=LATEST_MILLIS).contains(&x) {
        None
    } else if x < EPOCH_MILLIS_THRESHOLD {
        Some((x * 1000.0).round() as i64)
    } else {
        Some(x.round() as i64)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]Z`, the layout nearly every log writes, read
/// without chrono's general parser, which cost 4% of reading a line; chrono
/// still checks the date and time. `None` for anything else (an offset, a
/// leap second, a bad date), which [`rfc3339`] reads or rejects, so both give
/// the same answer (a test checks).
fn utc_millis(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    let (&last, _) = b.split_last()?;
    let layout = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':'
        && matches!(last, b'Z' | b'z');
    if !layout {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    // Milliseconds are the first three digits of the fraction: chrono keeps
    // nanoseconds, and whole milliseconds of them round down.
    let millis = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..]
            if (1..=9).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit) =>
        {
            let first = &fraction[..fraction.len().min(3)];
            number(first)? * 10u32.pow(3 - first.len() as u32)
        }
        _ => return None,
    };
    let day: [u8; 10] = b[..10].try_into().expect("ten bytes");
    let midnight = match LAST_DAY.get() {
        (last, midnight) if last == day => midnight,
        _ => {
            let date = chrono::NaiveDate::from_ymd_opt(
                number(&b[0..4])? as i32,
                number(&b[5..7])?,
                number(&b[8..10])?,
            )?;
            let midnight = date.and_time(chrono::NaiveTime::MIN);
            let midnight = midnight.and_utc().timestamp_millis();
            LAST_DAY.set((day, midnight));
            midnight
        }
    };
    let time = chrono::NaiveTime::from_hms_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
    )?;
    let since_midnight = time.num_seconds_from_midnight();
    Some(midnight + Millis::from(since_midnight) * 1000 + Millis::from(millis))
}

thread_local! {
    /// The date text [`utc_millis`] read last on this thread, and its
    /// midnight: a log's lines share their day, and chrono's reading of the
    /// date was most of the 3% reading timestamps took of the generated
    /// corpus. (Never a valid date at first: the dashes are missing.)
    static LAST_DAY: std::cell::Cell<([u8; 10], Millis)> =
        const { std::cell::Cell::new(([0; 10], 0)) };
}

fn rfc3339(s: &str) -> Result<Millis, String> {
    // RFC 3339 allows a space for the `T`; chrono's parser does not.
    // Borrowed unless it must change: this runs for every event.
    let normalised: std::borrow::Cow<str> = if s.len() > 10 && s.as_bytes()[10] == b' ' {
        format!("{}T{}", &s[..10], &s[11..]).into()
    } else {
        s.into()
    };
    match DateTime::parse_from_rfc3339(&normalised) {
        Ok(t) => Ok(t.timestamp_millis()),
        Err(_) if DateTime::parse_from_rfc3339(&format!("{normalised}Z")).is_ok() => Err(format!(
            "{s:?} has no UTC offset: write it with Z or +hh:mm so its instant is known"
        )),
        Err(_) => Err(format!(
            "{s:?} is neither RFC 3339 nor epoch seconds/milliseconds"
        )),
    }
}

/// Formats UTC milliseconds as RFC 3339 with a `Z`, to the second when whole;
/// `unknown` for [`UNKNOWN_TIME`]. chrono's RFC 3339 writer, not a format
/// string: parsing `%Y-%m-%d…` for every instant written was a tenth of the
/// cluster and report stages' CPU on the 2 GB corpus.
pub fn format_millis(ms: Millis) -> String {
    if ms == UNKNOWN_TIME {
        return "unknown".into();
    }
    let t = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let fraction = if ms % 1000 == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    t.to_rfc3339_opts(fraction, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_layout_reads_as_chrono_reads_it() {
        let general = |s: &str| {
            let s = s.replacen(' ', "T", 1);
            DateTime::parse_from_rfc3339(&s)
                .ok()
                .map(|t| t.timestamp_millis())
        };
        let mut cases = vec![
            "2026-11-02T00:00:00.000Z".to_string(),
            "2026-11-02t23:59:59z".into(),
            "2026-11-02 23:59:59.9Z".into(),
            "1970-01-01T00:00:00Z".into(),
            "1969-12-31T23:59:59.999Z".into(),
            "0000-01-01T00:00:00.5Z".into(),
            "9999-12-31T23:59:59.999999999Z".into(),
            "2024-02-29T12:00:00.123456Z".into(),
            // Not read by the fast path; the general one decides.
            "2023-02-29T12:00:00Z".into(),
            "2026-11-02T24:00:00Z".into(),
            "2016-12-31T23:59:60Z".into(),
            "2026-11-02T00:00:00.Z".into(),
            "2026-11-02T00:00:00.1234567890Z".into(),
            "2026-11-02T00:00:00+01:00".into(),
            "2026-11-02T0a:00:00Z".into(),
            "+026-11-02T00:00:00Z".into(),
        ];
        // Every millisecond digit and fraction length, over a range of dates.
        for i in 0..2_000i64 {
            let ms = i * 7_919_000_003 % 253_402_300_799_999;
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            let digits = (i % 10) as usize;
            let fraction = format!("{:09}", t.timestamp_subsec_nanos());
            let dot = if digits == 0 { "" } else { "." };
            let text = format!(
                "{}{dot}{}Z",
                t.format("%Y-%m-%dT%H:%M:%S"),
                &fraction[..digits]
            );
            cases.push(text);
        }
        for case in &cases {
            let fast = utc_millis(case);
            assert!(fast.is_none() || fast == general(case), "{case}: {fast:?}");
            assert_eq!(parse(case).ok(), general(case), "{case}");
        }
        assert!(cases.iter().filter(|c| utc_millis(c).is_some()).count() > 2_000);
    }

    #[test]
    fn millis_format_round_trips() {
        assert_eq!(format_millis(1_762_000_000_000), "2025-11-01T12:26:40Z");
        assert_eq!(
            parse(&format_millis(1_762_000_000_123)),
            Ok(1_762_000_000_123)
        );
        assert_eq!(format_millis(UNKNOWN_TIME), "unknown");
    }

    /// How instants were written before, with format strings.
    fn by_format_strings(ms: Millis) -> String {
        let t = DateTime::from_timestamp_millis(ms).unwrap_or_default();
        if ms % 1000 == 0 {
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        }
    }

    proptest::proptest! {
        /// Every instant of a real log, and any other (signed five-digit
        /// years beyond 9999 and before 0 included), is written as before.
        #[test]
        fn millis_format_as_the_format_strings_did(
            ms in proptest::prop_oneof![EVENT_TIME_RANGE, proptest::prelude::any::<i64>()]
        ) {
            proptest::prop_assume!(ms != UNKNOWN_TIME);
            proptest::prop_assert_eq!(format_millis(ms), by_format_strings(ms));
        }

        /// Lines read one after another, most of a day they share with the
        /// line before (what [`LAST_DAY`] remembers), some not, read as
        /// chrono reads them.
        #[test]
        fn instants_of_shared_days_read_as_chrono_reads_them(
            instants in proptest::collection::vec(
                (0i64..4, 0i64..86_400_000, 0usize..10), 1..40
            ),
            first_day in 0i64..2_932_000,
        ) {
            for (day, in_day, digits) in instants {
                let ms = (first_day + day) * 86_400_000 + in_day;
                let t = DateTime::from_timestamp_millis(ms).unwrap();
                let fraction = format!("{:09}", t.timestamp_subsec_nanos());
                let dot = if digits == 0 { "" } else { "." };
                let text = format!("{}{dot}{}Z", t.format("%Y-%m-%dT%H:%M:%S"), &fraction[..digits]);
                let general = DateTime::parse_from_rfc3339(&text).unwrap().timestamp_millis();
                proptest::prop_assert_eq!(utc_millis(&text), Some(general), "{}", text);
            }
        }
    }
}
