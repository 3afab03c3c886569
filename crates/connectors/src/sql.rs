//! `sql.query` and `sql.execute` on PostgreSQL (a `postgres` account) and MySQL/MariaDB (a `mysql`
//! account): one pool per account (its credentials), parameters always bound (`$1`, `$2`… on
//! PostgreSQL, `?` on MySQL; never interpolated). On PostgreSQL rows come back as JSON objects
//! built by PostgreSQL itself (`json_agg` over the statement as a CTE), so every column type
//! converts the way its `to_json` does; on MySQL each column is converted by its type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use onset_engine::CallError;
use serde_json::{Map, Value, json};
use sqlx::mysql::{MySqlArguments, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgArguments, PgPoolOptions};
use sqlx::{Arguments, Column, PgPool, Row, TypeInfo};

use crate::accounts::{Account, Tokens};
use crate::http::fail;
use crate::{Connector, Operation};

/// Connections per account's pool unless it says `max_connections`.
const POOL_SIZE: u32 = 5;
/// A statement that runs longer than this fails the step.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgPool),
    MySql(MySqlPool),
}

#[derive(Debug, Default)]
pub struct SqlConnector {
    pools: Mutex<HashMap<String, Pool>>,
}

/// SQLSTATE classes that another attempt may get past: connection exceptions, serialization
/// failures and deadlocks, too many connections, the server shutting down.
fn transient(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03")
}

/// MySQL's error numbers another attempt may get past: lock wait timeout, deadlock, too many
/// connections, the server shutting down.
fn transient_mysql(number: u16) -> bool {
    matches!(number, 1205 | 1213 | 1040 | 1053)
}

fn engine(account: &Account) -> &'static str {
    if account.kind == "mysql" { "MySQL" } else { "PostgreSQL" }
}

fn failure(op: &str, account: &Account, e: &sqlx::Error) -> CallError {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let retry = match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                Some(my) => transient(&code) || transient_mysql(my.number()),
                None => transient(&code),
            };
            fail(format!("{op}: {} refused the statement ({code}): {}", engine(account), db.message()), retry)
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
            fail(format!("{op}: cannot reach the database of account `{}`: {e}", account.name), true)
        }
        other => fail(format!("{op}: {other}"), false),
    }
}

/// Binds `params` in order: numbers, strings, booleans and null as themselves, lists and objects
/// as their JSON text.
fn bind<A: Arguments>(op: &str, params: Option<&Value>) -> Result<A, CallError>
where
    for<'q> bool: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    for<'q> i64: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    for<'q> f64: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    for<'q> String: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    for<'q> Option<String>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
{
    let mut args = A::default();
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
        added.map_err(|e| fail(format!("{op}: parameter {} cannot be bound: {e}", i + 1), false))?;
    }
    Ok(args)
}

/// One MySQL row as an object by column name, each value converted by its column's type:
/// integers and floats as numbers, DECIMAL as a number, JSON parsed, dates and times as ISO 8601
/// text, binary columns as base64, the rest as text.
fn mysql_row(row: &MySqlRow) -> Result<Map<String, Value>, sqlx::Error> {
    let mut out = Map::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = if row.try_get_raw(i).map(|v| sqlx::ValueRef::is_null(&v))? {
            Value::Null
        } else {
            mysql_value(row, i, column.type_info().name())?
        };
        out.insert(column.name().to_string(), value);
    }
    Ok(out)
}

fn mysql_value(row: &MySqlRow, i: usize, kind: &str) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        "BOOLEAN" => Value::Bool(row.try_get_unchecked::<i8, _>(i)? != 0),
        k if k.ends_with("UNSIGNED") => json!(row.try_get_unchecked::<u64, _>(i)?),
        "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" => json!(row.try_get_unchecked::<i64, _>(i)?),
        "YEAR" => json!(row.try_get_unchecked::<u16, _>(i)?),
        "FLOAT" => json!(row.try_get_unchecked::<f32, _>(i)?),
        "DOUBLE" => json!(row.try_get_unchecked::<f64, _>(i)?),
        "DECIMAL" => {
            let text: String = row.try_get_unchecked(i)?;
            serde_json::from_str::<serde_json::Number>(&text).map_or(Value::String(text), Value::Number)
        }
        "JSON" => {
            let text: String = row.try_get_unchecked(i)?;
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
        "DATE" => {
            let d: sqlx::types::time::Date = row.try_get_unchecked(i)?;
            Value::String(format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        }
        "DATETIME" | "TIMESTAMP" => {
            let t: sqlx::types::time::PrimitiveDateTime = row.try_get_unchecked(i)?;
            let mut text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            if t.microsecond() != 0 {
                text.push_str(&format!(".{:06}", t.microsecond()));
            }
            Value::String(text)
        }
        "TIME" => {
            let t: sqlx::mysql::types::MySqlTime = row.try_get_unchecked(i)?;
            // sqlx 0.9's `is_negative` answers `is_positive`; the sign is read from the latter.
            let sign = if t.is_positive() { "" } else { "-" };
            Value::String(format!("{sign}{:02}:{:02}:{:02}", t.hours(), t.minutes(), t.seconds()))
        }
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT" | "GEOMETRY" => {
            let bytes: Vec<u8> = row.try_get_unchecked(i)?;
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        _ => Value::String(row.try_get_unchecked::<String, _>(i)?),
    })
}

