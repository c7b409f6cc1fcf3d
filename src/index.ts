// Public API of the `nsup` package.
export { defineConfig } from './config/define.ts';
export type { AppConfig, UserConfig, RestartOptions, WatchOptions, MetricsOptions, ResolvedConfig, ResolvedApp, Duration } from './config/define.ts';
export { startSupervisor, type RunningSupervisor } from './supervisor/start.ts';
export type { PrimaryHookApp, PrimaryHookContext, PrimaryHookDispose, PrimaryHookSetup } from './supervisor/primary-hooks.ts';
export { NsupError, ConfigLoadError, ConfigInvalidError, UsageError, UnsupportedRuntimeError, EXIT, ERROR_CODES } from './errors.ts';
