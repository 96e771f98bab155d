import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PreforkError } from '../../src/shared/exit-codes.js';
import { OPTIONS } from '../../src/config/options.js';
import { type Lookups, resolvePrivileges } from '../../src/master/privileges.js';
import { fromFile, lookupGroup, lookupUser } from '../../src/master/users.js';

const PASSWD = [
  '# local users',
  'root:x:0:0:root:/root:/bin/bash',
  'www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  '',
].join('\n');
const GROUP = ['root:x:0:', 'www-data:x:33:', 'nogroup:x:65534:', ''].join('\n');

const lookups: Lookups = {
  user: (spec) => lookupUser(spec, (_db, key) => fromFile('passwd', key, PASSWD)),
  group: (spec) => lookupGroup(spec, (_db, key) => fromFile('group', key, GROUP)),
};

const none = { user: null, group: null, socketOwner: null };

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PreforkError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  });
}

test('/etc/passwd and /etc/group lines by name or by id', () => {
  assert.deepEqual(fromFile('passwd', 'nobody', PASSWD)?.slice(0, 4), ['nobody', 'x', '65534', '65534']);
  assert.deepEqual(fromFile('passwd', '33', PASSWD)?.[0], 'www-data');
  assert.equal(fromFile('passwd', 'local', PASSWD), null, 'comments are not entries');
  assert.equal(fromFile('group', '1234', GROUP), null);
  assert.deepEqual(lookups.group('www-data'), { name: 'www-data', gid: 33 });
});

test('the system database through getent', () => {
  assert.deepEqual(lookupUser('root'), { name: 'root', uid: 0, gid: 0 });
  assert.deepEqual(lookupUser('0'), { name: 'root', uid: 0, gid: 0 });
  assert.equal(lookupUser('no-such-user-here'), null);
  assert.equal(lookupGroup('root')?.gid, 0);
});

test('nothing asked, nothing done', () => {
  assert.deepEqual(resolvePrivileges(none, 0, lookups), { worker: null, socketOwner: null });
  assert.deepEqual(resolvePrivileges(none, 1000, lookups), { worker: null, socketOwner: null });
});

test('--user: its primary group by default; socket files go to the same user and group', () => {
  assert.deepEqual(resolvePrivileges({ ...none, user: 'www-data' }, 0, lookups), {
    worker: { user: 'www-data', uid: 33, gid: 33 },
    socketOwner: { uid: 33, gid: 33, label: 'www-data:33' },
  });
  assert.deepEqual(resolvePrivileges({ ...none, user: 'nobody', group: 'www-data' }, 0, lookups).worker, {
    user: 'nobody',
    uid: 65534,
    gid: 33,
  });
  assert.deepEqual(resolvePrivileges({ ...none, user: '65534', group: '33' }, 0, lookups).worker, {
    user: 'nobody',
    uid: 65534,
    gid: 33,
  });
});

test('a uid with no entry works with --group (no name: no initgroups, just that group)', () => {
  assert.deepEqual(resolvePrivileges({ ...none, user: '10001', group: '10001' }, 0, lookups).worker, {
    user: null,
    uid: 10001,
    gid: 10001,
  });
  usage(
    () => resolvePrivileges({ ...none, user: '10001' }, 0, lookups),
    /--user 10001 has no entry in the user database, so no primary group: give --group too/,
  );
});

test('--socket-owner: USER, USER:GROUP, :GROUP; -1 leaves a part unchanged', () => {
  const owner = (spec: string, user: string | null = null): unknown =>
    resolvePrivileges({ ...none, user, socketOwner: spec }, 0, lookups).socketOwner;
  assert.deepEqual(owner(':www-data'), { uid: -1, gid: 33, label: ':www-data' });
  assert.deepEqual(owner('nobody'), { uid: 65534, gid: -1, label: 'nobody' });
  assert.deepEqual(owner('root:www-data', 'nobody'), { uid: 0, gid: 33, label: 'root:www-data' });
  assert.deepEqual(owner('1234:5678'), { uid: 1234, gid: 5678, label: '1234:5678' });
});

test('errors are exit 2 and name the value', () => {
  usage(
    () => resolvePrivileges({ ...none, user: 'nobody' }, 1000, lookups),
    /^--user nobody needs prefork to start as root \(it runs as uid 1000\)/,
  );
  usage(() => resolvePrivileges({ ...none, user: 'ghost' }, 0, lookups), /^unknown user "ghost" for --user/);
  usage(
    () => resolvePrivileges({ ...none, user: 'nobody', group: 'ghosts' }, 0, lookups),
    /^unknown group "ghosts" for --group/,
  );
  usage(() => resolvePrivileges({ ...none, group: 'nogroup' }, 0, lookups), /^--group nogroup needs --user/);
  usage(
    () => resolvePrivileges({ ...none, socketOwner: 'ghost:www-data' }, 0, lookups),
    /^unknown user "ghost" for --socket-owner/,
  );
});

test('option syntax: names or ids; --socket-owner as chown takes it', () => {
  const parse = (key: 'user' | 'group' | 'socketOwner', raw: unknown): unknown =>
    OPTIONS[key].parse(raw, `--${OPTIONS[key].name}`);
  assert.equal(parse('user', 'www-data'), 'www-data');
  assert.equal(parse('user', 65534), '65534', 'a number in a config file');
  assert.equal(parse('group', 'nogroup'), 'nogroup');
  for (const spec of ['nobody', 'nobody:nogroup', ':www-data', '0:33']) assert.equal(parse('socketOwner', spec), spec);
  for (const [key, raw] of [
    ['user', ''],
    ['user', 'a b'],
    ['user', 'nobody:nogroup'],
    ['group', '-x'],
    ['socketOwner', 'a:b:c'],
    ['socketOwner', ':'],
    ['socketOwner', 'nobody:'],
    ['socketOwner', 12],
  ] as const) {
    usage(() => parse(key, raw), new RegExp(`^invalid --${OPTIONS[key].name}`));
  }
});
