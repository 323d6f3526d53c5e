// Types for tanba.js (the Tanba agent's native API, /v1).

/** wss://127.0.0.1:13579/v1 */
export declare const DEFAULT_URL: string;
/** Tried in order by connect() without a url: wss://127.0.0.1:13579/v1, then ws://127.0.0.1:13579/v1 */
export declare const DEFAULT_URLS: readonly string[];
/** 4426: the close code of a ws:// WebSocket at an agent that speaks wss */
export declare const TLS_REQUIRED: number;
export declare const VERSION: string;
export declare const WHOLE_FILE_LIMIT: number;
export declare const CHUNK_SIZE: number;

export type AgentReason =
  | "invalid_request" | "invalid_params" | "method_not_found" | "origin_denied" | "user_cancelled"
  | "busy" | "no_certificate" | "wrong_pin" | "pin_locked" | "token_removed" | "store_error"
  | "timestamp_failed" | "too_large" | "internal";
export type ClientReason =
  | "not_running" | "blocked" | "site_not_approved" | "certificate_untrusted" | "tls_required"
  | "timeout" | "disconnected" | "protocol";
export type Reason = AgentReason | ClientReason;
export declare const CLIENT_REASONS: readonly ClientReason[];

export declare class TanbaError extends Error {
  readonly name: "TanbaError";
  readonly reason: Reason;
  /** JSON-RPC code for agent errors (e.g. -32005 wrong_pin); null for client-side reasons. */
  readonly code: number | null;
  /** The error's data: always has `reason`; e.g. `retriesLeft`, `field`, `cause`; `retryAfter`
   *  (seconds) on `wrong_pin` when a PKCS#12 file makes the next try wait, on `origin_denied` in a cooldown. */
  readonly data: { reason: Reason; [key: string]: unknown };
  constructor(reason: Reason, message: string, options?: { code?: number | null; data?: object; cause?: unknown });
}

export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView;
/** What the page can hash itself (hashFile / signFiles). */
export type DigestAlgorithm = "sha256" | "sha384" | "sha512";
/** What `sign` accepts as digestAlgorithm: SHA-2 for RSA/EC keys, a national key's own hash. */
export type SignDigestAlgorithm =
  | DigestAlgorithm | "streebog256" | "streebog512" | "gost34311-95" | "belt-hash" | "bash384" | "bash512";

export interface CertFilter {
  keyUsage?: "sign" | "auth";
  extKeyUsage?: string[];
  iin?: string;
  bin?: string;
  serialNumber?: string;
  issuer?: string;
  validOnly?: boolean;
  storages?: string[];
}

/** A source `certs.list` could not read while others could. */
export interface UnavailableSource {
  /** `PKCS12` or a token's storage name, e.g. `AKKaztokenStore` */
  storage: string;
  /** a key file's name (never its folder); absent for a whole store (a token whose module failed) */
  location?: string;
  /** the agent reason, e.g. `wrong_pin`, `store_error` */
  reason: AgentReason;
  /** seconds before the file accepts the next password try (its backoff) */
  retryAfter?: number;
}

export interface CertsList {
  certificates: CertInfo[];
  /** present only when some source failed and another was read */
  unavailable?: UnavailableSource[];
}

export interface CertInfo {
  id: string;
  storage: string;
  subject: Record<string, string>;
  iin?: string;
  bin?: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  keyUsage: string[];
  extKeyUsage: string[];
  algorithm: string;
  fingerprintSha256: string;
  pem: string;
}

export interface Hello { name: "tanba"; version: string; protocol: number; capabilities: string[] }

export interface SignParams {
  format: "cms" | "xml" | "raw";
  /** documents: bytes, or base64 strings (strings are sent as they are) */
  data?: Array<Bytes | string>;
  digests?: Array<Bytes | string>;
  digestAlgorithm?: SignDigestAlgorithm;
  detached?: boolean;
  timestamp?: boolean;
  includeChain?: boolean;
  xml?: { signElement?: string; parent?: string; canonicalization?: "c14n" | "exc-c14n" };
  filter?: CertFilter;
}
export interface SignResult { signatures: string[]; certificate: string; chain: string[] }

export interface AuthToken {
  format: "web-eid:1.0";
  unverifiedCertificate: string;
  algorithm: "RS256" | "ES256" | "ES384" | "ES512" | string;
  signature: string;
  appVersion: string;
}

