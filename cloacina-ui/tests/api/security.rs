//! Safe by default: the token, actions refused from other sites and when read-only, the
//! headers every answer carries, and the checks made before listening.

use std::net::SocketAddr;

use axum::http::{Method, StatusCode};
use cloacina_ui::{Server, UiError, UiOptions};
use serde_json::Value;

use crate::support::{Backend, Site, assert_error};

const TOKEN: &str = "0123456789abcdef0123";

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn with_a_token_every_request_needs_it() {
    let options = UiOptions { token: Some(TOKEN.to_owned()), ..UiOptions::default() };
    let site = Site::open(Backend::SqliteMemory, options).await.unwrap();
    let refused = site.get("/api/info").await;
    assert_error(&refused, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
    let (status, _, page) = site.request(Method::GET, "/", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(String::from_utf8(page).unwrap().contains("?token="));

    let bearer = format!("Bearer {TOKEN}");
    let (status, _, _) = site.request(Method::GET, "/api/info", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) =
        site.request(Method::GET, "/api/info", &[("authorization", "Bearer 0123456789abcdef0124")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Opening the page with the token keeps it in a cookie and takes it out of the address.
    let (status, headers, _) = site.request(Method::GET, &format!("/?token={TOKEN}"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let sent = cookie.split(';').next().unwrap();
    let (status, _, _) = site.request(Method::GET, "/api/info", &[("cookie", sent)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = site.request(Method::GET, "/?token=wrong", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // With the cookie too, the token is taken out of the address.
    for address in [format!("/?token={TOKEN}"), "/?token=wrong".to_owned()] {
        let (status, headers, _) = site.request(Method::GET, &address, &[("cookie", sent)]).await;
        assert_eq!((status, &headers["location"]), (StatusCode::SEE_OTHER, &"/".parse().unwrap()), "{address}");
    }
    // The live view too needs it.
    let id = site.finished_execution().await;
    let refused = site.get(&format!("/api/executions/{id}/stream")).await;
    assert_error(&refused, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
    // With a token, any name reaches it.
    let (status, _, _) =
        site.request(Method::GET, "/api/info", &[("authorization", &bearer), ("host", "runs.example:8490")]).await;
    assert_eq!(status, StatusCode::OK);
    site.executor.shutdown().await;
}

#[tokio::test]
async fn without_a_token_only_loopback_names_are_answered() {
    let site = Site::open(Backend::SqliteMemory, UiOptions::default()).await.unwrap();
    // A page of another site whose name now points at this machine (DNS rebinding).
    for path in ["/api/info", "/api/executions"] {
        let (status, _, body) = site.request(Method::GET, path, &[("host", "evil.example:8490")]).await;
        let answer = (status, json(&body));
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", "evil.example:8490");
    }
    let (status, _, page) = site.request(Method::GET, "/", &[("host", "evil.example:8490")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8(page).unwrap().contains("CLOACINA_UI_TOKEN"));
    let id = site.finished_execution().await;
    let (status, _, _) = site
        .request(
            Method::POST,
            &format!("/api/executions/{id}/rerun"),
            &[("x-cloacina-action", "1"), ("host", "evil.example:8490"), ("origin", "http://evil.example:8490")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for host in ["localhost:8490", "[::1]:8490", "127.0.0.1"] {
        let (status, _, _) = site.request(Method::GET, "/api/info", &[("host", host)]).await;
        assert_eq!(status, StatusCode::OK, "{host}");
    }
    site.executor.shutdown().await;
}

#[tokio::test]
async fn actions_need_the_header_and_are_refused_from_other_sites() {
    let site = Site::open(Backend::SqliteMemory, UiOptions::default()).await.unwrap();
    let id = site.finished_execution().await;
    let path = format!("/api/executions/{id}/rerun");
    let cases: [&[(&str, &str)]; 4] = [
        &[],
        &[("x-cloacina-action", "yes")],
        &[("x-cloacina-action", "1"), ("origin", "https://elsewhere.example")],
        &[("x-cloacina-action", "1"), ("sec-fetch-site", "cross-site")],
    ];
    for headers in cases {
        let (status, _, body) = site.request(Method::POST, &path, headers).await;
        assert_eq!(
            (status, json(&body)["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{headers:?}"
        );
    }
    // From the page itself: same origin. (The execution completed: it cannot be re-run.)
    let (status, _, _) =
        site.request(Method::POST, &path, &[("x-cloacina-action", "1"), ("origin", "http://127.0.0.1:8490")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    site.executor.shutdown().await;
}

#[tokio::test]
async fn a_read_only_server_refuses_every_action() {
    let options = UiOptions { read_only: true, ..UiOptions::default() };
    let site = Site::open(Backend::SqliteMemory, options).await.unwrap();
    let id = uuid::Uuid::new_v4();
    for action in ["cancel", "rerun"] {
        let refused = site.act(&format!("/api/executions/{id}/{action}")).await;
        assert_error(&refused, StatusCode::FORBIDDEN, "read_only", "read-only");
    }
    let (_, info) = site.get("/api/info").await;
    assert_eq!(info["read_only"], true);
    site.executor.shutdown().await;
}

#[tokio::test]
async fn every_answer_carries_the_content_policy() {
    let site = Site::open(Backend::SqliteMemory, UiOptions::default()).await.unwrap();
    for path in ["/", "/api/info", "/api/nowhere", "/assets/nothing.js"] {
        let (_, headers, _) = site.request(Method::GET, path, &[]).await;
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
    let (_, headers, _) = site.request(Method::GET, "/api/info", &[]).await;
    assert_eq!(headers["cache-control"], "no-store");
    site.executor.shutdown().await;
}

#[tokio::test]
async fn the_database_password_never_reaches_the_page() {
    let executor = cloacina::UnifiedExecutor::with_config(
        "postgresql://someone:hunter2secret@127.0.0.1:1/nothing?connect_timeout=1",
        cloacina::ExecutorConfig::default(),
    )
    .await;
    // No server answers there: the error names the database without the password.
    let message = executor.expect_err("nothing listens on port 1").to_string();
    assert!(!message.contains("hunter2secret"), "{message}");

    let site = Site::open(Backend::SqliteMemory, UiOptions::default()).await.unwrap();
    let (_, info) = site.get("/api/info").await;
    assert!(info["database"].as_str().unwrap().contains("SQLite"), "{info}");
    site.executor.shutdown().await;
}

#[tokio::test]
async fn listening_beyond_loopback_needs_a_long_enough_token() {
    let site = Site::open(Backend::SqliteMemory, UiOptions::default()).await.unwrap();
    let everywhere: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let refused = Server::bind(site.executor.clone(), UiOptions { address: everywhere, ..UiOptions::default() }).await;
    let error = refused.unwrap_err();
    assert!(matches!(error, UiError::TokenRequired(_)), "{error}");
    assert!(error.to_string().contains("CLOACINA_UI_TOKEN"), "{error}");
    let short = UiOptions { address: everywhere, token: Some("short".to_owned()), ..UiOptions::default() };
    assert!(matches!(Server::bind(site.executor.clone(), short).await.unwrap_err(), UiError::WeakToken));

    // On loopback, port 0: a free port, served until told to stop.
    let loopback = UiOptions { address: "127.0.0.1:0".parse().unwrap(), ..UiOptions::default() };
    let server = Server::bind(site.executor.clone(), loopback).await.unwrap();
    let address = server.local_address();
    assert_ne!(address.port(), 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let taken = Server::bind(site.executor.clone(), UiOptions { address, ..UiOptions::default() }).await;
    assert!(matches!(taken.unwrap_err(), UiError::Bind { .. }));
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), serving).await.unwrap().unwrap().unwrap();
    site.executor.shutdown().await;
}
