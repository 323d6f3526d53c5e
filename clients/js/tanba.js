// Tanba JS client: the native API (/v1) of the Tanba signing agent, for browser pages.
// Dependency-free ES module; works in browsers and in Node >= 20.10 (global WebSocket, or
// pass one in). See README.md next to this file for the why of every choice below.

export const DEFAULT_URL = "wss://127.0.0.1:13579/v1";
/** Tried in order by `connect()` without a `url`: an agent with a local certificate
 *  (`tanba tls install`) speaks wss, one without speaks ws, both on NCALayer's port. */
export const DEFAULT_URLS = Object.freeze([DEFAULT_URL, "ws://127.0.0.1:13579/v1"]);
/** The close code of a plain ws:// WebSocket at an agent that speaks wss. */
export const TLS_REQUIRED = 4426;
export const VERSION = "0.1.0";

/** Reasons the client itself reports (the agent's own reasons come from its error tree). */
export const CLIENT_REASONS = Object.freeze([
  "not_running", // nothing listens on the agent's port (connection refused)
  "blocked", // the browser stopped the page from reaching 127.0.0.1 (Local Network Access, mixed content)
  "site_not_approved", // the agent is there but refused this page's origin before the WebSocket opened
  "certificate_untrusted", // the agent speaks wss and this browser does not trust its certificate
  "tls_required", // a ws:// URL was given, and the agent speaks wss (data.url says where)
  "timeout", // no answer in time
  "disconnected", // the connection closed with requests in flight
  "protocol", // the agent sent something this client does not understand
]);

/** An error with a stable `reason` to branch on, the JSON-RPC `code`, a readable `message`
 *  and the error's `data` (e.g. `retriesLeft`, or `retryAfter` seconds, for `wrong_pin`). */
export class TanbaError extends Error {
  constructor(reason, message, { code = null, data = {}, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "TanbaError";
    this.reason = reason;
    this.code = code;
    this.data = { ...data, reason };
  }
}

// --- base64 -------------------------------------------------------------------------------

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Bytes (Uint8Array, ArrayBuffer, a typed-array view) or a string (as UTF-8) to base64. */
export function toBase64(value) {
  const bytes = asBytes(value);
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=") + "=";
  }
  return out;
}

/** base64 (standard alphabet, padding optional) to bytes; throws TypeError on bad input. */
export function fromBase64(text) {
  const clean = String(text).replace(/\s+/g, "").replace(/=+$/, "");
  if (/[^A-Za-z0-9+/]/.test(clean) || clean.length % 4 === 1) throw new TypeError("not base64");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let j = 0;
  for (const ch of clean) {
    acc = (acc << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 255;
    }
  }
  return out;
}

function asBytes(value) {
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError("expected bytes (Uint8Array/ArrayBuffer) or a string");
}

// --- incremental SHA-256 (WebCrypto has no streaming digest) ---------------------------------

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 fed in pieces: `new Sha256().update(a).update(b).digest()` → 32-byte Uint8Array. */
export class Sha256 {
  constructor() {
    this.h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    this.w = new Uint32Array(64);
    this.block = new Uint8Array(64);
    this.used = 0; // bytes waiting in this.block
    this.length = 0; // total bytes fed (a double: exact up to 2^53)
    this.done = false;
  }

  update(data) {
    if (this.done) throw new Error("Sha256: update after digest");
    const bytes = asBytes(data);
    this.length += bytes.length;
    let i = 0;
    if (this.used > 0) {
      const take = Math.min(64 - this.used, bytes.length);
      this.block.set(bytes.subarray(0, take), this.used);
      this.used += take;
      i = take;
      if (this.used < 64) return this;
      this.#compress(this.block, 0);
      this.used = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this.#compress(bytes, i);
    if (i < bytes.length) {
      this.block.set(bytes.subarray(i), 0);
      this.used = bytes.length - i;
    }
    return this;
  }

  digest() {
    if (this.done) throw new Error("Sha256: digest called twice");
    const bitsHi = Math.floor(this.length / 0x20000000); // length * 8 / 2^32
    const bitsLo = (this.length * 8) >>> 0;
    const tail = new Uint8Array(this.used < 56 ? 64 : 128);
    tail.set(this.block.subarray(0, this.used));
    tail[this.used] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, bitsHi);
    view.setUint32(tail.length - 4, bitsLo);
    for (let i = 0; i < tail.length; i += 64) this.#compress(tail, i);
    this.done = true;
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(i * 4, this.h[i]);
    return out;
  }

