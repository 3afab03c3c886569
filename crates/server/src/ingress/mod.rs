//! `/hooks/{environment}/{component}{resource}`: verify, store, acknowledge, hand off.
//!
//! Rejections are checked in this order and store nothing: 404 unknown
//! environment/component/resource, 405 method without handler, 413 too large, 401
//! verification or credentials, 403 credentials that may not call here, 429 over a rate limit
//! (`gateway`), 400 malformed, 503 overloaded. What was accepted is stored by `store`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use onset_store::{EventForRun, IngestOutcome, NewEvent, StoreError};
use serde_json::{Map, Value, json};

use crate::app::{App, new_id, now_ms};
use crate::deploy::{Deployed, ResponseMode};
use crate::error::ApiError;
use crate::scheduler::Job;
use crate::series::Outcome;
use onset_engine::Responder;
use onset_model::catalog::EventName;
use onset_sources::triggers::Intake;
use onset_sources::{Answer, Delivery};

mod gateway;
mod store;

use gateway::{api_key, bearer, client_ip, rate_limit, rate_limited};
pub(crate) use store::{acknowledge, enqueue_runs, pending, runs_for, store_batch, store_delivery};

/// `/hooks/dev/orders/a/b?x=1` → `("dev", "orders", "/a/b")`.
fn split_path(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("/hooks/")?;
    let (environment, rest) = rest.split_once('/')?;
    let (component, resource) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((environment, component, resource))
}

