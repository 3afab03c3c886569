//! What the web UI's editor and test console do: validate and try a source that is not
//! deployed, preview an expression, keep drafts (server mode) or edit the project's files
//! (project mode), replay many runs at once.

use std::path::{Component as PathPart, Path, PathBuf};

use onset_model::SourceFile;
use serde_json::{Value, json};

use super::{Kind, Result, ServiceError};
use crate::api::types::{
    Draft, DraftEntry, FileSave, Preview, PreviewMode, PreviewRequest, Problem, ProjectEntry, ProjectFile, ReplayMany,
    ReplaySkipped, ReplayedMany, SourceText, Step, TryRequest, TryResult, Validation,
};
use crate::app::{App, DEVELOPMENT, now_ms};
use crate::auth::{self, Principal};

/// The largest file the editor reads or writes.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Ids one replay request may name.
pub const MAX_REPLAY_IDS: usize = 500;

/// The source as a file: its path (inside the project in project mode, where the files it
/// names are read from beside it), its text and the files it carries.
fn source_file(app: &App, src: SourceText) -> Result<SourceFile> {
    let name = yaml_serde::from_str::<Value>(&src.source)
        .ok()
        .and_then(|v| v.get("component").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "component".into());
    let relative = src.path.unwrap_or_else(|| format!("components/{name}.yaml"));
    let mut file = match &app.config.project {
        Some(root) => {
            let path = confined(root, &relative, "body path")?;
            SourceFile::with_text(&path, src.source)
        }
        None => SourceFile { path: PathBuf::from(&relative), text: src.source, files: Default::default() },
    };
    // Problems name the path as given, not where the project is on this machine.
    file.path = PathBuf::from(relative);
    file.files.extend(src.files);
    Ok(file)
}

/// `onset validate` on an editor's text.
pub fn validate(app: &App, src: SourceText) -> Result<Validation> {
    let file = source_file(app, src)?;
    let problems = crate::validation::validate_source(&file.path, &file.text, &file.files)
        .into_iter()
        .map(|d| Problem {
            file: d.file.display().to_string(),
            line: d.line,
            column: d.column,
            message: d.message,
            found: d.found,
        })
        .collect();
    Ok(Validation { problems })
}

/// One handler on one payload, as `onset run` does it: nothing is stored, connectors are
/// called for real (without accounts), config comes from the request only.
pub async fn try_run(app: &App, who: &Principal, req: TryRequest) -> Result<TryResult> {
    who.may_change(DEVELOPMENT)?;
    let file = source_file(app, req.source)?;
    let unprocessable =
        |errors: Vec<String>| ServiceError::Unprocessable { code: "try_failed", message: errors.join("\n") };
    let component = crate::local::parse_source(&file).map_err(unprocessable)?;
    let request = crate::local::LocalRunRequest {
        component: component.component.to_string(),
        event: req.event,
        payload: if req.payload.is_null() { json!({}) } else { req.payload },
        config: req.config.into_iter().collect(),
        config_env: Default::default(),
    };
    let run = crate::local::run_component(&component, &file, request).await.map_err(unprocessable)?;
    let (status, error, error_step) = match &run.outcome.result {
        Ok(()) => ("succeeded", None, None),
        Err(f) => ("failed", Some(f.message.clone()), Some(f.step.clone())),
    };
    let raw = |text: Option<String>| text.and_then(|t| serde_json::value::RawValue::from_string(t).ok());
    let steps = run
        .outcome
        .steps
        .into_iter()
        .map(|s| Step {
            path: s.path,
            id: s.id,
            name: s.name,
            kind: s.kind.to_string(),
            attempt: s.attempt,
            status: s.status.as_str().to_string(),
            input: raw(s.input),
            output: raw(s.output),
            error: s.error,
            logs: (!s.logs.is_empty()).then(|| raw(serde_json::to_string(&s.logs).ok())).flatten(),
            started_at: onset_store::time::rfc3339(s.started_at),
            duration_ms: s.duration_ms,
        })
        .collect();
    Ok(TryResult {
        component: run.component,
        handler: run.handler,
        status: status.into(),
        error,
        error_step,
        output: run.outcome.output,
        steps,
        duration_ms: run.duration_ms,
    })
}