  #compress(bytes, offset) {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      const p = offset + t * 4;
      w[t] = (bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3];
    }
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15];
      const b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    const h = this.h;
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (k + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }
}

const SUBTLE_NAMES = { sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" };
/** Files up to this size are hashed by WebCrypto in one piece (native speed, the whole file
 *  in memory once); larger ones by the incremental SHA-256 above, chunk by chunk. */
export const WHOLE_FILE_LIMIT = 64 * 1024 * 1024;
export const CHUNK_SIZE = 4 * 1024 * 1024;

/**
 * Digest of a File/Blob without uploading it anywhere. SHA-256 works for any size: up to
 * `wholeFileLimit` bytes via WebCrypto, above it chunk by chunk in JS (memory stays at one
 * chunk). sha384/sha512 only via WebCrypto, so only up to `wholeFileLimit` (else `too_large`).
 * `onProgress(doneBytes, totalBytes)` is called per chunk.
 */
export async function hashFile(blob, { algorithm = "sha256", onProgress, wholeFileLimit = WHOLE_FILE_LIMIT,
                                       chunkSize = CHUNK_SIZE } = {}) {
  const subtleName = SUBTLE_NAMES[algorithm];
  if (!subtleName) throw new TanbaError("invalid_params", `unknown digest algorithm ${algorithm}`);
  const subtle = globalThis.crypto?.subtle;
  if (subtle && blob.size <= wholeFileLimit) {
    const digest = new Uint8Array(await subtle.digest(subtleName, await blob.arrayBuffer()));
    onProgress?.(blob.size, blob.size);
    return digest;
  }
  if (algorithm !== "sha256") {
    throw new TanbaError("too_large", `${algorithm} of files over ${wholeFileLimit} bytes needs WebCrypto in one piece; use sha256`);
  }
  const hash = new Sha256();
  for (let offset = 0; offset < blob.size; offset += chunkSize) {
    hash.update(new Uint8Array(await blob.slice(offset, offset + chunkSize).arrayBuffer()));
    onProgress?.(Math.min(offset + chunkSize, blob.size), blob.size);
  }
  if (blob.size === 0) onProgress?.(0, 0);
  return hash.digest();
}

// --- connecting, and telling failures apart --------------------------------------------------

function httpUrlOf(wsUrl) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.search = "";
  return url.href;
}

function withLocale(wsUrl, locale) {
  if (!locale) return wsUrl;
  const url = new URL(wsUrl);
  url.searchParams.set("locale", locale);
  return url.href;
}

function pageIsSecureAndUrlIsNot(wsUrl) {
  const page = globalThis.location;
  return Boolean(page && page.protocol === "https:" && wsUrl.startsWith("ws:"));
}

async function localNetworkPermission() {
  // Chrome gates public → loopback connections behind this permission (Local Network Access).
  // Chrome 156 knows both names; "loopback-network" is the newer, narrower one.
  const permissions = globalThis.navigator?.permissions;
  if (!permissions) return null;
  for (const name of ["loopback-network", "local-network-access"]) {
    try {
      return (await permissions.query({ name })).state;
    } catch {
      // the browser does not know this permission name: try the next
    }
  }
  return null;
}

/** Does something answer HTTP on the agent's port? A no-cors fetch resolves (opaque) for any
 *  HTTP answer, the agent's 403 included, and rejects when nothing listens. */
