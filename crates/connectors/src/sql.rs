//! `sql.query` and `sql.execute` on PostgreSQL with a `postgres` account: one pool per account
//! (its credentials), parameters always bound (`$1`, `$2`… never interpolated). Rows come back as
//! JSON objects built by PostgreSQL itself (`json_agg` over the statement as a CTE), so every
//! column type converts the way PostgreSQL's `to_json` does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onset_engine::CallError;
use serde_json::{Value, json};
use sqlx::postgres::{PgArguments, PgPoolOptions};
use sqlx::{Arguments, PgPool};

use crate::accounts::{Account, Tokens};
use crate::http::fail;
use crate::{Connector, Operation};

/// Connections per account's pool unless it says `max_connections`.
const POOL_SIZE: u32 = 5;
/// A statement that runs longer than this fails the step.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct SqlConnector {
    pools: Mutex<HashMap<String, PgPool>>,
}

/// SQLSTATE classes that another attempt may get past: connection exceptions, serialization
/// failures and deadlocks, too many connections, the server shutting down.
fn transient(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03")
}

fn failure(op: &str, account: &Account, e: &sqlx::Error) -> CallError {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            fail(format!("{op}: PostgreSQL refused the statement ({code}): {}", db.message()), transient(&code))
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
            fail(format!("{op}: cannot reach the database of account `{}`: {e}", account.name), true)
        }
        other => fail(format!("{op}: {other}"), false),
    }
}

