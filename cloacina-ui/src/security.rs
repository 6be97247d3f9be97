//! What every request passes: the token (when one is set), the checks on actions (read-only,
//! and refused when another site's page sends them), and the headers every answer carries.

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::ApiError;
use crate::server::AppState;

/// The header every action must carry. A page of another site cannot send it without the
/// server's consent (a CORS preflight this server never grants); a plain form cannot send it
/// at all.
pub(crate) const ACTION_HEADER: &str = "x-cloacina-action";

/// The cookie the page keeps the token in, once opened as `/?token=...`.
const TOKEN_COOKIE: &str = "cloacina_token";

/// Where the page's content may come from: this server only, no inline script or style.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Checks a request and marks its answer.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api");
    if let Some(refused) = check_access(&state, &request, api) {
        return with_headers(refused, api);
    }
    let action = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if action && let Err(refused) = check_action(&state, request.headers()) {
        return with_headers(refused.into_response(), api);
    }
    with_headers(next.run(request).await, api)
}

/// The answer to a request that may not go on: without the token when one is set, or, when none
/// is, addressed to a name other than a loopback one.
fn check_access(state: &AppState, request: &Request, api: bool) -> Option<Response> {
    let Some(token) = &state.token else {
        // Without a token the server listens on loopback only; a page of another site whose
        // name has been pointed at this machine (DNS rebinding) would be of the same origin
        // as the API, and its requests name that site in `Host`.
        return match named_by_loopback(request.headers()) {
            Ok(()) => None,
            Err(host) => {
                let message = format!(
                    "this server answers requests for localhost, 127.0.0.1 or [::1] only, not for {host:?}: \
                     open it by one of those, or serve it with a token (CLOACINA_UI_TOKEN) to be reached by another name"
                );
                Some(if api {
                    ApiError::forbidden(message).into_response()
                } else {
                    (StatusCode::FORBIDDEN, message).into_response()
                })
            }
        };
    };
    let carried = carries_token(request.headers(), token);
    match offered_token(request) {
        // Opened as /?token=...: the token is kept in a cookie and taken out of the address,
        // also when a cookie came with the request.
        Some(offered) if same_secret(&offered, token) => Some(keep_token(token)),
        Some(_) if carried => Some(Redirect::to("/").into_response()),
        _ if carried => None,
        _ if api => Some(
            ApiError::unauthorized(
                "this server needs its token: send `Authorization: Bearer <token>`, or open the page as /?token=<token>",
            )
            .into_response(),
        ),
        _ => Some((StatusCode::UNAUTHORIZED, "This page needs its token: open it as /?token=<token>.").into_response()),
    }
}

/// Whether the request's `Host` names a loopback address or `localhost` (any port); the name it
/// gave otherwise, shortened. A request without `Host` (HTTP/1.0, an in-process call) passes:
/// browsers always send one.
fn named_by_loopback(headers: &HeaderMap) -> Result<(), String> {
    let Some(value) = headers.get(header::HOST) else {
        return Ok(());
    };
    let host = String::from_utf8_lossy(value.as_bytes());
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map_or(bracketed, |(address, _)| address),
        None => host.rsplit_once(':').map_or(&*host, |(name, _)| name),
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback());
    if loopback { Ok(()) } else { Err(host.chars().take(80).collect()) }
}

/// Whether an action may be taken: actions are on, and the request came from this server's
/// page (or a script), not from another site's.
fn check_action(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.read_only {
        return Err(ApiError::read_only());
    }
    if headers.get(ACTION_HEADER).and_then(|value| value.to_str().ok()) != Some("1") {
        return Err(ApiError::forbidden(format!(
            "actions need the header `{ACTION_HEADER}: 1` (the page sends it; requests from other sites cannot)"
        )));
    }
    let site = headers.get("sec-fetch-site").and_then(|value| value.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return Err(ApiError::forbidden("actions from another site's page are refused"));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if origin != "null" && origin_host != host {
            return Err(ApiError::forbidden(format!("actions from the origin {origin:?} are refused")));
        }
    }
    Ok(())
}

/// Whether the request carries the token, as a bearer token or in the page's cookie.
fn carries_token(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if bearer.is_some_and(|given| same_secret(given.trim(), token)) {
        return true;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .any(|(name, value)| name == TOKEN_COOKIE && same_secret(value, token))
}

/// The token offered in the address of the page (`/?token=...`), the way a person opens it.
fn offered_token(request: &Request) -> Option<String> {
    if request.method() != Method::GET || request.uri().path() != "/" {
        return None;
    }
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "token").map(|(_, value)| value.into_owned())
}

/// Keeps the token in a cookie only this server's pages send, and opens the page without it in
/// the address (so it is not left in the history or shown on screen).
fn keep_token(token: &str) -> Response {
    let cookie = format!("{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
    let mut response = Redirect::to("/").into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(value) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        Err(_) => (StatusCode::BAD_REQUEST, "This token cannot be kept in a cookie; send it as a bearer token.")
            .into_response(),
    }
}

/// Compares secrets in time that does not depend on where they differ.
fn same_secret(given: &str, token: &str) -> bool {
    let (given, token) = (given.as_bytes(), token.as_bytes());
    given.len() == token.len() && given.iter().zip(token).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
}

/// The headers every answer carries: the content policy, no sniffing, no framing, no referrer;
/// API answers are not cached.
fn with_headers(mut response: Response, api: bool) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_equal_only_when_every_byte_is() {
        assert!(same_secret("0123456789abcdef", "0123456789abcdef"));
        assert!(!same_secret("0123456789abcdeF", "0123456789abcdef"));
        assert!(!same_secret("0123456789abcde", "0123456789abcdef"));
        assert!(!same_secret("", "0123456789abcdef"));
    }

    #[test]
    fn only_loopback_names_pass_without_a_token() {
        let named = |host: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static(host));
            named_by_loopback(&headers)
        };
        for host in ["127.0.0.1:8490", "localhost:8490", "LOCALHOST", "[::1]:8490", "127.1.2.3", "[::1]"] {
            assert_eq!(named(host), Ok(()), "{host}");
        }
        for host in ["evil.example:8490", "10.0.0.5:8490", "localhost.evil.example", "[::2]:8490", "0.0.0.0:8490"] {
            assert_eq!(named(host), Err(host.to_owned()), "{host}");
        }
        assert_eq!(named_by_loopback(&HeaderMap::new()), Ok(()));
    }

    #[test]
    fn the_token_is_read_from_the_bearer_header_or_the_cookie() {
        let token = "0123456789abcdef";
        let mut headers = HeaderMap::new();
        assert!(!carries_token(&headers, token));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer 0123456789abcdef"));
        assert!(carries_token(&headers, token));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; cloacina_token=0123456789abcdef"));
        assert!(carries_token(&headers, token));
        headers.insert(header::COOKIE, HeaderValue::from_static("cloacina_token=wrong"));
        assert!(!carries_token(&headers, token));
    }
}