async function probeHttp(wsUrl, timeoutMs = 3000) {
  if (typeof fetch !== "function") return null;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    await fetch(httpUrlOf(wsUrl), { mode: "no-cors", cache: "no-store", credentials: "omit", signal: abort.signal });
    return true;
  } catch {
    return abort.signal.aborted ? null : false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why did the WebSocket to the agent fail? A page only ever sees a bare `error` + close 1006:
 * the browser hides the HTTP status (the agent's 403) and the network error alike. So:
 * 1. Local Network Access permission `denied` → `blocked` (no request would go out).
 * 2. An HTTP probe of the same port: an answer → `site_not_approved` (the agent is up and
 *    refused this origin before the upgrade).
 * 3. No answer: `blocked` when the page is public and the permission was never granted
 *    (state `prompt` on a page that needs it means the prompt was dismissed), else `not_running`.
 * Exported for tests; `connect` calls it.
 */
export async function diagnose(wsUrl, { probe = probeHttp, permission = localNetworkPermission } = {}) {
  const state = await permission();
  if (state === "denied") {
    return new TanbaError("blocked", "The browser blocked this page from reaching Tanba on this computer (Local Network Access is denied for this site).", { data: { cause: "local_network_access" } });
  }
  const answered = await probe(wsUrl);
  if (answered) {
    return new TanbaError("site_not_approved", "Tanba is running but has not approved this site.");
  }
  if (state === "prompt" && !pageIsLoopback()) {
    return new TanbaError("blocked", "The browser blocked this page from reaching Tanba on this computer: allow \"local network access\" for this site.", { data: { cause: "local_network_access" } });
  }
  return new TanbaError("not_running", "Tanba is not running on this computer.");
}

function pageIsLoopback() {
  const host = globalThis.location?.hostname;
  if (host === undefined) return true; // not a page (Node): no browser gate applies
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || /^127\./.test(host);
}

/**
 * The agent speaks wss and this page's wss attempt failed: either the browser does not trust
 * the agent's certificate, or the agent refused this site. A no-cors fetch of the https
 * address tells them apart (it fails on an untrusted certificate, resolves on any answer).
 * Exported for tests; `connect` calls it.
 */
export async function diagnoseTls(wssUrl, { probe = probeHttp, permission = localNetworkPermission } = {}) {
  if ((await permission()) === "denied") {
    return new TanbaError("blocked", "The browser blocked this page from reaching Tanba on this computer (Local Network Access is denied for this site).", { data: { cause: "local_network_access" } });
  }
  if (await probe(wssUrl)) {
    return new TanbaError("site_not_approved", "Tanba is running but has not approved this site.");
  }
  return new TanbaError("certificate_untrusted",
    "Tanba is running, but this browser does not trust its certificate: run `tanba tls install` for this user and restart the browser.",
    { data: { url: wssUrl } });
}

/** One WebSocket attempt: resolves to an open socket, or to `{failed: socket}`; rejects with
 *  `blocked` (mixed content) or `timeout`. */
function openSocket(create, url, timeout) {
  let socket;
  try {
    socket = create(url);
  } catch (err) {
    if (err?.name === "SecurityError" || pageIsSecureAndUrlIsNot(url)) {
      return Promise.reject(new TanbaError("blocked", "The browser does not let this secure page open an insecure ws:// connection; the agent needs wss (tanba tls install).", { data: { cause: "mixed_content" }, cause: err }));
    }
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.close();
      reject(new TanbaError("timeout", `no answer from Tanba within ${timeout} ms`));
    }, timeout);
    const onOpen = () => { cleanup(); resolve({ socket }); };
    const onFail = () => { cleanup(); resolve({ failed: socket }); };
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeEventListener("open", onOpen);
      socket.removeEventListener("error", onFail);
      socket.removeEventListener("close", onFail);
    };
    socket.addEventListener("open", onOpen);
    socket.addEventListener("error", onFail);
    socket.addEventListener("close", onFail);
  });
}

