// The page: wires the form, the videos, the buttons and the stats panel to a `Call`.
//
// URL parameters (all optional): `room` (else an unguessable one is made and put in the
// address bar to share), `name`, `token` (the access token, for a server that needs one:
// sent with every join, and kept in the share link), `relay=1` (relay-only), `codec=VP8` (offer and accept
// only that video codec: a VP8 or VP9 call, or AV1 to see how a peer without it
// fails), `server` (a ws:// or wss:// URL; default: the server that served this page)
// and `autojoin=1` (join at once, for scripts and tests).
//
// Before joining, the page shows the camera's preview and the microphone's level, and
// offers the camera, microphone and speaker to use (remembered for the next visit); they
// can be switched during the call too.
//
// `window.peercall` exposes the live call, its state and timings, the local stream
// (`local`), the device lists shown (`devices`), the chat's lines
// (`chatLines`: {from, text, ts, mine}), the file transfers (`files`) and the other
// side's screen share (`screenStream`) for automation.

import { Call } from './call.js';
import { linkify, timeOf } from './chat.js';
import { CAN_PICK_SPEAKER, INPUT_OF, LocalMedia, fillPicker, listDevices, remember, remembered } from './devices.js';
import { initFilePanel, showFileEvent, transfers } from './filepanel.js';
import { LevelMeter } from './meter.js';
import { defaultServerUrl } from './signaling.js';
import { rows, statsArray, summarize } from './stats.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(window.location.search);

/** An unguessable room name: 128 random bits in the protocol's room alphabet. */
function newRoom() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The camera's and the microphone's pickers, by track kind. */
const PICKERS = { video: 'camera-choice', audio: 'mic-choice' };

const media = new LocalMedia();
const meter = new LevelMeter($('mic-level'));

const ui = {
  room: params.get('room') || newRoom(),
  local: media.stream,    // the local MediaStream (possibly without tracks)
  devices: {},            // the devices in the pickers, by kind
  call: null,
  timings: {},            // joinAt; connectedMs, firstFrameMs: from Join to connected, to the first remote frame
  summary: null,
  statsTimer: null,
  chatLines: [],          // every chat line shown, ours and theirs, in order
  unread: 0,              // lines received while the chat was closed or the page hidden
  files: transfers,       // every file transfer shown, by id
};
window.peercall = ui;

function showBanner(text, kind = 'error') {
  const banner = $('banner');
  banner.textContent = text;
  banner.className = `banner ${kind}`;
  banner.hidden = !text;
}

function setState(state, detail = '') {
  if (state === 'connected' && ui.timings.connectedMs == null) {
    ui.timings.connectedMs = performance.now() - ui.timings.joinAt;
  }
  const el = $('state');
  el.textContent = detail ? `${state} — ${detail}` : state;
  el.dataset.state = state;
  // The failure's code, as the native peer's `reason_code` (for scripts and tests).
  el.dataset.reasonCode = state === 'failed' ? (ui.call?.failure ?? '') : '';
  const inCall = !['idle', 'ended', 'failed'].includes(state);
  $('join').disabled = inCall;
  $('hangup').disabled = !inCall;
  $('share').disabled = state !== 'connected' && state !== 'reconnecting' && !ui.call?.share;
  for (const id of ['name', 'room', 'relay']) $(id).disabled = inCall;
  if (state === 'failed') showBanner(detail);
  if (!inCall) {
    stopStats();
    $('verification').hidden = true;
  }
}

function shareLink() {
  const url = new URL(window.location.href);
  url.search = '';
  url.searchParams.set('room', $('room').value);
  // Whoever gets the link needs the token to get in too.
  if (params.get('token')) url.searchParams.set('token', params.get('token'));
  $('share-link').href = url.toString();
  $('share-link').textContent = url.toString();
  window.history.replaceState(null, '', `?${new URLSearchParams({ ...Object.fromEntries(params), room: $('room').value })}`);
}

/** The microphone processing the browser applies, as it reports it (`null`: no mic). */
function processingOf(stream) {
  const track = stream?.getAudioTracks()[0];
  if (!track) return null;
  const { echoCancellation, noiseSuppression, autoGainControl } = track.getSettings();
  return { echoCancellation, noiseSuppression, autoGainControl };
}

/** Says something about the devices under the pickers (nothing when empty). */
function showDeviceNote(text) {
  $('device-note').textContent = text;
  $('device-note').hidden = !text;
}

/** Mute and camera-off work on the tracks there are. */
function enableToggles() {
  $('mute').disabled = !media.track('audio');
  $('camera').disabled = !media.track('video');
}

/** The local camera and mic (the remembered ones, else the defaults), or what of them
 * exists, in the preview and on the meter; explains what is missing. */
async function openMedia() {
  const { missing, notes } = await media.open();
  if (missing.length) {
    showBanner(`${missing.join('; ')}. You can still join and ${media.stream.getTracks().length ? 'send what works' : 'watch and listen'}.`, 'notice');
  }
  showDeviceNote(notes.join(' '));
  $('local-video').srcObject = media.stream;
  meter.attach(media.track('audio'));
  enableToggles();
}

