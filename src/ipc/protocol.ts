// nsup's internal IPC messages between the primary and its workers. Every one carries `nsup: 1`,
// so messages that user code sends with plain process.send pass through untouched.

/** Marker and version of nsup's internal messages. */
export const NSUP_IPC = 1;

/** Primary → worker: drain and exit within `timeoutMs`. */
export interface ShutdownMessage {
  nsup: typeof NSUP_IPC;
  type: 'shutdown';
  timeoutMs: number;
}

/** Worker → primary: the app called ready() (waitReady apps count as up only after this). */
export interface ReadyMessage {
  nsup: typeof NSUP_IPC;
  type: 'ready';
}

/** Every internal message. */
export type InternalMessage = ShutdownMessage | ReadyMessage;

/** Whether a message received over IPC is one of nsup's own. */
export function isInternal(message: unknown): message is InternalMessage {
  return typeof message === 'object' && message !== null && (message as { nsup?: unknown }).nsup === NSUP_IPC && typeof (message as { type?: unknown }).type === 'string';
}

/** Whether a worker's message means "ready": nsup's own, or PM2's `process.send('ready')`. */
export function isReadyMessage(message: unknown): boolean {
  return message === 'ready' || (isInternal(message) && message.type === 'ready');
}
