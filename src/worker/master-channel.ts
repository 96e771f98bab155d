import type { WorkerMessage } from '../shared/messages.js';

/** A failed send surfaces as 'disconnect' (main.ts drains then), never as an unheard 'error' event. */
const sendFailed = (): void => {};

/** Sends to the master while it is connected; `sent` runs once the message is written (or failed). */
export function sendToMaster(message: WorkerMessage, sent: (err: Error | null) => void = sendFailed): boolean {
  if (!process.connected || process.send === undefined) return false;
  return process.send(message, undefined, {}, sent);
}
