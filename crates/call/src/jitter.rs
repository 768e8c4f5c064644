//! Video frame assembly (H.264, VP8 or VP9) on the RTP marker bit, with a jitter buffer
//! sized to the measured jitter.
//!
//! [`FrameAssembler`] is a plain type (time is an argument, in microseconds): RTP
//! packets of one codec go in, whole encoded pictures come out (depacketized by rtc-rtp's
//! depacketizer of that codec; a keyframe told by [`media::codec::is_keyframe`]) as soon as their last packet (the one
//! with the marker bit) and every packet before it back to the previous frame's end
//! are there — no waiting for the next frame to start. Packets may arrive out of
//! order or late (NACK retransmissions): once a hole is known (a later packet came),
//! its missing packets are asked for at once, and again every so often while they stay
//! missing ([`FrameAssembler::overdue`]),
//! and after [`AssemblerConfig::max_wait_us`] the assembler is
//! [`stalled`](FrameAssembler::stalled): the receiver asks for a keyframe too, and
//! whichever comes first — the repair or a whole keyframe past the hole — ends the
//! wait. Frames skipped for a keyframe, or given up after [`MAX_HOLE_WAIT_US`], are
//! reported as [`Assembled::Lost`]. A frame still arriving without a hole (a big
//! keyframe on a slow link) is not lost.
//!
//! A complete frame is held back only as long as the network's jitter needs: its
//! release time is its RTP time mapped through the smallest transit time seen lately
//! plus twice the RFC 3550 interarrival jitter of frame completions. On loopback that
//! is well under a millisecond.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use media::codec::{VideoCodec, is_keyframe};
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::codec::vp9::Vp9Packet;
use rtc::rtp::packetizer::Depacketizer;

use crate::sequence::{SequenceUnwrapper, TimestampUnwrapper};

/// RTP clock ticks per microsecond denominator: video runs at 90 kHz.
const CLOCK_HZ: u64 = 90_000;

/// The longest a frame with a hole ever waits, µs: a keyframe asked for when the wait
/// ran out has not come in two seconds either, so the frame is given up.
pub const MAX_HOLE_WAIT_US: u64 = 2_000_000;

/// A sequence number this far from the highest one seen (either way) is no
/// retransmission or reordering but a stream that started over (a sender restarted, or
/// a hostile one); so is a timestamp this far (30 s). Either starts the assembler over,
/// with a loss reported.
const RESTART_SEQ_GAP: u64 = 3_000;
const RESTART_TS_GAP: u64 = 30 * CLOCK_HZ;

/// How many times one missing packet is asked for, at most: over about as long as five
/// asks a round trip apart (the third and later come half as far apart, see
/// [`FrameAssembler::overdue`]).
const MAX_ASKS: u32 = 7;

/// The longest a missing packet is given to turn up out of order before it is asked for,
/// µs (the wait is the measured jitter: on a path that does not reorder, none).
const MAX_REORDER_WAIT_US: u64 = 10_000;

/// The least a frame's tail is given after its newest packet before the packet after
/// it is asked for, µs (see [`FrameAssembler::overdue`]).
const MIN_TAIL_WAIT_US: u64 = 5_000;

/// How many of the usual gaps between a frame's packets its tail is given.
const TAIL_GAPS: f64 = 3.0;

/// The widest hole asked for packet by packet: a jump of more sequence numbers
/// is a stream that started over or a long outage, which a keyframe repairs instead.
const MAX_ASKED_HOLE: u64 = 64;

/// How many packets after the newest are asked for while the stream is silent (one
/// NACK entry covers 17), see [`FrameAssembler::overdue`].
const AHEAD: u64 = 17;

/// How many times the packets after the newest are asked for in one silence: a burst
/// of loss is over in a few round trips; an outage is a keyframe's to repair.
const MAX_AHEAD_ASKS: u32 = 4;

/// Missing packets to ask for now ([`FrameAssembler::overdue`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asks {
    /// Their sequence numbers.
    pub seqs: Vec<u16>,
    /// How many of them were asked for before (their retransmission did not come).
    pub again: usize,
    /// How many of them come after the newest packet, asked for because the stream
    /// fell silent (sent or not: the sender answers those it has).
    pub ahead: usize,
}

/// Tuning of a [`FrameAssembler`].
#[derive(Debug, Clone, Copy)]
pub struct AssemblerConfig {
    /// Wait for a missing packet (e.g. its NACK retransmission) before a keyframe is
    /// asked for too, µs: the NACK goes out when the hole shows and a second one 50 ms
    /// later, so this allows two tries on a round trip of up to about 50 ms.
    pub max_wait_us: u64,
    /// Most jitter-buffer delay ever added, µs.
    pub max_delay_us: u64,
    /// Most packets buffered; beyond it the oldest frame is given up.
    pub max_packets: usize,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        Self {
            max_wait_us: 120_000,
            max_delay_us: 200_000,
            max_packets: 4_096,
        }
    }
}

/// One RTP packet of a video stream.
#[derive(Debug, Clone)]
pub struct RtpIn {
    /// Sequence number.
    pub seq: u16,
    /// RTP timestamp (90 kHz).
    pub timestamp: u32,
    /// Marker bit: the last packet of an access unit.
    pub marker: bool,
    /// RTP payload (RFC 6184 for H.264, RFC 7741 for VP8, RFC 9628 for VP9).
    pub payload: Bytes,
}

/// What comes out of the assembler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// A whole encoded picture (for H.264 an access unit in Annex-B form).
    Frame {
        /// The picture: Annex-B NAL units, or a VP8 or VP9 frame.
        data: Vec<u8>,
        /// Its RTP timestamp.
        timestamp: u32,
        /// Whether it is a keyframe (an IDR picture; decodable on its own).
        keyframe: bool,
    },
    /// Packets of one or more frames never arrived (or could not be read); what
    /// follows needs a keyframe.
    Lost,
}

#[derive(Debug, Clone)]
struct Stored {
    timestamp: u64,
    marker: bool,
    payload: Bytes,
    arrival_us: u64,
}

/// Jitter of frame completion times against their RTP times (RFC 3550 §6.4.1), and
/// the smallest recent transit time, which anchors release times.
#[derive(Debug, Clone, Default)]
struct JitterEstimate {
    /// Interarrival jitter, µs, as a float for the 1/16 smoothing.
    jitter_us: f64,
    last_transit: Option<i64>,
    recent: VecDeque<i64>,
}

impl JitterEstimate {
    const WINDOW: usize = 256;

    fn observe(&mut self, arrival_us: u64, rtp_us: u64) {
        let transit = arrival_us as i64 - rtp_us as i64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs() as f64;
            self.jitter_us += (d - self.jitter_us) / 16.0;
        }
        self.last_transit = Some(transit);
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(transit);
    }

    fn base_transit(&self) -> Option<i64> {
        self.recent.iter().copied().min()
    }
}

/// Assembles encoded pictures from RTP packets; see the module documentation.
#[derive(Debug, Clone)]
pub struct FrameAssembler {
    codec: VideoCodec,
    config: AssemblerConfig,
    packets: BTreeMap<u64, Stored>,
    seqs: SequenceUnwrapper,
    timestamps: TimestampUnwrapper,
    /// Extended sequence number where the next frame starts, once known.
    next: Option<u64>,
    jitter: JitterEstimate,
    /// Timestamps whose completion was already measured.
    measured: Option<u64>,
    /// Missing packets asked for by [`overdue`](Self::overdue): when last, and how
    /// many times.
    reported: BTreeMap<u64, (u64, u32)>,
    /// The stream started over: the next [`pop`](Self::pop) reports a loss.
    restarted: bool,
    /// The usual gap between a frame's consecutive packets, µs (smoothed): how fast the
    /// path delivers a frame.
    spacing_us: f64,
    /// The newest packet: its extended sequence number, arrival (µs) and marker bit.
    newest: Option<(u64, u64, bool)>,
    /// The usual interval between frames, µs, from their RTP timestamps (smoothed): how
    /// often the sender sends one, whatever a queue or a burst did to their arrivals.
    frame_interval_us: f64,
    /// The packets after the newest asked for in this silence: when last, how often.
    ahead: Option<(u64, u32)>,
}

