//! `onset catalog` (what each trigger type offers) and `onset new` (a component skeleton with
//! a handler per event of a channel and sample payloads to run them on).

use std::fmt::Write as _;
use std::path::Path;

use onset_model::catalog::{self, TriggerInfo};
use serde_json::Value;

/// `onset connector import SPEC --name NAME`: the document checked, kept as
/// `connectors/NAME.yaml` of the project, its operations and account kinds listed.
pub fn import_connector(spec: &Path, name: &str, project: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(spec).map_err(|e| format!("{}: cannot read: {e}", spec.display()))?;
    let api = onset_connectors::openapi::import(name, &text)
        .map_err(|errors| errors.iter().map(|e| format!("{}: {e}", spec.display())).collect::<Vec<_>>().join("\n"))?;
    if !project.join("onset.yaml").is_file() {
        return Err(format!("{}: no onset.yaml here; give the project with --project DIR", project.display()));
    }
    let dir = project.join("connectors");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let target = dir.join(format!("{name}.yaml"));
    std::fs::write(&target, &text).map_err(|e| format!("{}: {e}", target.display()))?;
    println!("{} operations of {} kept as {}", api.operations.len(), spec.display(), target.display());
    for op in &api.operations {
        println!("  {:<40} {}", op.name, op.description);
    }
    match &api.base_url {
        Some(url) => println!("server: {url} (an account's base_url replaces it)"),
        None => println!("server: none in the document: give the account a base_url"),
    }
    for (scheme, fields) in &api.auth {
        println!("security `{scheme}`: onset account set ACCOUNT --type http --env ENV {fields}");
    }
    Ok(())
}

pub fn print(kind: Option<&str>, json: bool, presets: bool) -> Result<(), String> {
    if presets {
        return print_presets(kind, json);
    }
    if kind == Some("connectors") {
        return print_connectors(json);
    }
    let kinds: Vec<&str> = match kind {
        Some(k) => vec![k],
        None => onset_model::TRIGGER_TYPES.to_vec(),
    };
    let mut infos = Vec::new();
    for k in &kinds {
        infos.push(catalog::trigger(k).ok_or_else(|| unknown_type(k))?);
    }
    if json {
        let details: Vec<Value> = kinds.iter().filter_map(|k| onset_sources::catalog::detail(k)).collect();
        let out = if kind.is_some() { details.into_iter().next().unwrap_or(Value::Null) } else { Value::from(details) };
        println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
        return Ok(());
    }
    let mut out = String::new();
    if kind.is_none() {
        for t in &infos {
            let events: usize = t.channels.iter().map(|c| c.events.len()).sum();
            let _ = writeln!(
                out,
                "{:<16} {:>3} channels {:>4} events  {}",
                t.kind,
                t.channels.len(),
                events,
                t.description
            );
        }
        let _ = writeln!(
            out,
            "\n`onset catalog TYPE` lists a type's settings, channels and events; --json adds samples and schemas."
        );
    } else {
        for t in &infos {
            describe(&mut out, t);
        }
    }
    print!("{out}");
    Ok(())
}