impl SqlConnector {
    fn pool(&self, op: &str, account: &Account) -> Result<Pool, CallError> {
        let key = account.fingerprint();
        let mut pools = self.pools.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = pools.get(&key) {
            return Ok(p.clone());
        }
        let url =
            account.get("url").ok_or_else(|| fail(format!("{op}: account `{}` has no `url`", account.name), false))?;
        let size = account.get("max_connections").and_then(|n| n.parse().ok()).unwrap_or(POOL_SIZE);
        let timeout = Duration::from_secs(10);
        // Lazy: the first statement connects, and a database that is down is a retryable failure
        // of that statement rather than of the deploy. The parser's words may quote the URL,
        // password and all: not repeated.
        let pool = if account.kind == "mysql" {
            MySqlPoolOptions::new().max_connections(size).acquire_timeout(timeout).connect_lazy(url).map(Pool::MySql)
        } else {
            PgPoolOptions::new().max_connections(size).acquire_timeout(timeout).connect_lazy(url).map(Pool::Postgres)
        };
        let pool = pool.map_err(|_| {
            let form = if account.kind == "mysql" {
                "mysql://USER:PASSWORD@HOST:3306/DATABASE"
            } else {
                "postgres://USER:PASSWORD@HOST:5432/DATABASE"
            };
            fail(format!("{op}: account `{}`: `url` is not a {} URL ({form})", account.name, engine(account)), false)
        })?;
        pools.insert(key, pool.clone());
        Ok(pool)
    }