/** Fills the pickers with the devices there are now, the ones in use chosen. */
async function refreshDevices() {
  ui.devices = await listDevices();
  for (const [kind, id] of Object.entries(PICKERS)) {
    fillPicker($(id), INPUT_OF[kind], ui.devices[INPUT_OF[kind]], media.track(kind)?.getSettings().deviceId);
  }
  fillPicker($('speaker-choice'), 'audiooutput', ui.devices.audiooutput, $('remote-video').sinkId);
}

/** Switches the camera or microphone (`kind`: `video`, `audio`) to device `id`, in the
 * preview and, without renegotiating, in the call; remembers it. */
async function pickInput(kind, id) {
  try {
    const track = await media.use(kind, id, async (t) => ui.call?.replaceTrack(t));
    if (kind === 'audio') meter.attach(track);
    enableToggles();
    remember(ui.devices[INPUT_OF[kind]].find((d) => d.deviceId === id));
    showDeviceNote('');
  } catch (err) {
    showDeviceNote(err.message);
  }
  await refreshDevices();
}

/** Plays the call's sound on speaker `id` (`''`: the default); remembers a picked one. */
async function pickSpeaker(id, picked = true) {
  try {
    await $('remote-video').setSinkId(id);
    if (picked) remember(ui.devices.audiooutput.find((d) => d.deviceId === id));
  } catch (err) {
    showDeviceNote(`The speaker could not be chosen: ${err.message}.`);
  }
}

/** The remembered speaker, if it is there; else the default, with a note. */
async function restoreSpeaker() {
  const wanted = remembered('audiooutput');
  if (!wanted) return;
  if (ui.devices.audiooutput.some((d) => d.deviceId === wanted.id)) {
    await pickSpeaker(wanted.id, false);
  } else {
    showDeviceNote(`The speaker chosen before (${wanted.label || 'unnamed'}) is not available: using the default.`);
  }
}

/** The pickers: filled, restored, and kept up to date as devices come and go. */
async function setUpPickers() {
  $('speaker-label').hidden = !CAN_PICK_SPEAKER;
  $('speaker-note').hidden = CAN_PICK_SPEAKER;
  ui.devices = await listDevices();
  if (CAN_PICK_SPEAKER) await restoreSpeaker();
  await refreshDevices();
  for (const [kind, id] of Object.entries(PICKERS)) {
    $(id).addEventListener('change', (e) => pickInput(kind, e.target.value));
  }
  $('speaker-choice').addEventListener('change', (e) => pickSpeaker(e.target.value).then(refreshDevices));
  navigator.mediaDevices?.addEventListener('devicechange', refreshDevices);
}

/** Shows the unread count (nothing when 0). */
function showUnread() {
  const badge = $('chat-unread');
  badge.textContent = String(ui.unread);
  badge.hidden = ui.unread === 0;
}

/** Whether the chat log is scrolled to its end (then new lines keep it there). */
let chatAtBottom = true;
let chatScrollPending = false;

/**
 * Scrolls the chat log to its end at the next frame: once for however many lines came
 * meanwhile, without making the page lay out the whole log for each line.
 */
function scrollChatSoon() {
  if (chatScrollPending) return;
  chatScrollPending = true;
  requestAnimationFrame(() => {
    chatScrollPending = false;
    const log = $('chat-log');
    log.scrollTop = log.scrollHeight;
  });
}

/** A chat line, ours or theirs, added to the log (as text; links made by `linkify`). */
function addChatLine(line) {
  ui.chatLines.push(line);
  const li = document.createElement('li');
  li.className = line.mine ? 'mine' : 'theirs';
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = `${line.mine ? 'you' : (line.from || 'them')}${line.ts ? ` · ${timeOf(line.ts)}` : ''}`;
  li.append(who, ...linkify(line.text));
  $('chat-log').append(li);
  if (chatAtBottom || line.mine) scrollChatSoon();
  if (!line.mine && (!$('chat').open || document.hidden)) {
    ui.unread += 1;
    showUnread();
  }
}

/** The other side's screen, large, with its camera small beside it; or none. */
function showScreen(stream) {
  ui.screenStream = stream;
  $('screen-video').srcObject = stream;
  $('screen-figure').hidden = !stream;
  $('videos').classList.toggle('with-screen', Boolean(stream));
}

/** Starts or stops sharing our screen (the browser asks which screen or window). */
async function toggleShare() {
  if (!ui.call) return;
  if (ui.call.share) {
    await ui.call.stopShare();
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({
      video: { frameRate: 15, width: { max: 1920 }, height: { max: 1080 } },
      audio: false,
    });
    await ui.call.startShare(stream);
  } catch (err) {
    showBanner(`Screen sharing did not start: ${err.message}`, 'notice');
  }
}

