//! The repository's `turnserver.conf` runs in real coturn, and the credentials the
//! signaling server hands out in `welcome` (static, and `--turn-secret` time-limited)
//! allocate a relay there. Needs coturn (`scripts/test` installs it).

mod common;

use common::TestServer;
use serde_json::json;
use testkit::Coturn;

/// Joins a room and returns the TURN username and credential from `welcome`.
async fn turn_credentials(server: &TestServer) -> (String, String) {
    let mut client = server.client().await;
    client.send(json!({"type": "join", "room": "turn"})).await;
    let welcome = client.recv_value().await;
    let turn = &welcome["iceServers"][0];
    (
        turn["username"].as_str().unwrap().to_string(),
        turn["credential"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn static_credentials_from_welcome_allocate_on_the_repository_coturn_config() {
    let coturn = Coturn::start(&[]);
    let url = format!("turn:127.0.0.1:{}", coturn.port);
    let server = TestServer::start(&[
        "--turn",
        &url,
        "--turn-username",
        "user1",
        "--turn-credential",
        "pass1",
    ])
    .await;
    let (username, credential) = turn_credentials(&server).await;
    let ok = tokio::task::spawn_blocking(move || {
        (
            coturn.relay_works(&username, &credential),
            coturn.relay_works(&username, "wrong-password"),
        )
    })
    .await
    .unwrap();
    assert_eq!(ok, (true, false));
}

#[tokio::test]
async fn time_limited_credentials_from_the_secret_allocate_on_coturn() {
    let coturn = Coturn::start(&["--use-auth-secret", "--static-auth-secret=north"]);
    let url = format!("turn:127.0.0.1:{}", coturn.port);
    let good = TestServer::start(&["--turn", &url, "--turn-secret", "north"]).await;
    let bad = TestServer::start(&["--turn", &url, "--turn-secret", "south"]).await;
    let (good_user, good_cred) = turn_credentials(&good).await;
    let (bad_user, bad_cred) = turn_credentials(&bad).await;
    let ok = tokio::task::spawn_blocking(move || {
        (
            coturn.relay_works(&good_user, &good_cred),
            coturn.relay_works(&bad_user, &bad_cred),
        )
    })
    .await
    .unwrap();
    assert_eq!(ok, (true, false));
}
