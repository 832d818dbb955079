//! CreateFunction, GetFunction(Configuration), ListFunctions, DeleteFunction,
//! UpdateFunctionCode, UpdateFunctionConfiguration; and `put_function`, which templates use to
//! converge a function.

use std::sync::Arc;

use base64::Engine;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::Empty;

use super::function::{
    self, CodeLocation, FunctionConfig, FunctionId, Transition, DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_SECS, MAX_TIMEOUT_SECS, MEMORY_RANGE,
};
use super::launch::{self, RuntimeKind, KNOWN_RUNTIMES};
use super::model::{
    Concurrency, CreateFunctionInput, FunctionConfiguration, FunctionRef, GetFunctionOutput,
    ListFunctionsInput, ListFunctionsOutput, UpdateFunctionCodeInput,
    UpdateFunctionConfigurationInput,
};
use super::pool::Pool;
use super::sandbox::ProcessSettings;
use super::{code, LambdaService};

/// ListFunctions' page size when MaxItems is not given (AWS's is 50).
const DEFAULT_PAGE: usize = 50;

/// What `put_function` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Updated,
    Unchanged,
}

impl LambdaService {
    pub(super) fn create_function(
        &self,
        ctx: &RequestContext,
        input: CreateFunctionInput,
    ) -> AwsResult<FunctionConfiguration> {
        let name = input
            .function_name
            .as_deref()
            .ok_or_else(|| not_null("functionName"))?;
        let id = function::resolve_new(&ctx.account, &ctx.region, name)?;
        if id.qualifier.is_some() {
            return Err(AwsError::invalid_parameter_value(
                "Function name cannot be qualified in CreateFunction.",
            ));
        }
        let role = input.role.ok_or_else(|| not_null("role"))?;
        check_role(&role)?;
        let runtime = input.runtime.ok_or_else(|| {
            AwsError::invalid_parameter_value("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
        })?;
        check_runtime(&runtime)?;
        let handler = match (input.handler, RuntimeKind::of(&runtime)) {
            (Some(h), _) => h,
            (None, RuntimeKind::Provided) => String::new(),
            (None, _) => {
                return Err(AwsError::invalid_parameter_value(
                    "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
                ))
            }
        };
        let architectures = check_architectures(input.architectures.unwrap_or_default())?;
        let timeout = check_range(
            "timeout",
            input.timeout,
            DEFAULT_TIMEOUT_SECS,
            1..=MAX_TIMEOUT_SECS,
        )?;
        let memory = check_range(
            "memorySize",
            input.memory_size,
            DEFAULT_MEMORY_MB,
            MEMORY_RANGE,
        )?;
        let dead_letter_target = match input.dead_letter_config {
            // An empty TargetArn passes the model's pattern, but CreateFunction refuses it.
            Some(c) => Some(
                check_dead_letter(c.target_arn.unwrap_or_default())?.ok_or_else(no_arn_prefix)?,
            ),
            None => None,
        };
        if self.pool_of(&id).is_ok() {
            return Err(AwsError::new(
                &codes::RESOURCE_CONFLICT,
                format!("Function already exist: {}", id.name),
            ));
        }
        let code = self.code_from(
            input.code.zip_file.as_deref(),
            input.code.s3_bucket.is_some(),
            input.code.image_uri.is_some(),
            &id,
        )?;
        let mut config = FunctionConfig {
            account: id.account.clone(),
            region: id.region.clone(),
            name: id.name.clone(),
            runtime,
            handler,
            role,
            description: input.description.unwrap_or_default(),
            timeout_secs: timeout,
            memory_mb: memory,
            environment: input.environment.map(|e| e.variables).unwrap_or_default(),
            reserved_concurrency: None,
            code,
            architectures,
            tags: input.tags.unwrap_or_default(),
            dead_letter_target,
            last_modified_ms: self.clock.now_ms(),
            revision_id: String::new(),
            stack: None,
        };
        let answer = config.settle(Transition::Creating);
        self.install(ctx, config);
        Ok(answer)
    }

    pub(super) fn get_function(
        &self,
        ctx: &RequestContext,
        input: &FunctionRef,
    ) -> AwsResult<GetFunctionOutput> {
        let id = resolve_in(ctx, input)?;
        let config = self.pool_of(&id)?.config();
        Ok(GetFunctionOutput {
            configuration: config.configuration(),
            code: serde_json::json!({
                "RepositoryType": "S3",
                "Location": format!("file://{}", config.code.dir.display()),
            }),
            tags: (!config.tags.is_empty()).then(|| config.tags.clone()),
            concurrency: config
                .reserved_concurrency
                .map(|r| serde_json::json!({ "ReservedConcurrentExecutions": r })),
        })
    }

    pub(super) fn list_functions(
        &self,
        ctx: &RequestContext,
        input: &ListFunctionsInput,
    ) -> AwsResult<ListFunctionsOutput> {
        let page = match input.max_items.as_deref() {
            None => DEFAULT_PAGE,
            Some(n) => match n.parse::<usize>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => {
                    return Err(AwsError::new(
                        &codes::VALIDATION,
                        format!("1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"),
                    ))
                }
            },
        };
        let prefix = format!("{}/{}/", ctx.account, ctx.region);
        let functions = self.functions.read();
        let mut all = functions
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| {
                input
                    .marker
                    .as_deref()
                    .is_none_or(|m| k[prefix.len()..] > *m)
            });
        let chosen: Vec<_> = all.by_ref().take(page).map(|(_, p)| p.config()).collect();
        let more = all.next().is_some();
        Ok(ListFunctionsOutput {
            next_marker: more
                .then(|| chosen.last().map(|c| c.name.clone()))
                .flatten(),
            functions: chosen.iter().map(|c| c.listed()).collect(),
        })
    }

    pub(super) fn delete_function(
        &self,
        ctx: &RequestContext,
        input: &FunctionRef,
    ) -> AwsResult<Empty> {
        let id = resolve_in(ctx, input)?;
        if id.qualifier.as_deref() == Some("$LATEST") {
            return Err(AwsError::invalid_parameter_value(
                "$LATEST version cannot be deleted without deleting the function.",
            ));
        }
        let key = function::key(&id.account, &id.region, &id.name);
        let pool = self
            .functions
            .write()
            .remove(&key)
            .ok_or_else(|| id.not_found())?;
        pool.stop_idle();
        code::remove(&pool.config().code);
        self.forget(ctx, &key);
        // Its asynchronous invocation settings go with it, as on AWS.
        if self.event_invoke.write().remove(&key).is_some() {
            self.forget_event_invoke_config(Some(ctx), &key);
        }
        Ok(Empty {})
    }

    pub(super) fn update_function_code(
        &self,
        ctx: &RequestContext,
        input: UpdateFunctionCodeInput,
    ) -> AwsResult<FunctionConfiguration> {
        let id = resolve_in(ctx, &input.function)?;
        let pool = self.pool_of(&id)?;
        let old = pool.config();
        check_revision(input.body.revision_id.as_deref(), &old)?;
        if input.body.image_uri.is_some() {
            return Err(AwsError::invalid_parameter_value(
                "Please don't provide ImageUri when updating a function with packageType Zip.",
            ));
        }
        let code = self.code_from(
            input.body.zip_file.as_deref(),
            input.body.s3_bucket.is_some(),
            false,
            &id,
        )?;
        let mut config = (*old).clone();
        if old.code.dir != code.dir {
            code::remove(&old.code);
        }
        config.code = code;
        Ok(self.apply_update(ctx, &pool, config))
    }

    /// Keeps an updated function and hands it to its pool (whose warm processes stop); the
    /// answer shows the update in progress, as AWS's does.
    fn apply_update(
        &self,
        ctx: &RequestContext,
        pool: &Pool,
        mut config: FunctionConfig,
    ) -> FunctionConfiguration {
        config.last_modified_ms = self.clock.now_ms();
        let answer = config.settle(Transition::Updating);
        let config = Arc::new(config);
        self.persist(ctx, &config);
        pool.reconfigure(config);
        answer
    }

    /// UpdateFunctionConfiguration: the members given replace the function's (Environment as a
    /// whole, as on AWS); warm processes are stopped so the next invocation starts with them.
    pub(super) fn update_function_configuration(
        &self,
        ctx: &RequestContext,
        input: UpdateFunctionConfigurationInput,
    ) -> AwsResult<FunctionConfiguration> {
        let body = input.body;
        if let Some(role) = body.role.as_deref() {
            check_role(role)?;
        }
        let id = resolve_in(ctx, &input.function)?;
        let pool = self.pool_of(&id)?;
        let old = pool.config();
        let timeout = check_range(
            "timeout",
            body.timeout,
            old.timeout_secs,
            1..=MAX_TIMEOUT_SECS,
        )?;
        let memory = check_range("memorySize", body.memory_size, old.memory_mb, MEMORY_RANGE)?;
        if let Some(runtime) = body.runtime.as_deref() {
            check_runtime(runtime)?;
        }
        // An empty TargetArn removes the dead-letter queue.
        let dead_letter = match body.dead_letter_config {
            Some(c) => Some(check_dead_letter(c.target_arn.unwrap_or_default())?),
            None => None,
        };
        check_revision(body.revision_id.as_deref(), &old)?;
        let mut config = (*old).clone();
        if let Some(target) = dead_letter {
            config.dead_letter_target = target;
        }
        config.timeout_secs = timeout;
        config.memory_mb = memory;
        if let Some(role) = body.role {
            config.role = role;
        }
        if let Some(handler) = body.handler {
            config.handler = handler;
        }
        if let Some(description) = body.description {
            config.description = description;
        }
        if let Some(runtime) = body.runtime {
            config.runtime = runtime;
        }
        if let Some(environment) = body.environment {
            config.environment = environment.variables;
        }
        Ok(self.apply_update(ctx, &pool, config))
    }

    /// PutFunctionConcurrency (`Some(n)`) and DeleteFunctionConcurrency (`None`).
    pub(super) fn set_concurrency(
        &self,
        ctx: &RequestContext,
        function: &FunctionRef,
        reserved: Option<Option<i64>>,
    ) -> AwsResult<Concurrency> {
        let id = resolve_in(ctx, function)?;
        if id.qualifier.is_some() {
            return Err(AwsError::invalid_parameter_value(
                "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.",
            ));
        }
        let reserved = match reserved {
            None => None,
            Some(None) => return Err(not_null("reservedConcurrentExecutions")),
            Some(Some(n)) if n < 0 => {
                return Err(AwsError::new(
                    &codes::VALIDATION,
                    format!("1 validation error detected: Value '{n}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"),
                ))
            }
            Some(Some(n)) if n > 1000 => {
                return Err(AwsError::invalid_parameter_value(
                    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
                ))
            }
            Some(Some(n)) => Some(n as u32),
        };
        let pool = self.pool_of(&id)?;
        let mut config = (*pool.config()).clone();
        if config.reserved_concurrency != reserved {
            config.reserved_concurrency = reserved;
            // The concurrency bounds a pool's semaphore: a new pool takes over.
            self.install(ctx, config);
        }
        Ok(Concurrency {
            reserved_concurrent_executions: reserved,
        })
    }

    pub(super) fn get_concurrency(
        &self,
        ctx: &RequestContext,
        function: &FunctionRef,
    ) -> AwsResult<Concurrency> {
        let id = function::resolve(&ctx.account, &ctx.region, &function.function_name, None)?;
        Ok(Concurrency {
            reserved_concurrent_executions: self.pool_of(&id)?.config().reserved_concurrency,
        })
    }

    /// Creates or converges a function declared by a template; what `Ref`/`GetAtt` need is its
    /// name and ARN.
    pub fn put_function(&self, ctx: &RequestContext, mut config: FunctionConfig) -> PutOutcome {
        let key = config.key();
        let existing = self.functions.read().get(&key).cloned();
        match existing {
            Some(pool) => {
                let old = pool.config();
                config.last_modified_ms = old.last_modified_ms;
                config.revision_id = old.revision_id.clone();
                if *old == config {
                    return PutOutcome::Unchanged;
                }
                config.last_modified_ms = self.clock.now_ms();
                config.revision_id = uuid::Uuid::new_v4().to_string();
                if old.reserved_concurrency != config.reserved_concurrency {
                    // The concurrency bounds a pool's semaphore: a new pool takes over.
                    pool.stop_idle();
                    self.install(ctx, config);
                } else {
                    let config = Arc::new(config);
                    self.persist(ctx, &config);
                    pool.reconfigure(config);
                }
                PutOutcome::Updated
            }
            None => {
                // Created now, with a revision, as CreateFunction would be.
                config.last_modified_ms = self.clock.now_ms();
                config.revision_id = uuid::Uuid::new_v4().to_string();
                self.install(ctx, config);
                PutOutcome::Created
            }
        }
    }

    /// Registers a function (new, restored or replaced) and keeps it in the store.
    pub(super) fn install(&self, ctx: &RequestContext, config: FunctionConfig) {
        let config = Arc::new(config);
        self.persist(ctx, &config);
        self.register(config);
    }

    /// Makes a function invocable, reporting at once when it cannot run here.
    pub(super) fn register(&self, config: Arc<FunctionConfig>) {
        let command = self.options.commands.get(&config.name).cloned();
        if let Err(reason) = launch::launch_for(&config, command.as_deref()) {
            tracing::warn!(function = %config.name, runtime = %config.runtime, "function cannot run: {reason}; its invocations will fail");
        }
        let mut pool = Pool::new(
            config.clone(),
            command,
            self.options.default_concurrency,
            ProcessSettings {
                endpoint: self.options.endpoint.clone(),
                priority: self.options.handler_priority,
                promotion: self.options.promotion,
                init_timeout: self.options.init_timeout,
                handler_keys: self.options.handler_keys.clone(),
            },
        );
        // A function replaced (new code, concurrency) keeps its metrics.
        if let Some(old) = self.functions.read().get(&config.key()) {
            pool.stats = old.stats.clone();
        }
        let pool = Arc::new(pool);
        if let Some(old) = self.functions.write().insert(config.key(), pool) {
            old.stop_idle();
        }
    }

    /// Code for a new function or UpdateFunctionCode: a ZipFile is unpacked; S3 and images are
    /// not available here.
    fn code_from(
        &self,
        zip_file: Option<&str>,
        s3: bool,
        image: bool,
        id: &function::FunctionId,
    ) -> AwsResult<CodeLocation> {
        if image {
            return Err(AwsError::invalid_parameter_value(
                "lyrebird runs zip-packaged functions only; container images (ImageUri) are not supported.",
            ));
        }
        let Some(zip) = zip_file else {
            return Err(if s3 {
                AwsError::invalid_parameter_value(
                    "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist",
                )
            } else {
                AwsError::invalid_parameter_value("Please provide a source for function code.")
            });
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(zip.trim())
            .map_err(|_| {
                AwsError::invalid_parameter_value(
                    "Could not unzip uploaded file. Please check your file, then try to upload again.",
                )
            })?;
        let root = self
            .options
            .code_root
            .join(&id.account)
            .join(&id.region)
            .join(&id.name);
        code::unpack(&bytes, &root)
    }
}