/**
 * Connect to the agent. Resolves to a TanbaClient; rejects with a TanbaError whose reason is
 * `not_running`, `blocked`, `site_not_approved`, `certificate_untrusted`, `tls_required` or
 * `timeout`.
 * Without `url` it tries DEFAULT_URLS in order: wss, then ws (an agent with a local
 * certificate closes a ws:// WebSocket at once with TLS_REQUIRED, which is how a failed wss
 * attempt is known to be the certificate and not a dead port).
 * options: url (one address, tried alone), urls (addresses tried in order, like
 * DEFAULT_URLS: for an agent on another port), locale (ru|kk|en), timeout (ms, all attempts
 * together; the user may be answering "allow this site?" meanwhile: default 130 s),
 * requestTimeout (ms, default 300 s), WebSocket (a constructor), createSocket (a factory
 * `(url) => socket`, e.g. to set headers in Node), diagnose / diagnoseTls (replace the
 * failure analysis).
 */
export async function connect(options = {}) {
  const urls = options.url ? [options.url] : [...(options.urls ?? DEFAULT_URLS)];
  const timeout = options.timeout ?? 130_000;
  const Socket = options.WebSocket ?? globalThis.WebSocket;
  const create = options.createSocket ?? ((u) => new Socket(u));
  if (!options.createSocket && typeof Socket !== "function") {
    throw new TypeError("no WebSocket implementation: pass options.WebSocket or options.createSocket");
  }
  const deadline = Date.now() + timeout;
  let failedWss = null; // the wss URL whose attempt failed
  let tlsRequired = null; // the agent's TLS_REQUIRED close, from a ws:// attempt
  let mixedContent = null;
  let lastUrl = urls[urls.length - 1];
  for (const url of urls) {
    let outcome;
    try {
      outcome = await openSocket(create, withLocale(url, options.locale), Math.max(1, deadline - Date.now()));
    } catch (err) {
      if (err instanceof TanbaError && err.data.cause === "mixed_content") { mixedContent = err; continue; }
      throw err;
    }
    if (outcome.socket) {
      const client = new TanbaClient(outcome.socket, { requestTimeout: options.requestTimeout, url });
      if (!url.startsWith("ws:")) return client;
      // A wss agent answers ws:// by opening and closing at once: ask before calling it connected.
      try {
        client.agent = await client.hello({ timeout: Math.max(1, deadline - Date.now()) });
        return client;
      } catch (err) {
        client.close();
        if (!(err instanceof TanbaError && err.reason === "tls_required")) throw err;
        tlsRequired = err;
        continue;
      }
    }
    if (url.startsWith("wss:")) failedWss = url;
    lastUrl = url;
  }
  if (tlsRequired && failedWss) throw await (options.diagnoseTls ?? diagnoseTls)(failedWss);
  if (tlsRequired) throw tlsRequired;
  // wss failed and the browser would not even try ws:// from this secure page (Safari):
  // whether the agent is down or speaks ws only, wss is what it needs here
  if (mixedContent) throw mixedContent;
  throw await (options.diagnose ?? diagnose)(lastUrl);
}

// --- the client --------------------------------------------------------------------------------

const HELLO_TIMEOUT = 10_000;

/** A connected client. Requests get ids 1, 2, …, may run concurrently, and each has its own
 *  timeout. Events: `progress` (detail {id, done, total}), `close` (detail {code, reason}). */
export class TanbaClient extends EventTarget {
  #socket;
  #pending = new Map();
  #nextId = 1;

  constructor(socket, { requestTimeout = 300_000, url = DEFAULT_URL } = {}) {
    super();
    this.#socket = socket;
    this.url = url;
    this.requestTimeout = requestTimeout;
    this.closed = false;
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", (event) => this.#closed(event));
  }

