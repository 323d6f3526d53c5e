// Drives the unmodified ncalayer-js-client (npm) against a running Tanba agent.
//
//   node drive.js WS_URL ORIGIN INPUT.json  ->  prints one JSON object: step name -> outcome
//
// Each outcome is {ok: true, value} or {ok: false, message, canceledByUser}.  The pytest
// file test_ncalayer_js_client.py starts the agent, runs this, and checks every outcome
// (every CMS with openssl, every XML with xmlsec1).
//
// The only thing set up around the package: in Node the client falls back to the `ws`
// package, which sends no Origin header, whereas every browser does.  A subclass of `ws`
// that adds the page's Origin is installed as the global WebSocket *before* the client
// is loaded, so the client picks it up exactly as it picks up a browser's WebSocket.
// Nothing in the package is changed.
'use strict';

const fs = require('fs');
const WS = require('ws');

const [url, origin, inputPath] = process.argv.slice(2);

class BrowserLikeWebSocket extends WS {
  constructor(address) {
    super(address, { origin });
  }
}
globalThis.WebSocket = BrowserLikeWebSocket;

const { NCALayerClient } = require('ncalayer-js-client');

const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));

async function outcome(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    return { ok: false, message: err.message, canceledByUser: Boolean(err.canceledByUser) };
  }
}

// The client's own raw channel (sendRequest + setHandlers, both public methods): used for
// what its API has no wrapper for (an unknown module).
function raw(client, request) {
  client.sendRequest(request);
  return new Promise((resolve, reject) => { client.setHandlers(resolve, reject); });
}

(async () => {
  const c = new NCALayerClient(url, false);
  const out = {};
  const P12 = NCALayerClient.fileStorageType;
  const TOKEN = NCALayerClient.basicsStorageKAZTOKEN[0];

  out.connect = await outcome(c.connect());
  out.isKmd = { ok: true, value: c.isKmd };

  if (input.timestampsOnly) {
    // only what asks for a timestamp: the agent under test has no usable TSA
    out.cmsWithTimestamp = await outcome(c.createCMSSignatureFromBase64(P12, input.doc, 'SIGNATURE', false));
    out.basicsCmsDetachedTsp = await outcome(c.basicsSignCMS(
      NCALayerClient.basicsStoragePKCS12, input.doc,
      NCALayerClient.basicsCMSParamsDetached, NCALayerClient.basicsSignerSignAny, 'ru',
    ));
    c.wsConnection.close();
    process.stdout.write(JSON.stringify(out));
    return;
  }

  out.getActiveTokens = await outcome(c.getActiveTokens());
  out.getKeyInfo = await outcome(c.getKeyInfo(P12));

  out.cadesAttached = await outcome(c.createCAdESFromBase64(P12, input.doc, 'SIGNATURE', true));
  out.cadesDetachedToken = await outcome(c.createCAdESFromBase64(TOKEN, input.doc, 'SIGNATURE', false));
  out.cadesAuth = await outcome(c.createCAdESFromBase64(P12, input.challenge, 'AUTHENTICATION', true));
  // the page hashes with the key's own hash: SHA-256 for RSA, Streebog for NCA's GOST keys
  out.cadesHash = await outcome(c.createCAdESFromBase64Hash(P12, input.docHash || input.docSha256, 'SIGNATURE'));
  out.cmsWithTimestamp = await outcome(c.createCMSSignatureFromBase64(P12, input.doc, 'SIGNATURE', false));

  out.signXml = await outcome(c.signXml(P12, input.xml, 'SIGNATURE', '', ''));
  out.signXmls = await outcome(c.signXmls(TOKEN, input.xmls, 'SIGNATURE', '', ''));

  out.basicsCmsArray = await outcome(c.basicsSignCMS(
    NCALayerClient.basicsStoragePKCS12, input.docs,
    NCALayerClient.basicsCMSParamsDetachedNoTSP, NCALayerClient.basicsSignerSignAny, 'ru',
  ));
  out.basicsCmsDetachedTsp = await outcome(c.basicsSignCMS(
    NCALayerClient.basicsStoragePKCS12, input.doc,
    NCALayerClient.basicsCMSParamsDetached, NCALayerClient.basicsSignerSignAny, 'ru',
  ));
  out.basicsCmsAttachedTsp = await outcome(c.basicsSignCMS(
    NCALayerClient.basicsStorageAll, input.doc,
    NCALayerClient.basicsCMSParamsAttached, NCALayerClient.basicsSignerSignPerson, 'ru',
  ));
  out.basicsCmsHash = await outcome(c.basicsSignCMS(
    NCALayerClient.basicsStorageKAZTOKEN, input.docSha256,
    NCALayerClient.basicsCMSParamsDetachedHash, NCALayerClient.basicsSignerSignAny, 'ru',
  ));
  out.basicsXmlArray = await outcome(c.basicsSignXML(
    NCALayerClient.basicsStoragePKCS12, input.xmls,
    NCALayerClient.basicsXMLParams, NCALayerClient.basicsSignerSignAny, 'ru',
  ));
  out.basicsXmlAuth = await outcome(c.basicsSignXML(
    NCALayerClient.basicsStorageAll, input.xml,
    NCALayerClient.basicsXMLParams, NCALayerClient.basicsSignerAuthAny, 'ru',
  ));

  out.cancelCommon = await outcome(c.createCAdESFromBase64(P12, input.cancelDoc, 'SIGNATURE', true));
  out.cancelBasics = await outcome(c.basicsSignCMS(
    NCALayerClient.basicsStoragePKCS12, input.cancelDoc,
    NCALayerClient.basicsCMSParamsAttached, NCALayerClient.basicsSignerSignAny, 'ru',
  ));

  out.changeLocale = await outcome(c.changeLocale('kz'));
  out.noCertificateInKazakh = await outcome(c.getKeyInfo('AKJaCartaStore'));
  out.badArgument = await outcome(c.createCAdESFromBase64(P12, input.doc, 123));
  let rawAnswer = null;
  c.onResponseReady = (text) => { rawAnswer = text; }; // the client's own test hook
  out.unknownModule = await outcome(raw(c, { module: 'kz.example.nonexistent', method: 'anything' }));
  out.unknownModule.raw = rawAnswer;

  c.wsConnection.close();
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
