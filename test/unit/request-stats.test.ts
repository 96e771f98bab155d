import assert from 'node:assert/strict';
import { test } from 'node:test';
import { add, emptyStats, record, statusClass, total } from '../../src/shared/request-stats.js';

test('status classes', () => {
  assert.deepEqual([100, 200, 204, 301, 404, 503, 599, 42, 700].map(statusClass), [
    '1xx',
    '2xx',
    '2xx',
    '3xx',
    '4xx',
    '5xx',
    '5xx',
    '1xx',
    '5xx',
  ]);
});

test('record fills the right histogram bucket and the sum', () => {
  const s = emptyStats();
  record(s, 200, 0.001);
  record(s, 200, 0.005);
  record(s, 500, 0.3);
  record(s, 404, 99);
  assert.equal(total(s), 4);
  assert.deepEqual(s.byClass, { '1xx': 0, '2xx': 2, '3xx': 0, '4xx': 1, '5xx': 1 });
  assert.equal(s.buckets[0], 2, '<= 5 ms');
  assert.equal(s.buckets[6], 1, '<= 500 ms');
  assert.equal(s.buckets[11], 1, '+Inf');
  assert.ok(Math.abs(s.durationSum - 99.306) < 1e-9);
});

test('add sums everything and leaves its inputs alone', () => {
  const a = emptyStats();
  const b = emptyStats();
  record(a, 200, 0.01);
  record(b, 200, 0.01);
  record(b, 503, 2);
  const sum = add(a, b);
  assert.equal(total(sum), 3);
  assert.equal(sum.byClass['5xx'], 1);
  assert.equal(total(a), 1);
  assert.equal(
    sum.buckets.reduce((x, y) => x + y, 0),
    3,
  );
});
