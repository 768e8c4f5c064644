// The call: one RTCPeerConnection at a time, negotiated over the signaling client by the
// protocol's "Who offers" rules, so the browser client can call our native peer, another
// browser, or itself:
// - alone in the room: make an offer at once and send it without `to` (the server holds
//   it for whoever joins next), then trickle candidates the same way;
// - someone already there: wait for their held offer, answer it with `to` set;
// - the other peer leaves: drop the connection and, alone again, make a fresh held offer;
// - an offer arrives while in a call: from the same session (its `o=` id) it renegotiates
//   this connection (an ICE restart): answer it in place; from another, the other side
//   started over: answer it on a new connection. When both offer at once, the side that
//   answered the call's first offer yields (it is the polite one).
// - the connection drops mid-call: after 2 s disconnected, or at once when ICE fails,
//   restart ICE (at most every 3 s), the media left running; after 20 s of reconnecting
//   the call fails with `connection-lost`.
// Remote candidates that arrive before the remote description (or, during our restart,
// before its answer) are queued, never lost.
// - a screen share is a second video track: every video transceiver after the first
//   (or a track of the native peer's `screen` stream) is the other side's screen, shown
//   apart (`onscreen`); ours (`startShare`, from getDisplayMedia, content hint
//   "detail") goes out on a transceiver of its own, offered on this connection. Offers
//   for it follow the same glare rule: the polite side's offer is rolled back (by the
//   browser, answering), and made again once the connection is stable.
// - another camera or microphone picked mid-call replaces the track on its sender
//   (`replaceTrack`), with no new offer.

import { Signaling } from './signaling.js';
import { checkText, decodeChat, encodeChat, READY_FRAME, READY_WAIT_MS } from './chat.js';
import { FileTransfers, LOW_WATER, decodeFileMessage } from './files.js';
import { verificationCode } from './verify.js';

/** Seconds from the other peer's arrival to a connection before the call fails. */
const CONNECT_TIMEOUT_MS = 30_000;
/** How long the connection may stay disconnected before ICE is restarted. */
const RESTART_GRACE_MS = 2_000;
/** The shortest time between two ICE restarts of ours. */
const RESTART_INTERVAL_MS = 3_000;
/** How long reconnecting may last before the call fails. */
const RECONNECT_TIMEOUT_MS = 20_000;

/** The `o=` line's session id of a session description, or null. */
export function sessionId(sdp) {
  return /^o=\S+ (\d+) /m.exec(sdp || '')?.[1] ?? null;
}

/**
 * Why a call failed, by the same codes as the native peer's `reason_code`
 * (`call::Failure::code`), each with what the user is told: what happened, then what
 * to do. `detail` is what the browser or the server said, where there is something.
 */
export const FAILURES = {
  'server-unreachable': (detail) =>
    `Cannot reach the signaling server${detail ? ` (${detail})` : ''}. Is the server running, and is the address right?`,
  'room-full': () => 'This room is full: a call has two people. Pick another room.',
  unauthorized: (detail) =>
    `Not allowed into this room: ${detail}. Ask whoever runs the server for a link with an access token for this room (…&token=…).`,
  refused: (detail) => `The signaling server refused the join: ${detail}. Try again later.`,
  'no-relay-candidate': () =>
    "ICE failed: no relay candidate could be gathered. Check the TURN server's address and credentials.",
  'ice-failed': (detail) =>
    `ICE failed: no network path to the other peer${detail}. Check the network, the firewall and the TURN server.`,
  'connect-timeout': () =>
    'The call did not connect within 30 s of the other peer arriving. A TURN server may be needed.',
  'connection-lost': () =>
    'The connection broke and did not come back. Check the network, the firewall and the TURN server.',
  webrtc: (detail) => `WebRTC error: ${detail}`,
};

/** The server's error codes that end the call, and the failure each is. Any other error
 * in answer to a join (before its `welcome`) ends it as `refused`. */
const FATAL_SERVER_ERRORS = {
  'room-full': 'room-full',
  unauthorized: 'unauthorized',
  'server-full': 'refused',
  'too-many-connections': 'refused',
};

