import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';
import { credentials, isRoot, startWrapped } from '../helpers/wrapped.js';

// The account every Debian and Alpine has; nogroup is its primary group on Debian.
const NOBODY = 65534;
const skip = isRoot ? false : 'needs root: --user drops privileges only when prefork starts as root';

const oneLine = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one error line, got:\n${stderr}`);
  return lines[0]!;
};

interface Who {
  pid: number;
  uid: number;
  gid: number;
  groups: number[];
}

test(
  "workers run as nobody with none of root's groups, the master stays root, and they serve over TCP and a unix socket owned by nobody",
  { skip },
  async (t) => {
    const sock = join(tempDir(t), 'app.sock');
    // The master starts with supplementary groups (adm, sudo) that a careless drop would keep.
    const p = startWrapped(
      t,
      ['setpriv', '--groups', '4,27', '--'],
      ['-w', '2', '-b', '127.0.0.1:0', '-b', `unix:${sock}`, '--user', 'nobody', app('whoami.cjs')],
    );
    const tcp = await p.ready();
    assert.deepEqual(credentials(p.pid).uid, [0, 0, 0, 0], 'the master stays root');
    assert.deepEqual(credentials(p.pid).groups, [4, 27]);
    const workers = p.readyWorkers();
    assert.equal(workers.length, 2);
    for (const pid of workers) {
      assert.deepEqual(
        credentials(pid),
        { uid: [NOBODY, NOBODY, NOBODY, NOBODY], gid: [NOBODY, NOBODY, NOBODY, NOBODY], groups: [NOBODY] },
        `worker ${pid}`,
      );
    }
    const stats = lstatSync(sock);
    assert.equal(stats.uid, NOBODY);
    assert.equal(stats.gid, NOBODY);
    assert.equal(stats.mode & 0o777, 0o660);
    for (const target of [tcp, { socketPath: sock }]) {
      const reply = await request(target, { headers: { connection: 'close' } });
      assert.equal(reply.status, 200);
      const who = reply.json<Who>();
      assert.deepEqual([who.uid, who.gid, who.groups], [NOBODY, NOBODY, [NOBODY]]);
      assert.ok(workers.includes(who.pid));
    }
    assert.equal((await p.stop()).code, 0);
    assert.equal(existsSync(sock), false, 'the root master still removes the socket file');
  },
);

test(
  "--socket-owner gives the socket file to another group (nginx's) while workers run as --user",
  { skip },
  async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'app.sock');
    const other = join(dir, 'other.sock');
    const p = startPrefork(t, [
      '-w',
      '1',
      '-b',
      `unix:${sock}`,
      '-b',
      `unix:${other}`,
      '--user',
      'nobody',
      '--group',
      'nogroup',
      '--socket-owner',
      ':www-data',
      app('whoami.cjs'),
    ]);
    await p.ready();
    for (const path of [sock, other]) {
      const stats = lstatSync(path);
      assert.deepEqual([stats.uid, stats.gid], [0, 33], `${path}: owner unchanged (root), group www-data`);
    }
    const who = (await request({ socketPath: sock })).json<Who>();
    assert.deepEqual([who.uid, who.gid], [NOBODY, NOBODY]);
  },
);

test(
  'app code in a dropped worker gets no privileged port and no socket in a root-only directory',
  { skip },
  async (t) => {
    const dir = tempDir(t);
    const rootOnly = join(dir, 'root-only');
    mkdirSync(rootOnly, { mode: 0o700 });
    const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--user', 'nobody', app('whoami.cjs')]);
    const target = await p.ready();
    const attempt = async (query: string): Promise<{ bound: boolean; code?: string }> =>
      (await request(target, { path: `/bind?${query}` })).json();
    // exclusive: the worker binds by itself, so only its own (dropped) credentials decide.
    assert.deepEqual(await attempt('port=81&exclusive=1'), { pid: p.readyWorkers()[0], bound: false, code: 'EACCES' });
    assert.deepEqual(await attempt(`path=${join(rootOnly, 'x.sock')}&exclusive=1`), {
      pid: p.readyWorkers()[0],
      bound: false,
      code: 'EACCES',
    });
    // Without exclusive, nothing reaches the master: the worker's first listen() is the app's own
    // (drop-in mode; a no-op here, as the module exports an app: nothing is bound), later ones are
    // refused in the worker.
    assert.deepEqual(await attempt('port=81'), { pid: p.readyWorkers()[0], bound: true });
    await p.waitForEvent('listen-ignored');
    await assert.rejects(request({ host: '127.0.0.1', port: 81 }), /ECONNREFUSED/, 'nothing listens on port 81');
    assert.deepEqual(await attempt(`path=${join(rootOnly, 'y.sock')}`), {
      pid: p.readyWorkers()[0],
      bound: false,
      code: 'ERR_PREFORK_LISTEN',
    });
    assert.deepEqual(readdirSync(rootOnly), [], 'no socket file appeared');
    assert.equal(p.logs.filter((l) => l.event === 'bind-refused').length, 0);
  },
);

for (const [what, args, message] of [
  ['an unknown user', ['--user', 'no-such-user-here'], /^prefork: unknown user "no-such-user-here" for --user/],
  [
    'an unknown group',
    ['--user', 'nobody', '--group', 'no-such-group-here'],
    /^prefork: unknown group "no-such-group-here" for --group/,
  ],
  [
    'an unknown --socket-owner',
    ['--socket-owner', 'nobody:no-such-group-here'],
    /^prefork: unknown group "no-such-group-here" for --socket-owner/,
  ],
  ['--group without --user', ['--group', 'nogroup'], /^prefork: --group nogroup needs --user/],
] as const) {
  test(`${what} is exit 2 with one line; nothing created`, async (t) => {
    const dir = tempDir(t);
    const r = await runPrefork(t, [
      '-w',
      '1',
      '-b',
      `unix:${join(dir, 'app.sock')}`,
      '--pidfile',
      join(dir, 'app.pid'),
      ...args,
      app('whoami.cjs'),
    ]);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), message);
    assert.deepEqual(readdirSync(dir), []);
  });
}

test('--user when prefork does not start as root is exit 2 with one line', { skip }, async (t) => {
  const p = startWrapped(
    t,
    ['setpriv', '--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--'],
    ['-w', '1', '-b', '127.0.0.1:0', '--user', 'nobody', app('whoami.cjs')],
  );
  const exit = await p.exited;
  assert.equal(exit.code, 2);
  assert.match(oneLine(p.stderr), /^prefork: --user nobody needs prefork to start as root \(it runs as uid 65534\)/);
});
