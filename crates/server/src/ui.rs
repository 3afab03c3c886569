//! The web UI: its production build (`ui/dist`, committed; `scripts/test` checks it matches
//! `ui/src`), embedded in the binary: the studio at `/`, the developer portal at `/portal`.
//! Nothing is fetched from elsewhere: the content security policy allows this origin only.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../../ui/dist"]
struct Assets;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
                   form-action 'self'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str, cache: &'static str) -> Response {
    let Some(file) = Assets::get(path) else {
        return crate::error::ApiError::not_found("not_found", "no such file of the web UI").into_response();
    };
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// The page: always checked again, so a new build is picked up at once.
pub async fn index() -> Response {
    serve("index.html", "no-cache")
}

/// The developer portal's page (`/portal`); its API is under `/portal/api/`.
pub async fn portal() -> Response {
    serve("portal/index.html", "no-cache")
}

/// Built assets are named by their content (Swagger UI's by its version): cached for good.
pub async fn asset(Path(file): Path<String>) -> Response {
    serve(&format!("assets/{file}"), "public, max-age=31536000, immutable")
}
