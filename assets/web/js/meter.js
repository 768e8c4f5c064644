// The microphone's level, shown on a <meter> before and during the call, so people see
// that the chosen microphone hears them: the RMS of the last ~20 ms from a Web Audio
// AnalyserNode, on a -60..0 dBFS scale, falling back slowly after a peak.

/** The quietest level shown above zero, in dBFS. */
const FLOOR_DB = -60;
/** How much of the shown level is kept each frame when the sound gets quieter. */
const FALL = 0.85;

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
    this.frame = null;
  }

  /** Meters `track` (a microphone's), or nothing when it is undefined. */
  attach(track) {
    this.source?.disconnect();
    this.source = null;
    this.element.hidden = !track;
    this.element.value = 0;
    if (!track) return;
    if (!this.context) {
      this.context = new AudioContext();
      this.analyser = new AnalyserNode(this.context, { fftSize: 1024 });
      this.samples = new Float32Array(this.analyser.fftSize);
      // Without a user gesture yet, browsers start audio suspended: start it on the first.
      if (this.context.state === 'suspended') {
        document.addEventListener('pointerdown', () => this.context.resume(), { once: true });
      }
    }
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(this.analyser);
    if (this.frame === null) this.tick();
  }

  tick() {
    this.frame = requestAnimationFrame(() => this.tick());
    if (!this.source) return;
    this.analyser.getFloatTimeDomainData(this.samples);
    const level = levelOf(this.samples);
    this.element.value = Math.max(level, this.element.value * FALL);
  }
}
