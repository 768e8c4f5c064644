// Sending files over the call's data channel, as the native peer does (`call::file`):
// `file-offer` → `file-accept` (or `file-cancel`) → binary frames of 16 KiB → `file-end`
// with the SHA-256, the receiver keeping the file only if size and hash match. One file
// at a time each way; sending pauses while more than 1 MiB waits in the channel.
// See PROTOCOL.md, "The call's data channel".

/** Bytes of file per binary frame. */
export const CHUNK_BYTES = 16 * 1024;
/** The largest file sent or taken (a received file is held in memory). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Bytes waiting in the channel above which sending pauses, and where it resumes. */
export const HIGH_WATER = 1024 * 1024;
export const LOW_WATER = 256 * 1024;
/** Progress is reported each time this many more bytes have gone or come. */
const PROGRESS_STEP = 256 * 1024;
/** How long an offer waits for an answer. */
export const ACCEPT_TIMEOUT_MS = 30000;

const TYPES = ['file-offer', 'file-accept', 'file-end', 'file-cancel'];

/**
 * A transfer-control message from a parsed frame, checked; null for another type.
 * Throws an Error saying why for a malformed one.
 */
export function decodeFileMessage(msg) {
  if (!TYPES.includes(msg.type)) return null;
  if (typeof msg.id !== 'string' || msg.id === '' || msg.id.length > 64) throw new Error(`a ${msg.type} without a valid id`);
  if (msg.type === 'file-offer' && (typeof msg.name !== 'string' || !Number.isSafeInteger(msg.size))) {
    throw new Error('a file-offer without a name and size');
  }
  if (msg.type === 'file-end' && typeof msg.sha256 !== 'string') throw new Error('a file-end without its sha256');
  return msg;
}

/** A name safe to show and save: no folders, no control characters, not hidden. */
export function safeName(name) {
  const base = String(name).split(/[/\\]/).pop().replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200);
  return base.trim().replace(/^\.+/, '').trim() || 'file';
}

