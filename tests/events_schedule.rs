//! Schedule expressions of EventBridge rules through the public API: what `PutRule` accepts
//! (the valid and invalid expressions recorded on AWS) and when each schedule fires next.

use lyrebird::events::schedule::{civil_from_days, days_from_civil, Schedule, INVALID};

/// Epoch milliseconds of a UTC time.
fn at(year: i64, month: u32, day: u32, hour: u64, minute: u64) -> u64 {
    days_from_civil(year, month, day) as u64 * 86_400_000 + hour * 3_600_000 + minute * 60_000
}

fn next(expression: &str, after: u64) -> Option<u64> {
    Schedule::parse(expression)
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
        .next_after(after)
}

#[test]
fn civil_dates_round_trip() {
    for days in [-1, 0, 59, 11_016, 19_723, 47_481, 84_000] {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
    assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
}

#[test]
fn rates_accept_aws_units_with_aws_plurals_only() {
    for valid in [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
    ] {
        assert!(Schedule::parse(valid).is_ok(), "{valid}");
    }
    for invalid in [
        "rate(10 seconds)",
        "rate(10 years)",
        "rate(1 minutes)",
        "rate(1 hours)",
        "rate(1 days)",
        "rate(10 minute)",
        "rate(10 hour)",
        "rate(10 day)",
        "rate()",
        "rate(10)",
        "rate(10 minutess)",
        "rate(foo minutes)",
        "rate(0 minutes)",
        "rate(-10 minutes)",
        "rate(10 MINUTES)",
        "rate( 10 minutes )",
        " rate(10 minutes)",
        "rate(10  minutes)",
        "rate(10 minutes",
        "every 10 minutes",
        "",
    ] {
        assert_eq!(Schedule::parse(invalid), Err(INVALID), "{invalid:?}");
    }
    assert_eq!(INVALID, "Parameter ScheduleExpression is not valid.");
}

#[test]
fn a_rate_fires_one_period_after_the_given_instant() {
    let t = at(2024, 3, 1, 10, 7) + 1234;
    assert_eq!(next("rate(5 minutes)", t), Some(t + 300_000));
    assert_eq!(next("rate(1 hour)", t), Some(t + 3_600_000));
    assert_eq!(next("rate(2 days)", t), Some(t + 2 * 86_400_000));
}

#[test]
fn crons_accept_aws_examples() {
    for valid in [
        "cron(0 2 ? * SAT *)",
        "cron(0 12 * * ? *)",
        "cron(5,35 14 * * ? *)",
        "cron(15 10 ? * 6L 2002-2005)",
        "cron(0 2 ? * SAT#3 *)",
        "cron(* * ? * SAT#3 *)",
        "cron(0/5 5 ? JAN 1-5 2022)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0/10 * ? * MON-FRI *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0/30 20-23 ? * MON-FRI *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(*/10 * * JAN-MAR ? 2030/2)",
    ] {
        assert!(Schedule::parse(valid).is_ok(), "{valid}");
    }
    for invalid in [
        "cron(0 1 * * * *)",
        "cron(7 20 * * NOT *)",
        "cron(INVALID)",
        "cron(0 dummy ? * MON-FRI *)",
        "cron(71 8 1 * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 0 32 * ? *)",
        "cron(0 0 ? 13 * *)",
        "cron(0 0 ? * 8 *)",
        "cron(0 0 * * ? 1969)",
        "cron(0 0 ? * ? *)",
        "cron(0 0 * * ?)",
        "cron(0 0 * * ? * *)",
        "cron(0 0 ? * SAT#6 *)",
        "cron(5-1 * * * ? *)",
    ] {
        assert_eq!(Schedule::parse(invalid), Err(INVALID), "{invalid:?}");
    }
}

#[test]
fn crons_fire_on_the_next_matching_minute_in_utc() {
    // Every day at noon.
    assert_eq!(
        next("cron(0 12 * * ? *)", at(2024, 1, 1, 13, 0)),
        Some(at(2024, 1, 2, 12, 0))
    );
    assert_eq!(
        next("cron(0 12 * * ? *)", at(2024, 1, 1, 11, 59)),
        Some(at(2024, 1, 1, 12, 0))
    );
    // Strictly after: a firing instant itself is not returned again.
    assert_eq!(
        next("cron(0 12 * * ? *)", at(2024, 1, 1, 12, 0)),
        Some(at(2024, 1, 2, 12, 0))
    );
    // Every 15 minutes.
    assert_eq!(
        next("cron(0/15 * * * ? *)", at(2024, 1, 1, 10, 7) + 30_000),
        Some(at(2024, 1, 1, 10, 15))
    );
    assert_eq!(
        next("cron(0/15 * * * ? *)", at(2024, 1, 1, 23, 50)),
        Some(at(2024, 1, 2, 0, 0))
    );
    // 2:05 pm and 2:35 pm.
    assert_eq!(
        next("cron(5,35 14 * * ? *)", at(2024, 1, 1, 14, 6)),
        Some(at(2024, 1, 1, 14, 35))
    );
    // Weekdays at 6 pm: Friday 7 pm -> Monday.
    assert_eq!(
        next("cron(0 18 ? * MON-FRI *)", at(2024, 6, 7, 19, 0)),
        Some(at(2024, 6, 10, 18, 0))
    );
    // Saturdays at 2 am (2024-06-01 is a Saturday).
    assert_eq!(
        next("cron(0 2 ? * SAT *)", at(2024, 6, 1, 3, 0)),
        Some(at(2024, 6, 8, 2, 0))
    );
    // The first of each month at 8 am, over a year end.
    assert_eq!(
        next("cron(0 8 1 * ? *)", at(2024, 12, 1, 9, 0)),
        Some(at(2025, 1, 1, 8, 0))
    );
    // The third Saturday of the month.
    assert_eq!(
        next("cron(0 2 ? * SAT#3 *)", at(2024, 6, 1, 0, 0)),
        Some(at(2024, 6, 15, 2, 0))
    );
    // The last Friday of the month, during 2002-2005 only.
    assert_eq!(
        next("cron(15 10 ? * 6L 2002-2005)", at(2002, 1, 1, 0, 0)),
        Some(at(2002, 1, 25, 10, 15))
    );
    assert_eq!(
        next("cron(15 10 ? * 6L 2002-2005)", at(2006, 1, 1, 0, 0)),
        None
    );
    // The last day of the month (a leap February).
    assert_eq!(
        next("cron(0 0 L * ? *)", at(2024, 2, 10, 0, 0)),
        Some(at(2024, 2, 29, 0, 0))
    );
    // The last weekday: 2024-08-31 is a Saturday, so Friday the 30th.
    assert_eq!(
        next("cron(0 0 LW * ? *)", at(2024, 8, 1, 0, 0)),
        Some(at(2024, 8, 30, 0, 0))
    );
    // The weekday nearest the 15th (a Saturday in June 2024) and the 1st (also a Saturday).
    assert_eq!(
        next("cron(0 0 15W * ? *)", at(2024, 6, 2, 0, 0)),
        Some(at(2024, 6, 14, 0, 0))
    );
    assert_eq!(
        next("cron(0 0 1W * ? *)", at(2024, 5, 31, 0, 0)),
        Some(at(2024, 6, 3, 0, 0))
    );
    // Every 5 minutes at 5 am on the first five days of January 2022.
    assert_eq!(
        next("cron(0/5 5 ? JAN 1-5 2022)", at(2021, 6, 1, 0, 0)),
        Some(at(2022, 1, 2, 5, 0))
    );
}
