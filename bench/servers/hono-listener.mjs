// The same app through @hono/node-server's getRequestListener, the adapter Hono's Node server uses:
// a (req, res) listener, which prefork serves as it is.
import { getRequestListener } from '@hono/node-server';
import { app } from './hono-app.mjs';

export default getRequestListener(app.fetch);
