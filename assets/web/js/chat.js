// Chat over the call's data channel: the wire form of a line (the same as the native
// peer's, `call::chat`), and how a line is shown. Each frame is one JSON object with a
// string `type`; a chat line is {"type":"chat","text":…,"name":…,"ts":…}. Frames of
// another type are for later features and are ignored; malformed ones are refused.
// Text from the other side is only ever put into the page as text nodes: links are
// made into <a> elements by hand, http(s) only.

/** The longest chat text, in bytes of UTF-8 (as the native peer's). */
export const MAX_TEXT_BYTES = 64 * 1024;

/** The longest frame taken off the channel, bytes. */
export const MAX_FRAME_BYTES = 4 * MAX_TEXT_BYTES;

/**
 * Sent when the channel opens, and once more on first hearing the other side's: nothing
 * else is sent until the other side's arrives (or `READY_WAIT_MS` passes, for a peer
 * that never says it), since a message sent the instant one side opens can be lost by a
 * native peer whose side is still opening (`call::channel`).
 */
export const READY_FRAME = '{"type":"ready"}';

/** How long to wait for the other side's `ready` before writing anyway. */
export const READY_WAIT_MS = 1000;

const encoder = new TextEncoder();

/** Why `text` cannot be sent, or null when it can. */
export function checkText(text) {
  if (typeof text !== 'string' || text.trim() === '') return 'the message is empty';
  const bytes = encoder.encode(text).length;
  if (bytes > MAX_TEXT_BYTES) return `the message is ${bytes} bytes long; at most ${MAX_TEXT_BYTES} are allowed`;
  return null;
}

/** The wire form of a line. */
export function encodeChat(text, name) {
  return JSON.stringify({ type: 'chat', text, ...(name ? { name } : {}), ts: Date.now() });
}

/**
 * A line from one frame: `{ from, text, ts }`; null for a well-formed message of another
 * type. Throws an Error saying why for anything else.
 */
export function decodeChat(data) {
  if (typeof data !== 'string') throw new Error('a data-channel frame that is not text');
  if (data.length > MAX_FRAME_BYTES) throw new Error(`a data-channel frame of ${data.length} characters is over the limit`);
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    throw new Error('a data-channel frame that is not JSON');
  }
  if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') {
    throw new Error('a data-channel message without a type');
  }
  if (msg.type !== 'chat') return null;
  if (typeof msg.text !== 'string') throw new Error('a chat line without text');
  const why = checkText(msg.text);
  if (why) throw new Error(why);
  // A name is shown, never trusted: too long or with control characters, it is dropped.
  const name = typeof msg.name === 'string' && msg.name.length <= 64 && !/[\u0000-\u001f\u007f]/.test(msg.name)
    ? msg.name : null;
  const ts = Number.isSafeInteger(msg.ts) ? msg.ts : null;
  return { from: name, text: msg.text, ts };
}

/** http(s) URLs in text. */
const LINK = /\bhttps?:\/\/[^\s<>"']+/gi;

/**
 * `text` as DOM nodes: text, with every http(s) URL an <a> that opens in a new tab
 * (without access to this page). Trailing punctuation stays outside the link.
 */
export function linkify(text, doc = document) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let url = match[0];
    const trail = /[.,;:!?)\]]+$/.exec(url);
    if (trail) url = url.slice(0, -trail[0].length);
    if (match.index > last) nodes.push(doc.createTextNode(text.slice(last, match.index)));
    const a = doc.createElement('a');
    a.href = url;
    a.textContent = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    nodes.push(a);
    last = match.index + url.length;
  }
  if (last < text.length) nodes.push(doc.createTextNode(text.slice(last)));
  return nodes;
}

/** `HH:MM` local time of a Unix time in ms. */
export function timeOf(ts) {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}
