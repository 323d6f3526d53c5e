// The demo portal page: every native method through the JS client, results shown readably.
import { TanbaError, connect, fromBase64, toBase64 } from "./tanba.js";

const $ = (id) => document.getElementById(id);
let client = null;
let config = null;
let lastText = null; // {format, signature, data?} of the last text signature
let lastFile = null; // {signature, file}

const STATUS = {
  connected: ["Connected to Tanba", ""],
  not_running: ["Tanba is not running", "Start it (tanba serve, or tanba demo for this page) and try again."],
  blocked: ["Your browser blocked this page from reaching Tanba",
    "Allow “local network access” for this site (the icon left of the address bar → Site settings), then try again."],
  site_not_approved: ["Tanba has not approved this site",
    "Tanba refused this page's origin. Allow it in Tanba's prompt, or ask your administrator to add it to allow-origin."],
  timeout: ["Tanba did not answer", "It may be waiting for you to answer a question in its window or terminal."],
};

function setStatus(state, detail) {
  const [title, help] = STATUS[state] ?? ["Connection problem", ""];
  $("status").dataset.state = state;
  $("status-title").textContent = title;
  $("status-detail").textContent = detail ?? help;
  $("reconnect").hidden = state === "connected";
  for (const id of ["list-certs", "sign-text", "sign-file", "auth"]) $(id).disabled = state !== "connected";
}

function facts(dl, rows) {
  dl.replaceChildren();
  for (const [term, value, cls] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value ?? "—";
    if (cls) dd.className = cls;
    dl.append(dt, dd);
  }
  dl.hidden = false;
}

function showError(id, err) {
  const box = $(id);
  if (!err) { box.hidden = true; return; }
  const reason = err instanceof TanbaError ? ` (${err.reason})` : "";
  box.textContent = `${err.message}${reason}`;
  box.hidden = false;
  if (err instanceof TanbaError && err.reason === "disconnected") setStatus("not_running", "The connection to Tanba was lost.");
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer;
}

const describe = (pem) => post("/api/certificate", { pem });
const owner = (c) => `${c.name}${c.iin ? ` (IIN ${c.iin})` : ""}${c.bin ? ` BIN ${c.bin}` : ""}`;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

async function start() {
  config = await (await fetch("/config.json")).json();
  $("page-origin").textContent = location.origin;
  setStatus("connecting", "");
  $("status").dataset.state = "connecting";
  $("status-title").textContent = "Looking for Tanba…";
  try {
    client = await connect({ url: config.agentUrl, locale: document.documentElement.lang });
  } catch (err) {
    if (err instanceof TanbaError) setStatus(err.reason);
    else setStatus("not_running", String(err));
    return;
  }
  client.addEventListener("close", () => setStatus("not_running", "The connection to Tanba was lost."));
  setStatus("connected");
  const hello = await client.hello();
  $("status-detail").textContent = `${hello.name} ${hello.version} at ${config.agentUrl}`;
  facts($("agent-info"), [["Name", hello.name], ["Version", hello.version], ["Protocol", String(hello.protocol)],
    ["Methods", hello.capabilities.join(", ")], ["Address", config.agentUrl]]);
}

async function listCerts() {
  showError("certs-error", null);
  try {
    const { certificates } = await client.certsList();
    const body = $("certs").querySelector("tbody");
    body.replaceChildren();
    for (const c of certificates) {
      const row = document.createElement("tr");
      const purpose = c.extKeyUsage.includes("1.3.6.1.5.5.7.3.2") ? "authentication" : "signing";
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
    facts($("text-facts"), [["Signed by", owner(signer)], ["Issuer", signer.issuer], ["Format", $("format").selectedOptions[0].text],
      ["Size", `${fromBase64(result.signatures[0]).length} bytes`], ["Chain sent", `${result.chain.length} certificate(s)`]]);
    $("verify-text").disabled = format === "raw";
    $("text-verify").replaceChildren();
    $("text-result").hidden = false;
  } catch (err) {
    showError("text-error", err);
  }
}

async function showVerification(dl, params) {
  const result = await client.verify(params);
  const rows = [["Verdict", result.valid ? "valid" : "NOT valid", result.valid ? "good" : "bad"]];
  for (const s of result.signers) {
    const who = s.certificate ? owner(await describe(s.certificate)) : "unknown signer";
    rows.push(["Signer", who], ["Signing time", when(s.signingTime)]);
    if (s.timestamp) rows.push(["Timestamp", when(s.timestamp)]);
    rows.push(["Signature", s.signatureValid ? "intact" : "broken", s.signatureValid ? "good" : "bad"]);
    rows.push(["Chain", s.chainValid ? "trusted" : "not trusted", s.chainValid ? "good" : "bad"]);
    rows.push(["Revocation", s.revocation, s.revocation === "good" ? "good" : s.revocation === "revoked" ? "bad" : "meh"]);
    if (s.problems.length) rows.push(["Problems", s.problems.join(", ")]);
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

async function signFile() {
  showError("file-error", null);
  $("file-result").hidden = true;
  const file = $("file").files[0];
  if (!file) { showError("file-error", new Error("Choose a file first.")); return; }
  const bar = $("hash-progress");
  bar.hidden = false;
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
    facts($("file-facts"), [["File", `${file.name} (${file.size} bytes)`], ["Signed by", owner(signer)],
      ["Format", "CMS (CAdES-BES), detached, over the SHA-256 digest"]]);
    $("file-verify").replaceChildren();
    $("verify-file").disabled = file.size > 32 * 1024 * 1024;
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
      facts($("auth-result"), [["Result", "refused", "bad"], ["Why", checked.message]]);
      return;
    }
    facts($("auth-result"), [
      ["Result", checked.accepted ? "logged in" : "refused", checked.accepted ? "good" : "bad"],
      ["Who", owner(checked)], ["Issuer", checked.issuer], ["Algorithm", checked.algorithm],
      ["Chain", checked.chainValid ? "trusted" : "not trusted", checked.chainValid ? "good" : "bad"],
      ["Revocation", checked.revocation, checked.revocation === "good" ? "good" : checked.revocation === "revoked" ? "bad" : "meh"],
    ]);
  } catch (err) {
    showError("auth-error", err);
  }
}

$("format").addEventListener("change", () => {
  const text = $("text");
  if ($("format").value === "xml" && !text.value.trimStart().startsWith("<")) text.value = SAMPLE_XML;
});
$("reconnect").addEventListener("click", start);
$("list-certs").addEventListener("click", listCerts);
$("sign-text").addEventListener("click", signText);
$("verify-text").addEventListener("click", verifyText);
$("sign-file").addEventListener("click", signFile);
$("verify-file").addEventListener("click", verifyFile);
$("auth").addEventListener("click", logIn);
start();
