//! Schedule expressions of scheduled rules: `rate(value unit)` and AWS's six-field
//! `cron(minutes hours day-of-month month day-of-week year)`, validated as `PutRule` validates
//! them, and the next firing time after an instant, in UTC.
//!
//! Rates: a positive whole number and `minute`/`hour`/`day` — singular exactly when the value
//! is 1 (`rate(1 minutes)` and `rate(5 minute)` are rejected, as recorded on AWS), lower case,
//! no spaces beyond the one separator. A rate counts from the instant the caller passes (the
//! rule's creation or its last firing): [`Schedule::next_after`] is that instant plus the period.
//!
//! Cron fields: minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12 or `JAN`-`DEC`,
//! day-of-week 1-7 or `SUN`-`SAT` (1 is Sunday), year 1970-2199; each `*`, a value, a range
//! `a-b`, a step `a/n` or `*/n` (or `a-b/n`) or a comma list of those. Exactly one of
//! day-of-month and day-of-week is `?`. Day-of-month also takes `L` (last day), `LW` (last
//! weekday) and `nW` (the weekday nearest day n, within the month); day-of-week takes `L`
//! (Saturday, the last day of the week), `nL` (the last such weekday of the month) and `n#k`
//! (the k-th such weekday of the month).

/// The `ValidationException` message for every malformed expression.
pub const INVALID: &str = "Parameter ScheduleExpression is not valid.";

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;
const MAX_YEAR: i64 = 2199;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every `period_ms` milliseconds.
    Rate {
        period_ms: u64,
    },
    Cron(Box<Cron>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64, // bit i = minute i
    hours: u64,
    months: u64,      // bit m = month m (1-12)
    years: Vec<bool>, // index y - 1970
    days: DaySpec,
}

/// Which days of a month fire: decided by exactly one of the two day fields.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DaySpec {
    /// Day-of-month values (bit d = day d); `*` is all of them.
    MonthDays(u64),
    LastDayOfMonth,
    LastWeekdayOfMonth,
    NearestWeekday(u32),
    /// Day-of-week values (bit w = weekday w, 1 = Sunday).
    WeekDays(u64),
    /// The last such weekday of the month.
    LastWeekdayNamed(u32),
    /// (weekday, k): the k-th such weekday of the month.
    NthWeekday(u32, u32),
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Schedule, &'static str> {
        if let Some(inner) = strip(expression, "rate(") {
            parse_rate(inner).ok_or(INVALID)
        } else if let Some(inner) = strip(expression, "cron(") {
            parse_cron(inner)
                .map(|c| Schedule::Cron(Box::new(c)))
                .ok_or(INVALID)
        } else {
            Err(INVALID)
        }
    }

    /// The first firing strictly after `epoch_ms` (for a rate: `epoch_ms` + the period), or
    /// `None` when the schedule never fires again (a cron whose years are past).
    pub fn next_after(&self, epoch_ms: u64) -> Option<u64> {
        match self {
            Schedule::Rate { period_ms } => epoch_ms.checked_add(*period_ms),
            Schedule::Cron(cron) => cron.next_after(epoch_ms),
        }
    }
}

fn strip<'a>(expression: &'a str, opening: &str) -> Option<&'a str> {
    expression.strip_prefix(opening)?.strip_suffix(')')
}

