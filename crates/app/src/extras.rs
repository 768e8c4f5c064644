//! `peercall call`'s chat and screen share, kept apart from the statistics reporter so
//! that each can change on its own.
//!
//! Chat (`--chat`): lines read from stdin are sent to the other peer, and what it sends
//! is printed on stdout as one JSON line each, `{"chat": {"from": …, "text": …,
//! "sent_ms": …}}` (a refused line: `{"chat_error": "…"}`).
//!
//! Screen share (`--share screen|screen:N|window:ID`): sharing starts when the call
//! connects (and again on the next call with `--stay`), and stops after
//! `--share-for SECS` if given; what happens to it, ours and the other peer's, is printed
//! as `{"share": "started"|"stopped"|"failed"|"remote-started"|"remote-stopped", …}`.
//!
//! Files (`--send-file PATH`, `--files-dir DIR`): each transfer's course is printed as
//! `{"file": "offered"|"incoming"|"progress"|"sent"|"received"|"failed", "id": …, …}`.

use std::io::BufRead as _;

use std::time::Duration;

use call::file::FileEvent;
use call::{CallCommand, CallEvent, CallState, ShareEvent};
use media::screen::ShareTarget;
use tokio::sync::mpsc;

/// What to share, as the flags say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShareAsked {
    /// The screen or window.
    pub target: ShareTarget,
    /// Pictures per second.
    pub fps: f32,
    /// Stop after this long (`None`: until the call ends).
    pub stop_after: Option<Duration>,
}

/// Reads stdin on a thread of its own (reading blocks) and sends each line as a chat
/// message; at the end of stdin it stops, and the call goes on.
pub fn chat_from_stdin(commands: mpsc::UnboundedSender<CallCommand>) {
    let spawned = std::thread::Builder::new()
        .name("chat-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let line = match line {
                    Ok(line) => line,
                    Err(err) => {
                        // Not UTF-8, or stdin failed: say so and read on.
                        tracing::warn!(%err, "a line of stdin could not be read as text");
                        continue;
                    }
                };
                if commands.send(CallCommand::Chat(line)).is_err() {
                    return;
                }
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot read chat lines from stdin");
    }
}

/// `report` with chat and share events printed as JSON lines on stdout, and every other
/// event passed on; with `share`, sharing starts through `commands` each time the call
/// connects.
pub fn with_extras(
    mut report: impl FnMut(CallEvent) + Send,
    commands: mpsc::UnboundedSender<CallCommand>,
    share: Option<ShareAsked>,
) -> impl FnMut(CallEvent) + Send {
    let mut connected = false;
    move |event| match event {
        CallEvent::State(state) => {
            let now_connected = state == CallState::Connected;
            if now_connected
                && !connected
                && let Some(asked) = share
            {
                let _ = commands.send(CallCommand::StartShare(asked.target, asked.fps));
                if let Some(after) = asked.stop_after {
                    let commands = commands.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = commands.send(CallCommand::StopShare);
                    });
                }
            }
            // Reconnecting keeps the call (and its share); anything else ends it.
            if now_connected || !matches!(state, CallState::Reconnecting) {
                connected = now_connected;
            }
            report(CallEvent::State(state));
        }
        CallEvent::Share(share) => {
            let line = match share {
                ShareEvent::Started(name) => serde_json::json!({"share": "started", "name": name}),
                ShareEvent::Stopped => serde_json::json!({"share": "stopped"}),
                ShareEvent::Failed(why) => {
                    tracing::warn!(%why, "screen share failed");
                    serde_json::json!({"share": "failed", "reason": why})
                }
                ShareEvent::RemoteStarted => serde_json::json!({"share": "remote-started"}),
                ShareEvent::RemoteStopped => serde_json::json!({"share": "remote-stopped"}),
                _ => return,
            };
            println!("{line}");
        }
        CallEvent::ChatReceived(message) => {
            println!("{}", serde_json::json!({ "chat": message }));
        }
        CallEvent::ChatFailed(err) => {
            tracing::warn!(%err, "chat");
            println!("{}", serde_json::json!({ "chat_error": err.to_string() }));
        }
        CallEvent::ChatSent(_) => {}
        CallEvent::File(event) => println!("{}", file_line(&event)),
        other => report(other),
    }
}

/// The JSON line printed for a file transfer's event.
fn file_line(event: &FileEvent) -> serde_json::Value {
    use serde_json::json;
    match event {
        FileEvent::Offered { id, name, size } => {
            json!({"file": "offered", "id": id, "name": name, "size": size})
        }
        FileEvent::Incoming { id, name, size } => {
            json!({"file": "incoming", "id": id, "name": name, "size": size})
        }
        FileEvent::Progress { id, bytes } => json!({"file": "progress", "id": id, "bytes": bytes}),
        FileEvent::Sent { id } => json!({"file": "sent", "id": id}),
        FileEvent::Received { id, path } => {
            json!({"file": "received", "id": id, "path": path.display().to_string()})
        }
        FileEvent::Failed { id, error } => {
            tracing::warn!(%error, "file transfer");
            json!({"file": "failed", "id": id, "reason": error.to_string()})
        }
        _ => json!({"file": "other"}),
    }
}