/**
 * Orders a transceiver's codecs so `preferred` (a MIME type such as `video/H264`) comes
 * first, H.264 constrained baseline with packetization-mode=1 first among those; with
 * `only`, every other media codec is left out. Repair formats (rtx, red, ulpfec) stay.
 */
export function orderCodecs(codecs, preferred, only = false) {
  const repair = (c) => /\/(rtx|red|ulpfec|flexfec-03)$/i.test(c.mimeType);
  const wanted = (c) => c.mimeType.toLowerCase() === preferred.toLowerCase();
  const rank = (c) => {
    if (!wanted(c)) return 2;
    const fmtp = c.sdpFmtpLine || '';
    return /profile-level-id=42e01f/i.test(fmtp) && /packetization-mode=1/.test(fmtp) ? 0 : 1;
  };
  return codecs
    .filter((c) => !only || wanted(c) || repair(c))
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
    .map(({ c }) => c);
}

export class Call {
  /**
   * @param {object} options  `server` (WebSocket URL), `room`, `name`, `token` (access
   *   token, for a server that needs one), `relayOnly`,
   *   `videoCodec` (MIME type to prefer, default `video/H264`), `onlyCodec` (offer only it),
   *   `stream` (local MediaStream, may lack tracks: then receive-only).
   * @param {object} handlers  `onstate(state, detail)`, `onremote(stream)`,
   *   `onverification(code)` (the call's verification code, once connected),
   *   `onchat({from, text, ts, mine})` (a chat line, theirs or ours), `onchaterror(why)`,
   *   `onscreen(stream | null)` (the other side's screen share started, or stopped),
   *   `onshare(sharing)` (ours started or stopped), `onfile(event)` (a file transfer
   *   went on: see files.js).
   */
  constructor(options, handlers) {
    this.options = { videoCodec: 'video/H264', onlyCodec: false, ...options };
    this.handlers = handlers;
    this.state = 'idle';
    this.failure = null;       // the FAILURES code the call failed with, once it has
    this.pc = null;
    this.remoteId = null;      // the peer we negotiate with, once known
    this.pending = [];         // remote candidates waiting for the remote description
    this.iceServers = [];
    this.relayCandidate = false;
    this.connectTimer = null;
    this.polite = false;       // whether we answered the first offer: we yield in glare
    this.connected = false;    // whether this connection has been up
    this.lastRestart = 0;
    this.restartTimer = null;
    this.reconnectTimer = null;
    this.joining = false;      // a join is sent and its welcome not yet here
    this.channel = null;       // the chat's data channel (negotiated, id 0, as the native peer's)
    this.chatQueue = [];       // chat frames sent before the channel was usable
    this.usable = false;       // whether the channel carries our messages (`ready` heard, or waited for)
    this.heardReady = false;   // whether the other side's `ready` came on this channel
    this.readyTimer = null;
    this.files = new FileTransfers(() => (this.usable ? this.channel : null), (event) => this.handlers.onfile?.(event));
    this.share = null;         // our screen share: { track, transceiver }
    this.screenTrack = null;   // the other side's screen-share track, while it shares
    this.needsOffer = false;   // our tracks changed while an offer was under way
    this.senders = {};         // our camera's and microphone's transceivers, by kind
    this.signaling = new Signaling(options.server, {
      onmessage: (msg) => this.onMessage(msg).catch((err) => this.fail('webrtc', `negotiation failed: ${err.message}`)),
      onstatus: (status, detail) => this.onSignalingStatus(status, detail),
    });
  }

  setState(state, detail = '') {
    this.state = state;
    this.handlers.onstate?.(state, detail);
  }

  /** Joins the room; the call runs from here until `hangUp` or failure. */
  join() {
    this.setState('joining');
    this.signaling.connect(this.options.room, this.options.name, this.options.token);
  }

  /** Whether a remote track is the other side's screen share. */
  isScreen(event) {
    if (event.track.kind !== 'video' || !this.pc) return false;
    if (event.streams[0]?.id === 'screen') return true;
    const video = this.pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video');
    return video.indexOf(event.transceiver) > 0 && event.transceiver !== this.share?.transceiver;
  }

