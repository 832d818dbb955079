//! How a function's process is started: which program runs its runtime (`node` with lyrebird's
//! Node bootstrap, `python3` with its Python bootstrap, the function's own `bootstrap` for
//! `provided*`, or a `--lambda-command` override), and Lambda's standard environment.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::function::FunctionConfig;
use crate::credentials::AccountKeys;

/// The bootstraps lyrebird ships, compiled in and written to a cache folder on first use.
const NODE_BOOTSTRAP: &str = include_str!("bootstrap/node.mjs");
const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap/python.py");

/// The family of a runtime identifier, as far as lyrebird can run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    Node,
    Python,
    /// `provided`, `provided.al2`, `provided.al2023`: the function's own `bootstrap`.
    Provided,
    /// A runtime AWS has that lyrebird cannot start (java, dotnet, ruby, …).
    Unsupported,
}

impl RuntimeKind {
    pub fn of(runtime: &str) -> RuntimeKind {
        if runtime.starts_with("nodejs") && runtime.ends_with(".x") {
            RuntimeKind::Node
        } else if runtime.starts_with("python3.") {
            RuntimeKind::Python
        } else if runtime == "provided" || runtime.starts_with("provided.") {
            RuntimeKind::Provided
        } else {
            RuntimeKind::Unsupported
        }
    }
}

/// The runtime identifiers AWS accepts (CreateFunction rejects others).
pub const KNOWN_RUNTIMES: &[&str] = &[
    "nodejs24.x",
    "nodejs22.x",
    "nodejs20.x",
    "nodejs18.x",
    "nodejs16.x",
    "python3.14",
    "python3.13",
    "python3.12",
    "python3.11",
    "python3.10",
    "python3.9",
    "python3.8",
    "provided.al2023",
    "provided.al2",
    "provided",
    "java25",
    "java21",
    "java17",
    "java11",
    "java8.al2",
    "dotnet10",
    "dotnet8",
    "dotnet6",
    "ruby3.4",
    "ruby3.3",
    "ruby3.2",
];

/// A process to start for a function.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Run through `sh -c` (a `--lambda-command`).
    pub shell: bool,
}

/// What starts `function`'s runtime, or why it cannot be started.
pub fn launch_for(function: &FunctionConfig, command: Option<&str>) -> Result<Launch, String> {
    if let Some(command) = command {
        return Ok(Launch {
            program: "sh".into(),
            args: vec!["-c".into(), command.to_string()],
            shell: true,
        });
    }
    match RuntimeKind::of(&function.runtime) {
        RuntimeKind::Node => Ok(Launch {
            program: find_on_path("node").ok_or("node is not on PATH")?,
            args: vec![bootstrap_file("node.mjs", NODE_BOOTSTRAP)?],
            shell: false,
        }),
        RuntimeKind::Python => Ok(Launch {
            program: find_on_path("python3").ok_or("python3 is not on PATH")?,
            args: vec![
                "-u".into(),
                bootstrap_file("python.py", PYTHON_BOOTSTRAP)?,
            ],
            shell: false,
        }),
        RuntimeKind::Provided => {
            let bootstrap = function.code.dir.join("bootstrap");
            if !bootstrap.is_file() {
                return Err(format!(
                    "{} has no bootstrap executable",
                    function.code.dir.display()
                ));
            }
            Ok(Launch {
                program: bootstrap,
                args: Vec::new(),
                shell: false,
            })
        }
        RuntimeKind::Unsupported => Err(format!(
            "runtime {} is not supported by lyrebird (nodejs*.x, python3.*, provided* are; --lambda-command {}=COMMAND starts it another way)",
            function.runtime, function.name
        )),
    }
}

