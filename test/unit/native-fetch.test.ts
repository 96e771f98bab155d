import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeClass } from '../../src/worker/native-fetch.js';

test("nativeClass finds Node's Request and Response behind an app's own (as @hono/node-server installs)", () => {
  const NodeRequest = globalThis.Request;
  const NodeResponse = globalThis.Response;
  // Hono's Request extends Node's; its Response only takes Node's as prototype.
  class AppRequest extends NodeRequest {}
  class AppResponse {}
  Object.setPrototypeOf(AppResponse, NodeResponse);
  try {
    assert.equal(nativeClass('Request'), NodeRequest);
    Object.defineProperty(globalThis, 'Request', { value: AppRequest, writable: true, configurable: true });
    Object.defineProperty(globalThis, 'Response', { value: AppResponse, writable: true, configurable: true });
    assert.equal(nativeClass('Request'), NodeRequest);
    assert.equal(nativeClass('Response'), NodeResponse);
    assert.equal(globalThis.Request, AppRequest, "the app's Request stays");
  } finally {
    Object.defineProperty(globalThis, 'Request', { value: NodeRequest, writable: true, configurable: true });
    Object.defineProperty(globalThis, 'Response', { value: NodeResponse, writable: true, configurable: true });
  }
});
