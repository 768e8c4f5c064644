//! The web client's page when part of it does not arrive: a module the server cannot
//! send leaves a clear message and the failed state, not "loading…" for ever.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test installs them). Run in a
//! loopback-only network namespace, as scripts/test does.

#[allow(dead_code, reason = "only the signaling server is used")]
mod common;

use std::path::Path;
use std::time::Duration;

use common::signaling_server;
use testkit::browser::Browser;

/// Copies the web client from `from` to `to`, but for the file at `missing`.
fn copy_without(from: &Path, to: &Path, missing: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_without(&path, &target, missing);
        } else if path != missing {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_missing_part_of_the_app_says_so_instead_of_loading_for_ever() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/web");
    let root = tempfile::tempdir().unwrap();
    copy_without(&web, root.path(), &web.join("js/stats.js"));
    let (server, _stop) = signaling_server(&["--web-root", root.path().to_str().unwrap()]).await;
    let browser = Browser::launch().await.expect("Chromium");
    browser
        .open(&format!("http://{server}/?room=load"))
        .await
        .unwrap();
    let said = browser
        .wait_for(
            "const s = document.getElementById('state');
             return s.dataset.state === 'failed' ? s.textContent : null;",
            Duration::from_secs(20),
        )
        .await;
    browser.close().await;
    let said = said.expect("the page says it failed");
    assert!(
        said.as_str().is_some_and(|s| s.contains("did not load")),
        "the page said {said}"
    );
}
