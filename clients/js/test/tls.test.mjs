// wss or ws: connect() against agents that speak wss, started by tests/clients/test_js_client.py:
//   TANBA_TLS_PORT            an agent with a local certificate whose CA Node trusts (NODE_EXTRA_CA_CERTS)
//   TANBA_TLS_UNTRUSTED_PORT  an agent with a certificate from another install's CA, which Node does not trust
//   TANBA_AGENT_URL           ws://127.0.0.1:PORT/v1 of an agent without a certificate
//   TANBA_ORIGIN / TANBA_DENIED_ORIGIN  an origin the agents allow / one the (scripted) user refuses
import { test } from "node:test";
import assert from "node:assert/strict";

import { TLS_REQUIRED, TanbaError, connect } from "../tanba.js";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests via pytest tests/clients/test_js_client.py`);
  return value;
};
const TLS = env("TANBA_TLS_PORT");
const UNTRUSTED = env("TANBA_TLS_UNTRUSTED_PORT");
const PLAIN = new URL(env("TANBA_AGENT_URL")).port;
const ORIGIN = env("TANBA_ORIGIN");
const DENIED = env("TANBA_DENIED_ORIGIN");

const as = (origin) => (url) => new WebSocket(url, { headers: { Origin: origin } });
// DEFAULT_URLS, on the test agent's port
const both = (port) => [`wss://127.0.0.1:${port}/v1`, `ws://127.0.0.1:${port}/v1`];

test("an agent that speaks wss is reached over wss with the default order", async () => {
  const client = await connect({ urls: both(TLS), createSocket: as(ORIGIN) });
  try {
    assert.equal(client.url, `wss://127.0.0.1:${TLS}/v1`);
    assert.equal((await client.hello()).name, "tanba");
  } finally {
    client.close();
  }
});

test("an agent without a certificate is reached over ws after the wss attempt fails", async () => {
  const client = await connect({ urls: both(PLAIN), createSocket: as(ORIGIN) });
  try {
    assert.equal(client.url, `ws://127.0.0.1:${PLAIN}/v1`);
    assert.equal(client.agent.name, "tanba"); // connect asked agent.hello on ws://
  } finally {
    client.close();
  }
});

test("a certificate the client does not trust is reported as such, not as not_running", async () => {
  const err = await connect({ urls: both(UNTRUSTED), createSocket: as(ORIGIN) }).catch((e) => e);
  assert.ok(err instanceof TanbaError, String(err));
  assert.equal(err.reason, "certificate_untrusted");
  assert.equal(err.data.url, `wss://127.0.0.1:${UNTRUSTED}/v1`);
  assert.match(err.message, /tanba tls install/);
});

test("at a trusted wss agent, a refused site is site_not_approved, not a certificate problem", async () => {
  const err = await connect({ urls: both(TLS), createSocket: as(DENIED) }).catch((e) => e);
  assert.ok(err instanceof TanbaError, String(err));
  assert.equal(err.reason, "site_not_approved");
});

test("a ws:// address at a wss agent says where the agent is", async () => {
  const err = await connect({ url: `ws://127.0.0.1:${TLS}/v1`, createSocket: as(ORIGIN) }).catch((e) => e);
  assert.ok(err instanceof TanbaError, String(err));
  assert.equal(err.reason, "tls_required");
  assert.equal(err.data.url, `wss://127.0.0.1:${TLS}/v1`);
  assert.equal(TLS_REQUIRED, 4426);
});
