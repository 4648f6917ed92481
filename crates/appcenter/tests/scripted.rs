//! Exact retry sequences and bad bodies, against a scripted server that
//! answers each request with the next canned response.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use crashdsr_appcenter::models::ErrorGroupState;
use crashdsr_appcenter::{
    ApiToken, Client, Error, ListOptions, RetryConfig, Timestamp, collect_all,
};

#[derive(Clone)]
struct Canned {
    status: u16,
    retry_after: Option<&'static str>,
    body: &'static str,
}

fn ok(body: &'static str) -> Canned {
    Canned {
        status: 200,
        retry_after: None,
        body,
    }
}

fn status(status: u16, retry_after: Option<&'static str>) -> Canned {
    Canned {
        status,
        retry_after,
        body: r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
    }
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Canned>,
    seen: Vec<(String, Option<String>, HeaderMap)>,
}

async fn scripted(responses: Vec<Canned>) -> (String, Arc<Mutex<Script>>) {
    let script = Arc::new(Mutex::new(Script {
        queue: responses.into(),
        seen: Vec::new(),
    }));
    let s = script.clone();
    let app = Router::new().fallback(move |req: axum::extract::Request| {
        let s = s.clone();
        async move {
            let mut st = s.lock().unwrap();
            st.seen.push((
                req.uri().path().to_owned(),
                req.uri().query().map(str::to_owned),
                req.headers().clone(),
            ));
            let c = st
                .queue
                .pop_front()
                .expect("the script ran out of responses");
            let mut resp = Response::builder().status(StatusCode::from_u16(c.status).unwrap());
            if let Some(ra) = c.retry_after {
                resp = resp.header("Retry-After", ra);
            }
            resp.header("Content-Type", "application/json")
                .body(Body::from(c.body))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), script)
}

fn client(base: &str) -> Client {
    Client::builder()
        .base_url(base)
        .token(ApiToken::new("scripted-token").unwrap())
        .rate_limit(None)
        .retry(RetryConfig {
            max_retries: 3,
            init_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..Default::default()
        })
        .build()
        .unwrap()
}

const RETENTION: &str = r#"{"retention_in_days": 28}"#;

#[tokio::test]
async fn retries_429_and_5xx_then_succeeds() {
    let (base, script) = scripted(vec![
        status(429, None),
        status(503, None),
        status(500, None),
        ok(RETENTION),
    ])
    .await;
    let c = client(&base);
    let r = c.app("o", "a").retention().await.unwrap();
    assert_eq!(r.retention_in_days, 28);
    let stats = c.stats().await;
    assert_eq!((stats.requests, stats.retries, stats.throttled), (4, 3, 1));
    let seen = &script.lock().unwrap().seen;
    assert!(
        seen.iter()
            .all(|(p, _, h)| p == "/v0.1/apps/o/a/errors/retention_settings"
                && h.get("x-api-token").unwrap() == "scripted-token")
    );
}

#[tokio::test]
async fn honours_retry_after() {
    let (base, _) = scripted(vec![status(429, Some("1")), ok(RETENTION)]).await;
    let c = client(&base);
    let t = Instant::now();
    c.app("o", "a").retention().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "did not wait for Retry-After: {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn gives_up_after_max_retries_and_never_retries_a_400() {
    let (base, _) = scripted(vec![status(503, None); 4]).await;
    let err = client(&base).app("o", "a").retention().await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());

    let (base, script) = scripted(vec![Canned {
        status: 400,
        retry_after: None,
        body: r#"{"error":{"code":"BadRequest","message":"no"}}"#,
    }])
    .await;
    let err = client(&base).app("o", "a").retention().await.unwrap_err();
    assert!(
        matches!(&err, Error::Status { status: 400, code: Some(c), message, .. } if c == "BadRequest" && message == "no")
    );
    assert!(!err.is_retryable());
    assert_eq!(script.lock().unwrap().seen.len(), 1);
}