fn query_json(uri: &Uri) -> Map<String, Value> {
    let mut map = Map::new();
    if let Some(q) = uri.query() {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    map
}

fn unix_seconds() -> i64 {
    now_ms() / 1000
}

pub async fn receive(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    client: Option<axum::Extension<crate::connections::ClientAddr>>,
    body: Body,
) -> Response {
    let Some((environment, component, resource)) = split_path(uri.path()) else {
        return ApiError::not_found(
            "unknown_component",
            "ingress paths are /hooks/{environment}/{component}[/resource]",
        )
        .into_response();
    };
    let to = Address { environment, component, resource };
    let mut trace = app.tracer.as_ref().and_then(|t| {
        let incoming = headers.get("traceparent").and_then(|v| v.to_str().ok());
        t.sample(incoming).map(|(trace_id, parent)| IngestTrace::new(trace_id, parent))
    });
    let client = client.map(|axum::Extension(c)| c.0.ip());
    let answer = accept(&app, to, (method, client), &uri, &headers, body, &mut trace).await;
    if let (Some(tracer), Some(t)) = (&app.tracer, trace) {
        let status = match &answer {
            Ok((_, r)) => r.status().as_u16(),
            Err((_, e)) => e.status.as_u16(),
        };
        t.finish(tracer, to, status, answer.as_ref().err().map(|(_, e)| e.code));
    }
    let mut response = match answer {
        Ok((outcome, response)) => {
            app.metrics.event_received(component, environment, outcome);
            match outcome {
                "accepted" => app.series.event(component, environment, Outcome::Accepted),
                "duplicate" => app.series.event(component, environment, Outcome::Duplicate),
                _ => {}
            }
            response
        }
        Err((outcome, err)) => {
            app.metrics.event_received(component, environment, outcome);
            // Addresses nothing is deployed at get no series: anyone could invent them.
            if !matches!(err.code, "unknown_environment" | "unknown_component") {
                app.series.event(component, environment, Outcome::Rejected(err.code));
            }
            err.into_response()
        }
    };
    // A deprecated API says so on every answer (RFC 9745).
    if let Some(since) = app.lifecycle.get(environment, component).deprecation_header()
        && let Ok(value) = header::HeaderValue::from_str(&since)
    {
        response.headers_mut().insert("deprecation", value);
    }
    response
}

pub(crate) type Rejection = (&'static str, ApiError);

/// Where a request is addressed: `/hooks/{environment}/{component}{resource}`.
#[derive(Clone, Copy)]
struct Address<'a> {
    environment: &'a str,
    component: &'a str,
    resource: &'a str,
}

/// What the ingest of one request did, for its spans.
struct IngestTrace {
    trace_id: crate::traces::TraceId,
    span_id: crate::traces::SpanId,
    parent: Option<crate::traces::SpanId>,
    start_ns: u64,
    /// `(start, end, error code)` of verification.
    verify: Option<(u64, u64, Option<&'static str>)>,
    /// `(start, end)` of the store's write.
    store: Option<(u64, u64)>,
    event_id: Option<String>,
}

impl IngestTrace {
    fn new(trace_id: crate::traces::TraceId, parent: Option<crate::traces::SpanId>) -> Self {
        IngestTrace {
            trace_id,
            span_id: crate::traces::new_span_id(),
            parent,
            start_ns: crate::traces::now_ns(),
            verify: None,
            store: None,
            event_id: None,
        }
    }

    /// The context the event's runs continue from.
    fn traceparent(&self) -> String {
        crate::traces::Context { trace_id: self.trace_id, span_id: self.span_id }.traceparent()
    }

    fn finish(self, tracer: &crate::traces::Tracer, to: Address<'_>, status: u16, error: Option<&str>) {
        use crate::traces::{Attr, Kind, Span, new_span_id, now_ns};
        let mut attributes = Vec::with_capacity(4);
        attributes.push(("onset.component", Attr::from(to.component)));
        attributes.push(("onset.environment", Attr::from(to.environment)));
        attributes.push(("http.response.status_code", Attr::Int(i64::from(status))));
        if let Some(id) = self.event_id {
            attributes.push(("onset.event_id", Attr::Str(id)));
        }
        let mut spans = Vec::with_capacity(3);
        // The ingest span, their parent, carries the event's attributes.
        let child = |name: &'static str, (start, end): (u64, u64), error: Option<&str>| Span {
            trace_id: self.trace_id,
            span_id: new_span_id(),
            parent_span_id: Some(self.span_id),
            name: name.into(),
            kind: Kind::Internal,
            start_ns: start,
            end_ns: end,
            attributes: Vec::new(),
            error: error.map(str::to_string),
        };
        if let Some((start, end, error)) = self.verify {
            spans.push(child("verify", (start, end), error));
        }
        if let Some(times) = self.store {
            spans.push(child("store", times, None));
        }
        spans.push(Span {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent,
            name: format!("ingest {}", to.component).into(),
            kind: Kind::Server,
            start_ns: self.start_ns,
            end_ns: now_ns(),
            attributes,
            error: error.map(str::to_string),
        });
        tracer.record(spans);
    }
}

async fn accept(
    app: &Arc<App>,
    to: Address<'_>,
    (method, client): (Method, Option<std::net::IpAddr>),
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    trace: &mut Option<IngestTrace>,
) -> Result<(&'static str, Response), Rejection> {
    let Address { environment, component, resource } = to;
    if !app.intake_open.load(Ordering::Relaxed) {
        let mut e =
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is shutting down; retry");
        e.retry_after = Some(5);
        return Err(("overloaded", e));
    }
    if !app.knows_environment(environment) {
        return Err((
            "not_found",
            ApiError::not_found("unknown_environment", format!("there is no environment `{environment}`")).at("path"),
        ));
    }
    let Some(deployed) = app.active(environment, component) else {
        return Err(("not_found", ApiError::not_deployed(component, environment).at("path")));
    };
    let lifecycle = app.lifecycle.get(environment, component);
    if lifecycle == crate::lifecycle::State::Retired {
        return Err((
            "not_found",
            ApiError::not_found("api_retired", format!("the API `{component}` is retired in `{environment}`"))
                .at("path"),
        ));
    }
    let Some((route, params)) = deployed.routes.find(resource) else {
        return Err((
            "not_found",
            ApiError::not_found("unknown_resource", format!("component `{component}` has no handler for `{resource}`"))
                .at("path"),
        ));
    };
    // What verification and handshakes see of the request: the path and query as received, the
    // public URL the provider called (`--public-url` + path and query).
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let public_url =
        app.config.public_url.as_deref().map(|base| format!("{}{path_and_query}", base.trim_end_matches('/')));
    let bodyless = onset_sources::Request {
        method: method.as_str(),
        path: path_and_query,
        url: public_url.as_deref(),
        query: uri.query().unwrap_or(""),
        headers,
        body: b"",
    };
    // Handshakes that come without a body (GET, HEAD) are answered before the method check.
    if deployed.verifier.handshake().is_some_and(onset_sources::Handshake::bodyless)
        && let Some(answer) = deployed.verifier.answer_handshake(&bodyless, unix_seconds())
    {
        return handshake(app, &deployed, answer).await;
    }
    if !route.methods.iter().any(|m| m == method.as_str()) {
        let e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("`{}` has handlers for {}, not {method}", route.pattern, route.methods.join(", ")),
        )
        .at("method")
        .with_header(axum::http::header::ALLOW, route.methods.join(", "));
        return Err(("method_not_allowed", e));
    }

    let limit = app.config.max_body;
    let too_large = || {
        (
            "too_large",
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is over the limit of {limit} bytes (set with --max-body)"),
            )
            .at("body"),
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Held until the event is stored (or refused): the body's bytes count against the budget.
    let over_budget = || {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "body_budget_full",
            format!(
                "request bodies in flight already take the --max-inflight-body budget of {} bytes; retry after the \
                 number of seconds in Retry-After",
                app.config.max_inflight_body
            ),
        );
        e.retry_after = Some(1);
        ("overloaded", e)
    };
    let mut reservation = app.body_budget.reserve(declared.unwrap_or(0)).ok_or_else(over_budget)?;
    let raw =
        read_body(body, limit, declared, &mut reservation, app.config.idle_timeout).await.map_err(|e| match e {
            BodyError::TooLarge => too_large(),
            BodyError::OverBudget => over_budget(),
            BodyError::Stalled => (
                "timeout",
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!(
                        "no part of the body arrived for {:?} (--idle-timeout); send it again",
                        app.config.idle_timeout
                    ),
                )
                .at("body"),
            ),
            BodyError::Broken(why) => ("malformed", ApiError::bad_request("body_incomplete", why).at("body")),
        })?;

    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if deployed.trigger.is_probe(content_type, &raw) {
        return Ok(("probe", StatusCode::OK.into_response()));
    }
    if deployed.intake == Intake::Notification {
        let host = Arc::new(crate::timed::host::SourceHost {
            app: app.clone(),
            deployed: deployed.clone(),
            stop: app.shutdown.child_token(),
        });
        let headers_json = Value::Object(deployed.redactor.to_json(headers)).to_string();
        let Some(noticed) = deployed.trigger.notify(host, headers, headers_json) else {
            return Err(("not_found", ApiError::not_found("unknown_resource", "this trigger takes no notifications")));
        };
        return match noticed.await {
            Ok(outcome) => Ok((outcome, StatusCode::OK.into_response())),
            Err(r) => {
                let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
                let outcome = match r.status {
                    401 => "unauthorized",
                    500 => "error",
                    _ => "malformed",
                };
                let e = ApiError::new(status, r.code, r.message);
                Err((outcome, if r.location.is_empty() { e } else { e.at(r.location) }))
            }
        };
    }

    let signed = onset_sources::Request { body: &raw, ..bodyless };
    if deployed.verifier.handshake().is_some_and(|h| !h.bodyless())
        && let Some(answer) = deployed.verifier.answer_handshake(&signed, unix_seconds())
    {
        return handshake(app, &deployed, answer).await;
    }
    if deployed.verifier.handshake().is_some_and(onset_sources::Handshake::hands_over_secret)
        && !deployed.verifier.has_learned()
    {
        crate::handshakes::load_learned(app, &deployed).await;
    }
    let verify_start = crate::traces::now_ns();
    let verified = deployed.verifier.verify(&signed, unix_seconds());
    if let Some(t) = trace.as_mut() {
        t.verify = Some((verify_start, crate::traces::now_ns(), verified.as_ref().err().map(|e| e.code)));
    }
    verified
        .map_err(|e| ("unauthorized", ApiError::new(StatusCode::UNAUTHORIZED, e.code, e.message).at(e.location)))?;
    let (plan, quotas) = match &deployed.security {
        onset_gateway::security::Security::OAuth2(scheme) => {
            bearer(app, scheme, headers, (&route.pattern, method.as_str()), environment, component).await?
        }
        _ => api_key(app, &deployed, headers, uri, environment, component).await?,
    };
    let mut quotas = quotas;
    if let Some(rate) = deployed.client_rate {
        let ip = client_ip(app, headers, client);
        quotas.push(onset_gateway::Quota {
            key: format!(
                "{environment}/{component} ip {}",
                ip.map_or_else(|| "unknown".to_string(), |i| i.to_string())
            )
            .into(),
            policy: "ip",
            limit: rate.limit,
            window: std::time::Duration::from_secs(rate.window_secs),
            ends_in: None,
        });
    }
    rate_limit(app, &deployed, &route.pattern, method.as_str(), plan.as_deref(), &quotas)
        .await
        .map_err(rate_limited)?;

    let malformed =
        |e: onset_sources::PayloadError| ("malformed", ApiError::bad_request("malformed_body", e.message).at("body"));
    let received_at = now_ms();
    let headers_json = deployed.redactor.to_json(headers);
    let mut query = query_json(uri);
    // The API key in the query is never stored.
    if let onset_gateway::security::Security::ApiKey(onset_gateway::security::KeyIn::Query(name)) = &deployed.security
        && let Some(v) = query.get_mut(name)
    {
        *v = Value::String(onset_sources::REDACTED.into());
    }
    let params: Map<String, Value> = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let verifier_id = if deployed.delivery_id.is_none() { deployed.verifier.delivery_id(&signed) } else { None };
    let delivery = match deployed.intake {
        Intake::Provider => deployed.trigger.classify(headers, content_type, raw).map_err(malformed)?,
        _ => {
            let payload = onset_sources::normalize_payload(content_type, raw).map_err(malformed)?;
            let name = EventName::new(route.pattern.clone(), method.as_str());
            let delivery_id = http_delivery_id(&deployed, &name, to, &headers_json, &query, &params, verifier_id)
                .map_err(|e| ("malformed", ApiError::bad_request("delivery_id_unavailable", e)))?;
            Delivery { name, delivery_id, payload, answer: Answer::Accepted }
        }
    };
    let Delivery { name, delivery_id, payload, answer: ack } = delivery;
    let channel = name.channel.clone();
    let event_name = name.event.clone();

    let event_id = new_id();
    let headers_text = Value::Object(headers_json).to_string();
    let query_text = Value::Object(query).to_string();
    let params_text = Value::Object(params).to_string();
    let runs = runs_for(&deployed, &name);
    let new_event = NewEvent {
        id: event_id.clone(),
        component: component.to_string(),
        environment: environment.to_string(),
        channel: channel.clone(),
        event: event_name.clone(),
        delivery_id: delivery_id.clone(),
        received_at,
        headers: headers_text.clone(),
        query: query_text.clone(),
        params: params_text.clone(),
        payload: payload.clone(),
        runs: runs.clone(),
        trace: trace.as_ref().map(IngestTrace::traceparent),
    };
    let waiting = match deployed.response {
        ResponseMode::AfterRun(timeout) if !runs.is_empty() => Some((timeout, Responder::new())),
        _ => None,
    };
    let store_start = crate::traces::now_ns();
    let stored = app.store.ingest(new_event).await;
    if let Some(t) = trace.as_mut() {
        t.store = Some((store_start, crate::traces::now_ns()));
        t.event_id = match &stored {
            Ok(IngestOutcome::Duplicate { event_id: original }) => Some(original.clone()),
            _ => Some(event_id.clone()),
        };
    }
    match stored {
        Ok(IngestOutcome::Stored) => {
            let now = now_ms();
            let (timeout, answer) = match waiting {
                Some((timeout, (responder, answer))) => (Some((timeout, responder)), Some(answer)),
                None => (None, None),
            };
            for (i, run) in runs.into_iter().enumerate() {
                let job = Job {
                    lease: String::new(),
                    claimed: false,
                    // One handler matches a request, so the first run is the one that answers.
                    responder: timeout.as_ref().filter(|_| i == 0).map(|(_, r)| r.clone()),
                    run: pending(run, &event_id, component, environment, received_at),
                    event: Some(EventForRun {
                        payload: payload.clone(),
                        headers: headers_text.clone(),
                        query: query_text.clone(),
                        params: params_text.clone(),
                        delivery_id: delivery_id.clone(),
                        received_at,
                        trace: trace.as_ref().map(IngestTrace::traceparent),
                    }),
                };
                app.scheduler.enqueue(job, now);
            }
            if let (Some((wait, responder)), Some(answer)) = (timeout, answer) {
                // Only the queued run holds the responder now: if the run cannot start (paused,
                // or left to the database), the wait ends at once with the usual 202.
                drop(responder);
                return Ok(("accepted", wait_for_answer(answer, wait, &event_id).await));
            }
            Ok(("accepted", acknowledge(&ack, &event_id, false)))
        }
        Ok(IngestOutcome::Duplicate { event_id }) => Ok(("duplicate", acknowledge(&ack, &event_id, true))),
        Err(StoreError::Busy) => Err(("overloaded", ApiError::overloaded())),
        Err(StoreError::DiskFull) => Err(("disk_full", ApiError::disk_full())),
        Err(e) => Err(("error", ApiError::internal(e))),
    }
}

