// One coded registry of the errors nsup reports to users. Every message says what failed,
// what was received, and how to fix it; `exitCode` is what the CLI exits with.

/** Exit codes of the `nsup` CLI (sysexits-style where one exists). */
export const EXIT = {
  ok: 0,
  /** Runtime failure: a reload failed, nothing to talk to, a worker could not start. */
  runtime: 1,
  /** Command-line usage error. */
  usage: 2,
  /** Invalid configuration (EX_CONFIG); pair with systemd's RestartPreventExitStatus=78. */
  config: 78,
} as const;

/** Base class: every error nsup raises on purpose carries a stable code and an exit code. */
export class NsupError extends Error {
  readonly code: string = 'NSUP_ERR';
  readonly exitCode: number = EXIT.runtime;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The config file could not be found, imported or parsed. */
export class ConfigLoadError extends NsupError {
  override readonly code = 'NSUP_ERR_CONFIG_LOAD';
  override readonly exitCode = EXIT.config;
}

/** The config (file or flags) has a key that is unknown, of the wrong type, or out of range. */
export class ConfigInvalidError extends NsupError {
  override readonly code = 'NSUP_ERR_CONFIG_INVALID';
  override readonly exitCode = EXIT.config;
  /** Where the problem is, e.g. `apps[0].restart.delay`. */
  readonly keyPath: string;
  constructor(keyPath: string, message: string) {
    super(message);
    this.keyPath = keyPath;
  }
}

/** The command line could not be understood. */
export class UsageError extends NsupError {
  override readonly code = 'NSUP_ERR_USAGE';
  override readonly exitCode = EXIT.usage;
}

/** The Node.js running nsup cannot do what was asked (e.g. run a .ts app without type stripping). */
export class UnsupportedRuntimeError extends NsupError {
  override readonly code = 'NSUP_ERR_UNSUPPORTED_RUNTIME';
  override readonly exitCode = EXIT.config;
}

/** A control-socket peer sent bytes that are not a valid nsup control frame or request. */
export class ProtocolError extends NsupError {
  override readonly code = 'NSUP_ERR_CONTROL_PROTOCOL';
  override readonly exitCode = EXIT.runtime;
}

/** The runtime directory (control sockets, daemon logs) is unsafe or unusable. */
export class RuntimeDirError extends NsupError {
  override readonly code = 'NSUP_ERR_RUNTIME_DIR';
  override readonly exitCode = EXIT.runtime;
}

/** A control command failed: nothing to talk to, an unknown app, or the supervisor's own error reply. */
export class ControlError extends NsupError {
  override readonly code = 'NSUP_ERR_CONTROL';
  /** The code the supervisor replied with, when the error came from it. */
  readonly remoteCode: string | undefined;
  constructor(message: string, options?: { cause?: unknown; remoteCode?: string | undefined }) {
    super(message, options);
    this.remoteCode = options?.remoteCode;
  }
}

/** `nsup start` of an app name that another supervisor already runs. */
export class AlreadyRunningError extends NsupError {
  override readonly code = 'NSUP_ERR_ALREADY_RUNNING';
}

/** Every error code, for the docs test: each must be documented in docs/errors.md. */
export const ERROR_CODES = [
  'NSUP_ERR_CONFIG_LOAD',
  'NSUP_ERR_CONFIG_INVALID',
  'NSUP_ERR_USAGE',
  'NSUP_ERR_UNSUPPORTED_RUNTIME',
  'NSUP_ERR_CONTROL_PROTOCOL',
  'NSUP_ERR_RUNTIME_DIR',
  'NSUP_ERR_CONTROL',
  'NSUP_ERR_ALREADY_RUNNING',
] as const;
