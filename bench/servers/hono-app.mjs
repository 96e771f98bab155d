// The Hono hello world of bench/fetch.mjs: one route, 12 bytes of text, as in Hono's own examples.
import { Hono } from 'hono';

export const app = new Hono();
app.get('/', (c) => c.text('hello world\n'));
