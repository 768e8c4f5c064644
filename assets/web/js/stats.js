// The stats panel's figures, from the browser's own `getStats()`: codec, resolution,
// frame rate and bitrate per direction, loss, jitter-buffer delay, the selected
// candidate pair's types and round-trip time. Pure: a report in, a summary out.

/** Reports of one `getStats()` call, as a plain array (also what tests read). */
export async function statsArray(pc) {
  const out = [];
  (await pc.getStats()).forEach((r) => out.push(r));
  return out;
}

/**
 * Summarizes `reports` (an array of stats objects); `previous` is the last summary's
 * byte counts, for bitrates.
 */
export function summarize(reports, previous = {}) {
  const byId = new Map(reports.map((r) => [r.id, r]));
  const codec = (r) => {
    const c = r && byId.get(r.codecId);
    return c ? c.mimeType.replace(/^(audio|video)\//, '') : '';
  };
  const kbps = (key, bytes, t) => {
    const p = previous[key];
    return p && t > p.t ? Math.round(((bytes - p.bytes) * 8) / (t - p.t)) : null;
  };
  const summary = { bytes: {} };
  for (const r of reports) {
    if (r.type !== 'outbound-rtp' && r.type !== 'inbound-rtp') continue;
    if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid && summary.videoOut) continue;
    const dir = r.type === 'outbound-rtp' ? 'Out' : 'In';
    const key = `${r.kind}${dir}`;
    const bytes = dir === 'Out' ? r.bytesSent : r.bytesReceived;
    summary.bytes[key] = { bytes, t: r.timestamp };
    summary[key] = {
      codec: codec(r),
      kbps: kbps(key, bytes, r.timestamp),
      ...(r.kind === 'video'
        ? { width: r.frameWidth ?? 0, height: r.frameHeight ?? 0, fps: r.framesPerSecond ?? 0 }
        : {}),
      ...(dir === 'In'
        ? {
          packetsLost: r.packetsLost ?? 0,
          lossPct: lossPct(r.packetsLost, r.packetsReceived),
          jitterBufferMs: r.jitterBufferEmittedCount
            ? Math.round((1000 * r.jitterBufferDelay) / r.jitterBufferEmittedCount)
            : null,
        }
        : {}),
    };
  }
  const transport = reports.find((r) => r.type === 'transport' && r.selectedCandidatePairId);
  const pair = transport
    ? byId.get(transport.selectedCandidatePairId)
    : reports.find((r) => r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded');
  if (pair) {
    summary.pair = {
      local: byId.get(pair.localCandidateId)?.candidateType ?? '?',
      remote: byId.get(pair.remoteCandidateId)?.candidateType ?? '?',
      rttMs: pair.currentRoundTripTime != null ? Math.round(pair.currentRoundTripTime * 1000) : null,
    };
  }
  return summary;
}

function lossPct(lost = 0, received = 0) {
  const total = lost + received;
  return total > 0 ? Math.round((1000 * Math.max(lost, 0)) / total) / 10 : 0;
}

/** Rows for the stats panel: [label, value] pairs. */
export function rows(summary) {
  const video = (v) => (v ? `${v.codec} ${v.width}×${v.height} ${Math.round(v.fps)} fps ${v.kbps ?? '–'} kbit/s` : '–');
  const audio = (a) => (a ? `${a.codec} ${a.kbps ?? '–'} kbit/s` : '–');
  const p = summary.pair;
  const on = (value) => (value ? 'on' : 'off');
  const q = summary.processing;
  return [
    ['video sent', video(summary.videoOut)],
    ['video received', video(summary.videoIn)],
    ['audio sent', audio(summary.audioOut)],
    ['audio received', audio(summary.audioIn)],
    ['loss (in)', summary.videoIn ? `video ${summary.videoIn.lossPct}%, audio ${summary.audioIn?.lossPct ?? 0}%` : '–'],
    ['jitter buffer', summary.videoIn?.jitterBufferMs != null ? `${summary.videoIn.jitterBufferMs} ms` : '–'],
    ['path', p ? `${p.local} ⇄ ${p.remote}` : '–'],
    ['round trip', p?.rttMs != null ? `${p.rttMs} ms` : '–'],
    ['audio processing', q
      ? `echo cancellation ${on(q.echoCancellation)}, noise suppression ${on(q.noiseSuppression)}, gain control ${on(q.autoGainControl)}`
      : '–'],
  ];
}