    async fn perform(&self, op: &'static Operation, input: Value, account: &Account) -> Result<Value, CallError> {
        let name = op.name.as_str();
        let sql = input["sql"].as_str().unwrap_or_default().trim().trim_end_matches(';').to_string();
        let query = name == "sql.query";
        let pool = self.pool(name, account)?;
        let run = async {
            match pool {
                Pool::Postgres(pool) => {
                    let args: PgArguments = bind(name, input.get("params"))?;
                    if query {
                        // The statement as a CTE: PostgreSQL turns its rows into JSON
                        // (data-modifying statements with RETURNING work too).
                        let wrapped = format!(
                            "WITH onset_rows AS ({sql}) SELECT coalesce(json_agg(onset_rows), '[]'::json)::text FROM onset_rows"
                        );
                        // The statement is the component author's, as written; only parameters vary.
                        let text: String = sqlx::query_scalar_with(sqlx::AssertSqlSafe(wrapped), args)
                            .fetch_one(&pool)
                            .await
                            .map_err(|e| failure(name, account, &e))?;
                        let rows: Value = serde_json::from_str(&text).unwrap_or(Value::Array(Vec::new()));
                        let count = rows.as_array().map_or(0, Vec::len);
                        Ok(json!({ "rows": rows, "count": count }))
                    } else {
                        let done = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
                            .execute(&pool)
                            .await
                            .map_err(|e| failure(name, account, &e))?;
                        Ok(json!({ "rows_affected": done.rows_affected() }))
                    }
                }
                Pool::MySql(pool) => {
                    let args: MySqlArguments = bind(name, input.get("params"))?;
                    let statement = sqlx::query_with(sqlx::AssertSqlSafe(sql), args);
                    if query {
                        let rows = statement.fetch_all(&pool).await.map_err(|e| failure(name, account, &e))?;
                        let rows = rows
                            .iter()
                            .map(|r| mysql_row(r).map(Value::Object))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| failure(name, account, &e))?;
                        Ok(json!({ "count": rows.len(), "rows": rows }))
                    } else {
                        let done = statement.execute(&pool).await.map_err(|e| failure(name, account, &e))?;
                        Ok(json!({ "rows_affected": done.rows_affected() }))
                    }
                }
            }
        };
        match tokio::time::timeout(STATEMENT_TIMEOUT, run).await {
            Ok(result) => result,
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

    fn test_account<'a>(&'a self, account: &'a Account, _tokens: &'a Tokens) -> Option<crate::TestFuture<'a>> {
        matches!(account.kind.as_str(), "postgres" | "mysql").then(|| {
            Box::pin(async move {
                let one: i64 = match self.pool("account test", account).map_err(|e| e.message)? {
                    Pool::Postgres(pool) => sqlx::query_scalar("SELECT 1::bigint").fetch_one(&pool).await,
                    Pool::MySql(pool) => sqlx::query_scalar("SELECT CAST(1 AS SIGNED)").fetch_one(&pool).await,
                }
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

    fn mysql_account() -> Account {
        let url = std::env::var("ONSET_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
        Account {
            environment: "test".into(),
            name: "maria".into(),
            kind: "mysql".into(),
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
        assert_eq!(sql.test_account(&a, &Tokens::default()).unwrap().await.unwrap(), "SELECT 1 answered 1");
    }

    #[tokio::test]
    async fn mysql_rows_convert_by_column_type_and_parameters_stay_values() {
        let sql = SqlConnector::default();
        let a = mysql_account();
        let table = format!("onset_sql_{}", std::process::id());
        let exec = |s: String, params: Value| {
            let (sql, a) = (&sql, &a);
            async move { sql.perform(op("sql.execute"), json!({ "sql": s, "params": params }), a).await }
        };
        exec(format!("DROP TABLE IF EXISTS {table}"), json!([])).await.unwrap();
        exec(
            format!(
                "CREATE TABLE {table} (id bigint PRIMARY KEY, name text, score decimal(8,2), ok boolean, \
                 ratio double, n int unsigned, born date, seen datetime(6), took time, raw varbinary(8))"
            ),
            json!([]),
        )
        .await
        .unwrap();
        let evil = "x'); DROP TABLE onset_sql; --";
        let done = exec(
            format!(
                "INSERT INTO {table} (id, name, score, ok, ratio, n, born, seen, took, raw) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (2, 'b', NULL, false, NULL, NULL, NULL, NULL, '-30:00:01', NULL)"
            ),
            json!([1, evil, 9.25, true, 0.5, 7, "2026-12-04", "2026-12-04 10:11:12.5", "01:02:03", "ab"]),
        )
        .await
        .unwrap();
        assert_eq!(done, json!({ "rows_affected": 2 }));
        let out = sql
            .perform(
                op("sql.query"),
                json!({ "sql": format!("SELECT * FROM {table} WHERE id >= ? ORDER BY id"), "params": [1] }),
                &a,
            )
            .await
            .unwrap();
        assert_eq!(out["count"], 2);
        assert_eq!(
            out["rows"][0],
            json!({
                "id": 1, "name": evil, "score": 9.25, "ok": true, "ratio": 0.5, "n": 7, "born": "2026-12-04",
                "seen": "2026-12-04T10:11:12.500000", "took": "01:02:03", "raw": "YWI="
            }),
            "the injection is a value, each column converted by its type"
        );
        assert_eq!(out["rows"][1]["score"], Value::Null);
        assert_eq!(out["rows"][1]["ok"], false);
        assert_eq!(out["rows"][1]["took"], "-30:00:01", "TIME is a duration and may be negative");
        let none = sql
            .perform(
                op("sql.query"),
                json!({ "sql": format!("SELECT id FROM {table} WHERE id = ?"), "params": [99] }),
                &a,
            )
            .await
            .unwrap();
        assert_eq!(none, json!({ "rows": [], "count": 0 }));
        let err = exec(format!("INSERT INTO {table} (id) VALUES (?)"), json!([1])).await.unwrap_err();
        assert!(err.message.contains("MySQL refused") && !err.retryable, "{err:?}");
        exec(format!("DROP TABLE {table}"), json!([])).await.unwrap();
        assert_eq!(sql.test_account(&a, &Tokens::default()).unwrap().await.unwrap(), "SELECT 1 answered 1");
    }
}