/// An expression or template evaluated on a sample by the engine's expression language.
pub fn preview(req: PreviewRequest) -> Preview {
    let object = |v: Value| if v.is_null() { json!({}) } else { v };
    let scope = onset_expr::from_json(&json!({
        "event": req.event,
        "meta": object(req.meta),
        "config": object(req.config),
        "vars": object(req.vars),
        "steps": object(req.steps),
    }));
    let mut compiler = onset_expr::Compiler::new();
    let evaluated = match req.mode {
        PreviewMode::Value => {
            compiler.string(&req.text).and_then(|c| compiler.finish().and_then(|program| program.eval(&c, &scope)))
        }
        PreviewMode::Condition => compiler
            .expression(&req.text)
            .and_then(|id| compiler.finish().and_then(|program| program.eval_expr(id, &scope))),
    };
    match evaluated {
        Ok(v) => Preview { value: Some(onset_expr::to_json(&v)), error: None },
        Err(e) => Preview { value: None, error: Some(e.message) },
    }
}

fn draft_of(row: onset_store::DraftRow) -> Draft {
    Draft {
        component: row.component,
        text: row.text,
        revision: row.revision,
        updated_at: onset_store::time::rfc3339(row.updated_at),
        updated_by: row.updated_by,
    }
}

fn component_name(name: &str) -> Result<()> {
    onset_model::ComponentName::parse(name)
        .map(|_| ())
        .map_err(|e| ServiceError::invalid("invalid_name", format!("component name `{name}`: {e}"), "path component"))
}

/// Every draft, by component name.
pub async fn drafts(app: &App) -> Result<Vec<DraftEntry>> {
    Ok(app
        .store
        .drafts()
        .await?
        .into_iter()
        .map(|d| DraftEntry {
            component: d.component,
            revision: d.revision,
            updated_at: onset_store::time::rfc3339(d.updated_at),
            updated_by: d.updated_by,
        })
        .collect())
}

pub async fn draft(app: &App, component: String) -> Result<Draft> {
    component_name(&component)?;
    let row = app.store.draft(component.clone()).await?;
    row.map(draft_of).ok_or_else(|| ServiceError::not_found(Kind::Draft, component))
}

/// Saves a draft (it need not be valid: work in progress is kept as it is).
pub async fn save_draft(
    app: &App,
    who: &Principal,
    component: String,
    text: String,
    base: Option<i64>,
) -> Result<Draft> {
    component_name(&component)?;
    who.may_change(DEVELOPMENT)?;
    if text.len() > MAX_FILE_BYTES {
        return Err(ServiceError::invalid(
            "too_large",
            format!("a draft holds at most {MAX_FILE_BYTES} bytes; this one has {}", text.len()),
            "body text",
        ));
    }
    let now = now_ms();
    let saved = app.store.put_draft(component.clone(), text.clone(), who.name.clone(), now, base).await?;
    let Some(revision) = saved else {
        let current = app.store.draft(component.clone()).await?.map_or(0, |d| d.revision);
        return Err(ServiceError::Conflict {
            code: "draft_changed",
            message: format!(
                "the draft of `{component}` is at revision {current}, not {}: someone saved it since; reload it and apply your change again",
                base.unwrap_or_default()
            ),
            at: Some("body base_revision"),
        });
    };
    auth::audit(app, who, "draft.save", &component, json!({ "revision": revision })).await;
    Ok(Draft { component, text, revision, updated_at: onset_store::time::rfc3339(now), updated_by: who.name.clone() })
}

/// The project directory, or 409 when the server was not started with `--project`.
fn project_root(app: &App) -> Result<&Path> {
    app.config.project.as_deref().ok_or_else(|| ServiceError::Conflict {
        code: "no_project",
        message: "the server edits no project directory: start it with `onset serve --project DIR`, or keep drafts (`/api/v1/drafts`)".into(),
        at: None,
    })
}