enum BodyError {
    TooLarge,
    OverBudget,
    Stalled,
    Broken(String),
}

/// Reads a request body of at most `limit` bytes, growing `reservation` as it arrives; a body
/// that sends nothing for `stall` is given up. A body that arrives in one piece is not copied.
async fn read_body(
    body: Body,
    limit: u64,
    declared: Option<u64>,
    reservation: &mut crate::body_budget::Reservation,
    stall: std::time::Duration,
) -> Result<Bytes, BodyError> {
    use futures_util::StreamExt as _;
    let mut chunks = body.into_data_stream();
    let mut single: Option<Bytes> = None;
    let mut joined = bytes::BytesMut::new();
    let mut len = 0u64;
    loop {
        let next = tokio::time::timeout(stall, chunks.next()).await.map_err(|_| BodyError::Stalled)?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| BodyError::Broken(format!("the body could not be read whole: {e}")))?;
        len += chunk.len() as u64;
        if len > limit {
            return Err(BodyError::TooLarge);
        }
        if !reservation.grow_to(len) {
            return Err(BodyError::OverBudget);
        }
        match single.take() {
            None if joined.is_empty() => single = Some(chunk),
            first => {
                if let Some(first) = first {
                    let expected = declared.unwrap_or(0).max(len);
                    joined.reserve(usize::try_from(expected).unwrap_or(usize::MAX));
                    joined.extend_from_slice(&first);
                }
                joined.extend_from_slice(&chunk);
            }
        }
    }
    Ok(single.unwrap_or_else(|| joined.freeze()))
}

