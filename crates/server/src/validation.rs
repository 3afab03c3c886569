//! `onset validate`, and the same check before every deploy of a project.

use std::path::{Path, PathBuf};

use onset_engine::{Diagnostic, validate_component};

/// What this build can do, for validation only (nothing is called).
const CAPABILITIES: onset_connectors::Catalog = onset_connectors::Catalog { scripts: true };

/// Every problem in one component file's text; `files` are those it carries (imported
/// connectors' documents among them).
pub fn validate_source(path: &Path, text: &str, files: &std::collections::BTreeMap<String, String>) -> Vec<Diagnostic> {
    let imported = match onset_connectors::openapi::from_files(files) {
        Ok(i) => i,
        Err(errors) => return errors.into_iter().map(|message| whole_file(path, message)).collect(),
    };
    let mut problems = validate_component(
        path,
        text,
        &onset_connectors::openapi::WithImported { base: CAPABILITIES, imported: &imported },
    );
    // `docs:` naming a Markdown file that is not there.
    if let Ok(component) = yaml_serde::from_str::<onset_model::Component>(text)
        && let Some(name) = component.docs_file()
        && !files.contains_key(name)
    {
        let line = text.lines().position(|l| l.trim_start().starts_with("docs:")).map_or(1, |i| i + 1);
        problems.push(Diagnostic {
            file: path.to_path_buf(),
            line,
            column: 1,
            found: name.to_string(),
            message: format!("`docs: {name}` names a Markdown file that is not beside the component; add it, or write the Markdown inline"),
        });
    }
    problems
}

fn whole_file(path: &Path, message: String) -> Diagnostic {
    Diagnostic { file: path.to_path_buf(), line: 1, column: 1, found: String::new(), message }
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
        match onset_model::SourceFile::read(path) {
            Ok(file) => all.extend(validate_source(path, &file.text, &file.files)),
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