  /** Shows the other side's screen until its track is taken away. */
  showScreen(event) {
    const track = event.track;
    this.screenTrack = track;
    const gone = () => {
      if (this.screenTrack !== track) return;
      this.screenTrack = null;
      this.handlers.onscreen?.(null);
    };
    for (const stream of event.streams) {
      stream.addEventListener('removetrack', (e) => { if (e.track === track) gone(); });
    }
    track.addEventListener('ended', gone);
    track.addEventListener('mute', () => {
      // Muted because the other side no longer sends on it (its section went inactive).
      const direction = event.transceiver.currentDirection;
      if (direction === 'inactive' || direction === 'sendonly') gone();
    });
    track.addEventListener('unmute', () => {
      if (this.screenTrack === null && this.pc) {
        this.screenTrack = track;
        this.handlers.onscreen?.(new MediaStream([track]));
      }
    });
    this.handlers.onscreen?.(new MediaStream([track]));
  }

  /** Shares `stream`'s video (from getDisplayMedia) as a second video track. */
  async startShare(stream) {
    const pc = this.pc;
    const track = stream.getVideoTracks()[0];
    if (!pc || !track || this.share) return;
    track.contentHint = 'detail';
    const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const codecs = RTCRtpReceiver.getCapabilities('video')?.codecs;
    if (codecs && transceiver.setCodecPreferences) {
      transceiver.setCodecPreferences(orderCodecs(codecs, this.options.videoCodec, this.options.onlyCodec));
    }
    this.share = { track, transceiver };
    track.addEventListener('ended', () => this.stopShare());
    this.handlers.onshare?.(true);
    await this.negotiate();
  }

  /** Stops our screen share and tells the other side. */
  async stopShare() {
    const share = this.share;
    if (!share) return;
    this.share = null;
    share.track.stop();
    if (this.pc && share.transceiver.currentDirection !== 'stopped') {
      await share.transceiver.sender.replaceTrack(null);
      share.transceiver.direction = 'inactive';
    }
    this.handlers.onshare?.(false);
    await this.negotiate();
  }

  /** Offers our changed tracks on this connection: now if it is stable, else (an offer
   * under way, or our held offer not yet answered) once the answer is in. */
  async negotiate() {
    const pc = this.pc;
    if (!pc) return;
    if (!this.remoteId || pc.signalingState !== 'stable') {
      this.needsOffer = true;
      return;
    }
    this.needsOffer = false;
    await pc.setLocalDescription(await pc.createOffer());
    this.signaling.send({ type: 'offer', sdp: pc.localDescription.sdp, to: this.remoteId });
  }

  /**
   * Sends `track` (another camera or microphone) in place of ours of its kind, on the
   * same sender: no new offer, the other side sees the picture or sound change. Only a
   * kind we joined without (receive-only) needs an offer, to start sending it.
   */
  async replaceTrack(track) {
    const transceiver = this.senders[track.kind];
    if (!this.pc || !transceiver) return;
    await transceiver.sender.replaceTrack(track);
    if (transceiver.direction === 'recvonly') {
      transceiver.sender.setStreams?.(this.options.stream);
      transceiver.direction = 'sendrecv';
      await this.negotiate();
    }
  }

  /** Sends a chat line (held until the channel opens); returns why not, or null. */
  sendChat(text) {
    const why = checkText(text);
    if (why) return why;
    const frame = encodeChat(text, this.options.name);
    if (this.usable && this.channel?.readyState === 'open') {
      this.channel.send(frame);
    } else {
      this.chatQueue.push(frame);
    }
    this.handlers.onchat?.({ from: 'you', text, ts: Date.now(), mine: true });
    return null;
  }

  /** Sends a file (once the channel is open, one at a time); returns why not, or null. */
  sendFile(file) {
    return this.files.sendFile(file);
  }

  /** Stops a file transfer, ours or theirs. */
  cancelFile(id) {
    this.files.cancel(id);
  }

  /** Ends the call: leaves the room and closes the connection. */
  hangUp(detail = 'you hung up') {
    this.closePeer();
    this.signaling.close();
    this.setState('ended', detail);
  }