/// `onset catalog http --presets`: each provider with what its preset needs.
fn print_presets(kind: Option<&str>, json: bool) -> Result<(), String> {
    if kind.is_some_and(|k| k != "http") {
        return Err("presets verify `http` triggers: `onset catalog http --presets`".into());
    }
    let presets = onset_sources::catalog::preset_summaries();
    if json {
        println!("{}", serde_json::to_string_pretty(&presets).map_err(|e| e.to_string())?);
        return Ok(());
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:<26} {:<36} {:<18} {:<9} {:<8}",
        "PRESET", "NEEDS", "SIGNATURE", "ALGORITHM", "TOLERANCE", "HANDSHAKE"
    );
    for p in &presets {
        let needs: Vec<String> =
            p.needs.iter().map(|n| n.replace('|', " or ")).chain(p.accepts.iter().map(|a| format!("[{a}]"))).collect();
        let _ = writeln!(
            out,
            "{:<18} {:<26} {:<36} {:<18} {:<9} {}",
            p.name,
            needs.join(", "),
            p.signature,
            p.algorithm,
            p.tolerance.as_deref().unwrap_or("-"),
            p.handshake.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(
        out,
        "\nverify: {{ preset: NAME, secret: \"{{{{ config.secret }}}}\" }} on an http trigger; --json adds each provider's docs, delivery id and sample."
    );
    print!("{out}");
    Ok(())
}

fn unknown_type(kind: &str) -> String {
    format!(
        "there is no trigger type `{kind}`; types: {} (and `onset catalog connectors` for operations)",
        onset_model::TRIGGER_TYPES.join(", ")
    )
}

/// `onset catalog connectors`: every operation `call:` steps can name, with its account and input
/// fields (--json: the full descriptions with input and output JSON Schemas).
fn print_connectors(json: bool) -> Result<(), String> {
    let all = onset_connectors::catalog();
    if json {
        println!("{}", serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?);
        return Ok(());
    }
    let mut out = String::new();
    for op in &all {
        let account = match &op.account {
            None => String::new(),
            Some(a) if a.required => format!("  [account: {}]", a.kind),
            Some(a) => format!("  [account: {}, optional]", a.kind),
        };
        let _ = writeln!(
            out,
            "{}{account}\n  {}\n  with: {}",
            op.name,
            op.description,
            onset_engine::shape::fields(&op.input)
        );
    }
    let _ = writeln!(out, "\n`onset catalog connectors --json` adds each operation's input and output JSON Schema.");
    print!("{out}");
    Ok(())
}

fn describe(out: &mut String, t: &TriggerInfo) {
    let _ = writeln!(out, "{}: {}\n\nsettings (trigger.with):", t.kind, t.description);
    for s in &t.settings {
        let _ = writeln!(out, "  {:<18} {}{}", s.name, if s.required { "(required) " } else { "" }, s.description);
    }
    if t.channels.is_empty() {
        let _ = writeln!(out, "\nchannels: resource paths of your own (`/orders/{{id}}`), events: HTTP methods");
        return;
    }
    let _ = writeln!(out, "\nchannels and events:");
    for c in &t.channels {
        let _ = writeln!(out, "  {}", c.name);
        for e in &c.events {
            let aliases =
                if e.aliases.is_empty() { String::new() } else { format!(" (also {})", e.aliases.join(", ")) };
            let _ = writeln!(out, "    {:<32} {}{aliases}", e.name, e.source);
        }
    }
}

pub fn new_component(
    project: &Path,
    name: &str,
    kind: &str,
    channel: Option<&str>,
    event: Option<&str>,
) -> Result<Vec<String>, String> {
    let path = project.join("components").join(format!("{name}.yaml"));
    if path.exists() {
        return Err(format!("{} exists already; choose another name or remove it", path.display()));
    }
    let skeleton = catalog::skeleton(name, kind, channel, event)?;
    let samples_dir = project.join("samples").join(name);
    std::fs::create_dir_all(&samples_dir).map_err(|e| format!("{}: {e}", samples_dir.display()))?;
    std::fs::create_dir_all(project.join("components")).map_err(|e| format!("components/: {e}"))?;
    let mut written = Vec::new();
    for (event, sample) in &skeleton.samples {
        let sample_path = samples_dir.join(format!("{}.{event}.json", skeleton.channel));
        let text = serde_json::to_string_pretty(sample).map_err(|e| e.to_string())?;
        std::fs::write(&sample_path, text + "\n").map_err(|e| format!("{}: {e}", sample_path.display()))?;
        written.push(sample_path.display().to_string());
    }
    let yaml = skeleton.yaml;
    std::fs::write(&path, &yaml).map_err(|e| format!("{}: {e}", path.display()))?;
    written.insert(0, path.display().to_string());
    Ok(written)
}
