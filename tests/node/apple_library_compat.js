// Apple's own Node client (@apple/app-store-server-library, pinned in package.json) against
// `retainctl sim`: every answer the simulator gives goes through the library's own model
// validators, which throw on a shape Apple would never send.
//
// Run by tests/it/apple_library.rs with SIM_URL, KEY_FILE (PKCS#8 P-256 PEM) and
// BUNDLE_ID, in sandbox mode. The client is used unchanged except for its base URL.
// Prints one line per check and "N passed, 0 failed" at the end; exits 1 on a failure.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const {
  AppStoreServerAPIClient,
  APIException,
  APIError,
  Environment,
} = require('@apple/app-store-server-library');

const client = new AppStoreServerAPIClient(
  fs.readFileSync(process.env.KEY_FILE, 'utf8'),
  'KEYID12345',
  '57246542-96fe-1a63-e053-0824d011072a',
  process.env.BUNDLE_ID,
  Environment.SANDBOX,
);
client.urlBase = process.env.SIM_URL; // the only change: where the requests go

let passed = 0;
let failed = 0;
function check(name, condition, detail = '') {
  if (condition) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name} ${detail}`);
  }
}
async function expectError(name, error, call) {
  try {
    await call();
  } catch (e) {
    check(name, e instanceof APIException && e.apiError === error, `got ${e}`);
    return;
  }
  check(name, false, 'no error raised');
}
async function ok(name, call) {
  try {
    const value = await call();
    check(name, true);
    return value;
  } catch (e) {
    check(name, false, `threw ${e && e.stack ? e.stack : e}`);
    return undefined;
  }
}

// A PNG of width x height, one grey row repeated.
function png(width, height) {
  const chunk = (kind, data) => {
    const body = Buffer.concat([Buffer.from(kind, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32 ? zlib.crc32(body) : crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const row = Buffer.alloc(width + 1, 0x80);
  row[0] = 0;
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

async function main() {
  const icon = crypto.randomUUID();
  await ok('uploadImage', () => client.uploadImage(icon, png(1024, 1024), 'BULLET_POINT'));
  const images = await ok('getImageList', () => client.getImageList());
  check('the image is listed', (images?.imageIdentifiers ?? []).some((i) => i.imageIdentifier === icon));

  const message = crypto.randomUUID();
  await ok('uploadMessage', () => client.uploadMessage(message, { header: 'Stay', body: 'Keep it.' }));
  const messages = await ok('getMessageList', () => client.getMessageList());
  check('the message is listed', (messages?.messageIdentifiers ?? []).some((m) => m.messageIdentifier === message));
  await expectError('MessageAlreadyExists', APIError.MESSAGE_ALREADY_EXISTS, () =>
    client.uploadMessage(message, { header: 'Stay', body: 'Keep it.' }));

  await ok('configureDefaultMessage', () =>
    client.configureDefaultMessage('premium', 'en-US', { messageIdentifier: message }));
  const got = await ok('getDefaultMessage', () => client.getDefaultMessage('premium', 'en-US'));
  check('the default is the message', got?.messageIdentifier === message, JSON.stringify(got));

  // A realtime URL that accepts connections and never answers: the first attempts of the
  // performance test are still in flight when its result is first read.
  const silent = net.createServer(() => {});
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${silent.address().port}/apple/retention`;
  await ok('configureRealtimeURL', () => client.configureRealtimeURL({ realtimeURL: url }));
  const realtime = await ok('getRealtimeURL', () => client.getRealtimeURL());
  check('the realtime URL reads back', realtime?.realtimeURL === url);

  const test = await ok('initiatePerformanceTest', () =>
    client.initiatePerformanceTest({ originalTransactionId: '2000000123456789' }));
  const first = await ok('getPerformanceTestResults before any answer is measured', () =>
    client.getPerformanceTestResults(test.requestId));
  check('a PENDING result carries responseTimes', first?.responseTimes !== undefined, JSON.stringify(first));
  let result = first;
  const deadline = Date.now() + 60000;
  while (result && result.result === 'PENDING' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    result = await ok('getPerformanceTestResults while it runs', () => client.getPerformanceTestResults(test.requestId));
  }
  check('the test ends FAIL (nothing answered)', result?.result === 'FAIL', JSON.stringify(result));
  silent.close();
  await expectError('PerformanceTestRunNotFound', APIError.PERFORMANCE_TEST_RUN_NOT_FOUND, () =>
    client.getPerformanceTestResults(crypto.randomUUID()));

  await ok('deleteDefaultMessage', () => client.deleteDefaultMessage('premium', 'en-US'));
  await ok('deleteRealtimeURL', () => client.deleteRealtimeURL());
  await ok('deleteMessage', () => client.deleteMessage(message));
  await ok('deleteImage', () => client.deleteImage(icon));
  await expectError('ImageNotFound', APIError.IMAGE_NOT_FOUND, () => client.deleteImage(icon));
}

main()
  .catch((e) => check('the run', false, e && e.stack ? e.stack : String(e)))
  .finally(() => {
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
  });