impl FrameAssembler {
    /// The codec it assembles.
    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// An empty assembler of `codec`'s packets.
    pub fn new(codec: VideoCodec, config: AssemblerConfig) -> Self {
        Self {
            codec,
            config,
            packets: BTreeMap::new(),
            seqs: SequenceUnwrapper::default(),
            timestamps: TimestampUnwrapper::default(),
            next: None,
            jitter: JitterEstimate::default(),
            measured: None,
            reported: BTreeMap::new(),
            restarted: false,
            spacing_us: 0.0,
            newest: None,
            frame_interval_us: 0.0,
            ahead: None,
        }
    }

    /// How much longer than its least the path takes now, µs: a queue building up
    /// somewhere (it delays repairs as much as the media, so waits stretch by it).
    pub fn queue_delay_us(&self) -> u64 {
        match (self.jitter.last_transit, self.jitter.base_transit()) {
            (Some(last), Some(base)) => (last - base).max(0) as u64,
            _ => 0,
        }
    }

    /// How long a frame with a hole waits before a keyframe is asked for: the set wait
    /// plus twice the queue.
    fn wait_us(&self) -> u64 {
        (self.config.max_wait_us + 2 * self.queue_delay_us()).min(MAX_HOLE_WAIT_US)
    }

    /// Changes how long a frame with a hole waits for repairs alone, µs.
    pub fn set_max_wait_us(&mut self, us: u64) {
        self.config.max_wait_us = us;
    }

    /// The delay the jitter buffer adds now, µs: twice the measured jitter, capped.
    pub fn delay_us(&self) -> u64 {
        ((2.0 * self.jitter.jitter_us) as u64).min(self.config.max_delay_us)
    }

    /// The measured interarrival jitter, µs.
    pub fn jitter_us(&self) -> u64 {
        self.jitter.jitter_us as u64
    }

    /// Takes a packet that arrived at `now_us`. Duplicates and packets of frames
    /// already given out are ignored; a packet far from the stream (see
    /// [`RESTART_SEQ_GAP`]) starts the assembler over with it.
    pub fn push(&mut self, now_us: u64, packet: RtpIn) {
        let (highest_seq, highest_ts) = (self.seqs.highest(), self.timestamps.highest());
        let seq = self.seqs.unwrap(u64::from(packet.seq));
        let timestamp = self.timestamps.unwrap(u64::from(packet.timestamp));
        if highest_seq.is_some_and(|h| h.abs_diff(seq) > RESTART_SEQ_GAP)
            || highest_ts.is_some_and(|h| h.abs_diff(timestamp) > RESTART_TS_GAP)
        {
            *self = Self {
                restarted: true,
                ..Self::new(self.codec, self.config)
            };
            return self.push(now_us, packet);
        }
        if let Some(next) = self.next.filter(|&next| seq < next) {
            // A packet before the frame at `next` that has the frame's timestamp is its
            // head, come late (a path that reorders: the frame's start was taken from
            // its first packet to come, and its SPS and PPS arrived after): the frame
            // starts there, any packets between missing. Else the packet's frame was
            // given out already.
            let head = next - seq <= MAX_ASKED_HOLE
                && self
                    .packets
                    .get(&next)
                    .is_some_and(|p| p.timestamp == timestamp);
            if !head {
                return;
            }
            self.next = Some(seq);
        }
        if let Some((_, before)) = self
            .packets
            .last_key_value()
            .filter(|&(&s, p)| s + 1 == seq && p.timestamp == timestamp && !p.marker)
        {
            // Up fast, down slowly: a tail asked for too soon is a packet sent twice.
            let gap = now_us.saturating_sub(before.arrival_us) as f64;
            let weight = if gap > self.spacing_us { 0.5 } else { 0.125 };
            self.spacing_us += (gap - self.spacing_us) * weight;
        }
        self.packets.entry(seq).or_insert(Stored {
            timestamp,
            marker: packet.marker,
            payload: packet.payload,
            arrival_us: now_us,
        });
        if self.newest.is_none_or(|(newest, ..)| seq > newest) {
            self.newest = Some((seq, now_us, packet.marker));
            self.ahead = None;
        }
        if packet.marker && self.measured.is_none_or(|m| timestamp > m) {
            if let Some(last) = self.measured {
                let interval = ((timestamp - last) * 1_000_000 / CLOCK_HZ) as f64;
                self.frame_interval_us = if self.frame_interval_us == 0.0 {
                    interval
                } else {
                    self.frame_interval_us + (interval - self.frame_interval_us) / 8.0
                };
            }
            self.measured = Some(timestamp);
            self.jitter
                .observe(now_us, timestamp * 1_000_000 / CLOCK_HZ);
        }
    }

    /// Packets still missing at `now_us` that are due to be asked for (NACK): each once
    /// a later packet showed it missing and the measured jitter passed (the time a
    /// reordered packet is given, at most [`MAX_REORDER_WAIT_US`]), then again
    /// `again_us` (plus twice the queue delay beyond the jitter) after each ask while it
    /// stays missing (its retransmission was lost too), and half that after the second,
    /// at most [`MAX_ASKS`] times. A packet whose retransmission was lost as well is in
    /// a long burst of loss, which takes the retransmissions sent into it too: asked
    /// every half round trip, the first copy sent after the burst comes at most half a
    /// round trip after it ends, not a whole one. Under bursty loss (bursts of 6.5
    /// packets on average, 40 ms round trip) the freezes left were frames that waited
    /// three or four asks a round trip apart, 200-212 ms in all. The cost is a
    /// retransmission sent twice when the last was late, not lost.
    ///
    /// A frame whose newest packet has no marker bit is missing its tail, which no later
    /// packet shows until the next frame comes (a frame interval later): the packet after
    /// it is asked for once [`TAIL_GAPS`] of the path's usual gaps between a frame's
    /// packets (at least [`MIN_TAIL_WAIT_US`] and the jitter; plus twice the queue, as
    /// above) pass with nothing new.
    ///
    /// A stream silent after a whole frame for twice its usual interval between frames
    /// (by their timestamps: frames drained from a queue arrive bunched; plus twice the
    /// jitter and the queue) may be in a burst of loss that took whole frames,
    /// which no packet shows until the burst ends: the [`AHEAD`] packets after the
    /// newest are asked for, then every half `again_us`, at most [`MAX_AHEAD_ASKS`]
    /// times, so that retransmissions are on their way when it ends. Under bursty loss
    /// every freeze left was such a burst (6-14 packets, 130-170 ms of video) and a
    /// round trip for the repairs asked once it ended: 203-213 ms. The sender answers
    /// only what it sent; the cost is a packet sent twice when a silence was only a
    /// pause.
    pub fn overdue(&mut self, now_us: u64, again_us: u64) -> Asks {
        let mut asks = Asks::default();
        let Some(next) = self.next else {
            return asks;
        };
        self.reported.retain(|&s, _| s >= next);
        let due: Vec<u64> = self
            .ask_times(again_us)
            .filter(|&(_, due)| now_us >= due)
            .map(|(missing, _)| missing)
            .collect();
        for missing in due {
            let (last, times) = self.reported.entry(missing).or_insert((now_us, 0));
            *last = now_us;
            *times += 1;
            if *times > 1 {
                asks.again += 1;
            }
            asks.seqs.push(missing as u16);
        }
        if let Some((newest, ..)) = self.newest
            && self.ahead_due(again_us).is_some_and(|due| now_us >= due)
        {
            let times = self.ahead.map_or(0, |(_, times)| times) + 1;
            self.ahead = Some((now_us, times));
            asks.seqs
                .extend((newest + 1..=newest + AHEAD).map(|seq| seq as u16));
            asks.ahead = AHEAD as usize;
        }
        asks
    }