/// An `http` trigger's dedup key: `with.delivery_id`, else the id the verification names (a
/// header or body field of the preset or `verify.id`).
fn http_delivery_id(
    deployed: &Deployed,
    name: &EventName,
    to: Address<'_>,
    headers_json: &Map<String, Value>,
    query: &Map<String, Value>,
    params: &Map<String, Value>,
    verifier_id: Option<String>,
) -> Result<Option<String>, String> {
    Ok(match &deployed.delivery_id {
        Some((program, template)) => {
            let scope = onset_expr::from_json(&json!({ "meta": {
                "headers": headers_json, "query": query, "params": params,
                "channel": name.channel, "event": name.event, "component": to.component, "environment": to.environment,
            }}));
            let v = program.eval(template, &scope).map_err(|e| format!("trigger.with.delivery_id: {e}"))?;
            v.as_str()
                .map_or_else(|| (!v.is_none()).then(|| onset_expr::to_json(&v).to_string()), |s| Some(s.to_string()))
                .filter(|s| !s.is_empty())
        }
        None => verifier_id,
    })
}

/// A handshake's answer (outcome `probe`: not an event, nothing stored but a handed-over secret).
async fn handshake(
    app: &Arc<App>,
    deployed: &Deployed,
    answer: Result<onset_sources::HandshakeAnswer, onset_sources::VerifyError>,
) -> Result<(&'static str, Response), Rejection> {
    let answer = answer
        .map_err(|e| ("unauthorized", ApiError::new(StatusCode::UNAUTHORIZED, e.code, e.message).at(e.location)))?;
    crate::handshakes::respond(app, deployed, answer).await.map(|r| ("probe", r)).map_err(|e| ("conflict", e))
}

