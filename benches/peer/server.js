#!/usr/bin/env node
// The peer `retainctl serve` is measured against (benches/serve_peer.sh): the small Node
// server a team would write for Apple's realtime retention-message requests, with Apple's
// own npm package @apple/app-store-server-library (pinned in package.json).
//
//   POST {"signedPayload": JWS}  ->  SignedDataVerifier.verifyAndDecodeRealtimeRequest
//     (x5c of 3 certificates, leaf <- intermediate <- one of OUR trusted roots, Apple's
//     OIDs, intermediate a CA, every certificate valid at signedDate, the ES256 signature,
//     environment) + what the library leaves to its caller and retainctl serve also checks:
//     appAppleId equal to --app-apple-id (the library compares it in Production only) and
//     signedDate at most 5 minutes old, at most 1 minute ahead (the library does not check
//     it at all).
//   -> 200 {"message":{"messageIdentifier":ID}} for any product (ID from --message-id);
//      400 a body that is not JSON with a string signedPayload; 401 verification failed or
//      stale; 403 wrong environment or app (retainctl serve's classes); 413 above 64 KiB;
//      405 another method. GET /healthz -> 200.
//
// With enableOnlineChecks=false the library verifies the whole chain on every request: it
// caches a verified chain only when online (OCSP) checks are on. That is the library's
// behaviour, kept as is: this is the peer a team gets by following Apple's README.
//
// A single process by default (the honest "small Node server"); --workers N forks N
// processes with node:cluster sharing the port (labelled as such in the results).
//
// Usage:
//   node server.js --root ROOT.pem [--root MORE.pem] --message-id UUID
//                  [--port 0] [--host 127.0.0.1] [--bundle-id com.bench.app]
//                  [--app-apple-id 1234567890] [--environment Sandbox] [--workers 1]
// (or PORT, PEER_ROOT, PEER_MESSAGE_ID, ... in the environment). Prints
// `listening on http://127.0.0.1:PORT` as its first line once it (every worker) listens.

'use strict';

const cluster = require('node:cluster');
const fs = require('node:fs');
const http = require('node:http');
const { X509Certificate } = require('node:crypto');
const {
  SignedDataVerifier,
  VerificationException,
  VerificationStatus,
  Environment,
} = require('@apple/app-store-server-library');

const MAX_BODY = 64 * 1024;
const MAX_AGE_MS = 5 * 60 * 1000;
const MAX_AHEAD_MS = 60 * 1000;

function parseArgs(argv, env) {
  const opts = {
    port: env.PORT ?? '0',
    host: env.PEER_HOST ?? '127.0.0.1',
    roots: env.PEER_ROOT ? [env.PEER_ROOT] : [],
    messageId: env.PEER_MESSAGE_ID,
    bundleId: env.PEER_BUNDLE_ID ?? 'com.bench.app',
    appAppleId: env.PEER_APP_APPLE_ID ?? '1234567890',
    environment: env.PEER_ENVIRONMENT ?? 'Sandbox',
    workers: env.PEER_WORKERS ?? '1',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--port': opts.port = value(); break;
      case '--host': opts.host = value(); break;
      case '--root': opts.roots.push(value()); break;
      case '--message-id': opts.messageId = value(); break;
      case '--bundle-id': opts.bundleId = value(); break;
      case '--app-apple-id': opts.appAppleId = value(); break;
      case '--environment': opts.environment = value(); break;
      case '--workers': opts.workers = value(); break;
      default: throw new Error(`unknown argument ${flag}`);
    }
  }
  if (opts.roots.length === 0) throw new Error('--root ROOT.pem is required');
  if (!opts.messageId) throw new Error('--message-id UUID is required');
  opts.port = Number(opts.port);
  opts.workers = Math.max(1, Number(opts.workers) | 0);
  opts.appAppleId = opts.appAppleId === '' ? undefined : Number(opts.appAppleId);
  const environments = { Sandbox: Environment.SANDBOX, Production: Environment.PRODUCTION };
  if (!(opts.environment in environments)) throw new Error('--environment is Sandbox or Production');
  opts.environment = environments[opts.environment];
  return opts;
}

