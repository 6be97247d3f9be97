//! The page's files (HTML, ES modules, CSS), built into the binary from `assets/`: nothing to
//! install or build at run time, and the page always matches the server's API.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::Embed;

use crate::server::AppState;

/// The files under `assets/`, but for their tests.
#[derive(Embed)]
#[folder = "assets/"]
#[exclude = "tests/*"]
struct Assets;

/// `/` (the page) and `/assets/...` (its files).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|headers: HeaderMap| async move { file("index.html", &headers) }))
        .route("/favicon.ico", get(|headers: HeaderMap| async move { file("favicon.svg", &headers) }))
        .route(
            "/assets/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { file(&path, &headers) }),
        )
}

/// A file, or 404. Browsers check again before reusing a copy (`no-cache`), and a copy they
/// hold of the same content is answered `304 Not Modified`.
fn file(path: &str, request_headers: &HeaderMap) -> Response {
    let Some(found) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "No such file.").into_response();
    };
    let tag = format!("\"{}\"", hex(&found.metadata.sha256_hash()[..16]));
    let cached = request_headers.get(header::IF_NONE_MATCH).and_then(|value| value.to_str().ok()) == Some(&tag);
    let mut response =
        if cached { StatusCode::NOT_MODIFIED.into_response() } else { found.data.into_owned().into_response() };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(found.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