  /** Ends the call with the failure `code` (a key of `FAILURES`). */
  fail(code, detail = '') {
    this.closePeer();
    this.signaling.close();
    this.failure = code;
    this.setState('failed', FAILURES[code](detail));
  }

  onSignalingStatus(status, detail) {
    if (status === 'open') this.joining = true;  // the join goes out now
    if (status === 'unreachable') {
      this.fail('server-unreachable', detail);
    } else if (status === 'reconnecting' && this.state === 'connected') {
      // Media keeps flowing without signaling; say so rather than alarm.
      this.handlers.onstate?.(this.state, 'signaling reconnecting; media unaffected');
    }
  }

  async onMessage(msg) {
    switch (msg.type) {
      case 'welcome':
        this.joining = false;
        this.iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : [];
        if (this.pc && (this.state === 'connected' || this.state === 'reconnecting')) {
          // A signaling reconnect mid-call: a restart offer may have been lost with it.
          if (this.state === 'reconnecting') this.scheduleRestart(0);
          return;
        }
        if (msg.peers.length === 0) {
          await this.offer();
        } else {
          this.setState('connecting', `waiting for ${msg.peers[0].name || 'the other peer'}'s offer`);
          this.armConnectTimer();
        }
        break;
      case 'peer-joined':
        // The peer we talk to came back over a new connection: follow its new id.
        if (msg.replaces && msg.replaces === this.remoteId) {
          this.remoteId = msg.id;
          break;
        }
        if (this.state === 'waiting') this.setState('connecting', `${msg.name || 'a peer'} joined`);
        this.armConnectTimer();
        break;
      case 'offer':
        if (this.pc?.remoteDescription && sessionId(msg.sdp) === sessionId(this.pc.remoteDescription.sdp)) {
          await this.renegotiate(msg);
        } else {
          await this.answer(msg);
        }
        break;
      case 'answer':
        if (!this.pc || this.pc.signalingState !== 'have-local-offer') return;
        this.remoteId = msg.from;
        await this.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
        await this.flushCandidates();
        if (this.needsOffer) await this.negotiate();
        break;
      case 'candidate':
        if (this.remoteId && msg.from !== this.remoteId) return;
        this.pending.push({ from: msg.from, candidate: msg.candidate });
        if (this.pc?.remoteDescription && this.pc.signalingState === 'stable') await this.flushCandidates();
        break;
      case 'peer-left':
        if (this.remoteId && msg.id !== this.remoteId) return;
        this.closePeer();
        this.setState('waiting', 'the other peer left; waiting for the next');
        await this.offer();
        break;
      case 'error':
        // Final, not retried: a refused token (after a reconnect too) stays refused.
        if (FATAL_SERVER_ERRORS[msg.code]) {
          this.fail(FATAL_SERVER_ERRORS[msg.code], msg.message);
        } else if (this.joining) {
          this.fail('refused', `${msg.code}: ${msg.message}`);
        } else {
          console.warn('signaling error', msg.code, msg.message);
        }
        break;
      default:
        break;
    }
  }

