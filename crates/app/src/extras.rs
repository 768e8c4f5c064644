//! `peercall call`'s chat (`--chat`): lines read from stdin are sent to the other peer,
//! and what it sends is printed on stdout as one JSON line each,
//! `{"chat": {"from": …, "text": …, "sent_ms": …}}` (a refused line:
//! `{"chat_error": "…"}`). Kept apart from the statistics reporter so that each can
//! change on its own.

use std::io::BufRead as _;

use call::{CallCommand, CallEvent};
use tokio::sync::mpsc;

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

/// `report` with chat events printed as JSON lines on stdout, and every other event
/// passed on.
pub fn with_chat(mut report: impl FnMut(CallEvent) + Send) -> impl FnMut(CallEvent) + Send {
    move |event| match event {
        CallEvent::ChatReceived(message) => {
            println!("{}", serde_json::json!({ "chat": message }));
        }
        CallEvent::ChatFailed(err) => {
            tracing::warn!(%err, "chat");
            println!("{}", serde_json::json!({ "chat_error": err.to_string() }));
        }
        CallEvent::ChatSent(_) => {}
        other => report(other),
    }
}
