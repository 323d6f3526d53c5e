// The demo portal page: every native method through the JS client, results shown readably,
// in the browser's language (ru, kk or en; ?lang=xx overrides) — the agent's prompts too.
import { TanbaError, connect, fromBase64, toBase64 } from "./tanba.js";

const $ = (id) => document.getElementById(id);
const LOCALES = ["ru", "kk", "en"];
let client = null;
let config = null;
let catalog = {}; // this page's texts in its locale (messages.json)
let fallback = {}; // the English ones
let locale = "en";
let lastText = null; // {format, signature, data?} of the last text signature
let lastFile = null; // {signature, file}

/** The first of ?lang=, the browser's languages, the server's Accept-Language pick that we speak. */
function pickLocale(fromServer) {
  const asked = new URLSearchParams(location.search).get("lang");
  for (const tag of [asked, ...(navigator.languages ?? [navigator.language]), fromServer]) {
    const short = String(tag ?? "").toLowerCase().split(/[-_]/)[0];
    if (LOCALES.includes(short)) return short;
  }
  return "en";
}

function t(key, values = {}) {
  const template = catalog[key] ?? fallback[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function translatePage() {
  document.documentElement.lang = locale;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const link of document.querySelectorAll(".langs a")) {
    if (link.hreflang === locale) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

const STATES = ["connected", "not_running", "blocked", "site_not_approved", "timeout"];

function setStatus(state, detail) {
  const known = STATES.includes(state) || state === "connecting";
  $("status").dataset.state = state;
  $("status-title").textContent = known ? t(`status.${state}`) : t("status.problem");
  $("status-detail").textContent = detail ?? (STATES.includes(state) && state !== "connected" ? t(`status.${state}.help`) : "");
  $("reconnect").hidden = state === "connected" || state === "connecting";
  for (const id of ["list-certs", "sign-text", "sign-file", "auth"]) $(id).disabled = state !== "connected";
}

/** rows: [term, value (text or a Node), css class?, code?]; the code lands in dd's data-code. */
function facts(dl, rows) {
  dl.replaceChildren();
  for (const [term, value, cls, code] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value ?? "—";
    if (cls) dd.className = cls;
    if (code) dd.dataset.code = code;
    dl.append(dt, dd);
  }
  dl.hidden = false;
}

function note(id, text) {
  $(id).textContent = text ?? "";
  $(id).hidden = !text;
}

function showError(id, err) {
  const box = $(id);
  if (!err) { box.hidden = true; return; }
  const reason = err instanceof TanbaError ? ` (${err.reason})` : "";
  box.textContent = `${err.message}${reason}`;
  box.hidden = false;
  if (err instanceof TanbaError && err.reason === "disconnected") setStatus("not_running", t("status.lost"));
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer;
}

const describe = (pem) => post("/api/certificate", { pem });
const owner = (c) => `${c.name}${c.iin ? ` (${t("owner.iin")} ${c.iin})` : ""}${c.bin ? ` ${t("owner.bin")} ${c.bin}` : ""}`;
const when = (iso) => (iso ? new Date(iso).toLocaleString(locale) : "—");
const revocationRow = (status) => [t("verify.revocation"), t(`revocation.${status}`),
  status === "good" ? "good" : status === "revoked" ? "bad" : "meh", status];

/** The problem codes as sentences, each in an <li data-code="…">. */
function problemList(codes) {
  const list = document.createElement("ul");
  list.className = "problems";
  for (const code of codes) {
    const item = document.createElement("li");
    item.dataset.code = code;
    item.textContent = `problem.${code}` in fallback ? t(`problem.${code}`) : code;
    list.append(item);
  }
  return list;
}

async function load() {
  const [settings, messages] = await Promise.all([
    fetch("/config.json").then((r) => r.json()),
    fetch("/messages.json").then((r) => r.json()),
  ]);
  config = settings;
  locale = pickLocale(config.locale);
  fallback = messages.en;
  catalog = messages[locale] ?? messages.en;
  translatePage();
  $("text").value = t("text.sample");
  drafts.text = $("text").value;
  $("page-origin").textContent = location.origin;
}

async function start() {
  setStatus("connecting", "");
  try {
    // the locale travels in the WebSocket URL: the agent's prompts and errors speak it
    client = await connect({ url: config.agentUrl, locale });
  } catch (err) {
    if (err instanceof TanbaError) setStatus(err.reason);
    else setStatus("not_running", String(err));
    return;
  }
  client.addEventListener("close", () => setStatus("not_running", t("status.lost")));
  setStatus("connected");
  const hello = await client.hello();
  $("status-detail").textContent = t("status.connected.detail", { name: hello.name, version: hello.version, url: config.agentUrl });
  facts($("agent-info"), [[t("agent.name"), hello.name], [t("agent.version"), hello.version],
    [t("agent.protocol"), String(hello.protocol)], [t("agent.methods"), hello.capabilities.join(", ")],
    [t("agent.address"), config.agentUrl]]);
}

async function listCerts() {
  showError("certs-error", null);
  try {
    const { certificates } = await client.certsList();
    const body = $("certs").querySelector("tbody");
    body.replaceChildren();
    for (const c of certificates) {
      const row = document.createElement("tr");
      const purpose = c.extKeyUsage.includes("1.3.6.1.5.5.7.3.2") ? t("purpose.auth") : t("purpose.sign");
      const cells = [c.subject.CN + (c.subject.O ? ` / ${c.subject.O}` : ""), [c.iin, c.bin].filter(Boolean).join(" / "),
        purpose, c.issuer.replace(/^.*CN=([^,]+).*$/, "$1"), c.notAfter.slice(0, 10), c.storage];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      body.append(row);
    }
    $("certs").hidden = false;
  } catch (err) {
    showError("certs-error", err);
  }
}

const SAMPLE_XML = '<?xml version="1.0" encoding="UTF-8"?>\n<application><number>42</number><text>Прошу выдать справку</text></application>';
// What the text box holds for XML and for the other formats: switching formats keeps both.
const drafts = { text: "", xml: SAMPLE_XML };
let draftKind = "text";

async function signText() {
  showError("text-error", null);
  $("text-result").hidden = true;
  const choice = $("format").value;
  const text = $("text").value;
  const format = choice.startsWith("cms") ? "cms" : choice;
  const params = { format, data: [toBase64(text)], filter: { keyUsage: "sign" } };
  if (format === "cms") params.detached = choice === "cms-detached";
  try {
    const result = await client.sign(params);
    const signer = await describe(result.certificate);
    lastText = { format, signature: result.signatures[0], data: choice === "cms-detached" ? toBase64(text) : undefined };
    $("signature").value = result.signatures[0];
    facts($("text-facts"), [[t("fact.signed_by"), owner(signer)], [t("fact.issuer"), signer.issuer],
      [t("fact.format"), $("format").selectedOptions[0].text],
      [t("fact.size"), t("fact.size.value", { n: fromBase64(result.signatures[0]).length })],
      [t("fact.chain_sent"), t("fact.chain_sent.value", { n: result.chain.length })]]);
    const raw = format === "raw";
    $("verify-text").disabled = raw;
    $("verify-text").title = raw ? t("verify.raw_disabled") : "";
    note("verify-text-note", raw ? t("verify.raw_disabled") : null);
    $("text-verify").replaceChildren();
    $("text-result").hidden = false;
  } catch (err) {
    showError("text-error", err);
  }
}

async function showVerification(dl, params) {
  const result = await client.verify(params);
  const rows = [[t("verify.verdict"), result.valid ? t("verify.valid") : t("verify.not_valid"), result.valid ? "good" : "bad",
    result.valid ? "valid" : "not_valid"]];
  for (const s of result.signers) {
    const who = s.certificate ? owner(await describe(s.certificate)) : t("verify.unknown_signer");
    rows.push([t("verify.signer"), who], [t("verify.signing_time"), when(s.signingTime)]);
    if (s.timestamp) rows.push([t("verify.timestamp"), when(s.timestamp)]);
    rows.push([t("verify.signature"), s.signatureValid ? t("verify.intact") : t("verify.broken"), s.signatureValid ? "good" : "bad"]);
    rows.push([t("verify.chain"), s.chainValid ? t("verify.trusted") : t("verify.not_trusted"), s.chainValid ? "good" : "bad",
      s.chainValid ? "trusted" : "not_trusted"]);
    rows.push(revocationRow(s.revocation));
    if (s.problems.length) rows.push([t("verify.problems"), problemList(s.problems)]);
  }
  facts(dl, rows);
}

async function verifyText() {
  showError("text-error", null);
  try {
    const params = { format: lastText.format, signature: lastText.signature };
    if (lastText.data) params.data = lastText.data;
    await showVerification($("text-verify"), params);
  } catch (err) {
    showError("text-error", err);
  }
}

function resetProgress(hidden) {
  const bar = $("hash-progress");
  bar.max = 1;
  bar.value = 0;
  bar.hidden = hidden;
}

async function signFile() {
  showError("file-error", null);
  $("file-result").hidden = true;
  const file = $("file").files[0];
  if (!file) { resetProgress(true); showError("file-error", new Error(t("file.choose_first"))); return; }
  resetProgress(false); // a new run starts from zero, not where the last one ended
  const bar = $("hash-progress");
  try {
    const result = await client.signFiles([file], { filter: { keyUsage: "sign" } }, {
      onHashProgress: ({ done, total }) => { bar.max = total || 1; bar.value = done; },
    });
    const signer = await describe(result.certificate);
    lastFile = { signature: result.signatures[0], file };
    $("file-signature").value = result.signatures[0];
    const link = $("file-download");
    link.href = URL.createObjectURL(new Blob([fromBase64(result.signatures[0])], { type: "application/pkcs7-signature" }));
    link.download = `${file.name}.cms`;
    facts($("file-facts"), [[t("fact.file"), t("fact.file.value", { name: file.name, n: file.size })],
      [t("fact.signed_by"), owner(signer)], [t("fact.format"), t("fact.file.format")]]);
    $("file-verify").replaceChildren();
    const tooLarge = file.size > 32 * 1024 * 1024;
    $("verify-file").disabled = tooLarge;
    note("verify-file-note", tooLarge ? t("verify.too_large") : null);
    $("file-result").hidden = false;
  } catch (err) {
    showError("file-error", err);
  }
}

async function verifyFile() {
  showError("file-error", null);
  try {
    const data = new Uint8Array(await lastFile.file.arrayBuffer());
    await showVerification($("file-verify"), { format: "cms", signature: lastFile.signature, data });
  } catch (err) {
    showError("file-error", err);
  }
}

async function logIn() {
  showError("auth-error", null);
  $("auth-result").hidden = true;
  try {
    const { challenge } = await post("/api/challenge", {});
    const token = await client.auth(challenge);
    const checked = await post("/api/auth", { challenge, token });
    if (!checked.accepted && checked.error) {
      facts($("auth-result"), [[t("auth.result"), t("auth.refused"), "bad", "refused"], [t("auth.why"), checked.message]]);
      return;
    }
    facts($("auth-result"), [
      [t("auth.result"), checked.accepted ? t("auth.logged_in") : t("auth.refused"), checked.accepted ? "good" : "bad",
        checked.accepted ? "logged_in" : "refused"],
      [t("auth.who"), owner(checked)], [t("fact.issuer"), checked.issuer], [t("auth.algorithm"), checked.algorithm],
      [t("verify.chain"), checked.chainValid ? t("verify.trusted") : t("verify.not_trusted"), checked.chainValid ? "good" : "bad",
        checked.chainValid ? "trusted" : "not_trusted"],
      revocationRow(checked.revocation),
    ]);
  } catch (err) {
    showError("auth-error", err);
  }
}

$("format").addEventListener("change", () => {
  const text = $("text");
  const kind = $("format").value === "xml" ? "xml" : "text";
  if (kind === draftKind) return;
  drafts[draftKind] = text.value;
  // text the user already wrote as XML goes along to the XML format
  if (kind === "xml" && text.value.trimStart().startsWith("<")) drafts.xml = text.value;
  text.value = drafts[kind];
  draftKind = kind;
});
$("file").addEventListener("change", () => {
  resetProgress(true);
  $("file-result").hidden = true;
  showError("file-error", null);
});
$("reconnect").addEventListener("click", start);
$("list-certs").addEventListener("click", listCerts);
$("sign-text").addEventListener("click", signText);
$("verify-text").addEventListener("click", verifyText);
$("sign-file").addEventListener("click", signFile);
$("verify-file").addEventListener("click", verifyFile);
$("auth").addEventListener("click", logIn);
load().then(start);