/// `relative` under `root`, or 400: absolute paths, `..`, hidden parts (`.git`, `.onset`) and
/// links leading out of the project are refused.
fn confined(root: &Path, relative: &str, at: &'static str) -> Result<PathBuf> {
    let bad = |why: &str| ServiceError::invalid("invalid_path", format!("path `{relative}`: {why}"), at);
    let path = Path::new(relative);
    if relative.is_empty() || relative.contains('\\') || relative.contains('\0') {
        return Err(bad("give a relative path inside the project, with `/`"));
    }
    for part in path.components() {
        match part {
            PathPart::Normal(p) if p.to_string_lossy().starts_with('.') => {
                return Err(bad("hidden files and directories are not edited here"));
            }
            PathPart::Normal(_) => {}
            _ => return Err(bad("give a relative path inside the project, without `..`")),
        }
    }
    let full = root.join(path);
    // What exists of the path must resolve inside the project (no link out of it).
    let canonical_root = root.canonicalize().map_err(|e| ServiceError::Internal(format!("project: {e}")))?;
    let mut existing = full.as_path();
    while !existing.exists() {
        existing = existing.parent().unwrap_or(root);
    }
    let resolved = existing.canonicalize().map_err(|e| ServiceError::Internal(format!("{relative}: {e}")))?;
    if !resolved.starts_with(&canonical_root) {
        return Err(bad("it leads out of the project"));
    }
    Ok(full)
}