    /// When [`overdue`](Self::overdue) next has a packet to ask for (µs), if any.
    pub fn next_ask_us(&self, again_us: u64) -> Option<u64> {
        self.ask_times(again_us)
            .map(|(_, due)| due)
            .chain(self.ahead_due(again_us))
            .min()
    }

    /// The queue delay beyond what jitter explains, µs: jitter reads as a queue of up to
    /// about twice itself; only what lies beyond delays a retransmission for sure.
    fn queue_beyond_jitter_us(&self) -> u64 {
        self.queue_delay_us().saturating_sub(2 * self.jitter_us())
    }

    /// When the packets after the newest are next due to be asked for (µs), if the
    /// stream is silent after a whole frame (see [`overdue`](Self::overdue)).
    fn ahead_due(&self, again_us: u64) -> Option<u64> {
        let (_, arrival_us, true) = self.newest? else {
            return None;
        };
        if self.next.is_none() || self.frame_interval_us == 0.0 {
            return None;
        }
        let queue_us = self.queue_beyond_jitter_us();
        match self.ahead {
            None => Some(
                arrival_us
                    + (2.0 * self.frame_interval_us) as u64
                    + 2 * self.jitter_us()
                    + 2 * queue_us,
            ),
            Some((_, times)) if times >= MAX_AHEAD_ASKS => None,
            Some((last, _)) => Some(last + (again_us + 2 * queue_us) / 2),
        }
    }

    /// Each packet missing in a hole of at most [`MAX_ASKED_HOLE`] past the next
    /// frame's start, and when it is due to be asked for.
    fn ask_times(&self, again_us: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let first_us = self.jitter_us().min(MAX_REORDER_WAIT_US);
        let queue_us = self.queue_beyond_jitter_us();
        let again_us = again_us + 2 * queue_us;
        let mut expected = self.next.unwrap_or(u64::MAX);
        let tail_us = ((TAIL_GAPS * self.spacing_us) as u64)
            .max(MIN_TAIL_WAIT_US)
            .max(first_us)
            + 2 * queue_us;
        let tail = self
            .packets
            .last_key_value()
            .filter(|&(&seq, p)| !p.marker && seq >= expected)
            .map(|(&seq, p)| (seq + 1, p.arrival_us + tail_us));
        // Each missing packet with when it is first due.
        self.packets
            .range(expected..)
            .flat_map(move |(&seq, p)| {
                // A wider hole is not gone through at all (a hostile stream makes many).
                let hole = if seq - expected <= MAX_ASKED_HOLE {
                    expected..seq
                } else {
                    seq..seq
                };
                expected = seq + 1;
                hole.map(move |m| (m, p.arrival_us + first_us))
            })
            .chain(tail)
            .filter_map(
                move |(missing, first_due)| match self.reported.get(&missing) {
                    None => Some((missing, first_due)),
                    Some(&(_, times)) if times >= MAX_ASKS => None,
                    Some(&(last, 1)) => Some((missing, last + again_us)),
                    Some(&(last, _)) => Some((missing, last + again_us / 2)),
                },
            )
    }

    /// Whether the next frame has waited for a hole longer than the set wait at
    /// `now_us`, or its hole is too wide to be asked for packet by packet (an outage):
    /// time to ask for a keyframe as well.
    pub fn stalled(&self, now_us: u64) -> bool {
        self.next
            .filter(|&next| self.complete_frame(next).is_none())
            .and_then(|next| self.stall_us(next))
            .is_some_and(|stall| now_us >= stall)
    }

    /// When the frame at `next`, with a hole, becomes [`stalled`](Self::stalled).
    fn stall_us(&self, next: u64) -> Option<u64> {
        let (seen, width) = self.first_hole(next)?;
        Some(if width > MAX_ASKED_HOLE {
            seen
        } else {
            seen + self.wait_us()
        })
    }

    /// When [`pop`](Self::pop) may next give something out or the assembler becomes
    /// [`stalled`](Self::stalled) (µs), if anything waits.
    pub fn next_event_us(&self, now_us: u64) -> Option<u64> {
        if self.restarted {
            return Some(now_us);
        }
        let next = self.next?;
        match self.complete_frame(next) {
            Some((end, timestamp)) => Some(self.release_us(next, end, timestamp)),
            None => self
                .stall_us(next)
                .zip(self.hole_seen_us(next))
                .map(|(stall, seen)| {
                    if now_us < stall {
                        stall
                    } else {
                        seen + MAX_HOLE_WAIT_US.max(self.wait_us())
                    }
                }),
        }
    }

    /// When a hole was first known to exist at or after `next`: the arrival of the
    /// first packet past the first missing one. `None` while the frame is merely still
    /// arriving (a large keyframe on a slow link takes a while, and is not lost).
    fn hole_seen_us(&self, next: u64) -> Option<u64> {
        self.first_hole(next).map(|(seen, _)| seen)
    }

    /// The first hole at or after `next`: when it was seen ([`Self::hole_seen_us`]) and
    /// how many packets wide it is.
    fn first_hole(&self, next: u64) -> Option<(u64, u64)> {
        (next..)
            .zip(self.packets.range(next..))
            .find(|(expected, (seq, _))| *seq != expected)
            .map(|(expected, (seq, p))| (p.arrival_us, seq - expected))
    }

    /// The next frame or loss that is due at `now_us`, if any.
    pub fn pop(&mut self, now_us: u64) -> Option<Assembled> {
        if std::mem::take(&mut self.restarted) {
            return Some(Assembled::Lost);
        }
        let next = self.next.or_else(|| self.find_start())?;
        self.next = Some(next);
        if let Some((end, timestamp)) = self.complete_frame(next) {
            if now_us < self.release_us(next, end, timestamp) {
                return None;
            }
            let packets: Vec<Stored> = (next..=end)
                .filter_map(|s| self.packets.remove(&s))
                .collect();
            self.next = Some(end + 1);
            return Some(depacketize(self.codec, &packets, timestamp as u32));
        }
        if let Some(keyframe) = self.keyframe_after(next) {
            self.packets.retain(|&s, _| s >= keyframe);
            self.next = Some(keyframe);
            return Some(Assembled::Lost);
        }
        let overflow = self.packets.len() > self.config.max_packets;
        let hole_expired = self
            .hole_seen_us(next)
            .is_some_and(|seen| now_us >= seen + MAX_HOLE_WAIT_US.max(self.wait_us()));
        if overflow || hole_expired {
            self.give_up(next);
            return Some(Assembled::Lost);
        }
        None
    }

    /// The first packet of a whole keyframe past the (incomplete) frame at `next`, if
    /// one has come: nothing before it is worth waiting for then. It starts a picture
    /// of a later timestamp than the packet before it that came (the one right before
    /// may be in the hole: a sender that comes back after an outage starts with one).
    fn keyframe_after(&self, next: u64) -> Option<u64> {
        let mut previous: Option<u64> = None;
        for (&seq, p) in self.packets.range(next..) {
            let starts = previous.is_some_and(|ts| ts < p.timestamp);
            previous = Some(p.timestamp);
            if !starts || !partition_head(self.codec, &p.payload) {
                continue;
            }
            let Some((end, _)) = self.complete_frame(seq) else {
                continue;
            };
            let frame = depacketize(self.codec, self.packets.range(seq..=end).map(|(_, p)| p), 0);
            if matches!(frame, Assembled::Frame { keyframe: true, .. }) {
                return Some(seq);
            }
        }
        None
    }