fn parse_rate(inner: &str) -> Option<Schedule> {
    let (value, unit) = inner.split_once(' ')?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = value.parse().ok()?;
    let unit_ms = match (unit, value == 1) {
        ("minute", true) | ("minutes", false) => MINUTE_MS,
        ("hour", true) | ("hours", false) => HOUR_MS,
        ("day", true) | ("days", false) => DAY_MS,
        _ => return None,
    };
    if value == 0 {
        return None;
    }
    Some(Schedule::Rate {
        period_ms: value.checked_mul(unit_ms)?,
    })
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn parse_cron(inner: &str) -> Option<Cron> {
    let fields: Vec<&str> = inner.split(' ').collect();
    let [minutes, hours, month_day, month, week_day, year] = fields.as_slice() else {
        return None;
    };
    let minutes = parse_set(minutes, 0, 59, &[])?;
    let hours = parse_set(hours, 0, 23, &[])?;
    let months = parse_set(month, 1, 12, &MONTHS)?;
    let years_bits = parse_years(year)?;
    let days = match (*month_day, *week_day) {
        ("?", "?") => return None,
        ("?", week_day) => parse_week_day(week_day)?,
        (month_day, "?") => parse_month_day(month_day)?,
        _ => return None,
    };
    Some(Cron {
        minutes,
        hours,
        months,
        years: years_bits,
        days,
    })
}

fn parse_month_day(field: &str) -> Option<DaySpec> {
    match field {
        "L" => return Some(DaySpec::LastDayOfMonth),
        "LW" => return Some(DaySpec::LastWeekdayOfMonth),
        _ => {}
    }
    if let Some(day) = field.strip_suffix('W') {
        let day = number(day, 1, 31)?;
        return Some(DaySpec::NearestWeekday(day));
    }
    parse_set(field, 1, 31, &[]).map(DaySpec::MonthDays)
}

fn parse_week_day(field: &str) -> Option<DaySpec> {
    if field == "L" {
        return Some(DaySpec::WeekDays(1 << 7));
    }
    if let Some(day) = field.strip_suffix('L') {
        return Some(DaySpec::LastWeekdayNamed(value(day, 1, 7, &WEEKDAYS)?));
    }
    if let Some((day, nth)) = field.split_once('#') {
        let day = value(day, 1, 7, &WEEKDAYS)?;
        let nth = number(nth, 1, 5)?;
        return Some(DaySpec::NthWeekday(day, nth));
    }
    parse_set(field, 1, 7, &WEEKDAYS).map(DaySpec::WeekDays)
}

fn parse_years(field: &str) -> Option<Vec<bool>> {
    // Years do not fit a u64 mask; expand the same syntax into a vector.
    let span = (MAX_YEAR - 1970 + 1) as usize;
    let mut years = vec![false; span];
    for part in field.split(',') {
        let (start, end, step) = parse_part(part, 1970, MAX_YEAR as u32, &[])?;
        let mut y = start;
        while y <= end {
            years[(y - 1970) as usize] = true;
            y += step;
        }
    }
    Some(years)
}

/// A comma list of `*`, `v`, `a-b`, `a/n`, `*/n`, `a-b/n` as a bit mask.
fn parse_set(field: &str, min: u32, max: u32, names: &[&str]) -> Option<u64> {
    let mut bits = 0u64;
    for part in field.split(',') {
        let (start, end, step) = parse_part(part, min, max, names)?;
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Some(bits)
}

/// One list element as (first, last, step).
fn parse_part(part: &str, min: u32, max: u32, names: &[&str]) -> Option<(u32, u32, u32)> {
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => (range, number(step, 1, max.max(1))?),
        None => (part, 1),
    };
    let (start, end) = if range == "*" {
        (min, max)
    } else if let Some((a, b)) = range.split_once('-') {
        let (a, b) = (value(a, min, max, names)?, value(b, min, max, names)?);
        if a > b {
            return None;
        }
        (a, b)
    } else {
        let a = value(range, min, max, names)?;
        // `a/n` runs from a to the end of the range; a lone value is itself.
        (a, if part.contains('/') { max } else { a })
    };
    Some((start, end, step))
}

/// A number in `min..=max`, or a name (`names[0]` is `min`).
fn value(text: &str, min: u32, max: u32, names: &[&str]) -> Option<u32> {
    if let Some(i) = names.iter().position(|n| *n == text) {
        return Some(min + i as u32);
    }
    number(text, min, max)
}

fn number(text: &str, min: u32, max: u32) -> Option<u32> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = text.parse().ok()?;
    (min..=max).contains(&n).then_some(n)
}

impl Cron {
    fn next_after(&self, epoch_ms: u64) -> Option<u64> {
        // Cron fires on whole minutes, strictly after the instant.
        let mut t = (epoch_ms / MINUTE_MS + 1) * MINUTE_MS;
        loop {
            let days = (t / DAY_MS) as i64;
            let (year, month, day) = civil_from_days(days);
            if year > MAX_YEAR {
                return None;
            }
            let minute_of_day = (t % DAY_MS) / MINUTE_MS;
            let (hour, minute) = ((minute_of_day / 60) as u32, (minute_of_day % 60) as u32);
            if year < 1970 || !self.years[(year - 1970) as usize] {
                t = days_from_civil(year + 1, 1, 1) as u64 * DAY_MS;
            } else if self.months & (1 << month) == 0 {
                let (y, m) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                t = days_from_civil(y, m, 1) as u64 * DAY_MS;
            } else if !self.day_fires(year, month, day) {
                t = (days as u64 + 1) * DAY_MS;
            } else if self.hours & (1 << hour) == 0 {
                t = days as u64 * DAY_MS + (u64::from(hour) + 1) * HOUR_MS;
            } else if self.minutes & (1 << minute) == 0 {
                t += MINUTE_MS;
            } else {
                return Some(t);
            }
        }
    }

    fn day_fires(&self, year: i64, month: u32, day: u32) -> bool {
        let last = days_in_month(year, month);
        let weekday = weekday(year, month, day);
        match self.days {
            DaySpec::MonthDays(bits) => bits & (1 << day) != 0,
            DaySpec::LastDayOfMonth => day == last,
            DaySpec::LastWeekdayOfMonth => day == nearest_weekday(year, month, last),
            DaySpec::NearestWeekday(target) => {
                day == nearest_weekday(year, month, target.min(last))
            }
            DaySpec::WeekDays(bits) => bits & (1 << weekday) != 0,
            DaySpec::LastWeekdayNamed(named) => named == weekday && day + 7 > last,
            DaySpec::NthWeekday(named, nth) => named == weekday && (day - 1) / 7 + 1 == nth,
        }
    }
}

/// The weekday (Monday-Friday) nearest `day`, not leaving the month.
fn nearest_weekday(year: i64, month: u32, day: u32) -> u32 {
    let last = days_in_month(year, month);
    match weekday(year, month, day) {
        // Saturday: Friday before, or Monday after when day is the 1st.
        7 => {
            if day > 1 {
                day - 1
            } else {
                day + 2
            }
        }
        // Sunday: Monday after, or Friday before when day is the last.
        1 => {
            if day < last {
                day + 1
            } else {
                day - 2
            }
        }
        _ => day,
    }
}

/// 1 = Sunday ... 7 = Saturday.
fn weekday(year: i64, month: u32, day: u32) -> u32 {
    // 1970-01-01 was a Thursday (5).
    let days = days_from_civil(year, month, day);
    ((days + 4).rem_euclid(7) + 1) as u32
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01 (the inverse).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