/// The run's answer, or 504 when it does not come in time. If the run cannot start now (its
/// component is paused, or the queue holds it in the database) the answer is the usual 202.
async fn wait_for_answer(
    answer: tokio::sync::oneshot::Receiver<Value>,
    wait: std::time::Duration,
    event_id: &str,
) -> Response {
    match tokio::time::timeout(wait, answer).await {
        Ok(Ok(response)) => http_response(&response),
        Ok(Err(_)) => {
            let body = json!({ "event_id": event_id, "duplicate": false });
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "run_timeout",
            format!("the run did not answer within {wait:?}; event {event_id} is stored and its run goes on"),
        )
        .into_response(),
    }
}

/// `{status, headers, body}` as an HTTP response: objects and lists as JSON, text as text.
fn http_response(response: &Value) -> Response {
    let status =
        response["status"].as_u64().and_then(|s| StatusCode::from_u16(s as u16).ok()).unwrap_or(StatusCode::OK);
    let (content_type, body) = match &response["body"] {
        Value::Null => (None, Vec::new()),
        Value::String(s) => (Some("text/plain; charset=utf-8"), s.clone().into_bytes()),
        other => (Some("application/json"), other.to_string().into_bytes()),
    };
    let mut resp = (status, body).into_response();
    if let Some(ct) = content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static(ct));
    }
    if let Some(headers) = response["headers"].as_object() {
        for (name, value) in headers {
            if let (Ok(n), Some(Ok(v))) =
                (http::HeaderName::from_bytes(name.as_bytes()), value.as_str().map(http::HeaderValue::from_str))
            {
                resp.headers_mut().insert(n, v);
            }
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_environment_component_resource() {
        assert_eq!(split_path("/hooks/development/orders"), Some(("development", "orders", "/")));
        assert_eq!(split_path("/hooks/development/orders/"), Some(("development", "orders", "/")));
        assert_eq!(split_path("/hooks/production/orders/a/b"), Some(("production", "orders", "/a/b")));
        assert_eq!(split_path("/hooks/development"), None);
    }
}
