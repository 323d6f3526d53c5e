// The client against a live agent. Started by tests/clients/test_js_client.py, which runs an
// agent with real PKCS#12 stores and a scripted user and passes where to find it:
//   TANBA_AGENT_URL      ws://127.0.0.1:PORT/v1 of the running agent
//   TANBA_ORIGIN         an origin the agent allows (sent as the Origin header, like a page)
//   TANBA_DENIED_ORIGIN  an origin the (scripted) user refuses
//   TANBA_DOWN_URL       a ws:// URL where nothing listens
//   TANBA_SIGN_IIN / TANBA_AUTH_IIN   the IIN of the signing / authentication certificate
// Node has no page, so the Origin header is set via undici's WebSocket `headers` option.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate, verify as nodeVerify } from "node:crypto";

import { TanbaError, connect, fromBase64, toBase64 } from "../tanba.js";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests via pytest tests/clients/test_js_client.py`);
  return value;
};
const URL_ = env("TANBA_AGENT_URL");
const ORIGIN = env("TANBA_ORIGIN");
const DENIED = env("TANBA_DENIED_ORIGIN");
const DOWN = env("TANBA_DOWN_URL");
const SIGN_IIN = env("TANBA_SIGN_IIN");
const AUTH_IIN = env("TANBA_AUTH_IIN");

const as = (origin) => (url) => new WebSocket(url, { headers: { Origin: origin } });
const clients = [];
const open = async (extra = {}) => {
  const client = await connect({ url: URL_, createSocket: as(ORIGIN), ...extra });
  clients.push(client);
  return client;
};
// a failed assertion must not leave a socket open (it would keep Node running)
afterEach(() => { for (const c of clients.splice(0)) c.close(); });
const sha256 = (...parts) => { const h = createHash("sha256"); for (const p of parts) h.update(p); return h.digest(); };

test("hello names the agent and its protocol", async () => {
  const client = await open();
  const hello = await client.hello();
  assert.equal(hello.name, "tanba");
  assert.equal(hello.protocol, 1);
  assert.ok(hello.capabilities.includes("sign"));
  client.close();
});

test("certsList shows the test certificates, filterable by IIN", async () => {
  const client = await open();
  const { certificates } = await client.certsList({ iin: SIGN_IIN, keyUsage: "sign" });
  assert.ok(certificates.length >= 1);
  for (const cert of certificates) assert.equal(cert.iin, SIGN_IIN);
  assert.match(certificates[0].pem, /BEGIN CERTIFICATE/);
  client.close();
});

test("sign text as attached CMS, then verify it through the agent", async () => {
  const client = await open();
  const text = "Заявление № 1 — таңба";
  const signed = await client.sign({ format: "cms", data: [toBase64(text)], detached: false, filter: { iin: SIGN_IIN } });
  assert.equal(signed.signatures.length, 1);
  assert.ok(new X509Certificate(signed.certificate).subject.includes(SIGN_IIN));
  const checked = await client.verify({ format: "cms", signature: signed.signatures[0] });
  assert.equal(checked.valid, true, JSON.stringify(checked));
  assert.equal(checked.signers[0].chainValid, true);
  client.close();
});

test("a File/Blob is hashed here and only its digest is signed; the detached CMS verifies against the bytes", async () => {
  const client = await open();
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 31) & 255);
  const signed = await client.signFiles([new Blob([bytes])], { filter: { iin: SIGN_IIN } });
  const good = await client.verify({ format: "cms", signature: signed.signatures[0], data: bytes });
  assert.equal(good.valid, true, JSON.stringify(good));
  bytes[7] ^= 1;
  const bad = await client.verify({ format: "cms", signature: signed.signatures[0], data: bytes });
  assert.equal(bad.valid, false);
  assert.ok(bad.signers[0].problems.includes("message_digest_mismatch"));
  client.close();
});

test("concurrent requests on one connection each get their own answer", async () => {
  const client = await open();
  const texts = ["one", "two", "three"];
  const pending = [
    client.hello(),
    ...texts.map((t) => client.sign({ format: "raw", data: [toBase64(t)], filter: { iin: SIGN_IIN } }).catch((e) => e)),
    client.hello(),
  ];
  assert.equal(client.inFlight, pending.length);
  const answers = await Promise.all(pending);
  assert.equal(answers[0].name, "tanba");
  assert.equal(answers.at(-1).name, "tanba");
  // one prompt at a time: the signs either succeed or are told `busy`, never mixed up
  const signs = answers.slice(1, -1);
  for (const a of signs) {
    if (a instanceof TanbaError) assert.equal(a.reason, "busy");
    else assert.equal(a.signatures.length, 1);
  }
  assert.ok(signs.some((a) => !(a instanceof TanbaError)));
  assert.equal(client.inFlight, 0);
  client.close();
});

test("a batch reports progress to the call and to the client's listeners", async () => {
  const client = await open();
  const fromCall = [];
  const fromEvents = [];
  client.addEventListener("progress", (e) => fromEvents.push(e.detail));
  const data = Array.from({ length: 40 }, (_, i) => toBase64(`document ${i}`));
  const signed = await client.sign({ format: "cms", data, filter: { iin: SIGN_IIN } }, { onProgress: (p) => fromCall.push(p) });
  assert.equal(signed.signatures.length, 40);
  assert.ok(fromCall.length >= 1);
  assert.deepEqual(fromCall.at(-1), { id: fromCall.at(-1).id, done: 40, total: 40 });
  assert.deepEqual(fromEvents, fromCall);
  client.close();
});

test("errors are TanbaErrors with the agent's reason, code, data and a message in the asked locale", async () => {
  const client = await open({ locale: "ru" });
  const none = await client.sign({ format: "cms", data: [toBase64("x")], filter: { iin: "000000000000" } }).catch((e) => e);
  assert.ok(none instanceof TanbaError);
  assert.equal(none.reason, "no_certificate");
  assert.equal(none.code, -32004);
  assert.match(none.message, /[А-Яа-я]/);
  const bad = await client.sign({ format: "pdf", data: [toBase64("x")] }).catch((e) => e);
  assert.equal(bad.reason, "invalid_params");
  assert.equal(bad.data.field, "params.format");
  assert.equal((await client.hello()).name, "tanba"); // the connection keeps serving
  client.close();
});

test("a request that outlives its timeout is rejected with reason timeout; its late answer is dropped", async () => {
  const client = await open();
  const signed = await client.sign({ format: "cms", data: [toBase64("late")], detached: false, filter: { iin: SIGN_IIN } });
  const params = { format: "cms", signature: signed.signatures[0] };
  const late = await client.verify(params, { timeout: 1 }).catch((e) => e);
  assert.equal(late.reason, "timeout");
  assert.equal(client.inFlight, 0);
  // the next request gets its own answer, not the late one
  assert.equal((await client.hello()).name, "tanba");
  assert.equal((await client.verify(params)).valid, true);
});

test("auth: a Web eID token whose signature covers hash(hash(origin) ‖ hash(challenge))", async () => {
  const client = await open();
  const challenge = toBase64(new Uint8Array(33).map((_, i) => i * 7));
  const token = await client.auth(challenge);
  assert.equal(token.format, "web-eid:1.0");
  assert.equal(token.algorithm, "RS256");
  const cert = new X509Certificate(Buffer.from(fromBase64(token.unverifiedCertificate)));
  assert.ok(cert.subject.includes(AUTH_IIN));
  const signed = Buffer.concat([sha256(ORIGIN), sha256(challenge)]);
  const signature = Buffer.from(fromBase64(token.signature));
  assert.equal(nodeVerify("sha256", signed, cert.publicKey, signature), true);
  const otherSite = Buffer.concat([sha256("https://evil.test"), sha256(challenge)]);
  assert.equal(nodeVerify("sha256", otherSite, cert.publicKey, signature), false);
  client.close();
});

test("closing the connection rejects what is in flight with reason disconnected", async () => {
  const client = await open();
  const closed = new Promise((resolve) => client.addEventListener("close", resolve));
  const data = Array.from({ length: 50 }, (_, i) => toBase64(`doc ${i}`));
  const pending = client.sign({ format: "cms", data, filter: { iin: SIGN_IIN } }).catch((e) => e);
  client.close();
  assert.equal((await pending).reason, "disconnected");
  await closed;
  assert.equal((await client.hello().catch((e) => e)).reason, "disconnected");
});

test("agent detection: not running", async () => {
  const err = await connect({ url: DOWN, createSocket: as(ORIGIN) }).catch((e) => e);
  assert.ok(err instanceof TanbaError);
  assert.equal(err.reason, "not_running");
});

test("agent detection: running but the site is not approved (403 before the upgrade)", async () => {
  const err = await connect({ url: URL_, createSocket: as(DENIED) }).catch((e) => e);
  assert.ok(err instanceof TanbaError);
  assert.equal(err.reason, "site_not_approved");
});
