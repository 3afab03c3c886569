//! `onset deploy`, `promote`, `rollback`, `undeploy` and `logs` against a running server.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::remote::Remote;

pub struct DeployArgs {
    pub project: PathBuf,
    pub env: String,
    pub git: Option<String>,
    pub git_ref: Option<String>,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Clones `url` at `reference` into a temporary directory: `(dir, commit)`.
fn checkout(url: &str, reference: &str) -> Result<(tempfile::TempDir, String), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    git(dir.path(), &["clone", "--quiet", "--no-checkout", url, "."])?;
    git(dir.path(), &["checkout", "--quiet", reference])?;
    let commit = git(dir.path(), &["rev-parse", "HEAD"])?;
    Ok((dir, commit))
}

/// Reads a value from the terminal; without echo for secrets.
fn ask(key: &str, description: Option<&str>, secret: bool) -> Result<String, String> {
    let about = description.map(|d| format!(" ({d})")).unwrap_or_default();
    eprint!("{key}{about}: ");
    let _ = std::io::stderr().flush();
    let quiet = secret
        && std::process::Command::new("stty").arg("-echo").stdin(std::process::Stdio::inherit()).status().is_ok();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if quiet {
        let _ = std::process::Command::new("stty").arg("echo").stdin(std::process::Stdio::inherit()).status();
        eprintln!();
    }
    read.map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn print_log(answer: &Value) {
    for line in answer["log"].as_array().into_iter().flatten() {
        println!("    {}  {}", line["at"].as_str().unwrap_or_default(), line["message"].as_str().unwrap_or_default());
    }
}

pub async fn deploy(remote: &Remote, args: DeployArgs) -> Result<(), String> {
    let (checkout_dir, meta) = match (&args.git, &args.git_ref) {
        (Some(url), reference) => {
            let reference = reference.as_deref().unwrap_or("HEAD");
            let (dir, commit) = checkout(url, reference)?;
            println!("git {url} at {reference}: commit {commit}");
            (Some(dir), json!({ "git": { "url": url, "ref": reference, "commit": commit } }))
        }
        (None, Some(_)) => return Err("--ref needs --git URL".into()),
        (None, None) => (None, json!({})),
    };
    let project = match &checkout_dir {
        Some(d) => d.path().join(&args.project),
        None => args.project.clone(),
    };
    let (_, problems) = onset_server::validate_project(&project);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{p}");
        }
        return Err(format!("{} problem(s) in {}; nothing was deployed", problems.len(), project.display()));
    }
    let loaded = onset_model::Project::load(&project)
        .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
    if loaded.components.is_empty() {
        return Err(format!("{} has no components to deploy", project.display()));
    }
    let mut failures = 0;
    for (component, file) in &loaded.components {
        let name = component.component.as_str();
        let path = file.path.strip_prefix(&project).unwrap_or(&file.path).display().to_string();
        let body =
            json!({ "environment": args.env, "source": file.text, "path": path, "files": file.files, "meta": meta });
        let mut answer = remote.call_raw(Method::POST, "/api/v1/deployments", Some(&body)).await?;
        if answer.0 == 422
            && !answer.1["missing_config"].as_array().is_none_or(Vec::is_empty)
            && std::io::stdin().is_terminal()
        {
            eprintln!("{name} needs config in {}:", args.env);
            let mut values = Map::new();
            for m in answer.1["missing_config"].as_array().into_iter().flatten() {
                let key = m["key"].as_str().unwrap_or_default();
                let value = ask(key, m["description"].as_str(), m["secret"] == true)?;
                values.insert(key.to_string(), Value::String(value));
            }
            let path = format!("/api/v1/config/{name}?environment={}", args.env);
            remote.call(Method::PUT, &path, Some(&json!({ "values": values }))).await?;
            answer = remote.call_raw(Method::POST, "/api/v1/deployments", Some(&body)).await?;
        }
        let (status, value) = answer;
        match status {
            200 => println!(
                "{name} → {}: unchanged (deployment {})",
                args.env,
                value["deployment"]["id"].as_str().unwrap_or_default()
            ),
            201 => {
                let d = &value["deployment"];
                println!(
                    "{name} → {}: active (deployment {}, build {})",
                    args.env,
                    d["id"].as_str().unwrap_or_default(),
                    &d["build"].as_str().unwrap_or_default().chars().take(12).collect::<String>()
                );
                print_log(&value);
            }
            _ => {
                failures += 1;
                eprintln!(
                    "{name} → {}: failed{}",
                    args.env,
                    value["deployment_id"].as_str().map(|id| format!(" (deployment {id})")).unwrap_or_default()
                );
                let errors: Vec<&str> =
                    value["errors"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if errors.is_empty() {
                    eprintln!("    {}", value["message"].as_str().unwrap_or("the server refused the deployment"));
                }
                for e in errors {
                    eprintln!("    {e}");
                }
                if !value["missing_config"].as_array().is_none_or(Vec::is_empty) {
                    eprintln!("    set them with: onset config set {name} KEY=VALUE… --env {}", args.env);
                }
            }
        }
    }
    if failures > 0 { Err(format!("{failures} component(s) not deployed")) } else { Ok(()) }
}

