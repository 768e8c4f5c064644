// The local camera and microphone, and which devices to use: the choice of camera,
// microphone and speaker is remembered in localStorage (id and label, per kind) and
// used again on the next visit; a remembered device that is gone gives way to the
// default, with a note saying so. `LocalMedia` owns the one local MediaStream (the
// preview's and the call's) and swaps a track in it when another device is picked.

/** Where each kind's choice is kept, and what people call it. */
const KINDS = {
  videoinput: { key: 'peercall.camera', name: 'camera', track: 'video' },
  audioinput: { key: 'peercall.microphone', name: 'microphone', track: 'audio' },
  audiooutput: { key: 'peercall.speaker', name: 'speaker' },
};

/** The device kind (`videoinput`, `audioinput`) a track kind (`video`, `audio`) comes from. */
export const INPUT_OF = { video: 'videoinput', audio: 'audioinput' };

/** What is asked of the microphone: the browser's own echo cancellation, noise
 * suppression and gain control, as the native peer has its own. */
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Whether this browser can play to a chosen speaker (`HTMLMediaElement.setSinkId`). */
export const CAN_PICK_SPEAKER = 'setSinkId' in HTMLMediaElement.prototype;

/** The remembered device of `kind` (`{id, label}`), or null. */
export function remembered(kind) {
  try {
    const device = JSON.parse(localStorage.getItem(KINDS[kind].key));
    return typeof device?.id === 'string' ? device : null;
  } catch {
    return null;
  }
}

/** Remembers `device` (a MediaDeviceInfo) as the choice for its kind. */
export function remember(device) {
  localStorage.setItem(KINDS[device.kind].key, JSON.stringify({ id: device.deviceId, label: device.label }));
}

/** The devices the page may use, by kind. Without permission the browser lists them
 * with empty ids: those are left out, as nothing can be picked from them. */
export async function listDevices() {
  const lists = { videoinput: [], audioinput: [], audiooutput: [] };
  if (!navigator.mediaDevices) return lists;
  for (const device of await navigator.mediaDevices.enumerateDevices()) {
    if (device.deviceId && lists[device.kind]) lists[device.kind].push(device);
  }
  return lists;
}

/** Fills `select` with `devices`, `selected` (an id) chosen; an empty list leaves it
 * disabled, saying there is none. */
export function fillPicker(select, kind, devices, selected) {
  const options = devices.map((d, i) => new Option(d.label || `${KINDS[kind].name} ${i + 1}`, d.deviceId));
  if (options.length === 0) options.push(new Option(`no ${KINDS[kind].name} available`, ''));
  select.replaceChildren(...options);
  select.disabled = devices.length === 0;
  if (devices.some((d) => d.deviceId === selected)) select.value = selected;
}

/** Why a device could not be opened, in words (from a getUserMedia error). */
function why(err) {
  if (err.name === 'NotAllowedError') return 'access was denied (allow it in the address bar and reload)';
  if (err.name === 'NotFoundError') return 'none was found';
  if (err.name === 'NotReadableError') return 'it is in use by another program, or broken';
  return err.message;
}

/** Opens one track of `kind` (`video`, `audio`) on device `id`, or on the default. */
async function openTrack(kind, id) {
  const device = id ? { deviceId: { exact: id } } : {};
  const constraints = kind === 'audio' ? { ...AUDIO, ...device } : (id ? device : true);
  const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
  return stream.getTracks()[0];
}

/**
 * Opens `kind` on the remembered device `wanted`, else on the default: `{ track,
 * instead }`, `instead` set when the default stands in for a remembered device that
 * would not open. (An `ideal` device id is not enough: Chromium may pick another.)
 * Denied access is not retried: the default would be denied too.
 */
async function openRemembered(kind, wanted) {
  if (wanted) {
    try {
      return { track: await openTrack(kind, wanted.id), instead: false };
    } catch (err) {
      if (err.name === 'NotAllowedError') throw err;
    }
  }
  return { track: await openTrack(kind, null), instead: Boolean(wanted) };
}

export class LocalMedia {
  constructor() {
    /** The preview's and the call's stream; tracks are swapped in it, never replaced. */
    this.stream = new MediaStream();
  }

  /** The track of `kind` (`video`, `audio`) in use, or undefined. */
  track(kind) {
    return this.stream.getTracks().find((t) => t.kind === kind);
  }

  /**
   * Opens the remembered camera and microphone (or the defaults). Returns
   * `{ missing, notes }`: why a kind could not be opened, and which remembered device
   * was not there (the default is used instead).
   */
  async open() {
    if (!navigator.mediaDevices) {
      // Browsers offer devices only to secure pages.
      return { missing: ['camera and microphone: the browser allows them only on https:// pages or localhost'], notes: [] };
    }
    const missing = [];
    const notes = [];
    for (const kind of ['video', 'audio']) {
      const { name } = KINDS[INPUT_OF[kind]];
      const wanted = remembered(INPUT_OF[kind]);
      try {
        const { track, instead } = await openRemembered(kind, wanted);
        this.stream.addTrack(track);
        if (instead) {
          notes.push(`The ${name} chosen before (${wanted.label || 'unnamed'}) is not available: using ${track.label || 'the default'}.`);
        }
      } catch (err) {
        missing.push(`${name}: ${why(err)}`);
      }
    }
    return { missing, notes };
  }

  /**
   * Switches `kind` (`video`, `audio`) to device `id`: opens it, keeps the muted or
   * camera-off state, has `send(track)` put it in the call (before the old one stops,
   * so the call has no gap), then swaps it into the stream and stops the old one.
   * Returns the new track; throws with a readable message when the device does not
   * open or `send` fails (the old one then stays).
   */
  async use(kind, id, send) {
    let track;
    try {
      track = await openTrack(kind, id);
    } catch (err) {
      throw new Error(`The ${KINDS[INPUT_OF[kind]].name} did not open: ${why(err)}.`);
    }
    const old = this.track(kind);
    if (old) track.enabled = old.enabled;
    try {
      await send(track);
    } catch (err) {
      track.stop();
      throw new Error(`The call could not switch to the new ${KINDS[INPUT_OF[kind]].name}: ${err.message}.`);
    }
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    return track;
  }
}
