import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { makeCert } from '../helpers/certs.js';
import { type Target, app, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

interface TlsReply {
  status: number;
  pid: number;
  fingerprint: string;
}

/** One HTTPS request on a new connection, verifying the server against `ca` (no rejectUnauthorized: false). */
function httpsRequest(target: Target, ca: string): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: target.host, port: target.port, path: '/', ca: readFileSync(ca), agent: false, timeout: 10_000 },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, pid: (JSON.parse(body) as { pid: number }).pid, fingerprint }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

test('HTTPS on the TCP bind and plain HTTP on the unix bind of the same process; both workers serve TLS', async (t) => {
  const dir = tempDir(t);
  const pair = makeCert(dir, 'server');
  const sock = join(dir, 'app.sock');
  const p = startPrefork(t, [
    '-w',
    '2',
    '-b',
    '127.0.0.1:0',
    '-b',
    `unix:${sock}`,
    '--certfile',
    pair.cert,
    '--keyfile',
    pair.key,
    app('pid.cjs'),
  ]);
  await p.ready();
  const [tcp, unix] = p.targets();
  assert.match(String(p.logs.find((l) => l.event === 'listening')?.address), /^https:\/\/127\.0\.0\.1:\d+$/);
  const pids = new Set<number>();
  for (let i = 0; i < 400 && pids.size < 2; i += 1) {
    const reply = await httpsRequest(tcp!, pair.cert);
    assert.equal(reply.status, 200);
    assert.equal(reply.fingerprint, pair.fingerprint);
    pids.add(reply.pid);
  }
  assert.equal(pids.size, 2, 'both workers answer over TLS');
  const plain = await request(unix!);
  assert.equal(plain.status, 200, 'the unix socket speaks plain HTTP');
  assert.ok(pids.has(plain.json<{ pid: number }>().pid), 'the same workers serve the unix socket');
  await assert.rejects(request(tcp!), 'plain HTTP on the HTTPS port is not served');
  assert.equal((await p.stop()).code, 0);
});

test('workers get the certificate from the master, never from the files: a replacement serves TLS after the files are gone', async (t) => {
  const dir = tempDir(t);
  const pair = makeCert(dir, 'server');
  // What the client trusts, kept apart from the server's files, which go away below.
  const ca = join(dir, 'client-ca.pem');
  copyFileSync(pair.cert, ca);
  const p = startPrefork(t, [
    '-w',
    '1',
    '--min-uptime',
    '0',
    '-b',
    '127.0.0.1:0',
    '--certfile',
    pair.cert,
    '--keyfile',
    pair.key,
    app('pid.cjs'),
  ]);
  const target = await p.ready();
  const [first] = p.readyWorkers();
  rmSync(pair.cert);
  rmSync(pair.key);
  process.kill(first!, 'SIGKILL');
  await p.waitForLog(
    (l) => l.event === 'worker' && l.state === 'ready' && l.workerPid !== first,
    10_000,
    'a replacement worker ready',
  );
  const reply = await httpsRequest(target, ca);
  assert.equal(reply.status, 200);
  assert.notEqual(reply.pid, first);
  assert.equal(reply.fingerprint, pair.fingerprint);
  assert.equal((await p.stop()).code, 0);
});