#[tokio::test]
async fn a_truncated_body_is_retried() {
    let (base, _) = scripted(vec![ok(r#"{"retention_in_d"#), ok(RETENTION)]).await;
    assert_eq!(
        client(&base)
            .app("o", "a")
            .retention()
            .await
            .unwrap()
            .retention_in_days,
        28
    );
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_typed_errors() {
    for body in [
        r#"{"retention_in_days": "28"}"#,
        "<html>oops</html>",
        "[1,2,3]",
        r#"{"retention_in_days": 28"#,
    ] {
        let (base, script) = scripted(vec![ok(body); 4]).await;
        let err = client(&base).app("o", "a").retention().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Decode {
                    what: "retention settings",
                    ..
                }
            ),
            "{body}: {err}"
        );
        let tries = script.lock().unwrap().seen.len();
        // Only a body that ends too early is worth another try.
        assert_eq!(tries, if body.ends_with('8') { 4 } else { 1 }, "{body}");
    }
}

#[tokio::test]
async fn unknown_enum_values_and_keys_are_tolerated() {
    let page = r#"{"errorGroups":[{"errorGroupId":"1u","state":"muted","appVersion":"1","count":1,"deviceCount":1,
        "firstOccurrence":"2024-03-20T17:45:10.1234567Z","lastOccurrence":"2024-03-20T17:45:10+00:00","brandNew":{"x":1}}],"nextLink":null}"#;
    let (base, _) = scripted(vec![ok(page)]).await;
    let groups = collect_all(
        client(&base)
            .app("o", "a")
            .error_groups(&ListOptions::since(Timestamp::now())),
    )
    .await
    .unwrap();
    assert_eq!(groups[0].state, ErrorGroupState::Other("muted".into()));
}

#[tokio::test]
async fn next_link_quirks_and_foreign_hosts() {
    let first =
        r#"{"errorGroups":[],"nextLink":"/api/v0.1/apps/o/a/errors/errorGroups?start=x&$token=2"}"#;
    let second =
        r#"{"errorGroups":[],"nextLink":"/api/v0.1/apps//errors/errorGroups?start=x&$token=3"}"#;
    let third = r#"{"errorGroups":[],"nextLink":"https://evil.example/v0.1/apps/o/a/errors/errorGroups?$token=4"}"#;
    let (base, script) = scripted(vec![ok(first), ok(second), ok(third)]).await;
    let err = collect_all(
        client(&base)
            .app("o", "a")
            .error_groups(&ListOptions::since(Timestamp::now())),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("another host")),
        "{err}"
    );
    let seen = &script.lock().unwrap().seen;
    assert_eq!(seen.len(), 3, "the foreign link must not be fetched");
    assert_eq!(seen[1].0, "/v0.1/apps/o/a/errors/errorGroups");
    assert_eq!(seen[1].1.as_deref(), Some("start=x&$token=2"));
    assert_eq!(seen[2].0, "/v0.1/apps/o/a/errors/errorGroups");
}

#[tokio::test]
async fn session_logs_continue_from_the_last_timestamp() {
    let log = |ts: &str| {
        format!(
            r#"{{"type":"event","timestamp":"{ts}","install_id":"i","device":{{"sdk_name":"s","sdk_version":"1","os_name":"A","os_version":"1","locale":"en","time_zone_offset":0,"app_version":"1","app_build":"1"}}}}"#
        )
    };
    let p1: &'static str = Box::leak(
        format!(r#"{{"exceeded_max_limit":true,"last_received_log_timestamp":"2024-01-01T00:00:01Z","logs":[{}]}}"#, log("2024-01-01T00:00:01Z"))
            .into_boxed_str(),
    );
    let p2: &'static str = Box::leak(
        format!(
            r#"{{"exceeded_max_limit":false,"logs":[{}]}}"#,
            log("2024-01-01T00:00:02Z")
        )
        .into_boxed_str(),
    );
    let (base, script) = scripted(vec![ok(p1), ok(p2)]).await;
    let logs = collect_all(
        client(&base)
            .app("o", "a")
            .session_logs("e1", Default::default()),
    )
    .await
    .unwrap();
    assert_eq!(logs.len(), 2);
    let seen = &script.lock().unwrap().seen;
    assert_eq!(seen[0].1, None);
    assert_eq!(seen[1].1.as_deref(), Some("date=2024-01-01T00%3A00%3A01Z"));
}

#[tokio::test]
async fn downloads_are_capped_and_sent_without_the_token() {
    let big: &'static str = Box::leak("x".repeat(10_000).into_boxed_str());
    let (base, script) = scripted(vec![ok(big), ok("small")]).await;
    let c = Client::builder()
        .base_url("https://api.appcenter.ms")
        .token(ApiToken::new("scripted-token").unwrap())
        .max_download_bytes(1000)
        .build()
        .unwrap();
    let loc = crashdsr_appcenter::models::Location {
        uri: format!("{base}/blob?sig=1"),
    };
    let mut out = Vec::new();
    let err = c.download_location(&loc, &mut out).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 1000, .. }), "{err}");
    let mut out = Vec::new();
    assert_eq!(c.download_location(&loc, &mut out).await.unwrap(), 5);
    assert!(
        script
            .lock()
            .unwrap()
            .seen
            .iter()
            .all(|(_, _, h)| !h.contains_key("x-api-token"))
    );
}
