// The call's verification code, made as the native peer makes it (crates/call/src/verify.rs):
// six digits from both DTLS certificate fingerprints, the same on both sides of one call
// and different on the two calls of a man in the middle.

/** The first `a=fingerprint:` of `sdp` as `sha-256 AB:CD:…`, or null. */
export function fingerprint(sdp) {
  const line = (sdp ?? '').split(/\r?\n/).find((l) => l.startsWith('a=fingerprint:'));
  const match = line && /^a=fingerprint:(\S+) (\S+)/.exec(line.trim());
  return match ? `${match[1].toLowerCase()} ${match[2].toUpperCase()}` : null;
}

/** The code (`"042 917"`) of a call with these two descriptions, or null. */
export async function verificationCode(localSdp, remoteSdp) {
  const ours = fingerprint(localSdp);
  const theirs = fingerprint(remoteSdp);
  if (!ours || !theirs) return null;
  const [first, second] = [ours, theirs].sort();
  const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${first}\n${second}`));
  const number = new DataView(hash).getUint32(0) % 1000000;
  const digits = String(number).padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}
