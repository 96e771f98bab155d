import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutputLines } from '../../src/worker/app-output.js';

describe("OutputLines: the app's writes as log entries", () => {
  test('a write that ends a line is one entry, without its newline', () => {
    const lines = new OutputLines();
    assert.equal(lines.push('hello\n'), 'hello');
    assert.equal(lines.push('crlf\r\n'), 'crlf');
    assert.equal(lines.push('\n'), '', 'console.log() with nothing is an empty entry');
  });

  test('a multi-line write (an object, a stack trace) stays one entry', () => {
    assert.equal(new OutputLines().push('Error: boom\n    at f (a.js:1:1)\n'), 'Error: boom\n    at f (a.js:1:1)');
  });

  test('text without a newline waits for the rest of its line', () => {
    const lines = new OutputLines();
    assert.equal(lines.push('50%'), null);
    assert.equal(lines.push(' done'), null);
    assert.equal(lines.push('\n'), '50% done');
    assert.equal(lines.flush(), null);
  });

  test('flush hands over an unfinished line (at exit)', () => {
    const lines = new OutputLines();
    lines.push('no newline');
    assert.equal(lines.flush(), 'no newline');
    assert.equal(lines.flush(), null);
  });

  test('a line that never ends is cut at 16 KiB rather than held forever', () => {
    const lines = new OutputLines();
    assert.equal(lines.push('x'.repeat(16 * 1024 - 1)), null);
    assert.equal(lines.push('y')?.length, 16 * 1024);
  });
});
