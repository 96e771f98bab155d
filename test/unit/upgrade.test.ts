import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { ExitCode, PreforkError } from '../../src/shared/exit-codes.js';
import { HANDOVER_ENV, type HandoverSocket, Inheritance, bindKey, handoverFor } from '../../src/upgrade/handover.js';
import { nodeBinary, scriptPath } from '../../src/upgrade/upgrade.js';

function dir(t: TestContext): string {
  const d = mkdtempSync(join(tmpdir(), 'prefork-unit-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function executable(path: string): void {
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
}

test('nodeBinary keeps the name the operator used: a path through a symlink stays that path, resolved against $PWD', (t) => {
  const d = dir(t);
  mkdirSync(join(d, 'releases/1/bin'), { recursive: true });
  executable(join(d, 'releases/1/bin/node'));
  symlinkSync(join(d, 'releases/1'), join(d, 'current'));
  assert.equal(nodeBinary('bin/node', join(d, 'current'), undefined, '/fallback'), join(d, 'current/bin/node'));
  assert.equal(nodeBinary(join(d, 'current/bin/node'), '/', undefined, '/fallback'), join(d, 'current/bin/node'));
  assert.equal(
    nodeBinary('bin/gone', join(d, 'current'), undefined, '/fallback'),
    '/fallback',
    'a path that no longer exists: the running binary',
  );
});

test('nodeBinary looks a bare name up in PATH, in order, skipping directories and non-executables', (t) => {
  const d = dir(t);
  for (const sub of ['a', 'b', 'c']) mkdirSync(join(d, sub));
  mkdirSync(join(d, 'a', 'node'));
  writeFileSync(join(d, 'b', 'node'), 'not executable');
  executable(join(d, 'c', 'node'));
  assert.equal(
    nodeBinary('node', '/', `${join(d, 'a')}:${join(d, 'b')}:${join(d, 'c')}`, '/fallback'),
    join(d, 'c', 'node'),
  );
  assert.equal(nodeBinary('node', '/', join(d, 'a'), '/fallback'), '/fallback');
  assert.equal(nodeBinary('node', '/', undefined, '/fallback'), '/fallback');
});

test('scriptPath takes a script under the physical start directory through its name ($PWD)', () => {
  assert.equal(
    scriptPath(
      '/srv/app/releases/42/node_modules/prefork/dist/bin/prefork.js',
      '/srv/app/releases/42',
      '/srv/app/current',
    ),
    '/srv/app/current/node_modules/prefork/dist/bin/prefork.js',
  );
  assert.equal(
    scriptPath('/opt/prefork/cli.js', '/srv/app/releases/42', '/srv/app/current'),
    '/opt/prefork/cli.js',
    'elsewhere: unchanged',
  );
  assert.equal(
    scriptPath('/srv/app/releases/420/cli.js', '/srv/app/releases/42', '/srv/app/current'),
    '/srv/app/releases/420/cli.js',
    'a sibling with the same prefix is not under it',
  );
  assert.equal(scriptPath('/srv/app/cli.js', '/srv/app', '/srv/app'), '/srv/app/cli.js');
});

const sockets: HandoverSocket[] = [
  { role: 'listen', fd: 17, bind: '127.0.0.1:0', owned: null, systemd: null },
  {
    role: 'listen',
    fd: 9,
    bind: 'unix:/run/app.sock',
    owned: { path: '/run/app.sock', dev: 1, ino: 2 },
    systemd: null,
  },
  { role: 'listen', fd: 3, bind: 'fd://3', owned: null, systemd: 'web' },
  {
    role: 'control',
    fd: 21,
    bind: 'unix:/run/ctl.sock',
    owned: { path: '/run/ctl.sock', dev: 1, ino: 3 },
    systemd: null,
  },
];

test('the hand-over list: fds in order for spawn, renumbered from 3 in the env, read back by role and bind, each once', () => {
  const { fds, env: value } = handoverFor(sockets, 4242);
  assert.deepEqual(fds, [17, 9, 3, 21]);
  const env: NodeJS.ProcessEnv = { [HANDOVER_ENV]: value };
  const inh = Inheritance.fromEnv(env)!;
  assert.equal(env[HANDOVER_ENV], undefined, 'removed from the environment as it is read');
  assert.equal(inh.parent, 4242);
  assert.deepEqual(
    inh.activated().map((s) => [s.bind, s.fd, s.systemd]),
    [['fd://3', 5, 'web']],
  );
  assert.equal(inh.take('listen', 'unix:/run/app.sock')?.fd, 4);
  assert.equal(inh.take('listen', 'unix:/run/app.sock'), null, 'claimed once');
  assert.equal(inh.take('listen', 'unix:/run/ctl.sock'), null, "another role's socket is not a listener");
  assert.deepEqual(inh.take('control', 'unix:/run/ctl.sock')?.owned, { path: '/run/ctl.sock', dev: 1, ino: 3 });
  assert.deepEqual(
    inh.unclaimed().map((s) => s.bind),
    ['127.0.0.1:0', 'fd://3'],
  );
  assert.equal(Inheritance.fromEnv({}), null, 'not an upgrade');
});

test('a hand-over variable that does not parse is a usage error (exit 2) naming it', () => {
  for (const bad of [
    'nope',
    '{}',
    '{"parent":0,"sockets":[]}',
    '{"parent":1,"sockets":[{"role":"listen","fd":1,"bind":"x","owned":null,"systemd":null}]}',
  ]) {
    assert.throws(
      () => Inheritance.fromEnv({ [HANDOVER_ENV]: bad }),
      (err: unknown) =>
        err instanceof PreforkError &&
        err.exitCode === ExitCode.usage &&
        err.message.startsWith(`invalid env ${HANDOVER_ENV} `),
      bad,
    );
  }
});

test('bindKey: binds as configured, a relative socket path made absolute against the directory it is bound in', () => {
  assert.equal(bindKey({ kind: 'tcp', host: '127.0.0.1', port: 0 }), '127.0.0.1:0');
  assert.equal(bindKey({ kind: 'unix', path: '/run/app.sock' }), 'unix:/run/app.sock');
  assert.equal(bindKey({ kind: 'unix', path: 'app.sock' }), `unix:${join(process.cwd(), 'app.sock')}`);
  assert.equal(bindKey({ kind: 'abstract', name: 'app' }), 'unix:@app');
  assert.equal(bindKey({ kind: 'fd', fd: 3 }), 'fd://3');
});