fn sha256(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Every file of the project the editor may open (hidden ones and `target/`-like build
/// output aside), by path.
pub fn project_files(app: &App) -> Result<Vec<ProjectEntry>> {
    let root = project_root(app)?;
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "node_modules" {
                continue;
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
                if bytes as usize > MAX_FILE_BYTES {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else { continue };
                let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                out.push(ProjectEntry { path: relative, bytes, sha256: sha256(&text) });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

pub fn read_file(app: &App, relative: String) -> Result<ProjectFile> {
    let root = project_root(app)?;
    let path = confined(root, &relative, "path path")?;
    let text = match std::fs::read(&path) {
        Ok(bytes) if bytes.len() > MAX_FILE_BYTES => {
            return Err(ServiceError::invalid(
                "too_large",
                format!("`{relative}` has {} bytes; the editor opens files up to {MAX_FILE_BYTES}", bytes.len()),
                "path path",
            ));
        }
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| ServiceError::invalid("not_text", format!("`{relative}` is not UTF-8 text"), "path path"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || path.is_dir() => {
            return Err(ServiceError::not_found(Kind::File, relative));
        }
        Err(e) => return Err(ServiceError::Internal(format!("{}: {e}", path.display()))),
    };
    Ok(ProjectFile { sha256: sha256(&text), path: relative, text })
}

/// Writes a project file (atomically: a temporary file renamed over it). The watcher deploys
/// what changed to development, as after any save.
pub async fn write_file(app: &App, who: &Principal, relative: String, save: FileSave) -> Result<ProjectFile> {
    who.may_change(DEVELOPMENT)?;
    let root = project_root(app)?;
    let path = confined(root, &relative, "path path")?;
    if save.text.len() > MAX_FILE_BYTES {
        return Err(ServiceError::invalid(
            "too_large",
            format!("a project file holds at most {MAX_FILE_BYTES} bytes here; this one has {}", save.text.len()),
            "body text",
        ));
    }
    if let Some(base) = &save.base_sha256 {
        let current = std::fs::read_to_string(&path).ok().map(|t| sha256(&t));
        if current.as_deref() != Some(base.as_str()) {
            return Err(ServiceError::Conflict {
                code: "file_changed",
                message: format!(
                    "`{relative}` changed on disk since it was opened; reload it and apply your change again"
                ),
                at: Some("body base_sha256"),
            });
        }
    }
    let parent = path.parent().unwrap_or(root);
    std::fs::create_dir_all(parent).map_err(|e| ServiceError::Internal(format!("{}: {e}", parent.display())))?;
    let temp = parent.join(format!(".{}.onset-tmp", uuid::Uuid::new_v4().simple()));
    std::fs::write(&temp, save.text.as_bytes()).and_then(|()| std::fs::rename(&temp, &path)).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        ServiceError::Internal(format!("{}: {e}", path.display()))
    })?;
    let digest = sha256(&save.text);
    auth::audit(app, who, "file.save", &relative, json!({ "sha256": digest })).await;
    Ok(ProjectFile { path: relative, text: save.text, sha256: digest })
}

/// Replays each id: an event id runs that event again, a run id runs its event again. What
/// cannot be replayed is listed with why; the rest goes ahead.
pub async fn replay_many(app: &App, who: &Principal, req: ReplayMany) -> Result<ReplayedMany> {
    if req.ids.is_empty() || req.ids.len() > MAX_REPLAY_IDS {
        return Err(ServiceError::invalid(
            "invalid_ids",
            format!("give 1 to {MAX_REPLAY_IDS} run or event ids; {} were given", req.ids.len()),
            "body ids",
        ));
    }
    let mut replayed = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for id in req.ids {
        let event_id = if app.store.event(id.clone()).await?.is_some() {
            Some(id.clone())
        } else {
            app.store.run(id.clone()).await?.map(|r| r.event_id)
        };
        let Some(event_id) = event_id else {
            skipped.push(ReplaySkipped { code: "unknown_id".into(), message: format!("no run or event `{id}`"), id });
            continue;
        };
        // Two runs of one event replay it once.
        if !seen.insert(event_id.clone()) {
            continue;
        }
        match super::events::replay_event(app, who, event_id).await {
            Ok(r) => replayed.push(r),
            Err(e @ (ServiceError::Forbidden(_) | ServiceError::Conflict { .. })) => {
                let code = match &e {
                    ServiceError::Conflict { code, .. } => *code,
                    _ => "forbidden",
                };
                skipped.push(ReplaySkipped { id, code: code.into(), message: e.to_string() });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(ReplayedMany { replayed, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("components")).unwrap();
        assert_eq!(confined(root, "components/a.yaml", "p").unwrap(), root.join("components/a.yaml"));
        assert_eq!(confined(root, "new/dir/b.js", "p").unwrap(), root.join("new/dir/b.js"), "not yet there");
        for bad in ["../x", "/etc/passwd", "components/../../x", ".git/config", "a/.env", "", "a\\b"] {
            let err = confined(root, bad, "p").unwrap_err();
            assert!(matches!(err, ServiceError::Invalid { code: "invalid_path", .. }), "{bad}: {err}");
        }
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        let err = confined(root, "out/x.yaml", "p").unwrap_err().to_string();
        assert!(err.contains("leads out of the project"), "{err}");
    }

    #[test]
    fn previews_follow_the_native_value_rule() {
        let req = |text: &str, mode| PreviewRequest {
            text: text.into(),
            mode,
            event: json!({ "issue": { "number": 7, "title": "Crash" } }),
            meta: Value::Null,
            config: json!({ "channel": "#ops" }),
            vars: Value::Null,
            steps: Value::Null,
        };
        let value = |p: Preview| p.value.unwrap();
        assert_eq!(value(preview(req("{{ event.issue.number }}", PreviewMode::Value))), json!(7), "a number stays one");
        assert_eq!(
            value(preview(req(
                "#{{ event.issue.number }} {{ event.issue.title }} to {{ config.channel }}",
                PreviewMode::Value
            ))),
            json!("#7 Crash to #ops")
        );
        assert_eq!(value(preview(req("plain", PreviewMode::Value))), json!("plain"));
        assert_eq!(value(preview(req("event.issue.number > 5", PreviewMode::Condition))), json!(true));
        let err = preview(req("{{ event.issue.number + }}", PreviewMode::Value)).error.unwrap();
        assert!(err.contains("syntax error"), "{err}");
        let err = preview(req("event.nothing.here", PreviewMode::Condition)).error.unwrap();
        assert!(err.contains("undefined"), "{err}");
    }
}
