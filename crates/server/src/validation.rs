//! `onset validate`, and the same check before every deploy of a project.

use std::path::{Path, PathBuf};

use onset_engine::{Diagnostic, validate_component};

/// What this build can do, for validation only (nothing is called).
const CAPABILITIES: onset_connectors::Catalog = onset_connectors::Catalog { scripts: true };

/// Every problem in one component file's text.
pub fn validate_source(path: &Path, text: &str) -> Vec<Diagnostic> {
    validate_component(path, text, &CAPABILITIES)
}

/// Every problem in the project's component files, in file order, each with file:line:column.
/// Files that cannot be read are reported too; the manifest is checked by the loader.
pub fn validate_project(dir: &Path) -> (usize, Vec<Diagnostic>) {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("components"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    let mut all = Vec::new();
    for path in &paths {
        match std::fs::read_to_string(path) {
            Ok(text) => all.extend(validate_component(path, &text, &CAPABILITIES)),
            Err(e) => all.push(Diagnostic {
                file: path.clone(),
                line: 1,
                column: 1,
                found: String::new(),
                message: format!("cannot read: {e}"),
            }),
        }
    }
    (paths.len(), all)
}