function showChatError(why) {
  $('chat-error').textContent = why || '';
  $('chat-error').hidden = !why;
}

function sendChat() {
  const input = $('chat-input');
  if (!ui.call) {
    showChatError('join a call to chat');
    return;
  }
  const why = ui.call.sendChat(input.value);
  if (why && input.value.trim() !== '') {
    showChatError(why);
    return;
  }
  showChatError('');
  if (!why) input.value = '';
}

function readChat() {
  if ($('chat').open && !document.hidden) {
    ui.unread = 0;
    showUnread();
  }
}

function join() {
  showBanner('');
  const name = $('name').value.trim();
  localStorage.setItem('peercall.name', name);
  const room = $('room').value.trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(room)) {
    showBanner('A room name is 1–64 letters, digits, "_" or "-".');
    return;
  }
  shareLink();
  ui.timings = { joinAt: performance.now() };
  const codec = params.get('codec');
  ui.call = new Call({
    server: params.get('server') || defaultServerUrl(),
    room,
    name,
    token: params.get('token') || undefined,
    relayOnly: $('relay').checked,
    stream: ui.local,
    ...(codec ? { videoCodec: `video/${codec}`, onlyCodec: true } : {}),
  }, {
    onstate: setState,
    onverification: (code) => {
      const el = $('verification');
      el.textContent = code ? `verification code ${code}: the same on both screens means nobody is in between` : '';
      el.hidden = !code;
    },
    onchat: addChatLine,
    onfile: (event) => showFileEvent(event, () => ui.call),
    onscreen: showScreen,
    onshare: (sharing) => {
      $('sharing').hidden = !sharing;
      $('share').textContent = sharing ? 'Stop sharing' : 'Share screen';
      $('share').setAttribute('aria-pressed', String(sharing));
    },
    onchaterror: showChatError,
    onremote: (stream) => {
      const video = $('remote-video');
      if (video.srcObject !== stream) video.srcObject = stream;
    },
  });
  ui.call.join();
  startStats();
}

function startStats() {
  stopStats();
  let previous = {};
  ui.statsTimer = setInterval(async () => {
    const pc = ui.call?.pc;
    if (!pc) return;
    ui.summary = { ...summarize(await statsArray(pc), previous), processing: processingOf(ui.local) };
    previous = ui.summary.bytes;
    $('stats-body').replaceChildren(...rows(ui.summary).map(([label, value]) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      const td = document.createElement('td');
      th.textContent = label;
      td.textContent = value;
      tr.append(th, td);
      return tr;
    }));
  }, 1000);
}

function stopStats() {
  clearInterval(ui.statsTimer);
  ui.statsTimer = null;
}

/** Records when the first remote frame is shown (for the time-to-first-frame figure). */
function watchFirstFrame() {
  const video = $('remote-video');
  const seen = () => {
    if (ui.timings.joinAt != null && ui.timings.firstFrameMs == null) {
      ui.timings.firstFrameMs = performance.now() - ui.timings.joinAt;
    }
  };
  if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
    const onFrame = () => { seen(); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
  } else {
    video.addEventListener('loadeddata', seen);
  }
}

function toggleTrack(kind, button, onLabel, offLabel) {
  const tracks = kind === 'audio' ? ui.local.getAudioTracks() : ui.local.getVideoTracks();
  const enabled = !tracks[0]?.enabled;
  tracks.forEach((t) => { t.enabled = enabled; });
  button.textContent = enabled ? onLabel : offLabel;
  button.setAttribute('aria-pressed', String(!enabled));
}

async function main() {
  $('room').value = ui.room;
  $('name').value = params.get('name') ?? localStorage.getItem('peercall.name') ?? '';
  $('relay').checked = params.get('relay') === '1';
  shareLink();
  $('room').addEventListener('change', shareLink);
  $('copy-link').addEventListener('click', () => navigator.clipboard?.writeText($('share-link').href));
  $('join-form').addEventListener('submit', (e) => { e.preventDefault(); join(); });
  $('hangup').addEventListener('click', () => ui.call?.hangUp());
  $('mute').addEventListener('click', (e) => toggleTrack('audio', e.target, 'Mute mic', 'Unmute mic'));
  $('camera').addEventListener('click', (e) => toggleTrack('video', e.target, 'Camera off', 'Camera on'));
  $('share').addEventListener('click', () => toggleShare());
  $('stop-share').addEventListener('click', () => ui.call?.stopShare());
  $('chat-form').addEventListener('submit', (e) => { e.preventDefault(); sendChat(); });
  $('chat').addEventListener('toggle', readChat);
  $('chat-log').addEventListener('scroll', (e) => {
    const log = e.target;
    chatAtBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  });
  initFilePanel(() => ui.call, showChatError);
  document.addEventListener('visibilitychange', readChat);
  watchFirstFrame();
  setState('idle', 'press Join to enter the room');
  await openMedia();
  await setUpPickers();
  if (params.get('autojoin') === '1') join();
}

main();
