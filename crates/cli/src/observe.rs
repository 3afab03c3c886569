//! `onset events`, `onset runs [show ID]`, `onset replay`: what happened, from the terminal.

use reqwest::Method;
use serde_json::Value;

use crate::remote::Remote;

/// Filters shared by `onset events` and `onset runs`.
#[derive(clap::Args, Debug, Clone)]
pub struct ListArgs {
    #[arg(long)]
    pub component: Option<String>,
    /// The environment (all when left out).
    #[arg(long)]
    pub env: Option<String>,
    /// events: handled, unhandled, batched; runs: queued, running, succeeded, retrying, failed, dead.
    #[arg(long)]
    pub status: Option<String>,
    /// At most this many, newest first (1 to 500).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// The raw JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum RunsCommand {
    /// One run: its steps as a table (path, type, status, duration, error).
    Show {
        id: String,
        /// The whole run as JSON (every step's input and output).
        #[arg(long)]
        json: bool,
    },
}

fn query(args: &ListArgs) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("limit", &args.limit.to_string());
    for (k, v) in [("component", &args.component), ("environment", &args.env), ("status", &args.status)] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::Null => "-".into(),
        Value::String(t) => t.clone(),
        other => other.to_string(),
    }
}

/// Rows as left-aligned columns as wide as their widest cell; the last column is not padded.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                out.push_str(&cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

/// One line of an error, cut to fit a table cell.
fn short(text: &str, max: usize) -> String {
    let first = text.lines().next().unwrap_or("");
    if first.chars().count() > max {
        first.chars().take(max - 1).collect::<String>() + "…"
    } else {
        first.to_string()
    }
}

pub async fn events(remote: &Remote, args: ListArgs) -> Result<(), String> {
    let page = remote.call(Method::GET, &format!("/api/v1/events?{}", query(&args)), None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page).unwrap_or_default());
        return Ok(());
    }
    let rows = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let runs: Vec<String> = e["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| format!("{} {}", s(r, "status"), s(r, "id")))
                .collect();
            vec![
                s(e, "id"),
                s(e, "received_at"),
                s(e, "component"),
                s(e, "environment"),
                format!("{} {}", s(e, "channel"), s(e, "event")),
                s(e, "status"),
                if runs.is_empty() { "-".into() } else { runs.join(", ") },
            ]
        })
        .collect();
    println!("{}", table(&["ID", "RECEIVED", "COMPONENT", "ENVIRONMENT", "CHANNEL EVENT", "STATUS", "RUNS"], rows));
    if let Some(next) = page["next_cursor"].as_str() {
        eprintln!("more: the API's /api/v1/events?cursor={next}");
    }
    Ok(())
}

pub async fn runs(remote: &Remote, args: ListArgs) -> Result<(), String> {
    let page = remote.call(Method::GET, &format!("/api/v1/runs?{}", query(&args)), None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page).unwrap_or_default());
        return Ok(());
    }
    let rows = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                s(r, "id"),
                s(r, "created_at"),
                s(r, "component"),
                s(r, "environment"),
                s(r, "handler"),
                s(r, "status"),
                format!("{}/{}", s(r, "attempt"), s(r, "max_attempts")),
                r["error"].as_str().map_or_else(|| "-".into(), |e| short(e, 60)),
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["ID", "CREATED", "COMPONENT", "ENVIRONMENT", "HANDLER", "STATUS", "ATTEMPT", "ERROR"], rows)
    );
    Ok(())
}

pub async fn show_run(remote: &Remote, id: &str, json: bool) -> Result<(), String> {
    let run = remote.call(Method::GET, &format!("/api/v1/runs/{id}"), None).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&run).unwrap_or_default());
        return Ok(());
    }
    println!("run {}  {}  {} ({})", s(&run, "id"), s(&run, "status"), s(&run, "component"), s(&run, "environment"));
    println!(
        "handler {}  event {}  attempt {}/{}",
        s(&run, "handler"),
        s(&run, "event_id"),
        s(&run, "attempt"),
        s(&run, "max_attempts")
    );
    println!("created {}  finished {}", s(&run, "created_at"), s(&run, "finished_at"));
    if let Some(e) = run["error"].as_str() {
        println!("error at step {}: {e}", s(&run, "error_step"));
    }
    println!();
    let rows = run["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|st| {
            vec![
                s(st, "attempt"),
                s(st, "path"),
                s(st, "type"),
                st["id"].as_str().unwrap_or("-").to_string(),
                s(st, "status"),
                st["duration_ms"].as_f64().map_or_else(|| "-".into(), |ms| format!("{ms:.2} ms")),
                st["error"].as_str().map_or_else(|| "-".into(), |e| short(e, 80)),
            ]
        })
        .collect();
    println!("{}", table(&["ATTEMPT", "PATH", "TYPE", "ID", "STATUS", "DURATION", "ERROR"], rows));
    Ok(())
}

/// Replays one event, or every dead-lettered run of a component in an environment.
pub async fn replay(
    remote: &Remote,
    event: Option<String>,
    dead: Option<String>,
    env: Option<String>,
) -> Result<(), String> {
    match (event, dead) {
        (Some(id), None) => {
            let answer = remote.call(Method::POST, &format!("/api/v1/events/{id}/replay"), None).await?;
            let runs: Vec<&str> = answer["runs"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            println!("event {id} replayed: run {}", runs.join(", "));
            Ok(())
        }
        (None, Some(component)) => {
            let env = env.ok_or("--dead needs --env (the environment whose dead runs to replay)")?;
            let q = form_urlencoded::Serializer::new(String::new()).append_pair("environment", &env).finish();
            let answer =
                remote.call(Method::POST, &format!("/api/v1/components/{component}/dead/replay?{q}"), None).await?;
            println!("{} dead run(s) of {component} in {env} replayed", s(&answer, "replayed"));
            for run in answer["runs"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                println!("  new run {run}");
            }
            for skipped in answer["skipped"].as_array().into_iter().flatten() {
                println!("  skipped {}: {}", s(skipped, "run"), s(skipped, "reason"));
            }
            Ok(())
        }
        (Some(_), Some(_)) => Err("give an event id or --dead COMPONENT, not both".into()),
        (None, None) => Err("give an event id (onset replay EVENT_ID) or --dead COMPONENT --env ENV".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "LONGER"], vec![vec!["xyz".into(), "1".into()], vec!["q".into(), "22".into()]]);
        assert_eq!(t, "A    LONGER\nxyz  1\nq    22");
    }
}
