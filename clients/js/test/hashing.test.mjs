// Offline parts of the client: base64, the incremental SHA-256, hashFile. Runs without an agent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";

import { Sha256, fromBase64, hashFile, toBase64 } from "../tanba.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const nodeSha = (bytes, alg = "sha256") => createHash(alg).update(bytes).digest("hex");

test("base64 matches Node's Buffer both ways, for every tail length", () => {
  for (let n = 0; n < 70; n++) {
    const bytes = randomBytes(n);
    assert.equal(toBase64(bytes), bytes.toString("base64"));
    assert.equal(hex(fromBase64(bytes.toString("base64"))), bytes.toString("hex"));
  }
  assert.equal(toBase64("таңба"), Buffer.from("таңба").toString("base64"));
  assert.throws(() => fromBase64("not*base64"), TypeError);
});

test("SHA-256 equals node:crypto around every padding boundary", () => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
    const data = randomBytes(n);
    assert.equal(hex(new Sha256().update(data).digest()), nodeSha(data), `length ${n}`);
  }
});

test("SHA-256 fed in odd pieces equals one update", () => {
  const data = randomBytes(10_007);
  const hash = new Sha256();
  for (let i = 0, step = 1; i < data.length; i += step, step = (step * 7) % 301 + 1) {
    hash.update(data.subarray(i, i + step));
  }
  assert.equal(hex(hash.digest()), nodeSha(data));
  assert.throws(() => hash.update(data), /after digest/);
});

test("hashFile: WebCrypto for small files, chunked JS above the limit, same digest", async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const blob = new Blob([data]);
  const seen = [];
  const whole = await hashFile(blob);
  const chunked = await hashFile(blob, { wholeFileLimit: 0, chunkSize: 1024 * 1024, onProgress: (d, t) => seen.push([d, t]) });
  assert.equal(hex(whole), nodeSha(data));
  assert.equal(hex(chunked), nodeSha(data));
  assert.deepEqual(seen.map(([d]) => d), [1048576, 2097152, 3145728, data.length]);
  assert.equal(hex(await hashFile(blob, { algorithm: "sha384" })), nodeSha(data, "sha384"));
});

test("hashFile refuses sha384 above the WebCrypto limit and unknown algorithms", async () => {
  const blob = new Blob([randomBytes(10)]);
  await assert.rejects(hashFile(blob, { algorithm: "sha384", wholeFileLimit: 1 }), { name: "TanbaError", reason: "too_large" });
  await assert.rejects(hashFile(blob, { algorithm: "md5" }), { reason: "invalid_params" });
});
