//! What the web UI needs besides the rest of the control plane: the session, validation and
//! trial runs of sources not deployed, expression previews, drafts, project files, replays of
//! many runs and component skeletons.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};

use super::doc::Op;
use super::types::{
    Draft, DraftEntry, DraftSave, FileSave, Page, Preview, PreviewRequest, ProjectEntry, ProjectFile, ReplayMany,
    ReplayedMany, Session, SignIn, SkeletonQuery, SkeletonSource, SourceText, TryRequest, TryResult, Validation,
};
use super::{Body, Q, Table};
use crate::app::App;
use crate::auth::{self, Principal, SessionCsrf};
use crate::error::ApiError;
use crate::service::studio;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::post(
            "/api/v1/session",
            "signIn",
            "Sign in with a control-plane token: sets the HttpOnly session cookie and the CSRF cookie",
        )
        .tag("session")
        .public()
        .body::<SignIn>()
        .answers::<Session>(200, "Signed in; repeat `csrf_token` in `X-CSRF-Token` on changes")
        .errors(&[400, 401]),
        post(sign_in),
    )
    .add(
        Op::delete("/api/v1/session", "signOut", "Sign out: both session cookies are cleared")
            .tag("session")
            .public()
            .answers_empty(204, "Signed out"),
        axum::routing::delete(sign_out),
    )
    .add(
        Op::get("/api/v1/session", "getSession", "Who is signed in (or whose bearer token this is)")
            .tag("session")
            .answers::<Session>(200, "The caller"),
        get(session),
    )
    .add(
        Op::post("/api/v1/validate", "validateSource", "`onset validate` on a component's source, not deployed")
            .tag("studio")
            .body::<SourceText>()
            .answers::<Validation>(200, "Every problem at file:line:column (none: valid)")
            .errors(&[400]),
        post(validate),
    )
    .add(
        Op::post(
            "/api/v1/try",
            "tryHandler",
            "Run one handler of a source on a payload with the `onset run` engine; nothing is stored",
        )
        .tag("studio")
        .body::<TryRequest>()
        .answers::<TryResult>(200, "What each step took, gave, logged or failed with")
        .errors(&[400, 403, 422]),
        post(try_run),
    )
    .add(
        Op::post(
            "/api/v1/expressions/preview",
            "previewExpression",
            "Evaluate an expression or template on a sample event with the engine's expression language",
        )
        .tag("studio")
        .body::<PreviewRequest>()
        .answers::<Preview>(200, "The value, or the error that stops it"),
        post(preview),
    )
    .add(
        Op::get("/api/v1/drafts", "listDrafts", "Every component's draft (server mode), without the text")
            .tag("studio")
            .answers::<Page<DraftEntry>>(200, "Drafts by component name"),
        get(list_drafts),
    )
    .add(
        Op::get("/api/v1/drafts/{component}", "getDraft", "A component's draft (server mode)")
            .tag("studio")
            .answers::<Draft>(200, "The draft")
            .errors(&[400, 404]),
        get(draft),
    )
    .add(
        Op::put(
            "/api/v1/drafts/{component}",
            "saveDraft",
            "Save a component's draft as its next revision (valid or not)",
        )
        .tag("studio")
        .body::<DraftSave>()
        .answers::<Draft>(200, "Saved")
        .errors(&[400, 403, 409]),
        axum::routing::put(save_draft),
    )
    .add(
        Op::get("/api/v1/project/files", "listProjectFiles", "The project directory's files (project mode)")
            .tag("studio")
            .answers::<Page<ProjectEntry>>(200, "Every file the editor may open")
            .errors(&[409]),
        get(list_files),
    )
    .add(
        Op::get("/api/v1/project/files/{*path}", "getProjectFile", "One file of the project directory")
            .tag("studio")
            .answers::<ProjectFile>(200, "The file")
            .errors(&[400, 404, 409]),
        get(read_file),
    )
    .add(
        Op::put(
            "/api/v1/project/files/{*path}",
            "saveProjectFile",
            "Write one file of the project directory; the watcher deploys what changed to development",
        )
        .tag("studio")
        .body::<FileSave>()
        .answers::<ProjectFile>(200, "Written")
        .errors(&[400, 403, 409]),
        axum::routing::put(write_file),
    )
    .add(
        Op::post("/api/v1/runs/replay", "replayRuns", "Run events again, named by their ids or their runs' ids")
            .tag("runs")
            .body::<ReplayMany>()
            .answers::<ReplayedMany>(202, "New runs are queued; what could not be replayed says why")
            .errors(&[400]),
        post(replay_many),
    )
    .add(
        Op::get(
            "/api/v1/catalog/{kind}/skeleton",
            "getSkeleton",
            "What `onset new` writes for a channel of a trigger type, with the events' samples",
        )
        .tag("catalog")
        .query::<SkeletonQuery>()
        .answers::<SkeletonSource>(200, "The source")
        .errors(&[400, 404]),
        get(skeleton),
    )
}

