// SHA-256 of chosen files, off the main thread (module worker, started by views/backup.js), so
// hashing a camera roll never freezes the page. Web Crypto's digest takes the whole file at once
// (no streaming API), so it is used only below a threshold; bigger files (videos) are read with
// file.stream() chunk by chunk into @noble/hashes' pure-JS SHA-256 (no WASM, so the strict CSP
// needs no 'wasm-unsafe-eval'), holding one chunk in memory, not the file.
// crypto.subtle exists only in secure contexts (https, localhost): on plain http to a LAN address
// every file takes the JS path.
import { sha256 } from "../vendor/noble-hashes-2.4.0.sha256.esm.js";

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const webCrypto = () => self.isSecureContext && self.crypto && self.crypto.subtle;

async function streamed(file, onProgress) {
  const hash = sha256.create();
  const reader = file.stream().getReader();
  let read = 0, told = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    read += value.byteLength;
    // A progress message every 8 MB at most: enough for a bar, not a flood of messages.
    if (read - told >= 8 * 1024 * 1024) { told = read; onProgress(read); }
  }
  return hex(hash.digest());
}

/**
 * Message in: {id, file, threshold (bytes: above it, stream), engine? ("js" forces the stream)}.
 * Messages out: {id, progress: bytes} while streaming, then {id, sha256, engine, ms} or {id, error}.
 */
self.onmessage = async ({ data: { id, file, threshold, engine } }) => {
  const t0 = performance.now();
  try {
    let sha, used;
    if (engine !== "js" && webCrypto() && file.size <= threshold) {
      sha = hex(await self.crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
      used = "webcrypto";
    } else {
      sha = await streamed(file, (progress) => self.postMessage({ id, progress }));
      used = "js";
    }
    self.postMessage({ id, sha256: sha, engine: used, ms: performance.now() - t0 });
  } catch (err) {
    // A file that cannot be read (deleted or moved since it was chosen, permission revoked).
    self.postMessage({ id, error: `cannot read the file (${err && err.name ? err.name : err})` });
  }
};