/**
 * Why a signer is not valid (or, for revocation_unknown / timestamp_untrusted, what could not
 * be confirmed); stable codes, the same list as protocol/methods/verify.py PROBLEMS:
 * signer_certificate_missing — no certificate in the signature is the signer's;
 * unsupported_algorithm — a digest or signature algorithm Tanba does not check (also on the path);
 * weak_algorithm — e.g. SHA-1; content_type_mismatch — contentType differs from eContentType;
 * message_digest_mismatch — the content is not what was signed; content_missing — a detached
 * signature checked without its data; signature_invalid — the signature value does not verify;
 * signing_certificate_mismatch — signingCertificate(V2) names another certificate;
 * timestamp_invalid — the signature timestamp is broken or for something else;
 * timestamp_untrusted — the timestamp is intact but its TSA does not chain to a trust anchor;
 * chain_untrusted — no path to a configured trust anchor; certificate_expired — a path
 * certificate is outside its validity; chain_invalid — another path failure; revoked;
 * revocation_unknown — no OCSP/CRL answer: the agent's default ("soft") still says valid.
 */
export type VerifyProblem =
  | "signer_certificate_missing" | "unsupported_algorithm" | "weak_algorithm" | "content_type_mismatch"
  | "message_digest_mismatch" | "content_missing" | "signature_invalid" | "signing_certificate_mismatch"
  | "timestamp_invalid" | "timestamp_untrusted" | "chain_untrusted" | "certificate_expired" | "chain_invalid"
  | "revoked" | "revocation_unknown";

export interface VerifyParams { format: "cms" | "xml"; signature: Bytes | string; data?: Bytes | string }
export interface SignerResult {
  certificate: string;
  signingTime: string | null;
  timestamp?: string;
  chainValid: boolean;
  revocation: "good" | "revoked" | "unknown";
  signatureValid: boolean;
  problems: VerifyProblem[];
}
export interface VerifyResult { valid: boolean; signers: SignerResult[] }

export interface Progress { id: number | string; done: number; total: number }
export interface CallOptions { timeout?: number; onProgress?: (progress: Progress) => void }

export interface ConnectOptions {
  /** one address, tried alone */
  url?: string;
  /** addresses tried in order (default DEFAULT_URLS: wss, then ws) */
  urls?: readonly string[];
  locale?: "ru" | "kk" | "en" | string;
  /** ms to wait for the WebSocket to open (the user may be answering "allow this site?"); default 130000 */
  timeout?: number;
  /** default per-request timeout in ms; default 300000 */
  requestTimeout?: number;
  WebSocket?: new (url: string) => WebSocket;
  createSocket?: (url: string) => WebSocket;
  diagnose?: (url: string) => Promise<TanbaError>;
  /** why a wss attempt failed at an agent that speaks wss (certificate_untrusted, site_not_approved, blocked) */
  diagnoseTls?: (wssUrl: string) => Promise<TanbaError>;
}

export declare function connect(options?: ConnectOptions): Promise<TanbaClient>;
export declare function diagnose(
  url: string,
  hooks?: { probe?: (url: string) => Promise<boolean | null>; permission?: () => Promise<PermissionState | null> },
): Promise<TanbaError>;

export declare function diagnoseTls(
  wssUrl: string,
  hooks?: { probe?: (url: string) => Promise<boolean | null>; permission?: () => Promise<PermissionState | null> },
): Promise<TanbaError>;

export declare class TanbaClient extends EventTarget {
  /** the address it connected to (wss:// or ws://) */
  readonly url: string;
  /** agent.hello's answer, when connect() asked it (it does for ws:// addresses) */
  agent?: Hello;
  requestTimeout: number;
  readonly closed: boolean;
  readonly inFlight: number;
  call<T = unknown>(method: string, params?: object, options?: CallOptions): Promise<T>;
  hello(options?: CallOptions): Promise<Hello>;
  certsList(filter?: CertFilter, options?: CallOptions): Promise<CertsList>;
  sign(params: SignParams, options?: CallOptions): Promise<SignResult>;
  auth(challenge: string, options?: CallOptions & { filter?: CertFilter }): Promise<AuthToken>;
  verify(params: VerifyParams, options?: CallOptions): Promise<VerifyResult>;
  signFiles(
    files: Blob[],
    params?: Omit<SignParams, "data" | "digests">,
    options?: CallOptions & { onHashProgress?: (p: { index: number; done: number; total: number }) => void },
  ): Promise<SignResult>;
  close(): void;
  addEventListener(type: "progress", listener: (event: CustomEvent<Progress>) => void): void;
  addEventListener(type: "close", listener: (event: CustomEvent<{ code: number; reason: string }>) => void): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null): void;
}

export declare class Sha256 {
  update(data: Bytes | string): this;
  digest(): Uint8Array;
}
export declare function hashFile(
  blob: Blob,
  options?: { algorithm?: DigestAlgorithm; onProgress?: (done: number, total: number) => void; wholeFileLimit?: number; chunkSize?: number },
): Promise<Uint8Array>;
export declare function toBase64(value: Bytes | string): string;
export declare function fromBase64(text: string): Uint8Array;
