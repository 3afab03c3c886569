//! When a `schedule` (or `poll`) trigger fires: cron expressions (5 fields, or 6 with seconds
//! first) in a time zone, or a fixed interval; and which due times to fire after a gap
//! (`catch_up`). Pure functions of the times given, so tests control the clock.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _};

/// One cron field: the allowed values as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field(u64);

impl Field {
    fn has(self, v: i64) -> bool {
        (0..64).contains(&v) && self.0 & (1 << v) != 0
    }
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(text: &str, names: &[&str], offset: i64) -> Option<i64> {
    text.parse().ok().or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(text)).map(|i| i as i64 + offset))
}

/// `*`, `5`, `1-5`, `*/15`, `10-40/10`, `mon-fri`, lists of these.
fn field(text: &str, min: i64, max: i64, names: &[&str], offset: i64, what: &str) -> Result<Field, String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<i64>().map_err(|_| format!("{what}: step `{s}` is not a number"))?),
            None => (part, 1),
        };
        if step < 1 {
            return Err(format!("{what}: a step is at least 1"));
        }
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = value(a, names, offset).ok_or_else(|| format!("{what}: `{a}` is not a value"))?;
            let b = value(b, names, offset).ok_or_else(|| format!("{what}: `{b}` is not a value"))?;
            (a, b)
        } else {
            let v = value(range, names, offset).ok_or_else(|| format!("{what}: `{range}` is not a value"))?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{what}: `{range}` is outside {min}-{max}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(Field(bits))
}

/// Sunday may be written 7; it is day 0.
fn sunday_is_zero(f: Field) -> Field {
    if f.has(7) { Field((f.0 & !(1 << 7)) | 1) } else { f }
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: Field,
    minutes: Field,
    hours: Field,
    days: Field,
    months: Field,
    weekdays: Field,
    /// Both day fields restricted: either matches (as cron does).
    either_day: bool,
}

impl std::str::FromStr for Cron {
    type Err = String;

    /// `min hour dom mon dow`, or `sec min hour dom mon dow`.
    fn from_str(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (sec, rest) = match parts.len() {
            5 => ("0", &parts[..]),
            6 => (parts[0], &parts[1..]),
            n => {
                return Err(format!(
                    "cron `{text}` has {n} fields; write 5 (minute hour day month weekday) or 6 (second first)"
                ));
            }
        };
        Ok(Cron {
            seconds: field(sec, 0, 59, &[], 0, "second")?,
            minutes: field(rest[0], 0, 59, &[], 0, "minute")?,
            hours: field(rest[1], 0, 23, &[], 0, "hour")?,
            days: field(rest[2], 1, 31, &[], 0, "day of month")?,
            months: field(rest[3], 1, 12, &MONTHS, 1, "month")?,
            weekdays: sunday_is_zero(field(rest[4], 0, 7, &DAYS, 0, "day of week")?),
            either_day: rest[2] != "*" && rest[4] != "*",
        })
    }
}

impl Cron {
    fn day_matches(&self, d: jiff::civil::Date) -> bool {
        let dom = self.days.has(i64::from(d.day()));
        let dow = self.weekdays.has(i64::from(d.weekday().to_sunday_zero_offset()));
        if self.either_day { dom || dow } else { dom && dow }
    }

    /// The first time strictly after `after` that matches, in `tz`; `None` if none within 5 years.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.checked_add(1.second()).ok()?.to_zoned(tz.clone()).datetime();
        let mut day = start.date();
        let limit = day.checked_add(5.years()).ok()?;
        while day <= limit {
            if self.months.has(i64::from(day.month())) && self.day_matches(day) {
                for h in 0..24i8 {
                    if !self.hours.has(i64::from(h)) {
                        continue;
                    }
                    for m in 0..60i8 {
                        if !self.minutes.has(i64::from(m)) {
                            continue;
                        }
                        for s in 0..60i8 {
                            if !self.seconds.has(i64::from(s)) {
                                continue;
                            }
                            let dt = DateTime::new(day.year(), day.month(), day.day(), h, m, s, 0).ok()?;
                            if dt < start {
                                continue;
                            }
                            // A time skipped by a DST change fires at the shifted instant.
                            let t = tz.to_ambiguous_zoned(dt).compatible().ok()?.timestamp();
                            if t > after {
                                return Some(t);
                            }
                        }
                    }
                }
            }
            day = day.tomorrow().ok()?;
        }
        None
    }
}

/// When a trigger fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Every {
    Cron(Cron, TimeZone),
    Interval(std::time::Duration),
}

impl Every {
    /// The first due time strictly after `after` (unix ms).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        match self {
            Every::Interval(d) => {
                let step = i64::try_from(d.as_millis()).ok()?.max(1);
                Some(after + step)
            }
            Every::Cron(c, tz) => {
                let t = Timestamp::from_millisecond(after).ok()?;
                c.next_after(t, tz).map(|t| t.as_millisecond())
            }
        }
    }
}

/// What to do with due times missed while the server was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Skip them; fire at the next due time.
    None,
    /// Fire once for the latest missed time.
    #[default]
    One,
    /// Fire each missed time (at most [`MAX_CATCH_UP`]).
    All,
}

/// At most this many missed times fire at once under `catch_up: all`.
pub const MAX_CATCH_UP: usize = 1000;

