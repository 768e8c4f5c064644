// The microphone's level, shown on a <meter> before and during the call, so people see
// that the chosen microphone hears them: the RMS of the last ~20 ms from a Web Audio
// AnalyserNode, on a -60..0 dBFS scale, falling back slowly after a peak. It is cheap,
// since it runs through the whole call: the audio context runs with the large buffers of
// `latencyHint: 'playback'` (a meter needs no low latency), the level is read 20 times a
// second, and the bar is redrawn only when it moves visibly. (On two cores, a meter read
// every frame with default buffers took enough CPU from a desktop peer on the same
// machine that it drew too few of the call's pictures.)

/** The quietest level shown above zero, in dBFS. */
const FLOOR_DB = -60;
/** How often the level is read, in ms. */
const EVERY_MS = 50;
/** How much of the shown level is kept each reading when the sound gets quieter. */
const FALL = 0.8;
/** The smallest change redrawn. */
const STEP = 0.02;

/** 0..1 for a block of samples: its RMS on the FLOOR_DB..0 dBFS scale. */
export function levelOf(samples) {
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length);
  return rms > 0 ? Math.min(1, Math.max(0, 1 - (20 * Math.log10(rms)) / FLOOR_DB)) : 0;
}

export class LevelMeter {
  /** @param {HTMLMeterElement} element  where the level is shown (hidden without a mic). */
  constructor(element) {
    this.element = element;
    this.context = null;
    this.analyser = null;
    this.source = null;
    this.samples = null;
    this.timer = null;
  }

  /** Meters `track` (a microphone's), or nothing when it is undefined. */
  attach(track) {
    this.source?.disconnect();
    this.source = null;
    this.element.hidden = !track;
    this.element.value = 0;
    if (!track) return;
    if (!this.context) {
      this.context = new AudioContext({ latencyHint: 'playback' });
      this.analyser = new AnalyserNode(this.context, { fftSize: 1024 });
      this.samples = new Float32Array(this.analyser.fftSize);
      // Without a user gesture yet, browsers start audio suspended: start it on the first.
      if (this.context.state === 'suspended') {
        document.addEventListener('pointerdown', () => this.context.resume(), { once: true });
      }
    }
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(this.analyser);
    this.timer ??= setInterval(() => this.read(), EVERY_MS);
  }

  read() {
    if (!this.source || document.hidden) return;
    this.analyser.getFloatTimeDomainData(this.samples);
    const shown = this.element.value;
    const level = Math.max(levelOf(this.samples), shown * FALL);
    const next = level < STEP ? 0 : level;
    if (Math.abs(next - shown) >= STEP || (next === 0 && shown !== 0)) this.element.value = next;
  }
}