  /** Send one request; resolves with `result`, rejects with a TanbaError.
   *  options: timeout (ms), onProgress({done, total}). */
  call(method, params, { timeout = this.requestTimeout, onProgress } = {}) {
    if (this.closed) return Promise.reject(new TanbaError("disconnected", "the connection to Tanba is closed"));
    const id = this.#nextId++;
    const message = { jsonrpc: "2.0", id, method };
    if (params !== undefined) message.params = params;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TanbaError("timeout", `${method}: no answer within ${timeout} ms`, { data: { id } }));
      }, timeout);
      this.#pending.set(id, { resolve, reject, timer, onProgress, method });
      try {
        this.#socket.send(JSON.stringify(message));
      } catch (err) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new TanbaError("disconnected", "could not send to Tanba", { cause: err }));
      }
    });
  }

  /** Requests sent and not yet answered. */
  get inFlight() {
    return this.#pending.size;
  }

  hello(options) {
    return this.call("agent.hello", undefined, { timeout: HELLO_TIMEOUT, ...options });
  }

  /** `{certificates: [CertInfo], unavailable?: [{storage, location?, reason, retryAfter?}]}` (the user is asked first). */
  certsList(filter, options) {
    return this.call("certs.list", filter ? { filter } : {}, options);
  }

  /** `params` as the wire's `sign`; items of `data`/`digests` may be bytes (encoded here)
   *  or base64 strings. Resolves `{signatures, certificate, chain}`. */
  sign(params, options) {
    const wire = { ...params };
    for (const key of ["data", "digests"]) {
      if (wire[key] !== undefined) wire[key] = wire[key].map((item) => (typeof item === "string" ? item : toBase64(item)));
    }
    return this.call("sign", wire, options);
  }

  /** A Web eID token over the site's challenge; check it on the server. */
  auth(challenge, { filter, ...options } = {}) {
    return this.call("auth", filter ? { challenge, filter } : { challenge }, options);
  }

  /** `params`: {format, signature, data?} with bytes or base64 strings. */
  verify(params, options) {
    const wire = { ...params };
    for (const key of ["signature", "data"]) {
      if (wire[key] !== undefined && typeof wire[key] !== "string") wire[key] = toBase64(wire[key]);
    }
    return this.call("verify", wire, options);
  }

  /** Hash files here and sign their digests (detached CMS or raw): the documents never
   *  leave the page. One confirmation and one PIN for the batch. */
  async signFiles(files, params = {}, { onHashProgress, ...options } = {}) {
    const digestAlgorithm = params.digestAlgorithm ?? "sha256";
    const digests = [];
    for (const [index, file] of files.entries()) {
      digests.push(await hashFile(file, {
        algorithm: digestAlgorithm,
        onProgress: onHashProgress && ((done, total) => onHashProgress({ index, done, total })),
      }));
    }
    return this.sign({ format: "cms", detached: true, ...params, digestAlgorithm, digests }, options);
  }

  close() {
    this.#socket.close(1000);
  }

  #receive(raw) {
    let message;
    try {
      message = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
    } catch {
      return; // not JSON: nothing to route it to
    }
    if (message.method === "progress" && message.params) {
      const detail = message.params;
      this.#pending.get(detail.id)?.onProgress?.(detail);
      this.dispatchEvent(new CustomEvent("progress", { detail }));
      return;
    }
    const waiter = this.#pending.get(message.id);
    if (!waiter) return; // an answer after its timeout, or an error without an id
    this.#pending.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.error) {
      const { code, message: text, data = {} } = message.error;
      waiter.reject(new TanbaError(data.reason ?? "protocol", text ?? "error", { code, data }));
    } else if ("result" in message) {
      waiter.resolve(message.result);
    } else {
      waiter.reject(new TanbaError("protocol", "an answer with neither result nor error"));
    }
  }

  #closed(event) {
    this.closed = true;
    for (const [id, waiter] of this.#pending) {
      clearTimeout(waiter.timer);
      if (event.code === TLS_REQUIRED) {
        const url = /wss:\/\/\S+/.exec(event.reason ?? "")?.[0];
        waiter.reject(new TanbaError("tls_required", `Tanba speaks wss here: connect to ${url ?? "its wss:// address"}`, { data: { id, url } }));
      } else {
        waiter.reject(new TanbaError("disconnected", `the connection to Tanba closed (${event.code}) before ${waiter.method} was answered`, { data: { id } }));
      }
    }
    this.#pending.clear();
    this.dispatchEvent(new CustomEvent("close", { detail: { code: event.code, reason: event.reason } }));
  }
}
