//! What `peercall call` and `peercall loopback` show a person at a terminal: one status
//! line a peer, redrawn in place once a second (indicatif), and a readable summary at
//! the end. Anything else (a pipe, a file, or `--json`) gets the JSON lines instead.
//!
//! The text is made by plain functions ([`status_line`], [`summary_text`]), tested
//! without a terminal.

use call::stats::StatsLine;
use call::{CallState, Summary};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether to print for people: stdout is a terminal and `--json` was not given.
pub fn for_people(json: bool) -> bool {
    !json && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// The live status lines of one run, one a peer.
#[derive(Clone)]
pub struct LiveStatus {
    lines: MultiProgress,
}

impl LiveStatus {
    /// Status lines drawn on stdout.
    pub fn new() -> Self {
        Self {
            lines: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
        }
    }

    /// A line for `peer` (`None` when there is one).
    pub fn line(&self, peer: Option<&str>) -> ProgressBar {
        let bar = self.lines.add(ProgressBar::new_spinner());
        let prefix = peer.map(|p| format!("{p}: ")).unwrap_or_default();
        bar.set_style(ProgressStyle::with_template("{prefix}{msg}").expect("a valid template"));
        bar.set_prefix(prefix);
        bar.set_message("joining");
        bar
    }
}

/// One second of a call in a line: state, the path, and video and audio both ways.
pub fn status_line(line: &StatsLine) -> String {
    let path = match (&line.ice.local, &line.ice.remote) {
        (Some(local), Some(remote)) => format!("{local}/{remote}"),
        _ => "no path yet".into(),
    };
    let rtt = line
        .ice
        .rtt_ms
        .map(|ms| format!(" {ms:.0} ms"))
        .unwrap_or_default();
    let latency = line
        .video_in
        .latency_ms
        .as_ref()
        .map(|l| format!(", {:.0} ms", l.p50))
        .unwrap_or_default();
    format!(
        "{} | {path}{rtt} | out {}x{} {} fps {} kbit/s, loss {:.1}% | in {}x{} {} fps {} kbit/s{latency} | audio {}/{} kbit/s",
        line.state,
        line.video_out.width,
        line.video_out.height,
        line.video_out.fps,
        line.video_out.kbps,
        line.video_out.loss_pct,
        line.video_in.width,
        line.video_in.height,
        line.video_in.fps,
        line.video_in.kbps,
        line.audio_out.kbps,
        line.audio_in.kbps,
    )
}

/// How a call went, for people: the outcome, and the figures that matter.
pub fn summary_text(summary: &Summary, ok: bool, reason: &str) -> String {
    let mut out = String::new();
    let verdict = match (&summary.outcome, ok) {
        (CallState::Failed(_), _) => format!("Call failed: {reason}."),
        (_, true) => format!("Call ended: {reason}."),
        (_, false) => format!("Call ended, but {reason}."),
    };
    out.push_str(&verdict);
    if summary.connected {
        let times = [
            summary.connect_ms.map(|ms| format!("connected in {ms} ms")),
            summary
                .first_frame_ms
                .map(|ms| format!("first picture after {ms} ms")),
        ];
        let times: Vec<_> = times.into_iter().flatten().collect();
        if !times.is_empty() {
            out.push_str(&format!(" {}.", capitalized(&times.join(", "))));
        }
        if summary.calls > 1 {
            out.push_str(&format!(" {} calls.", summary.calls));
        }
    }
    if let Some(last) = &summary.last {
        out.push_str(&format!(
            "\n  sent {} pictures, decoded {}; {} freeze(s), longest gap {} ms",
            last.video_out.frames,
            last.video_in.decoded,
            last.video_in.freezes,
            last.video_in.longest_gap_ms
        ));
        if let Some(code) = &last.verification {
            out.push_str(&format!(
                "\n  verification code {code} (the other side shows the same)"
            ));
        }
    }
    out
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> StatsLine {
        let mut line = StatsLine {
            state: "connected".into(),
            ..StatsLine::default()
        };
        line.ice.local = Some("host".into());
        line.ice.remote = Some("relay".into());
        line.ice.rtt_ms = Some(12.4);
        line.video_out.width = 640;
        line.video_out.height = 480;
        line.video_out.fps = 30;
        line.video_out.kbps = 1200;
        line.video_in.width = 320;
        line.video_in.height = 240;
        line.video_in.fps = 29;
        line.video_in.kbps = 400;
        line
    }

    #[test]
    fn a_status_line_names_the_state_path_and_media_both_ways() {
        let text = status_line(&line());
        assert!(text.starts_with("connected | host/relay 12 ms |"), "{text}");
        assert!(text.contains("out 640x480 30 fps 1200 kbit/s"), "{text}");
        assert!(text.contains("in 320x240 29 fps 400 kbit/s"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn a_summary_says_how_it_ended_and_how_long_things_took() {
        let summary = Summary {
            connected: true,
            connect_ms: Some(40),
            first_frame_ms: Some(90),
            calls: 1,
            outcome: CallState::Ended(call::EndReason::HungUp),
            last: Some(line()),
        };
        let text = summary_text(&summary, true, "you hung up");
        assert!(
            text.starts_with(
                "Call ended: you hung up. Connected in 40 ms, first picture after 90 ms."
            ),
            "{text}"
        );
        assert!(text.contains("decoded"), "{text}");
        let failed = Summary {
            connected: false,
            outcome: CallState::Failed(call::Failure::SignalingLost),
            last: None,
            ..summary
        };
        assert!(summary_text(&failed, false, "lost").starts_with("Call failed: lost."));
    }
}
