// Resumable uploads through tus 1.0.0 at /api/uploads (CONTRACT.md "Resumable uploads",
// docs/uploads.md), with the vendored tus-js-client (window.tus, loaded by index.html before
// app.js). A dropped connection resumes from the server's offset; a reload resumes when the same
// file is added again, because each upload's URL is kept in localStorage under the file's
// fingerprint (name, type, size, lastModified) until it completes.
import { api, ApiError, photoPath } from "./api.js";
import { t } from "./i18n.js";

const ENDPOINT = "/api/uploads";
// 8 MB a PATCH: few enough requests for a fast network, little lost when a PATCH is cut.
const CHUNK_SIZE = 8 * 1024 * 1024;
// Files up to this size are hashed first (Web Crypto reads the whole file into memory), so bytes
// the library already has are not sent at all; larger ones are not read twice.
const HASH_LIMIT = 100 * 1024 * 1024;
// While online, a failed request is retried after these delays (ms); offline, the upload waits
// for the browser's "online" event instead of spending the retries.
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];

// Tests shrink the chunk to see several PATCHes on a small file (localStorage, never the server).
const chunkSize = () => Number(localStorage.getItem("octopus.upload.chunkSize")) || CHUNK_SIZE;

let probe = null;
/**
 * Does this server speak tus? One OPTIONS per page load; an older server (404/405, no
 * Tus-Version) or a missing tus-js-client means the plain POST /api/photos path.
 */
export function tusAvailable() {
  if (!probe) {
    probe = (async () => {
      const tus = window.tus;
      if (!tus || !tus.isSupported) return false;
      try {
        const res = await fetch(ENDPOINT, { method: "OPTIONS", credentials: "same-origin" });
        return res.ok && (res.headers.get("Tus-Version") || "").split(",").map((v) => v.trim()).includes("1.0.0");
      } catch { return false; }
    })();
  }
  return probe;
}

async function sha256Hex(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The problem+json detail of a tus error's response, or a line that says what happened. */
function errorOf(err) {
  const res = err && err.originalResponse;
  const status = res ? res.getStatus() : 0;
  if (!status) return new ApiError(0, "", t("upload.offlineResume"));
  let body = null;
  try { body = JSON.parse(res.getBody()); } catch { /* not JSON: never show a raw body */ }
  return new ApiError(status, body && body.title, (body && body.detail) || t("error.uploadFailed", { status }), body && body.code, body && body.params);
}

/**
 * Upload one file through tus. hooks: {onProgress(sent, total), onState(text), onResume(offset),
 * sha256}: onState tells the panel about hashing, resuming and waiting for the network; onResume gives the
 * server's offset when an upload goes on (those bytes were sent earlier, not now); sha256 is the
 * file's hash when the caller has it already (the Backup screen's worker), so it is not read twice. Resolves {status, photo} like
 * api.uploadFile (200 + photo.duplicate when the library already had it, 201 when new, plus
 * resumedFrom: the offset an earlier attempt had reached); rejects ApiError with the server's detail.
 */
export async function uploadTus(file, { onProgress, onState, onResume, sha256 }) {
  const tus = window.tus;
  let photoId = null, duplicate = false, held = false, resumedFrom = 0;
  const options = {
    endpoint: ENDPOINT,
    chunkSize: chunkSize(),
    retryDelays: RETRY_DELAYS,
    metadata: { filename: file.name },
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    onProgress: (sent, total) => onProgress(sent, total),
    // The result travels in Octopus-* headers: on the last PATCH, or already on the creation
    // POST when the sha256 was known (that POST creates no upload, so it has no Location).
    onAfterResponse: (req, res) => {
      const id = res.getHeader("Octopus-Photo-Id");
      if (id) {
        photoId = id;
        duplicate = res.getHeader("Octopus-Duplicate") === "true";
        held = res.getHeader("Octopus-Held-Clip") === "true";
      }
      if (req.getMethod() === "HEAD" && res.getStatus() === 200) {
        resumedFrom = Number(res.getHeader("Upload-Offset")) || 0;
        onResume(resumedFrom);
      }
    },
    onShouldRetry: (err) => {
      if (photoId) return false; // answered already: nothing to retry
      const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
      if (status >= 400 && status < 500 && status !== 409 && status !== 423) return false;
      return navigator.onLine !== false;
    },
  };

  const previous = await new tus.Upload(file, options).findPreviousUploads();
  if (sha256) options.metadata.sha256 = sha256;
  else if (!previous.length && file.size <= HASH_LIMIT && window.crypto && crypto.subtle) {
    // crypto.subtle exists only in secure contexts (https, localhost): on plain http to a LAN
    // address the file is simply sent and the server finds the duplicate after the last byte.
    onState(t("upload.checking"));
    options.metadata.sha256 = await sha256Hex(file);
  }

  await new Promise((resolve, reject) => {
    let done = false;
    const upload = new tus.Upload(file, {
      ...options,
      onSuccess: () => { done = true; resolve(); },
      onError: (err) => {
        if (done) return;
        if (photoId) { done = true; return resolve(); }
        const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
        if (!status && navigator.onLine === false) {
          // Offline: wait for the network, then start again (HEAD finds the server's offset).
          onState(t("upload.waitingNetwork"));
          addEventListener("online", () => { onState(t("upload.resuming")); upload.start(); }, { once: true });
          return;
        }
        done = true;
        reject(errorOf(err));
      },
    });
    if (previous.length) {
      // The newest attempt at this file (by creation time): its URL is where to resume.
      previous.sort((a, b) => String(b.creationTime).localeCompare(String(a.creationTime)));
      upload.resumeFromPreviousUpload(previous[0]);
      onState(t("upload.resuming"));
    }
    upload.start();
  });

  if (!photoId) throw new ApiError(0, "", t("upload.noPhoto"));
  // A Live Photo's MOV whose still has not arrived is kept but is no item yet (docs/motion.md).
  if (held) return { status: 202, photo: null, resumedFrom };
  let photo = { id: photoId };
  try { photo = await api(photoPath(photoId)); } catch { /* the timeline shows it on its next load */ }
  if (duplicate) photo = { ...photo, duplicate: true };
  return { status: duplicate ? 200 : 201, photo, resumedFrom };
}