    /// When the whole frame of packets `start..=end` and `timestamp` is due: its RTP
    /// time mapped through the smallest transit, plus the jitter delay; never later than
    /// [`AssemblerConfig::max_delay_us`] after its last packet came, whatever its
    /// timestamp says.
    fn release_us(&self, start: u64, end: u64, timestamp: u64) -> u64 {
        let base = self.jitter.base_transit().unwrap_or(0);
        let rtp_us = (timestamp * 1_000_000 / CLOCK_HZ) as i64;
        let mapped = (rtp_us + base).max(0) as u64 + self.delay_us();
        let completed = self
            .packets
            .range(start..=end)
            .map(|(_, p)| p.arrival_us)
            .max()
            .unwrap_or(0);
        mapped.min(completed + self.config.max_delay_us)
    }

    /// The last packet and timestamp of the frame starting at `start`, if it is whole.
    fn complete_frame(&self, start: u64) -> Option<(u64, u64)> {
        let first = self.packets.get(&start)?;
        let mut seq = start;
        loop {
            let p = self.packets.get(&seq)?;
            if p.timestamp != first.timestamp {
                // A frame without its marker packet but followed by the next frame:
                // the marker packet was lost only if the frame had one more packet,
                // which cannot be told; treat the frame as ended by the new timestamp.
                return Some((seq - 1, first.timestamp));
            }
            if p.marker {
                return Some((seq, first.timestamp));
            }
            seq += 1;
        }
    }

    /// Before the first frame: the first packet that starts a frame, dropping
    /// anything before it.
    fn find_start(&mut self) -> Option<u64> {
        let mut previous: Option<(u64, u64)> = None;
        let mut start = None;
        for (&seq, p) in &self.packets {
            let new_frame = previous.is_none_or(|(s, ts)| s + 1 != seq || ts != p.timestamp);
            if new_frame && partition_head(self.codec, &p.payload) {
                start = Some(seq);
                break;
            }
            previous = Some((seq, p.timestamp));
        }
        let Some(start) = start else {
            if self.packets.len() > self.config.max_packets {
                self.packets.clear();
            }
            return None;
        };
        self.packets.retain(|&s, _| s >= start);
        Some(start)
    }

    /// Drops the frame (with a hole) starting at `next` and moves on to the first
    /// packet of a later timestamp.
    fn give_up(&mut self, next: u64) {
        let timestamp = self
            .packets
            .range(next..)
            .next()
            .map(|(_, p)| p.timestamp)
            .unwrap_or(0);
        let resume = self
            .packets
            .range(next..)
            .find(|(_, p)| p.timestamp > timestamp)
            .map(|(&s, _)| s);
        match resume {
            Some(resume) => {
                self.packets.retain(|&s, _| s >= resume);
                self.next = Some(resume);
            }
            None => {
                let last = self.packets.last_key_value().map_or(next, |(&s, _)| s);
                self.packets.clear();
                self.next = Some(last + 1);
            }
        }
    }
}

/// Whether `payload` starts a picture of `codec` (its depacketizer's partition head).
fn partition_head(codec: VideoCodec, payload: &Bytes) -> bool {
    match codec {
        VideoCodec::H264 => H264Packet::default().is_partition_head(payload),
        VideoCodec::Vp8 => Vp8Packet::default().is_partition_head(payload),
        VideoCodec::Vp9 => Vp9Packet::default().is_partition_head(payload),
    }
}

/// The depacketizer of `codec`.
fn depacketizer(codec: VideoCodec) -> Box<dyn Depacketizer> {
    match codec {
        VideoCodec::H264 => Box::<H264Packet>::default(),
        VideoCodec::Vp8 => Box::<Vp8Packet>::default(),
        VideoCodec::Vp9 => Box::<Vp9Packet>::default(),
    }
}

fn depacketize<'a>(
    codec: VideoCodec,
    packets: impl IntoIterator<Item = &'a Stored>,
    timestamp: u32,
) -> Assembled {
    let mut depacketizer = depacketizer(codec);
    let mut data = Vec::new();
    for p in packets {
        if codec == VideoCodec::H264 && !aggregation_fits(&p.payload) {
            return Assembled::Lost;
        }
        if codec != VideoCodec::H264 {
            // rtc-rtp 0.21.1's VP8 and VP9 depacketizers keep fields of the previous
            // packet (VP9 even collects its reference indices until "too many"): each
            // packet gets a fresh one. (H.264's keeps the FU-A fragments it joins.)
            depacketizer = self::depacketizer(codec);
        }
        match depacketizer.depacketize(&p.payload) {
            Ok(part) => data.extend_from_slice(&part),
            Err(_) => return Assembled::Lost,
        }
    }
    if data.is_empty() {
        return Assembled::Lost;
    }
    let keyframe = is_keyframe(codec, &data);
    Assembled::Frame {
        data,
        timestamp,
        keyframe,
    }
}