/// A due time counts as on time (not missed) within this of `now`.
pub const ON_TIME_MS: i64 = 2_000;

/// Given the stored next due time and `now`: the due times to fire now (oldest first) and the
/// next due time to store.
pub fn due(every: &Every, next: i64, now: i64, catch_up: CatchUp) -> (Vec<i64>, i64) {
    let mut missed = Vec::new();
    let mut t = next;
    while t <= now {
        missed.push(t);
        match every.next_after(t) {
            Some(n) => t = n,
            None => {
                t = i64::MAX;
                break;
            }
        }
        if missed.len() > MAX_CATCH_UP && catch_up != CatchUp::All {
            // Only the latest matters: keep the tail small.
            missed.drain(..missed.len() - 1);
        }
    }
    let fire = match catch_up {
        CatchUp::All => {
            let skip = missed.len().saturating_sub(MAX_CATCH_UP);
            missed.split_off(skip)
        }
        CatchUp::One => missed.last().copied().into_iter().collect(),
        CatchUp::None => missed.last().copied().filter(|l| now - l <= ON_TIME_MS).into_iter().collect(),
    };
    (fire, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn iso(ms: i64) -> String {
        Timestamp::from_millisecond(ms).unwrap().to_string()
    }

    fn cron(expr: &str, tz: &str) -> Every {
        Every::Cron(expr.parse().unwrap(), TimeZone::get(tz).unwrap())
    }

    #[test]
    fn cron_fields_and_next_times() {
        let every5 = cron("*/5 * * * *", "UTC");
        assert_eq!(iso(every5.next_after(ts("2026-11-23T08:01:30Z")).unwrap()), "2026-11-23T08:05:00Z");
        assert_eq!(iso(every5.next_after(ts("2026-11-23T08:05:00Z")).unwrap()), "2026-11-23T08:10:00Z");
        let seconds = cron("*/15 * * * * *", "UTC");
        assert_eq!(iso(seconds.next_after(ts("2026-11-23T08:01:31Z")).unwrap()), "2026-11-23T08:01:45Z");
        // Weekdays at 09:30 Berlin time: Monday 2026-11-23 is 08:30 UTC (CET, UTC+1).
        let workdays = cron("30 9 * * mon-fri", "Europe/Berlin");
        assert_eq!(iso(workdays.next_after(ts("2026-11-21T12:00:00Z")).unwrap()), "2026-11-23T08:30:00Z");
        // The first of the month or a Friday (both day fields restricted: either).
        let either = cron("0 0 1 * fri", "UTC");
        assert_eq!(iso(either.next_after(ts("2026-11-23T00:00:00Z")).unwrap()), "2026-11-27T00:00:00Z");
        assert_eq!(iso(either.next_after(ts("2026-11-28T00:00:00Z")).unwrap()), "2026-12-01T00:00:00Z");
        // Sunday as 7, month names, lists and ranges with steps.
        let sunday = cron("0 12 * jan,dec 7", "UTC");
        assert_eq!(iso(sunday.next_after(ts("2026-11-23T00:00:00Z")).unwrap()), "2026-12-06T12:00:00Z");
        assert!("61 * * * *".parse::<Cron>().unwrap_err().contains("minute"));
        assert!("* * *".parse::<Cron>().unwrap_err().contains("has 3 fields"));
        assert!("*/0 * * * *".parse::<Cron>().is_err());
    }

    #[test]
    fn daylight_saving_gaps_fire_once() {
        // 02:30 does not exist in Berlin on 2026-03-29: it fires at 03:30 local (01:30 UTC).
        let daily = cron("30 2 * * *", "Europe/Berlin");
        assert_eq!(iso(daily.next_after(ts("2026-03-28T12:00:00Z")).unwrap()), "2026-03-29T01:30:00Z");
        assert_eq!(iso(daily.next_after(ts("2026-03-29T01:30:00Z")).unwrap()), "2026-03-30T00:30:00Z");
    }

    #[test]
    fn missed_times_follow_the_catch_up_policy() {
        let minute = Every::Interval(std::time::Duration::from_secs(60));
        let next = ts("2026-11-23T08:00:00Z");
        // Down from 08:00 to 08:03:30: four due times were missed.
        let now = ts("2026-11-23T08:03:30Z");
        let (all, after) = due(&minute, next, now, CatchUp::All);
        assert_eq!(
            all.iter().map(|t| iso(*t)).collect::<Vec<_>>(),
            ["2026-11-23T08:00:00Z", "2026-11-23T08:01:00Z", "2026-11-23T08:02:00Z", "2026-11-23T08:03:00Z"]
        );
        assert_eq!(iso(after), "2026-11-23T08:04:00Z");
        let (one, after_one) = due(&minute, next, now, CatchUp::One);
        assert_eq!((one, after_one), (vec![ts("2026-11-23T08:03:00Z")], after));
        assert_eq!(due(&minute, next, now, CatchUp::None), (vec![], after), "08:03 is 30 s late: skipped");
        // On time: every policy fires it once; not yet due: nothing.
        let (on_time, _) = due(&minute, next, next + 300, CatchUp::None);
        assert_eq!(on_time, [next]);
        assert_eq!(due(&minute, next, next - 1, CatchUp::All), (vec![], next));
    }
}