test('SIGHUP: renewed certificate files go live; changed --certfile/--keyfile paths are logged as ignored; a bad renewal aborts the reload', async (t) => {
  const dir = tempDir(t);
  const live = join(dir, 'live');
  mkdirSync(live);
  const one = makeCert(dir, 'one');
  const two = makeCert(dir, 'two');
  const other = makeCert(dir, 'other');
  const cert = join(live, 'cert.pem');
  const key = join(live, 'key.pem');
  copyFileSync(one.cert, cert);
  copyFileSync(one.key, key);
  const config = join(dir, 'prefork.json');
  writeFileSync(config, JSON.stringify({ certfile: cert, keyfile: key }));
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '-c', config, app('pid.cjs')]);
  const target = await p.ready();
  assert.equal((await httpsRequest(target, one.cert)).fingerprint, one.fingerprint);

  // Renewal in place (what certbot does), then HUP.
  copyFileSync(two.cert, cert);
  copyFileSync(two.key, key);
  p.signal('SIGHUP');
  await p.waitForEvent('reload-done');
  assert.equal(
    (await httpsRequest(target, two.cert)).fingerprint,
    two.fingerprint,
    'the renewed certificate is served',
  );

  // New paths need a restart: logged as ignored, the current certificate stays.
  writeFileSync(config, JSON.stringify({ certfile: other.cert, keyfile: other.key }));
  p.signal('SIGHUP');
  const ignored = await p.waitForEvent('reload-ignored');
  assert.ok(
    (ignored.options as string[]).includes('certfile') && (ignored.options as string[]).includes('keyfile'),
    JSON.stringify(ignored),
  );
  await p.waitForLog(
    (l) => l.event === 'reload-done' && p.logs.indexOf(l) > p.logs.indexOf(ignored),
    10_000,
    'second reload-done',
  );
  assert.equal((await httpsRequest(target, two.cert)).fingerprint, two.fingerprint);

  // A broken renewal: the reload stops, the workers keep serving the certificate they have.
  writeFileSync(key, 'not a key\n');
  const workers = p.readyWorkers();
  p.signal('SIGHUP');
  const failed = await p.waitForEvent('reload-failed');
  assert.match(String(failed.reason), new RegExp(`--keyfile ${key}`));
  assert.deepEqual(p.readyWorkers(), workers);
  assert.equal((await httpsRequest(target, two.cert)).fingerprint, two.fingerprint);
  assert.equal((await p.stop()).code, 0);
});

test('bad certificate inputs exit 2 with one line naming the file, and create nothing', async (t) => {
  const dir = tempDir(t);
  const pair = makeCert(dir, 'good');
  const stranger = makeCert(dir, 'stranger');
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'hello\n');
  const encrypted = join(dir, 'encrypted.key');
  execFileSync('openssl', ['pkey', '-in', pair.key, '-aes256', '-passout', 'pass:secret', '-out', encrypted], {
    stdio: 'ignore',
  });
  const missing = join(dir, 'missing.pem');
  const cases: Array<[string, string[], RegExp]> = [
    [
      'certfile without keyfile',
      ['--certfile', pair.cert],
      new RegExp(`--certfile ${pair.cert} is set but --keyfile is not`),
    ],
    [
      'keyfile without certfile',
      ['--keyfile', pair.key],
      new RegExp(`--keyfile ${pair.key} is set but --certfile is not`),
    ],
    [
      'missing certfile',
      ['--certfile', missing, '--keyfile', pair.key],
      new RegExp(`cannot read --certfile ${missing}: file not found`),
    ],
    [
      'keyfile is a directory',
      ['--certfile', pair.cert, '--keyfile', dir],
      new RegExp(`cannot read --keyfile ${dir}: it is a directory`),
    ],
    [
      'certfile is not a certificate',
      ['--certfile', garbage, '--keyfile', pair.key],
      new RegExp(`invalid --certfile ${garbage}: expected a PEM certificate`),
    ],
    [
      'keyfile is a certificate',
      ['--certfile', pair.cert, '--keyfile', pair.cert],
      new RegExp(`invalid --keyfile ${pair.cert}: expected a PEM private key`),
    ],
    [
      'encrypted key',
      ['--certfile', pair.cert, '--keyfile', encrypted],
      new RegExp(`invalid --keyfile ${encrypted}: the key is encrypted`),
    ],
    [
      'key of another certificate',
      ['--certfile', pair.cert, '--keyfile', stranger.key],
      new RegExp(`--keyfile ${stranger.key} does not belong to --certfile ${pair.cert}`),
    ],
  ];
  const sock = join(dir, 'app.sock');
  for (const [name, args, expected] of cases) {
    const r = await runPrefork(t, ['-b', `unix:${sock}`, '-b', '127.0.0.1:0', ...args, app('pid.cjs')]);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: one line: ${r.stderr}`);
    assert.match(lines[0]!, /^prefork: /, name);
    assert.match(lines[0]!, expected, name);
    assert.equal(existsSync(sock), false, `${name}: nothing bound`);
    assert.equal(r.logs.filter((l) => l.event === 'listening').length, 0, `${name}: nothing listening`);
  }
  // --check-config reads the files too, and env works as for every option.
  const checked = await runPrefork(t, ['--check-config', '--certfile', pair.cert, app('pid.cjs')], {
    env: { PREFORK_KEYFILE: stranger.key },
  });
  assert.equal(checked.code, 2);
  assert.match(checked.stderr, /does not belong to/);
});
