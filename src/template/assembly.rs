//! Where templates come from: files given with `--init`, the templates of an init directory,
//! and AWS CDK cloud assemblies (`cdk.out`), whose `manifest.json` names each stack's template,
//! its stack name and the stacks it depends on.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// One template to apply, and the stack it is applied as.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub path: PathBuf,
    /// `AWS::StackName`.
    pub stack: String,
    /// Templates (paths) that must be applied first, from an assembly's manifest.
    pub depends_on: Vec<PathBuf>,
}

const MANIFEST: &str = "manifest.json";

/// The templates of `--init` (files or assembly directories, in the order given), then those of
/// the init directory: an assembly when it is one, else its `*.yaml|*.yml|*.json` files by name
/// and the assemblies in its sub-directories.
pub fn sources(init: &[PathBuf], init_dir: Option<&Path>) -> Result<Vec<Source>, String> {
    let mut out = Vec::new();
    for path in init {
        if path.is_dir() {
            if !path.join(MANIFEST).is_file() {
                return Err(format!(
                    "{}: a directory given to --init must be a CDK cloud assembly (with {MANIFEST}); use --init-dir for a directory of templates",
                    path.display()
                ));
            }
            out.extend(assembly(path)?);
        } else {
            out.push(file(path));
        }
    }
    let Some(dir) = init_dir else {
        return Ok(out);
    };
    if !dir.exists() {
        tracing::warn!(dir = %dir.display(), "init directory does not exist; nothing to apply from it");
        return Ok(out);
    }
    if dir.join(MANIFEST).is_file() {
        out.extend(assembly(dir)?);
        return Ok(out);
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read init directory {}: {e}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    found.sort();
    for path in found {
        if path.is_dir() && path.join(MANIFEST).is_file() {
            out.extend(assembly(&path)?);
        } else if path.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(file(&path));
        }
    }
    Ok(out)
}

/// A template file: its stack is the file name without the extension and a `.template` infix
/// (`Orders.template.json` is stack `Orders`, as the CDK names it).
fn file(path: &Path) -> Source {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stack = stem.strip_suffix(".template").unwrap_or(&stem);
    Source {
        path: path.to_path_buf(),
        stack: if stack.is_empty() { "stack" } else { stack }.to_string(),
        depends_on: Vec::new(),
    }
}

/// The stacks of a cloud assembly (and of the nested assemblies of its stages), in manifest
/// order; each knows the stacks it depends on.
fn assembly(dir: &Path) -> Result<Vec<Source>, String> {
    let manifest_path = dir.join(MANIFEST);
    let place = manifest_path.display();
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("{place}: cannot read: {e}"))?;
    let manifest: Json =
        serde_json::from_str(&text).map_err(|e| format!("{place}: not valid JSON: {e}"))?;
    let artifacts = match manifest.get("artifacts") {
        None => return Ok(Vec::new()),
        Some(Json::Object(a)) => a,
        Some(_) => return Err(format!("{place}: artifacts must be an object")),
    };
    let mut stacks = Vec::new();
    let mut nested = Vec::new();
    // Artifact id → template path, to turn the manifest's dependencies into templates.
    let mut templates = std::collections::BTreeMap::new();
    for (id, artifact) in artifacts {
        let properties = artifact.get("properties");
        let property = |name: &str| properties.and_then(|p| p.get(name)).and_then(Json::as_str);
        match artifact.get("type").and_then(Json::as_str) {
            Some("aws:cloudformation:stack") => {
                let template = property("templateFile").ok_or_else(|| {
                    format!("{place}: artifact {id}: properties.templateFile is required")
                })?;
                let path = dir.join(template);
                templates.insert(id.clone(), path.clone());
                let dependencies: Vec<String> = artifact
                    .get("dependencies")
                    .and_then(Json::as_array)
                    .map(|d| {
                        d.iter()
                            .filter_map(Json::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                stacks.push((
                    path,
                    property("stackName").unwrap_or(id).to_string(),
                    dependencies,
                ));
            }
            Some("cdk:cloud-assembly") => {
                if let Some(sub) = property("directoryName") {
                    nested.push(dir.join(sub));
                }
            }
            // Assets, tree, metadata: nothing lyrebird applies.
            _ => {}
        }
    }
    if stacks.is_empty() && nested.is_empty() {
        tracing::warn!("{place}: the cloud assembly has no stacks; nothing to apply from it");
    }
    let mut out: Vec<Source> = stacks
        .into_iter()
        .map(|(path, stack, dependencies)| Source {
            path,
            stack,
            // Dependencies on assets (`X.assets`) are not templates and need nothing here.
            depends_on: dependencies
                .iter()
                .filter_map(|d| templates.get(d).cloned())
                .collect(),
        })
        .collect();
    for sub in nested {
        out.extend(assembly(&sub)?);
    }
    Ok(out)
}