async function sha256Hex(data) {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function newId() {
  return [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Every transfer of a call, both ways. `channel()` gives the current data channel;
 * `report(event)` gets `{ kind: 'offered'|'incoming'|'progress'|'sent'|'received'|'failed',
 * id, name, size, bytes, url, reason, mine }`.
 */
export class FileTransfers {
  constructor(channel, report) {
    this.channel = channel;
    this.report = report;
    this.outgoing = [];   // ours: { id, file, name, size, state: 'queued'|'offered'|'sending', sent, reported, timer }
    this.incoming = null; // theirs: { id, name, size, chunks, received }
    this.strayExpected = false;
    this.pumping = false;
  }

  open() {
    const ch = this.channel();
    return ch?.readyState === 'open' ? ch : null;
  }

  send(msg) {
    this.open()?.send(JSON.stringify(msg));
  }

  /** Queues `file` to send; returns why not, or null. */
  sendFile(file) {
    if (!file || file.size === 0) return 'the file is empty: nothing to send';
    if (file.size > MAX_FILE_BYTES) return `the file is ${file.size} bytes; at most ${MAX_FILE_BYTES} can be sent`;
    const t = { id: newId(), file, name: safeName(file.name), size: file.size, state: 'queued', sent: 0, reported: 0 };
    this.outgoing.push(t);
    this.report({ kind: 'offered', id: t.id, name: t.name, size: t.size, mine: true });
    this.offerNext();
    return null;
  }

  /** The user stops transfer `id`, ours or theirs. */
  cancel(id) {
    if (this.outgoing.some((t) => t.id === id)) {
      this.failOutgoing(id, 'cancelled', 'cancelled by the sender');
      this.offerNext();
    } else if (this.incoming?.id === id) {
      this.failIncoming('cancelled', 'cancelled by the receiver');
    }
  }

  /** The channel opened. */
  opened() {
    this.offerNext();
  }

  /** The channel closed: what was under way fails, what is queued waits. */
  closed() {
    const first = this.outgoing[0];
    if (first && first.state !== 'queued') this.failOutgoing(first.id, 'the connection was lost');
    if (this.incoming) this.failIncoming('the connection was lost');
  }

  offerNext() {
    const t = this.outgoing[0];
    if (!t || t.state !== 'queued' || !this.open()) return;
    t.state = 'offered';
    this.send({ type: 'file-offer', id: t.id, name: t.name, size: t.size });
    t.timer = setTimeout(() => {
      if (t.state !== 'offered') return;
      this.failOutgoing(t.id, `the other peer did not answer within ${ACCEPT_TIMEOUT_MS / 1000} s (it may not take files)`, 'no answer in time');
      this.offerNext();
    }, ACCEPT_TIMEOUT_MS);
  }

  /** A `file-*` message arrived. */
  onControl(msg) {
    if (msg.type === 'file-offer') return this.onOffer(msg);
    if (msg.type === 'file-accept') {
      const t = this.outgoing[0];
      if (t?.id === msg.id && t.state === 'offered') {
        clearTimeout(t.timer);
        t.state = 'sending';
        this.pump();
      }
    } else if (msg.type === 'file-cancel') {
      const why = `the other peer cancelled it: ${typeof msg.reason === 'string' ? msg.reason.slice(0, 200) : 'no reason given'}`;
      if (this.outgoing.some((t) => t.id === msg.id)) {
        this.failOutgoing(msg.id, why);
        this.offerNext();
      } else if (this.incoming?.id === msg.id) {
        this.failIncoming(why);
      }
    } else if (msg.type === 'file-end') {
      this.onEnd(msg);
    }
  }

  onOffer(msg) {
    const refuse = (reason) => this.send({ type: 'file-cancel', id: msg.id, reason });
    if (this.incoming) return refuse('another file is being received');
    if (msg.size <= 0 || msg.size > MAX_FILE_BYTES) return refuse(`a file of ${msg.size} bytes is not taken (1 to ${MAX_FILE_BYTES})`);
    this.strayExpected = false;
    this.incoming = { id: msg.id, name: safeName(msg.name), size: msg.size, chunks: [], received: 0, reported: 0 };
    this.report({ kind: 'incoming', id: msg.id, name: this.incoming.name, size: msg.size, mine: false });
    this.send({ type: 'file-accept', id: msg.id });
  }

  /** A binary frame: bytes of the file being received. False when no transfer expects it. */
  onBinary(data) {
    const t = this.incoming;
    if (!t) return this.strayExpected;
    t.received += data.byteLength;
    if (t.received > t.size) {
      this.failIncoming(`the file arrived damaged: more than the ${t.size} bytes announced`, 'more bytes than announced');
      return true;
    }
    t.chunks.push(data);
    if (t.received >= t.reported + PROGRESS_STEP || t.received === t.size) {
      t.reported = t.received;
      this.report({ kind: 'progress', id: t.id, bytes: t.received, size: t.size, mine: false });
    }
    return true;
  }

  async onEnd(msg) {
    const t = this.incoming;
    if (t?.id !== msg.id) return;
    this.incoming = null;
    const blob = new Blob(t.chunks);
    t.chunks = [];
    let problem = null;
    if (t.received !== t.size) problem = `${t.received} of ${t.size} bytes arrived`;
    else if ((await sha256Hex(await blob.arrayBuffer())) !== msg.sha256.toLowerCase()) problem = 'its SHA-256 does not match';
    if (problem) {
      this.report({ kind: 'failed', id: t.id, reason: `the file arrived damaged: ${problem}`, mine: false });
    } else {
      this.report({ kind: 'received', id: t.id, name: t.name, size: t.size, url: URL.createObjectURL(blob), mine: false });
    }
  }

  /** Sends our file's bytes while the channel has room; the low-water event calls it again. */
  async pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const t = this.outgoing[0];
        const ch = this.open();
        if (!t || t.state !== 'sending' || !ch || ch.bufferedAmount > HIGH_WATER) return;
        if (!t.sha256) t.sha256 = await sha256Hex(await t.file.arrayBuffer());
        const end = Math.min(t.sent + CHUNK_BYTES, t.size);
        const chunk = await t.file.slice(t.sent, end).arrayBuffer();
        if (this.outgoing[0] !== t || t.state !== 'sending') return; // cancelled meanwhile
        ch.send(chunk);
        t.sent = end;
        if (t.sent >= t.reported + PROGRESS_STEP || t.sent === t.size) {
          t.reported = t.sent;
          this.report({ kind: 'progress', id: t.id, bytes: t.sent, size: t.size, mine: true });
        }
        if (t.sent === t.size) {
          this.outgoing.shift();
          this.send({ type: 'file-end', id: t.id, sha256: t.sha256 });
          this.report({ kind: 'sent', id: t.id, mine: true });
          this.offerNext();
        }
      }
    } catch (err) {
      const t = this.outgoing[0];
      if (t) {
        this.failOutgoing(t.id, `cannot send the file: ${err.message}`, 'the sender could not read the file');
        this.offerNext();
      }
    } finally {
      this.pumping = false;
    }
  }

  failOutgoing(id, reason, tell) {
    const at = this.outgoing.findIndex((t) => t.id === id);
    if (at < 0) return;
    const [t] = this.outgoing.splice(at, 1);
    clearTimeout(t.timer);
    if (t.state !== 'queued' && tell) this.send({ type: 'file-cancel', id, reason: tell });
    this.report({ kind: 'failed', id, reason, mine: true });
  }

  failIncoming(reason, tell) {
    const t = this.incoming;
    if (!t) return;
    this.incoming = null;
    this.strayExpected = true;
    if (tell) this.send({ type: 'file-cancel', id: t.id, reason: tell });
    this.report({ kind: 'failed', id: t.id, reason, mine: false });
  }
}