fn not_null(member: &str) -> AwsError {
    AwsError::new(
        &codes::VALIDATION,
        format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"),
    )
}

/// A request's `RevisionId`, when given, must be the function's latest.
fn check_revision(given: Option<&str>, config: &FunctionConfig) -> AwsResult<()> {
    match given {
        Some(revision) if revision != config.revision_id => Err(AwsError::new(
            &codes::LAMBDA_PRECONDITION_FAILED,
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

/// `DeadLetterConfig.TargetArn`: AWS's pattern `(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()`, then
/// an SQS queue or SNS topic. `None` for the empty ARN (no dead-letter queue).
pub fn check_dead_letter(arn: String) -> AwsResult<Option<String>> {
    if arn.is_empty() {
        return Ok(None);
    }
    let shape_ok = (|| {
        let rest = arn.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        let partition_ok = partition.is_empty()
            || partition
                .strip_prefix("aws")
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'));
        let (service, _) = rest.split_once(':')?;
        let service_ok = !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        Some(partition_ok && service_ok)
    })()
    .unwrap_or(false);
    if !shape_ok {
        return Err(AwsError::new(
            &codes::VALIDATION,
            format!("1 validation error detected: Value '{arn}' at 'deadLetterConfig.targetArn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"),
        ));
    }
    if !matches!(super::destinations::service_of(&arn), "sqs" | "sns") {
        return Err(AwsError::invalid_parameter_value(format!(
            "Invalid dead letter queue ARN: {arn} is not an Amazon SQS queue or Amazon SNS topic."
        )));
    }
    Ok(Some(arn))
}

/// AWS's answer to a dead-letter target that is not an ARN at all (recorded in SDK issues).
fn no_arn_prefix() -> AwsError {
    AwsError::invalid_parameter_value("Invalid dead letter queue ARN: ARNs must start with 'arn:'")
}

/// `Role` must match AWS's pattern `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`.
fn check_role(role: &str) -> AwsResult<()> {
    let matches = (|| {
        let rest = role.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        let partition_ok = partition.is_empty()
            || partition
                .strip_prefix("aws")
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'));
        let rest = rest.strip_prefix("iam::")?;
        let (account, rest) = rest.split_once(':')?;
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let name = rest.strip_prefix("role")?;
        let name = name.strip_prefix('/').unwrap_or(name);
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b));
        Some(partition_ok && account_ok && name_ok)
    })()
    .unwrap_or(false);
    if matches {
        return Ok(());
    }
    Err(AwsError::new(
        &codes::VALIDATION,
        format!("1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"),
    ))
}

/// `Architectures`: at most one, `x86_64` or `arm64` (AWS's wordings, recorded).
fn check_architectures(architectures: Vec<String>) -> AwsResult<Vec<String>> {
    let listed = || format!("[{}]", architectures.join(", "));
    if architectures.len() > 1 {
        return Err(AwsError::new(
            &codes::VALIDATION,
            format!("1 validation error detected: Value '{}' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1", listed()),
        ));
    }
    if architectures.iter().any(|a| a != "x86_64" && a != "arm64") {
        return Err(AwsError::new(
            &codes::VALIDATION,
            format!("1 validation error detected: Value '{}' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]", listed()),
        ));
    }
    Ok(architectures)
}

fn check_runtime(runtime: &str) -> AwsResult<()> {
    if KNOWN_RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(AwsError::invalid_parameter_value(format!(
        "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
        KNOWN_RUNTIMES.join(", ")
    )))
}

fn check_range(
    member: &str,
    value: Option<i64>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> AwsResult<u32> {
    let Some(value) = value else {
        return Ok(default);
    };
    let (lo, hi) = (*range.start() as i64, *range.end() as i64);
    if value < lo {
        return Err(AwsError::new(
            &codes::VALIDATION,
            format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {lo}"),
        ));
    }
    if value > hi {
        return Err(AwsError::new(
            &codes::VALIDATION,
            format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {hi}"),
        ));
    }
    Ok(value as u32)
}

/// The function a request names, by name or ARN, qualifier included, in the request's account and
/// region.
fn resolve_in(ctx: &RequestContext, function: &FunctionRef) -> AwsResult<FunctionId> {
    function::resolve(
        &ctx.account,
        &ctx.region,
        &function.function_name,
        function.qualifier.as_deref(),
    )
}
