import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, request, tempDir } from '../helpers/prefork.js';
import { type Served, checkApp, checkTermCleansUp, getRoute, prepareApp, serveApp } from './helpers.js';

const BIN = 'node_modules/json-server/lib/cli/bin.js';
const routes = [getRoute('/posts', '"author": "typicode"'), getRoute('/profile', '"name": "typicode"')];

test('json-server 0.17 --watch db.json', async (t) => {
  const dir = prepareApp('json-server');
  const db = join(tempDir(t), 'db.json');
  copyFileSync(join(dir, 'db.json'), db);
  await checkApp(t, await serveApp(t, dir, BIN, { appArgs: ['--watch', db] }), routes);
});

// json-server re-listens when db.json changes (server.destroy(), then a new app.listen()): drop-in
// mode must serve the new server on prefork's sockets in the same worker (without it the second
// listen() was refused and the workers died, replaced by ones that loaded the new file).
test('json-server 0.17 --watch: a change of db.json reloads the data in both workers (close(), listen() again)', async (t) => {
  const dir = prepareApp('json-server');
  const db = join(tempDir(t), 'db.json');
  copyFileSync(join(dir, 'db.json'), db);
  const s = await serveApp(t, dir, BIN, { appArgs: ['--watch', db] });
  const workers = s.p.readyWorkers();
  writeFileSync(db, readFileSync(db, 'utf8').replace('"name": "typicode"', '"name": "changed"'));
  // Each worker sees the change, closes its server and listens again: every request, on either
  // socket and whichever worker accepts it, gets the new data.
  await eventually(
    async () => {
      for (let i = 0; i < 20; i += 1) {
        const reply = await request(i % 2 === 0 ? s.tcp : s.unix, { path: '/profile' }).catch(() => null);
        if (reply?.status !== 200 || !reply.body.includes('"changed"')) return false;
      }
      return true;
    },
    10_000,
    'the new data from every worker',
  );
  assert.deepEqual(s.p.readyWorkers(), workers, 'the same workers serve: a re-listen is no crash');
  await checkTermCleansUp(s);
});

/** Posts 6 entries, then asks many fresh connections how many of them their worker knows. */
async function newPostsSeen(s: Served): Promise<Set<number>> {
  for (let i = 0; i < 6; i += 1) {
    const reply = await request(i % 2 === 0 ? s.tcp : s.unix, {
      method: 'POST',
      path: '/posts',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ title: 'new' }),
    });
    assert.equal(reply.status, 201, reply.body);
  }
  const seen = new Set<number>();
  for (let i = 0; i < 40; i += 1) {
    const reply = await request(i % 2 === 0 ? s.tcp : s.unix, { path: '/posts', headers: { connection: 'close' } });
    seen.add(reply.json<Array<{ title: string }>>().filter((post) => post.title === 'new').length);
  }
  return seen;
}

test('json-server keeps its data in memory: two workers answer from two copies, one worker from one (the documented fix)', async (t) => {
  const dir = prepareApp('json-server');
  for (const workers of [2, 1]) {
    const db = join(tempDir(t), 'db.json');
    copyFileSync(join(dir, 'db.json'), db);
    const s = await serveApp(t, dir, BIN, { appArgs: [db], workers });
    const seen = [...(await newPostsSeen(s))];
    t.diagnostic(`-w ${workers}: of the 6 new posts, answers saw ${seen.join(' or ')}`);
    if (workers === 2) assert.ok(!seen.includes(6), `-w 2: an answer saw all 6 new posts (${seen.join(', ')})`);
    else assert.deepEqual(seen, [6], '-w 1: every answer sees the 6 new posts');
    await checkTermCleansUp(s);
  }
});