  /** A new peer connection with our tracks (or receive-only transceivers). */
  newPeer() {
    this.closePeer();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.options.relayOnly ? 'relay' : 'all',
    });
    this.pc = pc;
    this.senders = {};
    this.needsOffer = false;
    this.relayCandidate = false;
    this.connected = false;
    // The call's data channel, made by both sides with the same id (negotiated out of
    // band), so it is in the first offer and opens with the connection.
    this.files.closed();
    const channel = pc.createDataChannel('peercall', { negotiated: true, id: 0 });
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = LOW_WATER;
    this.channel = channel;
    this.resetReady();
    channel.onopen = () => {
      if (channel !== this.channel) return;
      channel.send(READY_FRAME);
      this.readyTimer = setTimeout(() => this.channelUsable(channel), READY_WAIT_MS);
    };
    channel.onbufferedamountlow = () => {
      if (channel === this.channel) this.files.pump();
    };
    channel.onclose = () => {
      if (channel !== this.channel) return;
      this.resetReady();
      this.files.closed();
    };
    channel.onmessage = (event) => {
      if (channel !== this.channel) return;
      try {
        if (typeof event.data !== 'string') {
          // Binary frames are the bytes of a file being received.
          if (!this.files.onBinary(event.data)) throw new Error('a data-channel frame that is not text');
          return;
        }
        const line = decodeChat(event.data);
        if (line) {
          this.handlers.onchat?.({ ...line, mine: false });
          return;
        }
        const msg = JSON.parse(event.data);
        if (msg.type === 'ready') {
          this.onReady(channel);
        } else {
          const file = decodeFileMessage(msg);
          if (file) this.files.onControl(file);
        }
      } catch (err) {
        console.warn('a data-channel message was refused:', err.message);
        this.handlers.onchaterror?.(`a message from the other side was refused: ${err.message}`);
      }
    };
    const remote = new MediaStream();
    pc.ontrack = (event) => {
      if (this.isScreen(event)) {
        this.showScreen(event);
        return;
      }
      remote.addTrack(event.track);
      this.handlers.onremote?.(remote);
    };
    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      if (event.candidate?.type === 'relay') this.relayCandidate = true;
      const to = this.remoteId ? { to: this.remoteId } : {};
      this.signaling.send({ type: 'candidate', candidate: event.candidate ? event.candidate.toJSON() : null, ...to });
      if (!event.candidate && this.options.relayOnly && !this.relayCandidate) {
        this.fail('no-relay-candidate');
      }
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      switch (pc.connectionState) {
        case 'connected':
          clearTimeout(this.connectTimer);
          clearTimeout(this.restartTimer);
          clearTimeout(this.reconnectTimer);
          this.reconnectTimer = null;
          this.connected = true;
          this.setState('connected');
          verificationCode(pc.localDescription?.sdp, pc.remoteDescription?.sdp).then((code) => {
            if (pc !== this.pc) return;
            this.verification = code;
            this.handlers.onverification?.(code);
          });
          break;
        case 'disconnected':
          if (!this.connected) break;
          this.reconnecting();
          this.scheduleRestart(RESTART_GRACE_MS);
          break;
        case 'failed':
          if (this.connected) {
            this.reconnecting();
            this.scheduleRestart(0);
          } else {
            this.fail('ice-failed', this.relayCandidate
              ? ' (not even through the TURN relay)'
              : ' (and no TURN relay was available)');
          }
          break;
        default:
          break;
      }
    };
    return pc;
  }

  /** Adds our tracks to `pc` (or receive-only transceivers) and sets codec preferences. */
  attachMedia(pc) {
    const stream = this.options.stream;
    for (const kind of ['audio', 'video']) {
      const track = stream?.getTracks().find((t) => t.kind === kind) || null;
      let transceiver = pc.getTransceivers().find((t) => t.receiver.track.kind === kind && !t.sender.track);
      if (transceiver) {
        if (track) transceiver.sender.replaceTrack(track);
        transceiver.direction = track ? 'sendrecv' : 'recvonly';
      } else {
        transceiver = pc.addTransceiver(track || kind, {
          direction: track ? 'sendrecv' : 'recvonly',
          streams: stream && track ? [stream] : [],
        });
      }
      this.senders[kind] = transceiver;
      const preferred = kind === 'video' ? this.options.videoCodec : 'audio/opus';
      const only = kind === 'video' && this.options.onlyCodec;
      const codecs = RTCRtpReceiver.getCapabilities(kind)?.codecs;
      if (codecs && transceiver.setCodecPreferences) {
        transceiver.setCodecPreferences(orderCodecs(codecs, preferred, only));
      }
    }
  }

  /** The connection dropped mid-call: say so, and give up after a while. */
  reconnecting() {
    this.setState('reconnecting', 'the connection is interrupted; trying to recover');
    if (!this.reconnectTimer) {
      this.reconnectTimer = setTimeout(() => this.fail('connection-lost'), RECONNECT_TIMEOUT_MS);
    }
  }

  /** Restarts ICE in `delayMs`, or as soon after as the pace allows. */
  scheduleRestart(delayMs) {
    clearTimeout(this.restartTimer);
    const wait = Math.max(delayMs, this.lastRestart + RESTART_INTERVAL_MS - Date.now());
    this.restartTimer = setTimeout(() => {
      this.restartIce().catch((err) => console.warn('ICE restart failed', err));
    }, Math.max(0, wait));
  }

  /**
   * Restarts ICE: new credentials, fresh candidates, an offer on this connection to the
   * other peer; the media keep running.
   */
  async restartIce() {
    const pc = this.pc;
    if (!pc || !this.remoteId || pc.signalingState !== 'stable') return;
    this.lastRestart = Date.now();
    await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
    this.signaling.send({ type: 'offer', sdp: pc.localDescription.sdp, to: this.remoteId });
  }

  /**
   * A new offer from the session we are in (the other side restarted ICE): answered on
   * this connection. When it crosses our own offer, the polite side drops its own (the
   * browser rolls it back) and answers; the other ignores it and waits for its answer.
   */
  async renegotiate(msg) {
    const pc = this.pc;
    if (pc.signalingState !== 'stable' && !this.polite) return;
    // Our own offer is rolled back by answering theirs: make it again after.
    if (pc.signalingState === 'have-local-offer') this.needsOffer = true;
    this.remoteId = msg.from;
    clearTimeout(this.restartTimer);
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    this.signaling.send({ type: 'answer', sdp: pc.localDescription.sdp, to: msg.from });
    await this.flushCandidates();
    if (this.needsOffer) await this.negotiate();
  }

  /** Makes a held offer: alone in the room, for whoever joins next. */
  async offer() {
    this.polite = false;
    this.remoteId = null;
    this.pending = [];
    const pc = this.newPeer();
    this.attachMedia(pc);
    await pc.setLocalDescription(await pc.createOffer());
    this.signaling.send({ type: 'offer', sdp: pc.localDescription.sdp });
    if (this.state !== 'waiting') this.setState('waiting', 'waiting for someone to join');
  }

  /** Answers an offer on a fresh connection (also when it restarts a call). */
  async answer(msg) {
    this.polite = true;
    this.remoteId = msg.from;
    this.pending = this.pending.filter((p) => p.from === msg.from);
    const pc = this.newPeer();
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    this.attachMedia(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    this.signaling.send({ type: 'answer', sdp: pc.localDescription.sdp, to: msg.from });
    await this.flushCandidates();
    if (this.state !== 'connected') this.setState('connecting');
    this.armConnectTimer();
  }

  async flushCandidates() {
    const pc = this.pc;
    const pending = this.pending;
    this.pending = [];
    for (const { candidate } of pending) {
      try {
        await pc.addIceCandidate(candidate ?? undefined);
      } catch (err) {
        console.warn('a remote candidate was refused', candidate, err);
      }
    }
  }

  armConnectTimer() {
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (this.state !== 'connected' && this.state !== 'ended' && this.state !== 'failed') {
        this.fail('connect-timeout');
      }
    }, CONNECT_TIMEOUT_MS);
  }

  /** The other side said `ready`: the first time, answer it (ours may have been lost). */
  onReady(channel) {
    if (this.heardReady) return;
    this.heardReady = true;
    channel.send(READY_FRAME);
    this.channelUsable(channel);
  }

  /** Our messages may go on `channel` from now on: what waited goes first. */
  channelUsable(channel) {
    clearTimeout(this.readyTimer);
    if (this.usable || channel !== this.channel) return;
    this.usable = true;
    for (const frame of this.chatQueue.splice(0)) channel.send(frame);
    this.files.opened();
  }

  resetReady() {
    clearTimeout(this.readyTimer);
    this.usable = false;
    this.heardReady = false;
  }

  closePeer() {
    clearTimeout(this.connectTimer);
    clearTimeout(this.restartTimer);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.channel = null;
    this.resetReady();
    this.files.closed();
    if (this.share) {
      this.share.track.stop();
      this.share = null;
      this.handlers.onshare?.(false);
    }
    if (this.screenTrack) {
      this.screenTrack = null;
      this.handlers.onscreen?.(null);
    }
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
  }
}
