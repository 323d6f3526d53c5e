// Types for tanba.js (the Tanba agent's native API, /v1).

export declare const DEFAULT_URL: string;
export declare const VERSION: string;
export declare const WHOLE_FILE_LIMIT: number;
export declare const CHUNK_SIZE: number;

export type AgentReason =
  | "invalid_request" | "invalid_params" | "method_not_found" | "origin_denied" | "user_cancelled"
  | "busy" | "no_certificate" | "wrong_pin" | "pin_locked" | "token_removed" | "store_error"
  | "timestamp_failed" | "too_large" | "internal";
export type ClientReason = "not_running" | "blocked" | "site_not_approved" | "timeout" | "disconnected" | "protocol";
export type Reason = AgentReason | ClientReason;
export declare const CLIENT_REASONS: readonly ClientReason[];

export declare class TanbaError extends Error {
  readonly name: "TanbaError";
  readonly reason: Reason;
  /** JSON-RPC code for agent errors (e.g. -32005 wrong_pin); null for client-side reasons. */
  readonly code: number | null;
  /** The error's data: always has `reason`; e.g. `retriesLeft`, `field`, `cause`. */
  readonly data: { reason: Reason; [key: string]: unknown };
  constructor(reason: Reason, message: string, options?: { code?: number | null; data?: object; cause?: unknown });
}

export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView;
export type DigestAlgorithm = "sha256" | "sha384" | "sha512";

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
  digestAlgorithm?: DigestAlgorithm;
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

export interface VerifyParams { format: "cms" | "xml"; signature: Bytes | string; data?: Bytes | string }
export interface SignerResult {
  certificate: string;
  signingTime: string | null;
  timestamp?: string;
  chainValid: boolean;
  revocation: "good" | "revoked" | "unknown";
  signatureValid: boolean;
  problems: string[];
}
export interface VerifyResult { valid: boolean; signers: SignerResult[] }

export interface Progress { id: number | string; done: number; total: number }
export interface CallOptions { timeout?: number; onProgress?: (progress: Progress) => void }

export interface ConnectOptions {
  url?: string;
  locale?: "ru" | "kk" | "en" | string;
  /** ms to wait for the WebSocket to open (the user may be answering "allow this site?"); default 130000 */
  timeout?: number;
  /** default per-request timeout in ms; default 300000 */
  requestTimeout?: number;
  WebSocket?: new (url: string) => WebSocket;
  createSocket?: (url: string) => WebSocket;
  diagnose?: (url: string) => Promise<TanbaError>;
}

export declare function connect(options?: ConnectOptions): Promise<TanbaClient>;
export declare function diagnose(
  url: string,
  hooks?: { probe?: (url: string) => Promise<boolean | null>; permission?: () => Promise<PermissionState | null> },
): Promise<TanbaError>;

export declare class TanbaClient extends EventTarget {
  readonly url: string;
  requestTimeout: number;
  readonly closed: boolean;
  readonly inFlight: number;
  call<T = unknown>(method: string, params?: object, options?: CallOptions): Promise<T>;
  hello(options?: CallOptions): Promise<Hello>;
  certsList(filter?: CertFilter, options?: CallOptions): Promise<{ certificates: CertInfo[] }>;
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
