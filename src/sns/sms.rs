//! SMS settings and phone numbers: Get/SetSMSAttributes, the account's opt-out list
//! (CheckIfPhoneNumberIsOptedOut, ListPhoneNumbersOptedOut, OptInPhoneNumber), the SMS sandbox
//! (GetSMSSandboxAccountStatus, Create/Verify/Delete/ListSMSSandboxPhoneNumbers) and
//! ListOriginationNumbers.
//!
//! AWS has no API to opt a number out: the recipient does it by replying STOP. lyrebird keeps each
//! account's opt-out list, empty at first, and `POST /_lyrebird/sns/opt-outs` stands in for the
//! recipient. Opted-out numbers are sent nothing, as on AWS.
//!
//! Every account starts in the SMS sandbox, as a new AWS account does, and no API takes it out.
//! The sandbox's own operations behave as on AWS (the one-time password is captured as an SMS),
//! but lyrebird does not withhold messages from unverified numbers, so applications can be tested
//! without registering every recipient first.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::message::{Kind, Outgoing};
use super::model::*;
use super::{decode_token, encode_token, SnsService, Violations, PAGE_SIZE};

const SMS_ATTRIBUTES: &[&str] = &[
    "MonthlySpendLimit",
    "DeliveryStatusIAMRole",
    "DeliveryStatusSuccessSamplingRate",
    "DefaultSenderID",
    "DefaultSMSType",
    "UsageReportS3Bucket",
];
/// A new account's spend limit, in USD, which GetSMSAttributes shows until it is changed.
const DEFAULT_MONTHLY_SPEND_LIMIT: &str = "1";
const LANGUAGE_CODES: &[&str] = &[
    "en-US", "en-GB", "es-419", "es-ES", "de-DE", "fr-CA", "fr-FR", "it-IT", "ja-JP", "pt-BR",
    "kr-KR", "zh-CN", "zh-TW",
];
const SANDBOX_NUMBER_PATTERN: &str = r"^(\+[0-9]{8,}|[0-9]{0,9})$";
/// The sandbox holds at most this many destination numbers.
const SANDBOX_LIMIT: usize = 10;
/// A sandbox number can be deleted only this long after its last verification attempt.
const SANDBOX_DELETE_DELAY_MS: u64 = 24 * 60 * 60 * 1000;
/// A number can be opted back in once in this period.
const OPT_IN_INTERVAL_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// SMS state of every account. Plain data, so it can be persisted as it is.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SmsState {
    accounts: BTreeMap<String, AccountSms>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AccountSms {
    /// The opt-out list is account-wide.
    opted_out: BTreeSet<String>,
    /// When each number was last opted back in.
    opted_in_at: BTreeMap<String, u64>,
    /// SMS attributes and the sandbox are per region.
    regions: BTreeMap<String, RegionSms>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RegionSms {
    attributes: StringMap,
    sandbox: BTreeMap<String, SandboxNumber>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SandboxNumber {
    verified: bool,
    one_time_password: String,
    /// Time of the last VerifySMSSandboxPhoneNumber call, which delays deletion.
    last_attempt_ms: Option<u64>,
}

impl SmsState {
    fn region(&mut self, ctx: &RequestContext) -> &mut RegionSms {
        self.accounts
            .entry(ctx.account.clone())
            .or_default()
            .regions
            .entry(ctx.region.clone())
            .or_default()
    }
}

/// E.164: an optional `+`, then up to 15 digits not starting with 0.
fn is_e164(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The opt-out operations' phone number: required, E.164.
fn opt_out_number(input: PhoneNumberInput) -> AwsResult<String> {
    Violations::default()
        .required("phoneNumber", input.phone_number.as_ref())
        .check()?;
    let number = input.phone_number.unwrap_or_default();
    if !is_e164(&number) {
        return Err(AwsError::sns_invalid(
            "PhoneNumber Reason: input incorrectly formatted",
        ));
    }
    Ok(number)
}

/// The sandbox operations' phone number, checked against the model's constraints.
fn sandbox_number(number: Option<String>, violations: &mut Violations) -> String {
    violations.required("phoneNumber", number.as_ref());
    let number = number.unwrap_or_default();
    if number.chars().count() > 20 {
        violations.invalid(
            "phoneNumber",
            &number,
            "Member must have length less than or equal to 20",
        );
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let matches = match number.strip_prefix('+') {
        Some(rest) => rest.len() >= 8 && digits(rest),
        None => number.len() <= 9 && digits(&number),
    };
    if !matches {
        violations.invalid(
            "phoneNumber",
            &number,
            &format!("Member must satisfy regular expression pattern: {SANDBOX_NUMBER_PATTERN}"),
        );
    }
    number
}

fn check_page_size(max_results: Option<i64>, limit: i64) -> AwsResult<usize> {
    let mut violations = Violations::default();
    match max_results {
        Some(n) if n < 1 => violations.invalid(
            "maxResults",
            n,
            "Member must have value greater than or equal to 1",
        ),
        Some(n) if n > limit => violations.invalid(
            "maxResults",
            n,
            &format!("Member must have value less than or equal to {limit}"),
        ),
        _ => {}
    }
    violations.check()?;
    Ok(max_results.map_or(limit as usize, |n| n as usize))
}

/// A sender ID: 1–11 letters and digits, at least one a letter.
fn is_sender_id(id: &str) -> bool {
    (1..=11).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && id.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Checks one SMS attribute; AWS words these errors without the usual prefix.
fn check_sms_attribute(name: &str, value: &str) -> AwsResult<()> {
    let invalid = |m: String| Err(AwsError::new(&codes::SNS_INVALID_PARAMETER, m));
    if !SMS_ATTRIBUTES.contains(&name) {
        return invalid(format!("{name} is not a valid attribute"));
    }
    let ok = match name {
        "DefaultSMSType" => matches!(value, "Promotional" | "Transactional"),
        "DefaultSenderID" => is_sender_id(value),
        "DeliveryStatusSuccessSamplingRate" => value.parse::<u8>().is_ok_and(|r| r <= 100),
        "MonthlySpendLimit" => value.parse::<u64>().is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        invalid(format!("{name} is invalid"))
    }
}

impl SnsService {
    /// Whether `phone` is on `account`'s opt-out list (deliveries skip it).
    pub(super) fn is_opted_out(&self, account: &str, phone: &str) -> bool {
        self.sms
            .lock()
            .accounts
            .get(account)
            .is_some_and(|a| a.opted_out.contains(phone))
    }

    /// Puts a number on an account's opt-out list, as its holder replying STOP would
    /// (`POST /_lyrebird/sns/opt-outs`).
    pub fn opt_out(&self, account: &str, phone: &str) -> Result<(), String> {
        if !is_e164(phone) {
            return Err(format!("{phone} is not an E.164 phone number"));
        }
        self.sms
            .lock()
            .accounts
            .entry(account.to_string())
            .or_default()
            .opted_out
            .insert(phone.to_string());
        let ctx = RequestContext::internal(account, "", "");
        self.persist_platform_state(&ctx);
        Ok(())
    }

    pub fn get_sms_attributes(
        &self,
        ctx: &RequestContext,
        input: GetSmsAttributesInput,
    ) -> AwsResult<AttributesOutput> {
        let mut all = StringMap::from([(
            "MonthlySpendLimit".to_string(),
            DEFAULT_MONTHLY_SPEND_LIMIT.to_string(),
        )]);
        all.extend(self.sms.lock().region(ctx).attributes.clone());
        if !input.attributes.is_empty() {
            all.retain(|name, _| input.attributes.contains(name));
        }
        Ok(AttributesOutput { attributes: all })
    }

    pub fn set_sms_attributes(
        &self,
        ctx: &RequestContext,
        input: SetSmsAttributesInput,
    ) -> AwsResult<EmptyResult> {
        Violations::default()
            .required(
                "attributes",
                (!input.attributes.is_empty()).then_some(&input.attributes),
            )
            .check()?;
        for (name, value) in &input.attributes {
            check_sms_attribute(name, value)?;
        }
        self.sms
            .lock()
            .region(ctx)
            .attributes
            .extend(input.attributes);
        Ok(EmptyResult {})
    }

    pub fn check_if_phone_number_is_opted_out(
        &self,
        ctx: &RequestContext,
        input: PhoneNumberInput,
    ) -> AwsResult<OptedOutOutput> {
        let number = opt_out_number(input)?;
        Ok(OptedOutOutput {
            is_opted_out: self.is_opted_out(&ctx.account, &number),
        })
    }

    pub fn list_phone_numbers_opted_out(
        &self,
        ctx: &RequestContext,
        input: NextTokenInput,
    ) -> AwsResult<PhoneNumbersOptedOutOutput> {
        let after = input
            .next_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(decode_token)
            .transpose()?;
        let sms = self.sms.lock();
        let Some(account) = sms.accounts.get(&ctx.account) else {
            return Ok(PhoneNumbersOptedOutOutput::default());
        };
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut numbers = account
            .opted_out
            .range::<String, _>((start, Bound::Unbounded));
        let page: Vec<String> = numbers.by_ref().take(PAGE_SIZE).cloned().collect();
        let next_token = numbers
            .next()
            .and(page.last())
            .map(|last| encode_token(last));
        Ok(PhoneNumbersOptedOutOutput {
            phone_numbers: page,
            next_token,
        })
    }

    /// Takes a number off the opt-out list; a number not on it is left alone. AWS allows this
    /// once every 30 days per number.
    pub fn opt_in_phone_number(
        &self,
        ctx: &RequestContext,
        input: PhoneNumberInput,
    ) -> AwsResult<EmptyResult> {
        let number = opt_out_number(input)?;
        let now = self.now_ms();
        let mut sms = self.sms.lock();
        let Some(account) = sms.accounts.get_mut(&ctx.account) else {
            return Ok(EmptyResult {});
        };
        if !account.opted_out.contains(&number) {
            return Ok(EmptyResult {});
        }
        if account
            .opted_in_at
            .get(&number)
            .is_some_and(|at| now < at + OPT_IN_INTERVAL_MS)
        {
            return Err(AwsError::sns_invalid(
                "PhoneNumber Reason: A phone number can be opted in only once every 30 days",
            ));
        }
        account.opted_out.remove(&number);
        account.opted_in_at.insert(number, now);
        Ok(EmptyResult {})
    }

    pub fn get_sms_sandbox_account_status(&self) -> SandboxAccountStatusOutput {
        SandboxAccountStatusOutput {
            is_in_sandbox: true,
        }
    }

    /// Adds a destination number (or sends a pending one a fresh code) and "texts" it a one-time
    /// password: captured as an SMS.
    pub fn create_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: CreateSandboxPhoneNumberInput,
    ) -> AwsResult<EmptyResult> {
        let mut violations = Violations::default();
        let number = sandbox_number(input.phone_number, &mut violations);
        if let Some(code) = input
            .language_code
            .as_deref()
            .filter(|c| !LANGUAGE_CODES.contains(c))
        {
            violations.invalid(
                "languageCode",
                code,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    LANGUAGE_CODES.join(", ")
                ),
            );
        }
        violations.check()?;
        if self.is_opted_out(&ctx.account, &number) {
            return Err(AwsError::new(
                &codes::SNS_OPTED_OUT,
                format!("The phone number {number} has opted out of receiving SMS messages"),
            ));
        }
        let one_time_password = format!("{:06}", rand::random_range(0..1_000_000u32));
        {
            let mut sms = self.sms.lock();
            let sandbox = &mut sms.region(ctx).sandbox;
            let full = sandbox.len() >= SANDBOX_LIMIT;
            match sandbox.get_mut(&number) {
                Some(entry) if entry.verified => return Ok(EmptyResult {}),
                Some(entry) => entry.one_time_password = one_time_password.clone(),
                None if full => {
                    return Err(AwsError::new(
                        &codes::SNS_USER_ERROR,
                        format!(
                            "The SMS sandbox already holds the maximum of {SANDBOX_LIMIT} destination phone numbers"
                        ),
                    ))
                }
                None => {
                    sandbox.insert(
                        number.clone(),
                        SandboxNumber {
                            verified: false,
                            one_time_password: one_time_password.clone(),
                            last_attempt_ms: None,
                        },
                    );
                }
            }
        }
        self.deliveries.capture(Outgoing {
            kind: Kind::Notification,
            protocol: "sms".into(),
            endpoint: number,
            subscription_arn: None,
            topic_arn: None,
            message_id: uuid::Uuid::new_v4().to_string(),
            subject: None,
            message: format!("Your Amazon SNS verification code is: {one_time_password}"),
            attributes: MessageAttributes::new(),
            message_structure: None,
            account: ctx.account.clone(),
            region: ctx.region.clone(),
        });
        Ok(EmptyResult {})
    }

    pub fn verify_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: VerifySandboxPhoneNumberInput,
    ) -> AwsResult<EmptyResult> {
        let mut violations = Violations::default();
        let number = sandbox_number(input.phone_number, &mut violations);
        violations.required("oneTimePassword", input.one_time_password.as_ref());
        let password = input.one_time_password.unwrap_or_default();
        if password.len() < 5 {
            violations.invalid(
                "oneTimePassword",
                &password,
                "Member must have length greater than or equal to 5",
            );
        }
        if password.len() > 8 {
            violations.invalid(
                "oneTimePassword",
                &password,
                "Member must have length less than or equal to 8",
            );
        }
        if !password.bytes().all(|b| b.is_ascii_digit()) {
            violations.invalid(
                "oneTimePassword",
                &password,
                "Member must satisfy regular expression pattern: ^[0-9]+$",
            );
        }
        violations.check()?;
        let now = self.now_ms();
        let mut sms = self.sms.lock();
        let entry = sms
            .region(ctx)
            .sandbox
            .get_mut(&number)
            .ok_or_else(|| sandbox_number_not_found(&number))?;
        entry.last_attempt_ms = Some(now);
        if entry.verified {
            return Ok(EmptyResult {});
        }
        if entry.one_time_password != password {
            return Err(AwsError::new(
                &codes::SNS_VERIFICATION,
                "Invalid one-time password",
            ));
        }
        entry.verified = true;
        Ok(EmptyResult {})
    }

    pub fn delete_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: PhoneNumberInput,
    ) -> AwsResult<EmptyResult> {
        let mut violations = Violations::default();
        let number = sandbox_number(input.phone_number, &mut violations);
        violations.check()?;
        let now = self.now_ms();
        let mut sms = self.sms.lock();
        let sandbox = &mut sms.region(ctx).sandbox;
        let entry = sandbox
            .get(&number)
            .ok_or_else(|| sandbox_number_not_found(&number))?;
        if entry
            .last_attempt_ms
            .is_some_and(|at| now < at + SANDBOX_DELETE_DELAY_MS)
        {
            return Err(AwsError::new(
                &codes::SNS_USER_ERROR,
                "A destination phone number can be deleted only 24 hours after its last verification attempt",
            ));
        }
        sandbox.remove(&number);
        Ok(EmptyResult {})
    }

    pub fn list_sms_sandbox_phone_numbers(
        &self,
        ctx: &RequestContext,
        input: PageInput,
    ) -> AwsResult<ListSandboxPhoneNumbersOutput> {
        let page_size = check_page_size(input.max_results, 100)?;
        let after = input
            .next_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(decode_token)
            .transpose()?;
        let mut sms = self.sms.lock();
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut numbers = sms
            .region(ctx)
            .sandbox
            .range::<String, _>((start, Bound::Unbounded))
            .map(|(number, entry)| SandboxPhoneNumber {
                phone_number: number.clone(),
                status: if entry.verified {
                    "Verified"
                } else {
                    "Pending"
                }
                .to_string(),
            });
        let page: Vec<SandboxPhoneNumber> = numbers.by_ref().take(page_size).collect();
        let next_token = numbers
            .next()
            .and(page.last())
            .map(|last| encode_token(&last.phone_number));
        Ok(ListSandboxPhoneNumbersOutput {
            phone_numbers: page,
            next_token,
        })
    }

    /// Always empty: see `ListOriginationNumbersOutput`.
    pub fn list_origination_numbers(
        &self,
        input: PageInput,
    ) -> AwsResult<ListOriginationNumbersOutput> {
        check_page_size(input.max_results, 30)?;
        Ok(ListOriginationNumbersOutput {})
    }
}

fn sandbox_number_not_found(number: &str) -> AwsError {
    AwsError::new(
        &codes::SNS_RESOURCE_NOT_FOUND,
        format!("The phone number {number} is not in the SMS sandbox"),
    )
}
