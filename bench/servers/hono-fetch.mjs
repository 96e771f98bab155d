// Hono's documented shape, `export default app` (an object with fetch): prefork's own adapter serves it.
import { app } from './hono-app.mjs';

export default app;
