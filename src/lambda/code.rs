//! A function's code on disk: a `ZipFile` unpacked into a folder of lyrebird's own (the data
//! directory, or a temporary one when running in memory), or a template's CodeUri folder used
//! where it is, so that edits to a handler show at the next cold start.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::AwsError;

use super::function::CodeLocation;

/// Lambda's limit on a function's unpacked size.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// Unpacks `zip` into `root/<sha>` and describes it.
pub fn unpack(zip: &[u8], root: &Path) -> Result<CodeLocation, AwsError> {
    let sha = Sha256::digest(zip);
    let sha256 = base64::engine::general_purpose::STANDARD.encode(sha);
    let dir = root.join(crate::hex::encode(&sha[..12]));
    let unzip_error = || {
        AwsError::invalid_parameter_value(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        )
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|_| unzip_error())?;
    let total: u64 = (0..archive.len())
        .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
        .sum();
    if total >= MAX_UNZIPPED_BYTES {
        return Err(AwsError::invalid_parameter_value(format!(
            "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
        )));
    }
    let staging = root.join(format!(".unpack-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| -> Result<(), AwsError> {
        std::fs::create_dir_all(&staging).map_err(|e| io_error(&staging, e))?;
        let mut written = 0u64;
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).map_err(|_| unzip_error())?;
            // Entries that would land outside the folder (`../x`, `/etc/x`) are refused.
            let Some(relative) = file.enclosed_name() else {
                return Err(unzip_error());
            };
            let target = staging.join(relative);
            if file.is_dir() {
                std::fs::create_dir_all(&target).map_err(|e| io_error(&target, e))?;
                continue;
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
            }
            let mut contents = Vec::with_capacity(file.size().min(64 << 20) as usize);
            (&mut file)
                .take(MAX_UNZIPPED_BYTES - written)
                .read_to_end(&mut contents)
                .map_err(|_| unzip_error())?;
            written += contents.len() as u64;
            std::fs::write(&target, &contents).map_err(|e| io_error(&target, e))?;
            if let Some(mode) = file.unix_mode() {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(
                    &target,
                    std::fs::Permissions::from_mode(mode & 0o777 | 0o400),
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&staging, &dir).map_err(|e| io_error(&dir, e))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(CodeLocation {
        dir,
        sha256,
        size: zip.len() as u64,
        owned: true,
    })
}

/// A folder used as it is (a template's CodeUri).
pub fn folder(dir: &Path) -> Result<CodeLocation, String> {
    if !dir.is_dir() {
        return Err(format!("code folder {} does not exist", dir.display()));
    }
    let mut digest = Sha256::new();
    let mut size = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    let mut visited = 0usize;
    // Names, sizes and modification times (not contents): cheap for node_modules, and it
    // changes whenever a file does.
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            visited += 1;
            if visited > 100_000 {
                break;
            }
            // Python's byte-code caches appear beside the sources when they run; they are
            // not the function's code.
            if entry.file_name() == "__pycache__" {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                size += meta.len();
                digest.update(entry.path().to_string_lossy().as_bytes());
                digest.update(meta.len().to_le_bytes());
                if let Ok(modified) = meta.modified() {
                    digest.update(format!("{modified:?}").as_bytes());
                }
            }
        }
    }
    Ok(CodeLocation {
        dir: dir.to_path_buf(),
        sha256: base64::engine::general_purpose::STANDARD.encode(digest.finalize()),
        size,
        owned: false,
    })
}

/// Removes code lyrebird unpacked.
pub fn remove(code: &CodeLocation) {
    if code.owned {
        let _ = std::fs::remove_dir_all(&code.dir);
    }
}

/// Where unpacked code goes: under the data directory, or a temporary folder of this process.
pub fn code_root(data_dir: Option<&Path>) -> PathBuf {
    match data_dir {
        Some(dir) => dir.join("lambda-code"),
        None => std::env::temp_dir().join(format!("lyrebird-code-{}", std::process::id())),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> AwsError {
    tracing::error!(path = %path.display(), error = %e, "cannot write function code");
    AwsError::new(
        &crate::error::codes::LAMBDA_SERVICE,
        format!("The function code could not be stored: {e}"),
    )
}
