// The signaling client: one WebSocket to the server at `/ws`, speaking protocol v1
// (`shared/protocol.md` in the repository; `crates/signaling-proto/PROTOCOL.md`).
// It knows nothing of WebRTC: it sends typed messages and hands every message it
// receives to `onmessage`. If the connection drops after it was up, it reconnects with
// backoff and joins the same room again, taking its old place back with the `resume`
// token of its last `welcome`; a call's media does not need it meanwhile. Every join
// carries the access token it was given, for a server that needs one.

/** Delays between reconnection attempts, in milliseconds (the last one repeats). */
const BACKOFF_MS = [250, 500, 1000, 2000, 4000];

/** Where the server's WebSocket is, for a page served by that server. */
export function defaultServerUrl(location = window.location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

export class Signaling {
  /**
   * @param {string} url  WebSocket URL of the server.
   * @param {object} handlers  `onmessage(msg)`, `onstatus(status, detail)` where status is
   *   `connecting`, `open`, `reconnecting` or `unreachable`.
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.join = null;          // the last join message, sent again after a reconnect
    this.resume = null;        // {id, token} from the last welcome, for coming back
    this.wasOpen = false;      // whether the connection was ever up
    this.attempt = 0;
    this.closed = false;
    this.timer = null;
  }

  /** Opens the connection and joins `room` as `name`, with the access `token` if any. */
  connect(room, name, token) {
    this.join = { type: 'join', room, ...(name ? { name } : {}), ...(token ? { token } : {}) };
    this.closed = false;
    this.open();
  }

  open() {
    this.handlers.onstatus?.(this.wasOpen ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.handlers.onstatus?.('unreachable', `${this.url} is not a WebSocket URL (${err.message})`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.wasOpen = true;
      this.attempt = 0;
      this.handlers.onstatus?.('open');
      ws.send(JSON.stringify(this.resume ? { ...this.join, resume: this.resume } : this.join));
    };
    ws.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.warn('signaling: a frame that is not JSON', event.data);
        return;
      }
      if (msg?.type === 'welcome') {
        this.resume = typeof msg.resume === 'string' ? { id: msg.id, token: msg.resume } : null;
      }
      if (msg && typeof msg.type === 'string') this.handlers.onmessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      if (!this.wasOpen) {
        this.handlers.onstatus?.('unreachable', `cannot reach the signaling server at ${this.url}`);
        return;
      }
      const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt += 1;
      this.handlers.onstatus?.('reconnecting', `signaling connection lost; retrying in ${delay} ms`);
      this.timer = setTimeout(() => this.open(), delay);
    };
  }

  /** Sends one message; false when the connection is not up (it is dropped). */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Leaves the room and closes the connection for good. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.send({ type: 'leave' });
      this.ws.close();
      this.ws = null;
    }
  }
}