// Every CERTIFICATE block of a PEM file, as DER Buffers (what SignedDataVerifier takes).
function derCertificates(path) {
  const text = fs.readFileSync(path, 'utf8');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${path} holds no PEM certificate`);
  return blocks.map((pem) => new X509Certificate(pem).raw);
}

function send(res, status, body) {
  if (body === undefined) {
    res.writeHead(status, { 'content-length': 0 });
    res.end();
    return;
  }
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function makeServer(opts) {
  const roots = opts.roots.flatMap(derCertificates);
  const verifier = new SignedDataVerifier(
    roots,
    false, // enableOnlineChecks: no OCSP; certificates checked at the request's signedDate
    opts.environment,
    opts.bundleId,
    opts.appAppleId,
  );
  const answer = JSON.stringify({ message: { messageIdentifier: opts.messageId } });

  async function handle(raw, res) {
    let signedPayload;
    try {
      signedPayload = JSON.parse(raw).signedPayload;
    } catch {
      signedPayload = undefined;
    }
    if (typeof signedPayload !== 'string') return send(res, 400);
    let request;
    try {
      request = await verifier.verifyAndDecodeRealtimeRequest(signedPayload);
    } catch (e) {
      if (e instanceof VerificationException &&
          (e.status === VerificationStatus.INVALID_ENVIRONMENT ||
           e.status === VerificationStatus.INVALID_APP_IDENTIFIER)) {
        return send(res, 403);
      }
      return send(res, 401);
    }
    // what the library leaves to its caller
    if (opts.appAppleId !== undefined && request.appAppleId !== opts.appAppleId) {
      return send(res, 403);
    }
    const age = Date.now() - request.signedDate;
    if (age > MAX_AGE_MS || -age > MAX_AHEAD_MS) return send(res, 401);
    // the rule: any product -> the message
    return send(res, 200, answer);
  }

  return http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      return send(res, 200, '{"status":"ok"}');
    }
    if (req.method !== 'POST') return send(res, 405);
    const chunks = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_BODY) {
        refused = true;
        res.setHeader('connection', 'close');
        send(res, 413);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      handle(Buffer.concat(chunks).toString('utf8'), res).catch(() => {
        if (!res.headersSent) send(res, 500);
      });
    });
  });
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`server.js: ${e.message}\n`);
    process.exit(2);
  }

  if (opts.workers > 1 && cluster.isPrimary) {
    // node:cluster: the primary holds the listening socket; the workers take connections
    let listening = 0;
    let port;
    let shuttingDown = false;
    for (let i = 0; i < opts.workers; i++) {
      const worker = cluster.fork();
      worker.on('listening', (address) => {
        port = address.port;
        listening += 1;
        if (listening === opts.workers) {
          process.stdout.write(`listening on http://${opts.host}:${port}\n`);
          process.stderr.write(`server.js: ${opts.workers} cluster workers: ${
            Object.values(cluster.workers).map((w) => w.process.pid).join(' ')}\n`);
        }
      });
    }
    cluster.on('exit', (worker, code, signal) => {
      if (!shuttingDown) {
        process.stderr.write(`server.js: worker ${worker.process.pid} died (${signal ?? code})\n`);
        process.exit(1);
      }
    });
    const stop = () => {
      shuttingDown = true;
      for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
      setTimeout(() => process.exit(0), 2000).unref();
      cluster.on('exit', () => {
        if (Object.keys(cluster.workers).length === 0) process.exit(0);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return;
  }

  const server = makeServer(opts);
  server.keepAliveTimeout = 5000; // retainctl serve's idle time for a kept-alive connection
  server.headersTimeout = 5000;
  server.requestTimeout = 10000;
  server.listen(opts.port, opts.host, () => {
    if (cluster.isPrimary) {
      process.stdout.write(`listening on http://${opts.host}:${server.address().port}\n`);
    }
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