fn mode(app: &App) -> String {
    if app.config.project.is_some() { "project" } else { "server" }.into()
}

async fn sign_in(State(app): State<Arc<App>>, Body(req): Body<SignIn>) -> Result<Response, ApiError> {
    let token = req.token.trim();
    let row = app.store.token_by_hash(auth::hash(token)).await.map_err(ApiError::internal)?.ok_or_else(|| {
        ApiError::new(StatusCode::UNAUTHORIZED, "token_invalid", "the token is unknown or revoked").at("body token")
    })?;
    let new = auth::new_session(&app, token).map_err(ApiError::internal)?;
    let [session_cookie, csrf_cookie] = auth::session_cookies(&app, Some(&new));
    let who = Principal {
        token_id: row.id.clone(),
        name: row.name.clone(),
        role: auth::Role::parse(&row.role).unwrap_or(auth::Role::Viewer),
        can_promote: row.can_promote,
    };
    auth::audit(&app, &who, "session.create", &row.id, serde_json::json!({})).await;
    let body = Session {
        name: row.name,
        role: who.role.as_str().into(),
        can_promote: row.can_promote,
        csrf_token: Some(new.csrf),
        expires_at: Some(onset_store::time::rfc3339(new.expires_at)),
        mode: mode(&app),
        environments: app.environment_list(),
    };
    Ok((AppendHeaders([(SET_COOKIE, session_cookie), (SET_COOKIE, csrf_cookie)]), Json(body)).into_response())
}

/// Ends the session in this browser: both cookies are cleared (revoke the token to end every
/// session made with it).
async fn sign_out(State(app): State<Arc<App>>) -> Response {
    let [session_cookie, csrf_cookie] = auth::session_cookies(&app, None);
    (StatusCode::NO_CONTENT, AppendHeaders([(SET_COOKIE, session_cookie), (SET_COOKIE, csrf_cookie)])).into_response()
}

async fn session(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    csrf: Option<Extension<SessionCsrf>>,
) -> Json<Session> {
    Json(Session {
        name: who.name,
        role: who.role.as_str().into(),
        can_promote: who.can_promote,
        csrf_token: csrf.map(|Extension(SessionCsrf(c))| c),
        expires_at: None,
        mode: mode(&app),
        environments: app.environment_list(),
    })
}

async fn validate(State(app): State<Arc<App>>, Body(req): Body<SourceText>) -> Result<Json<Validation>, ApiError> {
    Ok(Json(studio::validate(&app, req)?))
}

async fn try_run(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<TryRequest>,
) -> Result<Json<TryResult>, ApiError> {
    Ok(Json(studio::try_run(&app, &who, req).await?))
}

async fn preview(Body(req): Body<PreviewRequest>) -> Json<Preview> {
    Json(studio::preview(req))
}

async fn list_drafts(State(app): State<Arc<App>>) -> Result<Json<Page<DraftEntry>>, ApiError> {
    Ok(Json(Page::all(studio::drafts(&app).await?)))
}

async fn draft(State(app): State<Arc<App>>, Path(component): Path<String>) -> Result<Json<Draft>, ApiError> {
    Ok(Json(studio::draft(&app, component).await?))
}

async fn save_draft(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(component): Path<String>,
    Body(req): Body<DraftSave>,
) -> Result<Json<Draft>, ApiError> {
    Ok(Json(studio::save_draft(&app, &who, component, req.text, req.base_revision).await?))
}

async fn list_files(State(app): State<Arc<App>>) -> Result<Json<Page<ProjectEntry>>, ApiError> {
    Ok(Json(Page::all(studio::project_files(&app)?)))
}

async fn read_file(State(app): State<Arc<App>>, Path(path): Path<String>) -> Result<Json<ProjectFile>, ApiError> {
    Ok(Json(studio::read_file(&app, path)?))
}

async fn write_file(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(path): Path<String>,
    Body(req): Body<FileSave>,
) -> Result<Json<ProjectFile>, ApiError> {
    Ok(Json(studio::write_file(&app, &who, path, req).await?))
}

async fn replay_many(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<ReplayMany>,
) -> Result<(StatusCode, Json<ReplayedMany>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(studio::replay_many(&app, &who, req).await?)))
}

async fn skeleton(Path(kind): Path<String>, Q(q): Q<SkeletonQuery>) -> Result<Json<SkeletonSource>, ApiError> {
    if onset_model::catalog::trigger(&kind).is_none() {
        return Err(
            ApiError::not_found("unknown_trigger_type", format!("there is no trigger type `{kind}`")).at("path kind")
        );
    }
    let s = onset_model::catalog::skeleton(&q.name, &kind, q.channel.as_deref(), q.event.as_deref())
        .map_err(|e| ApiError::bad_request("invalid_skeleton", e).at("query"))?;
    Ok(Json(SkeletonSource {
        path: format!("components/{}.yaml", q.name),
        samples: s.samples.into_iter().map(|(e, v)| (format!("{}.{e}", s.channel), v)).collect(),
        source: s.yaml,
    }))
}