pub async fn promote(remote: &Remote, component: &str, from: &str, to: Option<&str>) -> Result<(), String> {
    let body = json!({ "from": from, "to": to });
    let (status, value) =
        remote.call_raw(Method::POST, &format!("/api/v1/components/{component}/promote"), Some(&body)).await?;
    if status >= 300 {
        return Err(failure_text(&value));
    }
    let d = &value["deployment"];
    println!(
        "{component} → {}: active (deployment {}, the build from {from})",
        d["environment"].as_str().unwrap_or_default(),
        d["id"].as_str().unwrap_or_default()
    );
    print_log(&value);
    Ok(())
}

/// `onset pull`: the active deployment's source and carried files, written into the project
/// (files are placed relative to the component file, as they were read).
pub async fn pull(remote: &Remote, component: &str, env: &str, project: &std::path::Path) -> Result<(), String> {
    let (status, active) =
        remote.call_raw(Method::GET, &format!("/api/v1/components/{component}?environment={env}"), None).await?;
    if status >= 300 {
        return Err(failure_text(&active));
    }
    let id = active["deployment_id"].as_str().unwrap_or_default();
    let detail = remote.call(Method::GET, &format!("/api/v1/deployments/{id}"), None).await?;
    let dir = project.join("components");
    let mut written = Vec::new();
    let mut write = |path: std::path::PathBuf, text: &str| -> Result<(), String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path.display().to_string());
        Ok(())
    };
    write(dir.join(format!("{component}.yaml")), detail["source"].as_str().unwrap_or_default())?;
    for (name, text) in detail["files"].as_object().into_iter().flatten() {
        // Carried files are named relative to the component file (`scripts/x.js`,
        // `../connectors/pets.yaml`); none may leave the project.
        let relative = std::path::Path::new(name);
        let depth_ok = relative.components().filter(|c| matches!(c, std::path::Component::ParentDir)).count() <= 1
            && !relative.is_absolute();
        if !depth_ok {
            return Err(format!("the deployment carries `{name}`, which is outside the project; not written"));
        }
        write(dir.join(relative), text.as_str().unwrap_or_default())?;
    }
    println!("{component} ({env}, deployment {id}):");
    for w in written {
        println!("  wrote {w}");
    }
    Ok(())
}

fn failure_text(value: &Value) -> String {
    let errors: Vec<&str> = value["errors"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if errors.is_empty() { value["message"].as_str().unwrap_or("refused").to_string() } else { errors.join("\n") }
}

pub async fn rollback(remote: &Remote, component: &str, env: &str, to: Option<&str>) -> Result<(), String> {
    let body = json!({ "environment": env, "to": to });
    let (status, value) =
        remote.call_raw(Method::POST, &format!("/api/v1/components/{component}/rollback"), Some(&body)).await?;
    if status >= 300 {
        return Err(failure_text(&value));
    }
    println!(
        "{component} in {env}: deployment {} is active again",
        value["deployment"]["id"].as_str().unwrap_or_default()
    );
    Ok(())
}

pub async fn undeploy(remote: &Remote, component: &str, env: &str) -> Result<(), String> {
    remote.call(Method::DELETE, &format!("/api/v1/components/{component}?environment={env}"), None).await?;
    println!("{component} removed from {env}");
    Ok(())
}

pub async fn logs(remote: &Remote, deployment: &str) -> Result<(), String> {
    let d = remote.call(Method::GET, &format!("/api/v1/deployments/{deployment}"), None).await?;
    println!(
        "deployment {} of {} in {}: {}{}",
        deployment,
        d["component"].as_str().unwrap_or_default(),
        d["environment"].as_str().unwrap_or_default(),
        d["status"].as_str().unwrap_or_default(),
        if d["active"] == true { " (active)" } else { "" }
    );
    if let Some(git) = d["meta"].get("git") {
        println!(
            "  from {} at {} ({})",
            git["url"].as_str().unwrap_or(""),
            git["ref"].as_str().unwrap_or(""),
            git["commit"].as_str().unwrap_or("")
        );
    }
    for line in d["log"].as_array().into_iter().flatten() {
        println!("  {}  {}", line["at"].as_str().unwrap_or_default(), line["message"].as_str().unwrap_or_default());
    }
    Ok(())
}
