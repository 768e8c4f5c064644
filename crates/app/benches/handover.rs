//! Handover benchmark: how long video stops when one peer's network changes mid-call,
//! `cargo bench -p peercall --bench handover` (root: it builds network namespaces).
//!
//! Each run is one call between two `peercall call` processes in two namespaces joined
//! by a veth pair (the signaling server in the first, so the move breaks the signaling
//! connection too). Four seconds in, the second peer's address is replaced by another:
//! its interfaces change, it remakes its signaling connection and restarts ICE. The
//! figure is each side's longest gap between decoded pictures in that call (the
//! handover's, as nothing else interrupts a clean link), as a distribution over the
//! runs. Flag: `--runs N` (default 10).

#[path = "../tests/lab/mod.rs"]
mod lab;

use std::time::Duration;

use lab::Lab;
use testkit::report;

fn runs() -> u32 {
    let mut args = std::env::args().skip(1);
    let mut runs = 10;
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs);
        }
    }
    runs
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the handover benchmark builds network namespaces: run it as root");
        std::process::exit(2);
    }
    let (mut moved, mut stayed) = (Vec::new(), Vec::new());
    for n in 0..runs() {
        let Some(lab) = Lab::for_handover(&format!("ho{n}")) else {
            return;
        };
        let (a_lines, b_lines) = lab.call(9, || {
            std::thread::sleep(Duration::from_secs(4));
            lab.move_b();
        });
        for (lines, into) in [(&b_lines, &mut moved), (&a_lines, &mut stayed)] {
            let summary = lines.last().expect("a summary line");
            let calls = &summary["summary"]["calls"];
            let gap = summary["summary"]["last"]["video_in"]["longest_gap_ms"].as_f64();
            match gap {
                Some(gap) if calls == 1 => into.push(gap),
                _ => eprintln!("run {n}: the call did not survive the move: {summary}"),
            }
        }
    }
    report("video gap at the peer that moved", moved, "ms");
    report("video gap at the peer that stayed", stayed, "ms");
}