/// Lambda's environment for a process of `function`, talking to the Runtime API at
/// `runtime_api` (`127.0.0.1:port`) and to lyrebird at `endpoint`.
///
/// With `--auth sigv4` (`handler_keys` given), the handler signs with the credentials file's
/// first key of the function's account, so its SDK calls act as that account; an account
/// without a key keeps the account-id stand-in (refused under sigv4), with a warning once per
/// function.
pub fn environment(
    function: &FunctionConfig,
    runtime_api: &str,
    endpoint: &str,
    handler_keys: Option<&AccountKeys>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    let task_root = function.code.dir.display().to_string();
    set("AWS_LAMBDA_FUNCTION_NAME", function.name.clone());
    set("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into());
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        function.memory_mb.to_string(),
    );
    set(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        format!("/aws/lambda/{}", function.name),
    );
    set(
        "AWS_LAMBDA_LOG_STREAM_NAME",
        format!("$LATEST/{}", uuid::Uuid::new_v4().simple()),
    );
    set("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string());
    set(
        "AWS_EXECUTION_ENV",
        format!("AWS_Lambda_{}", function.runtime),
    );
    set("_HANDLER", function.handler.clone());
    set("LAMBDA_TASK_ROOT", task_root.clone());
    set("LAMBDA_RUNTIME_DIR", runtime_dir().display().to_string());
    set("AWS_REGION", function.region.clone());
    set("AWS_DEFAULT_REGION", function.region.clone());
    match handler_keys.map(|keys| keys.get(&function.account)) {
        // A long-term key of the file: no session token goes with it.
        Some(Some(key)) => {
            set("AWS_ACCESS_KEY_ID", key.access_key_id.clone());
            set("AWS_SECRET_ACCESS_KEY", key.secret_access_key.clone());
        }
        missing => {
            if missing.is_some() {
                warn_no_key_once(function);
            }
            // The account id as the access key: lyrebird attributes the handler's own calls
            // to the function's account.
            set("AWS_ACCESS_KEY_ID", function.account.clone());
            set("AWS_SECRET_ACCESS_KEY", "lyrebird".into());
            set("AWS_SESSION_TOKEN", "lyrebird".into());
        }
    }
    set("AWS_ENDPOINT_URL", endpoint.to_string());
    set("TZ", ":UTC".into());
    set("LANG", "en_US.UTF-8".into());
    // Node's and Python's module paths include the task root, as on Lambda.
    set("NODE_PATH", task_root.clone());
    set("PYTHONPATH", task_root);
    if let Some(path) = std::env::var_os("PATH") {
        set("PATH", path.to_string_lossy().into_owned());
    }
    if let Some(home) = std::env::var_os("HOME") {
        set("HOME", home.to_string_lossy().into_owned());
    }
    for (k, v) in &function.environment {
        env.insert(k.clone(), v.clone());
    }
    env
}

/// Warns that `function`'s handlers cannot sign their calls, once per function (processes are
/// started again and again).
fn warn_no_key_once(function: &FunctionConfig) {
    static WARNED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let key = function.key();
    if WARNED.get_or_init(Default::default).lock().insert(key) {
        tracing::warn!(
            function = %function.name,
            account = %function.account,
            "the credentials file has no key of the function's account: its handlers' AWS calls will be refused under --auth sigv4"
        );
    }
}

/// Where lyrebird writes its bootstraps (`LAMBDA_RUNTIME_DIR`): one folder per lyrebird
/// process, so a newer binary never runs an older bootstrap.
pub fn runtime_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::temp_dir().join(format!("lyrebird-runtime-{}", std::process::id()))
    })
    .clone()
}

fn bootstrap_file(name: &str, contents: &str) -> Result<String, String> {
    let dir = runtime_dir();
    let path = dir.join(name);
    // Written once per process; a concurrent writer writes the same bytes.
    if std::fs::read_to_string(&path).ok().as_deref() != Some(contents) {
        std::fs::create_dir_all(&dir)
            .and_then(|_| {
                let tmp = dir.join(format!("{name}.{}", uuid::Uuid::new_v4().simple()));
                std::fs::write(&tmp, contents)?;
                std::fs::rename(&tmp, &path)
            })
            .map_err(|e| {
                format!(
                    "cannot write the {name} bootstrap to {}: {e}",
                    dir.display()
                )
            })?;
    }
    Ok(path.display().to_string())
}

/// The first executable `program` on PATH.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_families() {
        assert_eq!(RuntimeKind::of("nodejs20.x"), RuntimeKind::Node);
        assert_eq!(RuntimeKind::of("python3.12"), RuntimeKind::Python);
        assert_eq!(RuntimeKind::of("provided.al2023"), RuntimeKind::Provided);
        assert_eq!(RuntimeKind::of("provided"), RuntimeKind::Provided);
        assert_eq!(RuntimeKind::of("java21"), RuntimeKind::Unsupported);
    }

    fn function(account: &str) -> FunctionConfig {
        FunctionConfig {
            account: account.into(),
            region: "us-east-1".into(),
            name: "f".into(),
            runtime: "python3.12".into(),
            handler: "h.handler".into(),
            role: String::new(),
            description: String::new(),
            timeout_secs: 3,
            memory_mb: 128,
            environment: Default::default(),
            reserved_concurrency: None,
            dead_letter_target: None,
            code: super::super::function::CodeLocation {
                dir: "/tmp".into(),
                sha256: String::new(),
                size: 0,
                owned: false,
            },
            architectures: Vec::new(),
            tags: Default::default(),
            last_modified_ms: 0,
            revision_id: String::new(),
            stack: None,
        }
    }

    /// Under sigv4 a handler signs with the file's key of its function's account; an account
    /// without one, and open mode, keep the account-id stand-in.
    #[test]
    fn handlers_sign_with_their_accounts_key() {
        let mut keys = AccountKeys::new();
        keys.insert(
            "111111111111".into(),
            crate::credentials::AccountKey {
                access_key_id: "AKIDALICE".into(),
                secret_access_key: "alice-secret".into(),
            },
        );
        let env = environment(&function("111111111111"), "api", "end", Some(&keys));
        assert_eq!(env["AWS_ACCESS_KEY_ID"], "AKIDALICE");
        assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "alice-secret");
        assert!(!env.contains_key("AWS_SESSION_TOKEN"));
        for given in [Some(&keys), None] {
            let env = environment(&function("222222222222"), "api", "end", given);
            assert_eq!(env["AWS_ACCESS_KEY_ID"], "222222222222");
            assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "lyrebird");
        }
    }
}