/// Whether a STAP-A payload's units (a 16-bit size, then that many bytes, each) fill
/// it exactly; any other payload passes. rtc-rtp 0.21.1's depacketizer reads past the
/// end of a STAP-A with one stray byte after its last unit (a panic), so such a payload
/// never reaches it.
fn aggregation_fits(payload: &[u8]) -> bool {
    const STAP_A: u8 = 24;
    let Some((header, mut rest)) = payload.split_first() else {
        return true;
    };
    if header & 0x1f != STAP_A {
        return true;
    }
    while !rest.is_empty() {
        let [high, low, units @ ..] = rest else {
            return false;
        };
        let size = usize::from(*high) << 8 | usize::from(*low);
        let Some(after) = units.get(size..) else {
            return false;
        };
        rest = after;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of `n` FU-A fragments of one NAL unit (type 5 when `idr`, else 1).
    /// The asks for packets known missing, leaving out those after the newest asked
    /// for in a silence: their sequence numbers and how many were asked before.
    fn missing(asks: Asks) -> (Vec<u16>, usize) {
        let known = asks.seqs.len() - asks.ahead;
        (asks.seqs[..known].to_vec(), asks.again)
    }

    /// When a packet known missing is next due to be asked for.
    fn next_missing_ask_us(a: &FrameAssembler, again_us: u64) -> Option<u64> {
        a.ask_times(again_us).map(|(_, due)| due).min()
    }

    fn frame(seq: u16, timestamp: u32, n: usize, idr: bool) -> Vec<RtpIn> {
        let nal_type = if idr { 5 } else { 1 };
        (0..n)
            .map(|i| {
                let (start, end) = (i == 0, i + 1 == n);
                let header = 0x60 | 28;
                let fu = (u8::from(start) << 7) | (u8::from(end) << 6) | nal_type;
                RtpIn {
                    seq: seq.wrapping_add(i as u16),
                    timestamp,
                    marker: end,
                    payload: Bytes::from(vec![header, fu, i as u8, 0xAA]),
                }
            })
            .collect()
    }

    /// NAL unit types in an Annex-B buffer.
    fn nal_types(data: &[u8]) -> impl Iterator<Item = u8> + '_ {
        data.windows(4)
            .filter(|w| w[..3] == [0, 0, 1])
            .map(|w| w[3] & 0x1f)
    }

    fn frames_of(assembler: &mut FrameAssembler, now: u64) -> Vec<Assembled> {
        std::iter::from_fn(|| assembler.pop(now)).collect()
    }

    #[test]
    fn a_frame_comes_out_when_its_marker_packet_arrives() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        let packets = frame(100, 3000, 3, true);
        for p in &packets[..2] {
            a.push(0, p.clone());
        }
        assert_eq!(a.pop(0), None, "no marker yet");
        a.push(0, packets[2].clone());
        let out = frames_of(&mut a, 0);
        assert_eq!(out.len(), 1);
        let Assembled::Frame { data, keyframe, .. } = &out[0] else {
            panic!("{out:?}")
        };
        assert!(keyframe);
        // One NAL unit: start code, rebuilt header (ref idc 3, type 5), three fragments.
        assert_eq!(&data[..5], &[0, 0, 0, 1, 0x65]);
        assert_eq!(data.len(), 5 + 3 * 2);
    }

    #[test]
    fn reordered_packets_and_a_sequence_wrap_still_make_whole_frames() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        let mut packets = frame(65_534, 0, 4, true); // 65534, 65535, 0, 1
        packets.extend(frame(2, 3000, 2, false));
        packets.swap(1, 2);
        packets.swap(4, 5);
        let mut out = Vec::new();
        for p in packets {
            // Each packet arrives at its frame's RTP time.
            let now = u64::from(p.timestamp) * 1_000 / 90;
            a.push(now, p);
            out.extend(frames_of(&mut a, now));
        }
        let stamps: Vec<_> = out
            .iter()
            .map(|f| match f {
                Assembled::Frame { timestamp, .. } => *timestamp,
                Assembled::Lost => u32::MAX,
            })
            .collect();
        assert_eq!(stamps, [0, 3000]);
    }

    #[test]
    fn a_stream_that_starts_over_far_behind_is_followed_after_a_loss() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        for p in frame(40_000, 0, 2, true) {
            a.push(0, p);
        }
        assert!(matches!(a.pop(0), Some(Assembled::Frame { .. })));
        // The sender starts over: sequence numbers 30,000 back, a new timestamp base.
        for p in frame(10_000, 7_000_000, 2, true) {
            a.push(33_000, p);
        }
        assert_eq!(a.next_event_us(33_000), Some(33_000));
        assert_eq!(
            a.pop(33_000),
            Some(Assembled::Lost),
            "the restart is a loss"
        );
        let out = frames_of(&mut a, 33_000 + 200_000);
        assert!(
            matches!(
                out[..],
                [Assembled::Frame {
                    timestamp: 7_000_000,
                    keyframe: true,
                    ..
                }]
            ),
            "{out:?}"
        );
    }

    #[test]
    fn a_timestamp_leap_holds_a_frame_no_longer_than_the_most_delay() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        a.push(0, frame(10, 0, 1, true)[0].clone());
        assert!(a.pop(0).is_some());
        // Ten seconds ahead in RTP time (under the restart gap), one frame time later.
        a.push(33_000, frame(11, 900_000, 1, false)[0].clone());
        let most = 33_000 + AssemblerConfig::default().max_delay_us;
        assert_eq!(a.next_event_us(33_000), Some(most));
        assert_eq!(a.pop(most - 1), None);
        assert!(matches!(a.pop(most), Some(Assembled::Frame { .. })));
    }

    #[test]
    fn a_late_retransmission_fills_the_hole_before_the_wait_runs_out() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        let first = frame(10, 0, 1, true);
        let second = frame(11, 3000, 3, false);
        a.push(0, first[0].clone());
        assert_eq!(frames_of(&mut a, 0).len(), 1);
        a.push(33_000, second[0].clone());
        a.push(33_000, second[2].clone());
        assert_eq!(a.pop(50_000), None, "waiting for packet 12");
        a.push(90_000, second[1].clone()); // the NACKed packet comes back
        assert!(matches!(a.pop(90_000), Some(Assembled::Frame { .. })));
    }

    /// An assembler with a 100 ms wait that gave out a keyframe (seq 10) and holds a
    /// frame (seqs 11..=13, from 33 ms) without its packet 12.
    fn with_a_hole() -> FrameAssembler {
        let config = AssemblerConfig {
            max_wait_us: 100_000,
            ..AssemblerConfig::default()
        };
        let mut a = FrameAssembler::new(VideoCodec::H264, config);
        a.push(0, frame(10, 0, 1, true)[0].clone());
        a.pop(0);
        let broken = frame(11, 3000, 3, false);
        a.push(33_000, broken[0].clone());
        a.push(33_000, broken[2].clone());
        a
    }

    #[test]
    fn a_hole_that_outlasts_the_wait_asks_for_a_keyframe_and_is_given_up_later() {
        let mut a = with_a_hole();
        for p in frame(14, 6000, 2, false) {
            a.push(66_000, p);
        }
        // The hole (packet 12) is known since packet 13 came at 33 ms.
        assert_eq!(a.pop(100_000), None);
        assert!(!a.stalled(100_000));
        assert_eq!(a.next_event_us(100_000), Some(133_000));
        assert!(a.stalled(133_000), "time to ask for a keyframe");
        assert_eq!(a.pop(133_000), None, "the repair may still come");
        let give_up = 33_000 + MAX_HOLE_WAIT_US;
        assert_eq!(a.next_event_us(133_000), Some(give_up));
        assert_eq!(a.pop(give_up - 1), None);
        assert_eq!(a.pop(give_up), Some(Assembled::Lost));
        assert!(matches!(
            a.pop(give_up),
            Some(Assembled::Frame {
                timestamp: 6000,
                keyframe: false,
                ..
            })
        ));
    }

    #[test]
    fn a_whole_keyframe_past_a_hole_ends_the_wait_at_once() {
        let mut a = with_a_hole();
        for p in frame(14, 6000, 2, false) {
            a.push(66_000, p);
        }
        let key = frame(16, 9000, 3, true);
        a.push(99_000, key[0].clone());
        a.push(99_000, key[1].clone());
        assert_eq!(a.pop(99_000), None, "the keyframe is not whole yet");
        a.push(100_000, key[2].clone());
        assert_eq!(a.pop(100_000), Some(Assembled::Lost));
        assert!(!a.stalled(100_000));
        assert!(matches!(
            a.pop(100_000),
            Some(Assembled::Frame {
                timestamp: 9000,
                keyframe: true,
                ..
            })
        ));
    }

    #[test]
    fn a_keyframe_right_after_the_hole_ends_the_wait_too() {
        let mut a = with_a_hole();
        // The packets after 13 were lost as well (an outage); the sender came back
        // with a keyframe.
        for p in frame(20, 9000, 3, true) {
            a.push(100_000, p);
        }
        assert_eq!(a.pop(100_000), Some(Assembled::Lost));
        assert!(matches!(
            a.pop(100_000),
            Some(Assembled::Frame {
                timestamp: 9000,
                keyframe: true,
                ..
            })
        ));
    }

    #[test]
    fn a_repair_that_comes_after_the_wait_is_still_used() {
        let mut a = with_a_hole();
        assert!(a.stalled(200_000));
        a.push(250_000, frame(11, 3000, 3, false)[1].clone());
        assert!(!a.stalled(250_000));
        assert!(matches!(
            a.pop(250_000),
            Some(Assembled::Frame {
                timestamp: 3000,
                ..
            })
        ));
    }

    #[test]
    fn a_frame_still_arriving_without_a_hole_is_not_given_up() {
        let config = AssemblerConfig {
            max_wait_us: 100_000,
            ..AssemblerConfig::default()
        };
        let mut a = FrameAssembler::new(VideoCodec::H264, config);
        // A 40-packet keyframe trickling in over 800 ms (a slow link).
        let key = frame(0, 0, 40, true);
        for (i, p) in key.iter().enumerate() {
            let now = i as u64 * 20_000;
            a.push(now, p.clone());
            if i + 1 < key.len() {
                assert_eq!(a.pop(now), None, "packet {i}");
                assert_eq!(a.next_event_us(now), None);
            }
        }
        assert!(matches!(
            a.pop(800_000),
            Some(Assembled::Frame { keyframe: true, .. })
        ));
    }

    #[test]
    fn missing_packets_are_asked_for_when_the_hole_shows_and_again_a_few_times() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        a.push(0, frame(10, 0, 1, true)[0].clone());
        a.pop(0);
        assert_eq!(a.overdue(0, 60_000), Asks::default(), "no hole");
        let second = frame(11, 3000, 5, false); // 11..=15; 12 and 13 go missing
        a.push(40_000, second[0].clone());
        assert_eq!(
            a.next_ask_us(60_000),
            Some(40_000 + MIN_TAIL_WAIT_US),
            "no later packet yet: only the tail, after a wait"
        );
        for i in [3, 4] {
            a.push(40_000, second[i].clone());
        }
        // Asked for once a reordered packet would have come: the little jitter seen.
        let first_at = 40_000 + a.jitter_us();
        assert!(a.jitter_us() < 1_000, "{}", a.jitter_us());
        assert_eq!(a.next_ask_us(60_000), Some(first_at));
        assert_eq!(a.overdue(first_at - 1, 60_000), Asks::default());
        let first = a.overdue(first_at, 60_000);
        assert_eq!((first.seqs, first.again), (vec![12, 13], 0));
        // The frame came 7 ms later than the first: the waits stretch by twice what of
        // that lies beyond the jitter.
        let stretch = 2 * (6_667 - 2 * a.jitter_us());
        let again_at = first_at + 60_000 + stretch;
        assert_eq!(a.next_ask_us(60_000), Some(again_at));
        assert_eq!(
            a.overdue(again_at - 1, 60_000),
            Asks::default(),
            "not again yet"
        );
        let again = a.overdue(again_at, 60_000);
        assert_eq!((again.seqs, again.again), (vec![12, 13], 2));
        a.push(120_000, second[1].clone());
        // Lost again: from then on, half as far apart.
        let half = (60_000 + stretch) / 2;
        for k in 1..=u64::from(MAX_ASKS - 2) {
            let now = again_at + k * half;
            assert_eq!(next_missing_ask_us(&a, 60_000), Some(now));
            let asks = a.overdue(now, 60_000);
            assert_eq!(missing(asks), (vec![13], 1), "again at {now}");
        }
        assert_eq!(next_missing_ask_us(&a, 60_000), None);
        assert_eq!(
            missing(a.overdue(600_000, 60_000)),
            (vec![], 0),
            "at most {MAX_ASKS} times"
        );
        a.push(130_000, second[2].clone());
        a.push(130_000, second[2].clone());
        assert!(matches!(a.pop(200_000), Some(Assembled::Frame { .. })));
    }

    #[test]
    fn a_frame_head_that_comes_after_the_rest_of_the_frame_still_starts_it() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        // A keyframe: SPS and PPS (one STAP-A), then the IDR in three fragments. On a
        // reordering path the IDR's first fragment comes first and is taken as the
        // frame's start.
        let ts = 9000;
        let stap = RtpIn {
            seq: 50,
            timestamp: ts,
            marker: false,
            payload: Bytes::from(vec![24, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce]),
        };
        let idr = frame(51, ts, 3, true);
        a.push(0, idr[0].clone());
        assert_eq!(a.pop(0), None);
        a.push(1_000, idr[2].clone());
        a.push(2_000, stap);
        a.push(3_000, idr[1].clone());
        let Some(Assembled::Frame { data, keyframe, .. }) = a.pop(3_000) else {
            panic!("no frame");
        };
        assert!(keyframe);
        assert_eq!(
            nal_types(&data).collect::<Vec<_>>(),
            [7, 8, 5],
            "SPS and PPS first"
        );
        // A packet of a frame already given out is still ignored.
        a.push(4_000, idr[1].clone());
        a.push(36_000, frame(54, ts + 3000, 1, false)[0].clone());
        assert!(matches!(
            a.pop(100_000),
            Some(Assembled::Frame {
                keyframe: false,
                ..
            })
        ));
        assert_eq!(a.pop(100_000), None);
    }

    #[test]
    fn a_silence_after_a_whole_frame_asks_for_the_packets_after_the_newest_a_few_times() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        // 30 frames a second, two packets each, on time.
        let gap = 33_333;
        for n in 0..10u16 {
            for p in frame(100 + 2 * n, u32::from(n) * 3000, 2, n == 0) {
                a.push(u64::from(n) * gap, p);
            }
            while a.pop(u64::from(n) * gap).is_some() {}
        }
        let last = 9 * gap;
        // A burst takes the next frames whole: nothing shows a hole. A pause of up to
        // two frame gaps is no silence.
        let due = last + 2 * gap;
        assert_eq!(a.next_ask_us(60_000), Some(due));
        assert_eq!(a.overdue(due - 1, 60_000), Asks::default());
        let asks = a.overdue(due, 60_000);
        let after: Vec<u16> = (120..137).collect();
        assert_eq!(
            (asks.seqs.clone(), asks.again, asks.ahead),
            (after.clone(), 0, 17)
        );
        // Again every half `again_us`, four times in all.
        let mut times = vec![due];
        while let Some(at) = a.next_ask_us(60_000) {
            assert_eq!(a.overdue(at, 60_000).seqs, after);
            times.push(at);
        }
        assert_eq!(times, [due, due + 30_000, due + 60_000, due + 90_000]);
        // The burst ends: the first packet after it shows the hole, asked for at once
        // as missing; the silence is over.
        a.push(
            due + 100_000,
            frame(126, 10 * 3000 + 9000, 2, false)[0].clone(),
        );
        let asks = a.overdue(due + 100_000, 60_000);
        assert_eq!(missing(asks.clone()), ((120..126).collect(), 0));
        assert_eq!(asks.ahead, 0);

        // Frames drained from a queue arrive bunched, a millisecond apart: the silence
        // is still counted in the sender's interval between frames.
        let mut b = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        for n in 0..10u16 {
            let at = u64::from(n) * 1_000;
            for p in frame(100 + 2 * n, u32::from(n) * 3000, 2, n == 0) {
                b.push(at, p);
            }
            while b.pop(at).is_some() {}
        }
        assert!(
            b.next_ask_us(60_000)
                .is_some_and(|at| at >= 9_000 + 2 * gap)
        );
    }

    #[test]
    fn a_frame_missing_its_tail_is_asked_for_before_the_next_frame_shows_the_hole() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        a.push(0, frame(10, 0, 1, true)[0].clone());
        a.pop(0);
        // 11..=13, 1 ms apart; 13, the last (with the marker bit), is lost.
        let second = frame(11, 3000, 3, false);
        a.push(33_000, second[0].clone());
        a.push(34_000, second[1].clone());
        let due = 34_000 + MIN_TAIL_WAIT_US;
        assert_eq!(a.next_ask_us(60_000), Some(due));
        assert_eq!(
            a.overdue(due - 1, 60_000),
            Asks::default(),
            "given a little time"
        );
        assert_eq!(
            a.overdue(due, 60_000).seqs,
            vec![13],
            "a frame interval early"
        );
        // Asked for again like any other missing packet once the next frame shows it.
        a.push(66_000, frame(14, 6000, 1, false)[0].clone());
        assert_eq!(a.next_ask_us(60_000), Some(due + 60_000));
        a.push(80_000, second[2].clone());
        assert!(matches!(a.pop(80_000), Some(Assembled::Frame { .. })));
    }

    #[test]
    fn on_a_slow_path_a_frame_tail_is_given_the_usual_gaps_between_its_packets() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        // Behind a slow link a frame's packets come 20 ms apart (frames at ~17 fps).
        let mut t = 0;
        for n in 0..10u16 {
            for p in frame(n * 3, u32::from(n) * 5400, 3, n == 0) {
                a.push(t, p);
                t += 20_000;
            }
            while a.pop(t).is_some() {}
        }
        let next = frame(30, 54_000, 3, false);
        a.push(t, next[0].clone());
        assert_eq!(a.queue_delay_us(), 0);
        let wait = a.next_ask_us(60_000).unwrap() - t;
        assert!((55_000..=60_000).contains(&wait), "{wait}");
    }

    /// An assembler after 40 one-packet frames (sequence numbers and RTP times from 0),
    /// arriving 0 or 8 ms off their times: jitter of a few ms.
    fn jittery() -> FrameAssembler {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        for n in 0..40u32 {
            let t = u64::from(n) * 33_333 + if n % 2 == 0 { 0 } else { 8_000 };
            a.push(t, frame(n as u16, n * 3000, 1, n == 0)[0].clone());
            a.pop(t + 50_000);
        }
        a
    }

    #[test]
    fn jitter_does_not_hold_back_the_second_ask_as_a_queue_would() {
        let mut a = jittery();
        let t = 40 * 33_333 + 8_000;
        let next = frame(40, 40 * 3000, 3, false); // 40..=42; 41 is lost
        a.push(t, next[0].clone());
        a.push(t, next[2].clone());
        let first_at = a.next_ask_us(60_000).unwrap();
        assert_eq!(a.overdue(first_at, 60_000).seqs, vec![41]);
        // The late frame reads as a queue, within twice the jitter: no stretch.
        assert!(a.queue_delay_us() > 0);
        assert!(a.queue_delay_us() <= 2 * a.jitter_us());
        assert_eq!(a.next_ask_us(60_000), Some(first_at + 60_000));
    }

    #[test]
    fn on_a_reordering_path_a_missing_packet_is_given_the_jitter_before_it_is_asked_for() {
        let mut a = jittery();
        let t = 40 * 33_333;
        let next = frame(40, 40 * 3000, 3, false); // 40..=42; 41 comes late
        a.push(t, next[0].clone());
        a.push(t, next[2].clone());
        let delay = a.jitter_us();
        assert!((1_000..=MAX_REORDER_WAIT_US).contains(&delay), "{delay}");
        assert_eq!(a.next_ask_us(60_000), Some(t + delay));
        a.push(t + delay / 2, next[1].clone());
        assert_eq!(
            a.overdue(t + delay, 60_000),
            Asks::default(),
            "it came: not asked for"
        );
        assert_eq!(next_missing_ask_us(&a, 60_000), None);
    }

    #[test]
    fn a_wide_gap_is_not_asked_for_packet_by_packet_but_asks_for_a_keyframe_at_once() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        a.push(0, frame(10, 0, 1, true)[0].clone());
        a.pop(0);
        let far = 11 + MAX_ASKED_HOLE as u16 + 1;
        a.push(10_000, frame(far, 3000, 1, false)[0].clone());
        assert_eq!(a.overdue(10_000, 60_000), Asks::default());
        assert_eq!(next_missing_ask_us(&a, 60_000), None);
        assert!(a.stalled(10_000), "an outage: no repairs to wait for");
        assert_eq!(a.next_event_us(10_000), Some(10_000 + MAX_HOLE_WAIT_US));
        // A narrow hole waits for its repairs first.
        let mut b = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        b.push(0, frame(10, 0, 1, true)[0].clone());
        b.pop(0);
        b.push(10_000, frame(12, 3000, 1, false)[0].clone());
        assert!(!b.stalled(10_000));
        assert!(b.stalled(10_000 + AssemblerConfig::default().max_wait_us));
    }

    #[test]
    fn a_building_queue_stretches_the_waits_for_repairs() {
        let config = AssemblerConfig {
            max_wait_us: 100_000,
            ..AssemblerConfig::default()
        };
        let mut a = FrameAssembler::new(VideoCodec::H264, config);
        // Frames on time, then one 300 ms late (a queue), with a hole.
        for n in 0..5u32 {
            let t = u64::from(n) * 33_333;
            a.push(t, frame(n as u16, n * 3000, 1, n == 0)[0].clone());
            a.pop(t);
        }
        let late = 5 * 33_333 + 300_000;
        let broken = frame(5, 15_000, 3, false);
        a.push(late, broken[0].clone());
        a.push(late, broken[2].clone());
        assert!(a.queue_delay_us() >= 299_000, "{}", a.queue_delay_us());
        let first = a.overdue(late + MAX_REORDER_WAIT_US, 60_000);
        assert_eq!(
            first.seqs,
            [6],
            "the first ask waits no longer, however late"
        );
        assert_eq!(a.overdue(late + 100_000, 60_000), Asks::default());
        assert!(!a.stalled(late + 100_000), "the plain wait is not enough");
        assert!(a.stalled(late + 700_001));
    }

    #[test]
    fn joining_mid_frame_starts_at_the_next_frame() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        let first = frame(10, 0, 3, true);
        a.push(0, first[1].clone());
        a.push(0, first[2].clone());
        for p in frame(13, 3000, 2, false) {
            a.push(0, p);
        }
        let out = frames_of(&mut a, 33_334);
        assert!(
            matches!(
                out.as_slice(),
                [Assembled::Frame {
                    timestamp: 3000,
                    ..
                }]
            ),
            "{out:?}"
        );
    }

    #[test]
    fn steady_arrivals_add_no_delay_and_jittery_ones_add_about_twice_the_jitter() {
        let mut steady = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        let mut jittery = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        for n in 0..300u32 {
            let t = u64::from(n) * 33_333;
            let wobble = [0u64, 10_000, 0, 10_000][n as usize % 4];
            for p in frame((n * 2) as u16, n * 3000, 2, n == 0) {
                steady.push(t + 5_000, p.clone());
                jittery.push(t + 5_000 + wobble, p);
            }
            steady.pop(u64::MAX);
            jittery.pop(u64::MAX);
        }
        assert!(steady.delay_us() < 100, "{}", steady.delay_us());
        // Transit changes by 10 ms every frame: the jitter converges to 10 ms.
        let jitter = jittery.jitter_us();
        assert!((9_000..=10_000).contains(&jitter), "{jitter}");
        assert!(jittery.delay_us().abs_diff(2 * jitter) <= 1);
    }

    #[test]
    fn a_complete_frame_is_held_until_its_release_time() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        // Frames arriving 5 ms after their RTP time; then one that arrives early.
        for n in 0..10u32 {
            let t = u64::from(n) * 33_333 + 5_000;
            for p in frame(n as u16, n * 3000, 1, n == 0) {
                a.push(t, p);
            }
            assert!(a.pop(t).is_some());
        }
        let t = 10 * 33_333 + 5_000 - 3_000; // 3 ms early
        a.push(t, frame(10, 30_000, 1, false)[0].clone());
        let release = a.next_event_us(0).expect("a frame waits");
        assert!(release > t, "{release} vs {t}");
        assert_eq!(a.pop(t), None);
        assert!(a.pop(release).is_some());
    }

    #[test]
    fn garbage_payloads_are_losses_not_panics() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        // A good keyframe first: from then on each packet below is a whole frame of
        // its own (one packet, marker set), so each must come out as something.
        a.push(0, frame(0, 0, 1, true)[0].clone());
        assert!(matches!(a.pop(0), Some(Assembled::Frame { .. })));
        let garbage: [&[u8]; 7] = [
            &[],                    // empty
            &[0x7f],                // a NAL header and nothing else
            &[0x18, 0xff, 0xff, 1], // STAP-A claiming 65535 bytes
            &[0x1f, 0, 0],          // NAL type 31: reserved
            &[0x1c, 0x05, 0xAA],    // FU-A that never starts or ends: no data
            &[0x1e, 0, 0],          // NAL type 30: reserved
            &[0x18, 0, 1, 0x41, 0], // STAP-A with a stray byte after its unit
        ];
        for (i, payload) in garbage.iter().enumerate() {
            let n = i as u32 + 1;
            let now = u64::from(n) * 33_334;
            a.push(
                now,
                RtpIn {
                    seq: n as u16,
                    timestamp: n * 3000,
                    marker: true,
                    payload: Bytes::copy_from_slice(payload),
                },
            );
            assert_eq!(
                frames_of(&mut a, u64::MAX),
                [Assembled::Lost],
                "payload {payload:02x?}"
            );
        }
        // A frame whose first packet is a good NAL unit and whose last is garbage is
        // lost as a whole, not given out in part.
        let n = garbage.len() as u32 + 1;
        for (k, payload) in [&[0x41u8, 0xAA, 0xBB][..], &[0x1f, 0, 0]]
            .into_iter()
            .enumerate()
        {
            a.push(
                u64::from(n) * 33_334,
                RtpIn {
                    seq: (n + k as u32) as u16,
                    timestamp: n * 3000,
                    marker: k == 1,
                    payload: Bytes::copy_from_slice(payload),
                },
            );
        }
        assert_eq!(frames_of(&mut a, u64::MAX), [Assembled::Lost]);
        // And the stream goes on with the next good frame.
        let n = n + 2;
        a.push(
            u64::from(n) * 33_334,
            frame(n as u16, n * 3000, 1, false)[0].clone(),
        );
        assert!(matches!(
            frames_of(&mut a, u64::MAX).as_slice(),
            [Assembled::Frame {
                keyframe: false,
                ..
            }]
        ));
    }

    #[test]
    fn a_stap_a_keyframe_comes_out_whole() {
        let mut a = FrameAssembler::new(VideoCodec::H264, AssemblerConfig::default());
        // SPS, PPS and an IDR slice aggregated in one packet.
        let payload = [
            0x18, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce, 0, 3, 0x65, 0x88, 0x84,
        ];
        a.push(
            0,
            RtpIn {
                seq: 1,
                timestamp: 0,
                marker: true,
                payload: Bytes::copy_from_slice(&payload),
            },
        );
        let Some(Assembled::Frame { data, keyframe, .. }) = a.pop(0) else {
            panic!("no frame")
        };
        assert!(keyframe);
        assert_eq!(nal_types(&data).collect::<Vec<_>>(), [7, 8, 5]);
    }

    /// RTP packets of `frame`, packetized by rtc-rtp's payloader of `codec` at a
    /// 1200-byte MTU, starting at sequence number `seq`.
    fn packetized(codec: VideoCodec, frame: &[u8], seq: u16, timestamp: u32) -> Vec<RtpIn> {
        use rtc::rtp::codec::vp8::Vp8Payloader;
        use rtc::rtp::codec::vp9::Vp9Payloader;
        use rtc::rtp::packetizer::Payloader;
        let payloads = match codec {
            VideoCodec::Vp8 => {
                let mut payloader = Vp8Payloader::default();
                payloader.enable_picture_id = true;
                payloader.payload(1200, &Bytes::copy_from_slice(frame))
            }
            _ => Vp9Payloader::default().payload(1200, &Bytes::copy_from_slice(frame)),
        }
        .unwrap();
        let last = payloads.len() - 1;
        payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| RtpIn {
                seq: seq.wrapping_add(i as u16),
                timestamp,
                marker: i == last,
                payload,
            })
            .collect()
    }

    #[test]
    fn vp8_and_vp9_frames_come_out_whole_with_their_keyframes_marked() {
        use media::codec::VideoEncoder;
        use media::h264::{Encoded, EncoderSettings};
        use media::pattern::PatternGenerator;
        for codec in [VideoCodec::Vp8, VideoCodec::Vp9] {
            let mut encoder =
                VideoEncoder::new(codec, 640, 480, EncoderSettings::new(1_000_000, 30.0)).unwrap();
            let pattern = PatternGenerator::new(640, 480);
            let mut a = FrameAssembler::new(codec, AssemblerConfig::default());
            assert_eq!(a.codec(), codec);
            let mut seq = 65_530u16;
            for n in 0..5u32 {
                let Encoded::Frame(unit) = encoder.encode(&pattern.frame(n, 0)).unwrap() else {
                    panic!("{codec} skipped picture {n}")
                };
                let packets = packetized(codec, &unit.data, seq, n * 3000);
                assert!(
                    n > 0 || packets.len() > 1,
                    "{codec}: a keyframe spans packets"
                );
                seq = seq.wrapping_add(packets.len() as u16);
                // Joining mid-stream: the first packets before a frame start are dropped.
                for p in packets {
                    a.push(u64::from(n) * 33_334, p);
                }
                assert_eq!(
                    frames_of(&mut a, u64::MAX),
                    [Assembled::Frame {
                        data: unit.data,
                        timestamp: n * 3000,
                        keyframe: n == 0,
                    }],
                    "{codec} frame {n}"
                );
            }
        }
    }

    #[test]
    fn vp8_and_vp9_garbage_is_lost_or_passed_on_never_a_panic() {
        for codec in [VideoCodec::Vp8, VideoCodec::Vp9] {
            let mut a = FrameAssembler::new(codec, AssemblerConfig::default());
            for n in 0..400u32 {
                let len = (n * 7) % 40;
                let payload: Vec<u8> = (0..len)
                    .map(|i| (i.wrapping_mul(n + 3) ^ (n << 3) ^ 0x90) as u8)
                    .collect();
                a.push(
                    u64::from(n) * 1000,
                    RtpIn {
                        seq: n as u16,
                        timestamp: n * 3000,
                        marker: n % 3 == 0,
                        payload: Bytes::from(payload),
                    },
                );
                for out in frames_of(&mut a, u64::MAX) {
                    if let Assembled::Frame { data, .. } = out {
                        assert!(!data.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn a_vp9_frame_in_flexible_mode_over_many_packets_comes_out_whole() {
        // Chromium's descriptor: I (15-bit picture id), P, F, then one reference index
        // in every packet; B on the first, E on the last.
        let mut a = FrameAssembler::new(VideoCodec::Vp9, AssemblerConfig::default());
        let body: Vec<Vec<u8>> = (0..6u8).map(|i| vec![0x84 + i; 100]).collect();
        for (i, part) in body.iter().enumerate() {
            let mut flags = 0x80 | 0x40 | 0x10;
            if i == 0 {
                flags |= 0x08;
            }
            if i == body.len() - 1 {
                flags |= 0x04;
            }
            let mut payload = vec![flags, 0x80, 0x05, 0x02];
            payload.extend_from_slice(part);
            a.push(
                0,
                RtpIn {
                    seq: 10 + i as u16,
                    timestamp: 3000,
                    marker: i == body.len() - 1,
                    payload: Bytes::from(payload),
                },
            );
        }
        assert_eq!(
            frames_of(&mut a, u64::MAX),
            [Assembled::Frame {
                data: body.concat(),
                timestamp: 3000,
                keyframe: false,
            }]
        );
    }
}