fn bind(op: &str, params: Option<&Value>) -> Result<PgArguments, CallError> {
    let mut args = PgArguments::default();
    let list = match params {
        None | Some(Value::Null) => return Ok(args),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(fail(format!("{op}: `params` is a list"), false)),
    };
    for (i, p) in list.iter().enumerate() {
        let added = match p {
            Value::Null => args.add(Option::<String>::None),
            Value::Bool(b) => args.add(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => args.add(i),
                None => args.add(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => args.add(s.clone()),
            other => args.add(other.to_string()),
        };
        added.map_err(|e| fail(format!("{op}: parameter ${} cannot be bound: {e}", i + 1), false))?;
    }
    Ok(args)
}

impl SqlConnector {
    fn pool(&self, op: &str, account: &Account) -> Result<PgPool, CallError> {
        let key = account.fingerprint();
        let mut pools = self.pools.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = pools.get(&key) {
            return Ok(p.clone());
        }
        let url =
            account.get("url").ok_or_else(|| fail(format!("{op}: account `{}` has no `url`", account.name), false))?;
        let size = account.get("max_connections").and_then(|n| n.parse().ok()).unwrap_or(POOL_SIZE);
        // Lazy: the first statement connects, and a database that is down is a retryable failure
        // of that statement rather than of the deploy.
        let pool = PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy(url)
            // The parser's words may quote the URL, password and all: not repeated.
            .map_err(|_| {
                fail(
                    format!(
                        "{op}: account `{}`: `url` is not a PostgreSQL URL (postgres://USER:PASSWORD@HOST:5432/DATABASE)",
                        account.name
                    ),
                    false,
                )
            })?;
        pools.insert(key, pool.clone());
        Ok(pool)
    }

    async fn perform(&self, op: &'static Operation, input: Value, account: &Account) -> Result<Value, CallError> {
        let name = op.name.as_str();
        let sql = input["sql"].as_str().unwrap_or_default().trim().trim_end_matches(';').to_string();
        let args = bind(name, input.get("params"))?;
        let pool = self.pool(name, account)?;
        let run = async {
            match name {
                "sql.query" => {
                    // The statement as a CTE: PostgreSQL turns its rows into JSON (data-modifying
                    // statements with RETURNING work too).
                    let wrapped = format!(
                        "WITH onset_rows AS ({sql}) SELECT coalesce(json_agg(onset_rows), '[]'::json)::text FROM onset_rows"
                    );
                    // The statement is the component author's, as written; only parameters vary.
                    let text: String =
                        sqlx::query_scalar_with(sqlx::AssertSqlSafe(wrapped), args).fetch_one(&pool).await?;
                    let rows: Value = serde_json::from_str(&text).unwrap_or(Value::Array(Vec::new()));
                    let count = rows.as_array().map_or(0, Vec::len);
                    Ok(json!({ "rows": rows, "count": count }))
                }
                _ => {
                    let done = sqlx::query_with(sqlx::AssertSqlSafe(sql.clone()), args).execute(&pool).await?;
                    Ok(json!({ "rows_affected": done.rows_affected() }))
                }
            }
        };
        match tokio::time::timeout(STATEMENT_TIMEOUT, run).await {
            Ok(result) => result.map_err(|e: sqlx::Error| failure(name, account, &e)),
            Err(_) => Err(fail(format!("{name}: no answer within {STATEMENT_TIMEOUT:?}"), true)),
        }
    }
}

impl Connector for SqlConnector {
    fn operations(&self) -> &'static [Operation] {
        std::sync::LazyLock::force(&crate::catalog::SQL).as_slice()
    }

    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        input: Value,
        account: Option<Arc<Account>>,
        _: &'a Tokens,
    ) -> onset_engine::CallFuture<'a> {
        Box::pin(async move {
            let account = crate::required_account(operation, account)?;
            self.perform(operation, input, &account).await
        })
    }

    fn test_account<'a>(&'a self, account: &'a Account) -> Option<crate::TestFuture<'a>> {
        (account.kind == "postgres").then(|| {
            Box::pin(async move {
                let pool = self.pool("account test", account).map_err(|e| e.message)?;
                let one: i32 = sqlx::query_scalar("SELECT 1")
                    .fetch_one(&pool)
                    .await
                    .map_err(|e| failure("account test", account, &e).message)?;
                Ok(format!("SELECT 1 answered {one}"))
            }) as crate::TestFuture<'a>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        let url =
            std::env::var("ONSET_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        Account {
            environment: "test".into(),
            name: "db".into(),
            kind: "postgres".into(),
            fields: [("url".to_string(), url)].into_iter().collect(),
        }
    }

    fn op(name: &str) -> &'static Operation {
        crate::catalog::SQL.iter().find(|o| o.name == name).unwrap()
    }

    #[tokio::test]
    async fn rows_come_back_as_objects_and_parameters_stay_values() {
        let sql = SqlConnector::default();
        let a = account();
        let table = format!("onset_sql_{}", std::process::id());
        let exec = |s: String, params: Value| {
            let (sql, a) = (&sql, &a);
            async move { sql.perform(op("sql.execute"), json!({ "sql": s, "params": params }), a).await }
        };
        exec(format!("DROP TABLE IF EXISTS {table}"), json!([])).await.unwrap();
        exec(
            format!(
                "CREATE TABLE {table} (id bigint PRIMARY KEY, name text, score numeric, tags jsonb, seen timestamptz)"
            ),
            json!([]),
        )
        .await
        .unwrap();
        let evil = "x'); DROP TABLE onset_sql; --";
        let done = exec(
            format!("INSERT INTO {table} (id, name, score, tags) VALUES ($1, $2, $3, $4::jsonb), (2, 'b', 1.5, NULL)"),
            json!([1, evil, 9.25, ["a", "b"]]),
        )
        .await
        .unwrap();
        assert_eq!(done, json!({ "rows_affected": 2 }));
        let out = sql
            .perform(op("sql.query"), json!({ "sql": format!("SELECT id, name, score, tags FROM {table} WHERE id >= $1 ORDER BY id;"), "params": [1] }), &a)
            .await
            .unwrap();
        assert_eq!(out["count"], 2);
        assert_eq!(
            out["rows"][0],
            json!({ "id": 1, "name": evil, "score": 9.25, "tags": ["a", "b"] }),
            "the injection is a value"
        );
        assert_eq!(out["rows"][1]["tags"], Value::Null);
        // RETURNING through sql.query; an empty answer is an empty list.
        let out = sql
            .perform(op("sql.query"), json!({ "sql": format!("UPDATE {table} SET name = $1 WHERE id = 2 RETURNING id, name"), "params": ["bee"] }), &a)
            .await
            .unwrap();
        assert_eq!(out["rows"], json!([{ "id": 2, "name": "bee" }]));
        let none = sql
            .perform(
                op("sql.query"),
                json!({ "sql": format!("SELECT * FROM {table} WHERE id = $1"), "params": [99] }),
                &a,
            )
            .await
            .unwrap();
        assert_eq!(none, json!({ "rows": [], "count": 0 }));
        // PostgreSQL's refusal, with its SQLSTATE; a duplicate key is not worth retrying.
        let err = exec(format!("INSERT INTO {table} (id) VALUES ($1)"), json!([1])).await.unwrap_err();
        assert!(err.message.contains("(23505)") && !err.retryable, "{err:?}");
        exec(format!("DROP TABLE {table}"), json!([])).await.unwrap();
        assert_eq!(sql.test_account(&a).unwrap().await.unwrap(), "SELECT 1 answered 1");
    }
}
