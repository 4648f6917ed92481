//! The client against the emulator on 127.0.0.1:0: every endpoint, paging
//! to the end, retries through each fault kind, and the rate limiter under
//! a limited emulator.

use std::time::Duration;

use crashdsr_appcenter::models::*;
use crashdsr_appcenter::{
    ApiToken, Client, DownloadFormat, Error, ErrorType, ListOptions, RateLimit, RetryConfig,
    SessionLogsPath, Timestamp, collect_all,
};
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, RunningEmulator, serve};

const TOKEN: &str = "full-token";
const READ_ONLY: &str = "read-only-token";

fn dataset(errors: u64) -> DatasetConfig {
    let mut d = DatasetConfig::new(11);
    d.errors_per_app = errors;
    d
}

async fn start(cfg: EmulatorConfig) -> RunningEmulator {
    serve(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn config(errors: u64) -> EmulatorConfig {
    let mut c = EmulatorConfig::new(dataset(errors), TOKEN);
    c.read_only_token = Some(READ_ONLY.into());
    c
}

fn client(emu: &RunningEmulator, token: &str) -> Client {
    Client::builder()
        .base_url(emu.base_url())
        .token(ApiToken::new(token).unwrap())
        .rate_limit(None)
        .retry(RetryConfig {
            init_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            ..Default::default()
        })
        .build()
        .unwrap()
}

fn window(days: i64) -> ListOptions {
    ListOptions {
        top: 7,
        ..ListOptions::since(Timestamp(chrono::Utc::now() - chrono::Duration::days(days)))
    }
}

/// Lists every group and every error, with small pages.
async fn crawl_ids(client: &Client) -> Result<Vec<(String, String)>, Error> {
    let app = client.app("contoso", "demo-app");
    let mut out = Vec::new();
    for g in collect_all(app.error_groups(&window(30))).await? {
        for e in collect_all(app.errors_for_group(
            &g.error_group_id,
            &ListOptions {
                top: 13,
                ..window(30)
            },
        ))
        .await?
        {
            out.push((g.error_group_id.clone(), e.error_id));
        }
    }
    Ok(out)
}

#[tokio::test]
async fn lists_page_to_the_end() {
    let emu = start(config(1234)).await;
    let c = client(&emu, TOKEN);
    let ids = crawl_ids(&c).await.unwrap();
    let ds = Dataset::new(dataset(1234));
    assert_eq!(ids.len(), 1234);
    let mut unique: Vec<_> = ids.iter().map(|(_, e)| e.clone()).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 1234, "an error was listed twice");
    for (g, e) in &ids {
        let i = ds.parse_error_id(0, e).unwrap();
        assert_eq!(&ds.error(0, i).group_id, g);
    }
    let app = c.app("contoso", "demo-app");
    // Filters by error type partition the groups.
    let all = collect_all(app.error_groups(&window(30))).await.unwrap();
    let crash = collect_all(app.error_groups(&ListOptions {
        error_type: ErrorType::Unhandled,
        ..window(30)
    }))
    .await
    .unwrap();
    let handled = collect_all(app.error_groups(&ListOptions {
        error_type: ErrorType::Handled,
        ..window(30)
    }))
    .await
    .unwrap();
    assert_eq!(crash.len() + handled.len(), all.len());
    assert!(crash.iter().all(ErrorGroup::is_crash) && !handled.iter().any(ErrorGroup::is_crash));
    // A window that ends before the data starts has nothing.
    let old = ListOptions {
        end: Some(Timestamp(chrono::Utc::now() - chrono::Duration::days(60))),
        ..window(90)
    };
    assert!(
        collect_all(app.error_groups(&old))
            .await
            .unwrap()
            .is_empty()
    );
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn next_link_without_owner_and_app_is_repaired() {
    let mut cfg = config(300);
    cfg.next_link_without_app = true;
    let emu = start(cfg).await;
    let ids = crawl_ids(&client(&emu, TOKEN)).await.unwrap();
    assert_eq!(ids.len(), 300);
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_error_endpoint() {
    let emu = start(config(500)).await;
    let c = client(&emu, TOKEN);
    let app = c.app("contoso", "demo-app");
    let ds = Dataset::new(dataset(500));

    let meta = app.get_app().await.unwrap();
    assert_eq!(meta.id, ds.app_id(0));
    assert_eq!(meta.to_string(), "contoso/demo-app");

    // Error 13 has 230 session logs (three pages) and, with this seed, attachments.
    let e = ds.error(0, 13);
    let (gid, eid) = (e.group_id.as_str(), e.error_id.as_str());
    let group = app.error_group(gid).await.unwrap();
    assert_eq!(group.error_group_id, gid);
    assert_eq!(group.state, ErrorGroupState::Open);
    let details = app.error_details(gid, eid).await.unwrap();
    assert_eq!(details.summary.error_id, eid);
    assert_eq!(details.summary.user_id.as_deref(), Some(e.user_id.as_str()));
    let st = app.error_stacktrace(gid, eid).await.unwrap();
    assert_eq!(st.reason, Some(ds.message(&e)));
    assert!(app.group_stacktrace(gid).await.unwrap().exception.is_some());

    let mut json = Vec::new();
    app.download_error(gid, eid, DownloadFormat::Json, &mut json)
        .await
        .unwrap();
    let log: CrashLog = serde_json::from_slice(&json).unwrap();
    assert_eq!(log.install_id, e.install_id);
    let mut txt = Vec::new();
    app.download_error(gid, eid, DownloadFormat::Txt, &mut txt)
        .await
        .unwrap();
    assert!(String::from_utf8(txt).unwrap().contains(eid));

    let loc = app.error_location(gid, eid).await.unwrap();
    let mut raw = Vec::new();
    c.download_location(&loc, &mut raw).await.unwrap();
    assert_eq!(serde_json::from_slice::<CrashLog>(&raw).unwrap(), log);

    for spelling in [SessionLogsPath::Spec, SessionLogsPath::Docs] {
        let logs = collect_all(app.session_logs(eid, spelling)).await.unwrap();
        assert_eq!(logs.len(), 230);
        assert!(logs.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        assert!(logs.iter().all(|l| l.install_id == e.install_id));
    }

    // Attachments: text through `text`, everything through its location.
    let mut seen_text = false;
    for i in 0..500 {
        let e = ds.error(0, i);
        if e.attachments.is_empty() {
            continue;
        }
        let list = app.attachments(&e.error_id).await.unwrap();
        assert_eq!(list.len(), e.attachments.len());
        for (k, a) in list.iter().enumerate() {
            let want = ds.attachment_bytes(&e, k);
            let loc = app
                .attachment_location(&e.error_id, &a.attachment_id)
                .await
                .unwrap();
            let mut got = Vec::new();
            c.download_location(&loc, &mut got).await.unwrap();
            assert_eq!(got, want);
            assert_eq!(a.size, Some(want.len() as i64));
            if a.is_text() {
                assert_eq!(
                    app.attachment_text(&e.error_id, &a.attachment_id)
                        .await
                        .unwrap()
                        .as_bytes(),
                    want
                );
                seen_text = true;
            }
        }
        if seen_text && i > 50 {
            break;
        }
    }
    assert!(seen_text);

    // Search by user id: the only server-side filter.
    let user = (0..500)
        .map(|i| ds.error(0, i))
        .find(|e| !e.user_id.is_empty())
        .unwrap();
    let filter = format!("userId eq '{}'", user.user_id);
    let hits = collect_all(app.search_errors(None, Some(&filter)))
        .await
        .unwrap();
    assert!(hits.iter().any(
        |h| h.error_id == user.error_id && h.error_group_id.as_deref() == Some(&*user.group_id)
    ));
    assert!(
        hits.iter()
            .all(|h| h.user_id.as_deref() == Some(&*user.user_id))
    );

    // Delete: 404 afterwards, everywhere.
    let counter = app.delete_error(gid, eid).await.unwrap();
    assert_eq!(counter.errors_deleted, Some(1));
    assert!(
        app.error_details(gid, eid)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(app.attachments(eid).await.unwrap_err().is_not_found());
    let mut sink = Vec::new();
    assert_eq!(
        c.download_location(&loc, &mut sink)
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    let listed = collect_all(app.errors_for_group(gid, &window(30)))
        .await
        .unwrap();
    assert!(!listed.iter().any(|x| x.error_id == eid));

    // Unknown ids and apps are 404s with the new-style body.
    let err = app.error_details(gid, "1-nope").await.unwrap_err();
    assert!(
        matches!(&err, Error::Status { status: 404, code: Some(c), .. } if c == "NotFound"),
        "{err}"
    );
    let err = c.app("contoso", "nope").get_app().await.unwrap_err();
    assert!(err.is_not_found());
    assert!(!err.is_retryable());

    // Group state changes stick.
    let change = ErrorGroupStateChange {
        state: ErrorGroupState::Ignored,
        annotation: Some("noise".into()),
    };
    assert_eq!(
        app.update_error_group(gid, &change).await.unwrap().state,
        ErrorGroupState::Ignored
    );
    assert_eq!(
        app.error_group(gid).await.unwrap().annotation.as_deref(),
        Some("noise")
    );

    // Blocking an install is recorded.
    assert_eq!(
        app.block_install(&e.install_id).await.unwrap(),
        "Operation successful"
    );
    assert_eq!(emu.state.blocked_installs(0), vec![e.install_id.clone()]);
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn legacy_crash_api() {
    // 6000 errors = 120 groups: more than one continuation page.
    let emu = start(config(6000)).await;
    let c = client(&emu, TOKEN);
    let app = c.app("contoso", "demo-app");
    let ds = Dataset::new(dataset(6000));
    let groups = collect_all(app.crash_groups()).await.unwrap();
    assert_eq!(groups.len() as u64, ds.group_count());
    let g = &groups[3];
    let crashes = app.crashes(&g.crash_group_id).await.unwrap();
    assert_eq!(crashes.len(), 50);
    let cr = &crashes[0];
    let full = app.crash(&g.crash_group_id, &cr.crash_id).await.unwrap();
    assert!(full.stacktrace.is_some() && full.details.is_some());
    assert!(
        app.crash_stacktrace(&g.crash_group_id, &cr.crash_id)
            .await
            .unwrap()
            .exception
            .is_some()
    );
    assert!(
        app.crash_group_stacktrace(&g.crash_group_id)
            .await
            .unwrap()
            .exception
            .is_some()
    );
    let loc = app
        .crash_raw_location(&g.crash_group_id, &cr.crash_id)
        .await
        .unwrap();
    let mut raw = Vec::new();
    c.download_location(&loc, &mut raw).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<CrashLog>(&raw).unwrap().error_id,
        cr.crash_id
    );
    let logs = collect_all(app.crash_session_logs(&cr.crash_id))
        .await
        .unwrap();
    assert!(!logs.is_empty());

    let with_text = (0..6000)
        .map(|i| ds.error(0, i))
        .find(|e| e.attachments.iter().any(|(_, k)| k.is_text()))
        .unwrap();
    let atts = app.crash_attachments(&with_text.error_id).await.unwrap();
    assert_eq!(atts.len(), with_text.attachments.len());
    let text = atts
        .iter()
        .find(|a| a.content_type.starts_with("text/plain") && !a.file_name.contains("utf16"))
        .unwrap();
    let k = with_text
        .attachments
        .iter()
        .position(|(id, _)| *id == text.attachment_id)
        .unwrap();
    let body = app
        .crash_attachment_text(&with_text.error_id, &text.attachment_id)
        .await
        .unwrap();
    assert_eq!(body.as_bytes(), ds.attachment_bytes(&with_text, k));
    let loc = app
        .crash_attachment_location(&with_text.error_id, &text.attachment_id)
        .await
        .unwrap();
    let mut got = Vec::new();
    c.download_location(&loc, &mut got).await.unwrap();
    assert_eq!(got.as_slice(), body.as_bytes());

    // Legacy errors carry the `{"message"}` body.
    let err = app.crashes("999").await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Status {
                status: 404,
                code: None,
                ..
            }
        ),
        "{err}"
    );
    emu.shutdown().await.unwrap();
}

async fn settle(app: &crashdsr_appcenter::AppClient, id: &str) -> ExportConfigurationResult {
    for _ in 0..200 {
        let r = app.export_configuration(id).await.unwrap();
        if r.state != ExportState::Pending {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the export stayed Pending");
}

#[tokio::test]
async fn retention_export_configurations_and_tokens() {
    let emu = start(config(200)).await;
    let c = client(&emu, TOKEN);
    let app = c.app("contoso", "demo-app");
    assert_eq!(app.retention().await.unwrap().retention_in_days, 28);
    assert_eq!(app.set_retention(90).await.unwrap().retention_in_days, 90);
    assert_eq!(app.retention().await.unwrap().retention_in_days, 90);
    assert!(matches!(app.set_retention(30).await, Err(Error::Config(_))));

    let dir = std::env::temp_dir().join(format!("crashdsr-contract-export-{}", std::process::id()));
    let secret = format!(
        "AccountName=local;AccountKey=c2VjcmV0;BlobEndpoint=file://{}",
        dir.display()
    );
    let cfg = ExportConfiguration::BlobStorageConnectionString {
        connection_string: Some(secret),
        blob_path_format_kind: Some(BlobPathFormatKind::WithAppId),
        options: ExportOptions {
            export_entities: vec![ExportEntity::Crashes, ExportEntity::Errors],
            ..Default::default()
        },
    };
    let created = app.create_export_configuration(&cfg).await.unwrap();
    assert_eq!(created.state, ExportState::Pending);
    assert_eq!(created.export_type, ExportType::BlobStorage);
    assert!(
        !serde_json::to_string(&created)
            .unwrap()
            .contains("c2VjcmV0"),
        "the secret was echoed"
    );
    // Pending while the export is written, then Enabled.
    let settled = settle(&app, &created.id).await;
    assert_eq!(
        settled.state,
        ExportState::Enabled,
        "{:?}",
        settled.state_info
    );
    assert!(settled.last_run_time.is_some());
    let app_id = app.get_app().await.unwrap().id;
    assert!(
        dir.join("archive").join(&app_id).is_dir(),
        "nothing was exported"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    app.disable_export_configuration(&created.id).await.unwrap();
    assert_eq!(
        app.export_configuration(&created.id).await.unwrap().state,
        ExportState::Disabled
    );
    app.enable_export_configuration(&created.id).await.unwrap();
    let linked = ExportConfiguration::BlobStorageLinkedSubscription {
        subscription_id: Some("1330b91c-0000-4000-8000-000000000000".into()),
        blob_path_format_kind: None,
        options: ExportOptions {
            export_entities: vec![ExportEntity::Crashes],
            ..Default::default()
        },
    };
    let updated = app
        .update_export_configuration(&created.id, &linked)
        .await
        .unwrap();
    assert_eq!(
        updated.export_configuration.unwrap().path_format(),
        Some(&BlobPathFormatKind::WithoutAppId)
    );
    // This emulator was started without --export-dir: no linked storage.
    let settled = settle(&app, &created.id).await;
    assert_eq!(settled.state, ExportState::Invalid);
    assert!(settled.state_info.unwrap().contains("--export-dir"));
    let bad = ExportConfiguration::BlobStorageConnectionString {
        connection_string: Some("nonsense".into()),
        blob_path_format_kind: None,
        options: ExportOptions::default(),
    };
    let invalid = app.create_export_configuration(&bad).await.unwrap();
    assert_eq!(invalid.state, ExportState::Invalid);
    assert!(invalid.state_info.is_some());
    assert_eq!(app.export_configurations().await.unwrap().values.len(), 2);
    app.delete_export_configuration(&created.id).await.unwrap();
    assert!(
        app.export_configuration(&created.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Read-only tokens read but do not write; unknown tokens do nothing.
    let ro = client(&emu, READ_ONLY).app("contoso", "demo-app");
    assert_eq!(ro.retention().await.unwrap().retention_in_days, 90);
    assert_eq!(ro.set_retention(28).await.unwrap_err().status(), Some(403));
    assert_eq!(
        ro.create_export_configuration(&cfg)
            .await
            .unwrap_err()
            .status(),
        Some(403)
    );
    let bad = client(&emu, "wrong").app("contoso", "demo-app");
    let err = bad.retention().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        !err.to_string().contains("wrong"),
        "the token leaked into {err}"
    );
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn raw_protocol_rules() {
    let emu = start(config(100)).await;
    let http = reqwest::Client::new();
    let base = emu.base_url();
    // 411 without a body on writes; `{}` is enough.
    let url = format!("{base}/v0.1/apps/contoso/demo-app/devices/block_logs/abc");
    let r = http
        .put(&url)
        .header("X-API-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 411);
    let r = http
        .put(&url)
        .header("X-API-Token", TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The `/api` prefix serves too.
    let r = http
        .get(format!(
            "{base}/api/v0.1/apps/contoso/demo-app/errors/retention_settings"
        ))
        .header("X-API-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A signed URL refuses the API token, and a forged signature.
    let ds = Dataset::new(dataset(100));
    let e = ds.error(0, 1);
    let loc: Location = http
        .get(format!(
            "{base}/v0.1/apps/contoso/demo-app/errors/errorGroups/{}/errors/{}/location",
            e.group_id, e.error_id
        ))
        .header("X-API-Token", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(http.get(&loc.uri).send().await.unwrap().status(), 200);
    assert_eq!(
        http.get(&loc.uri)
            .header("X-API-Token", TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let forged = loc.uri.replace("sig=", "sig=0");
    assert_eq!(http.get(&forged).send().await.unwrap().status(), 403);
    // `start` is required on the group list.
    let r = http
        .get(format!(
            "{base}/v0.1/apps/contoso/demo-app/errors/errorGroups"
        ))
        .header("X-API-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: ErrorBody = r.json().await.unwrap();
    assert_eq!(body.error.code, "BadRequest");
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn retention_hides_older_errors() {
    let mut cfg = config(900);
    cfg.dataset.span_days = 90;
    let emu = start(cfg).await;
    let c = client(&emu, TOKEN);
    let app = c.app("contoso", "demo-app");
    assert_eq!(app.retention().await.unwrap().retention_in_days, 90);
    let all = crawl_ids_window(&c, 100).await;
    assert_eq!(all, 900);
    app.set_retention(28).await.unwrap();
    let recent = crawl_ids_window(&c, 100).await;
    // 28 of 90 days, evenly spread: 280 errors.
    assert_eq!(recent, 280);
    emu.shutdown().await.unwrap();
}

async fn crawl_ids_window(c: &Client, days: i64) -> usize {
    let app = c.app("contoso", "demo-app");
    let mut n = 0;
    for g in collect_all(app.error_groups(&window(days))).await.unwrap() {
        n += collect_all(app.errors_for_group(&g.error_group_id, &window(days)))
            .await
            .unwrap()
            .len();
    }
    n
}

#[tokio::test]
async fn retries_through_every_fault_kind() {
    let clean = {
        let emu = start(config(400)).await;
        let ids = crawl_ids(&client(&emu, TOKEN)).await.unwrap();
        emu.shutdown().await.unwrap();
        ids
    };
    for spec in [
        "500@every=3",
        "503@every=4",
        "408@every=5",
        "429@every=3",
        "429+ra=1@nth=2",
        "reset@every=3",
        "truncate@every=3",
        "delay=20@every=2",
    ] {
        let mut cfg = config(400);
        cfg.faults = spec.into();
        let emu = start(cfg).await;
        let c = client(&emu, TOKEN);
        let ids = crawl_ids(&c)
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(ids, clean, "{spec}");
        let stats = c.stats().await;
        if !spec.starts_with("delay") {
            assert!(stats.retries > 0, "{spec}: no retry");
        }
        emu.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn persistent_faults_give_up_with_a_retryable_error() {
    let mut cfg = config(100);
    cfg.faults = "503@every=1".into();
    let emu = start(cfg).await;
    let c = client(&emu, TOKEN);
    let err = c.app("contoso", "demo-app").retention().await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
    let stats = c.stats().await;
    assert_eq!(
        stats.requests,
        1 + u64::from(RetryConfig::default().max_retries)
    );
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn limiter_settles_under_a_limited_emulator() {
    // The server allows 40/s; the client starts at twice that and must
    // come down, finishing every request.
    for retry_after in [true, false] {
        let mut cfg = config(100);
        cfg.rate_limit = Some((40, Duration::from_secs(1)));
        cfg.retry_after = retry_after;
        let emu = start(cfg).await;
        let c = Client::builder()
            .base_url(emu.base_url())
            .token(ApiToken::new(TOKEN).unwrap())
            .rate_limit(Some(RateLimit {
                requests: 80,
                per: Duration::from_secs(1),
            }))
            .concurrency(4)
            .build()
            .unwrap();
        let app = c.app("contoso", "demo-app");
        let calls = (0..160).map(|_| app.retention());
        let results = futures::future::join_all(calls).await;
        assert!(
            results.iter().all(Result::is_ok),
            "retry_after={retry_after}"
        );
        let stats = c.stats().await;
        assert!(stats.throttled > 0, "the server never throttled");
        assert_eq!(stats.throttled, emu.state.throttled_count());
        let rate = stats.pacer.unwrap().rate_per_sec;
        assert!(rate < 80.0, "the client did not slow down: {rate}");
        emu.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn unreachable_base_url_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = Client::builder()
        .base_url(format!("http://{addr}"))
        .token(ApiToken::new(TOKEN).unwrap())
        .rate_limit(None)
        .retry(RetryConfig {
            init_backoff: Duration::from_millis(1),
            ..Default::default()
        })
        .build()
        .unwrap();
    // Connection failures give up sooner than other transient errors.
    let err = c.app("contoso", "demo-app").retention().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: crashdsr_appcenter::TransportKind::Connect,
                ..
            }
        ),
        "{err}"
    );
    let connect_retries = RetryConfig::default().max_connect_retries;
    assert!(connect_retries < RetryConfig::default().max_retries);
    assert_eq!(c.stats().await.requests, 1 + u64::from(connect_retries));
}
