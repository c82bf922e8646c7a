import path from 'node:path';
import { existsSync } from 'node:fs';
import type { LoadedConfig } from '../config/load.js';
import { ShipgateClient } from '../client.js';
import { BadInputError } from '../client/errors.js';
import { escLines, jsonForTerminal } from '../client/text.js';
import { temporalOptions, type TemporalOptions } from '../temporal/connect.js';

export interface GlobalOptions {
  config?: string;
  address?: string;
  namespace?: string;
  json?: boolean;
}

/** What every command gets: options, output helpers and lazy access to config and Temporal. */
export class CliContext {
  readonly temporal: TemporalOptions;
  private connected?: Promise<ShipgateClient>;
  private explicit?: Promise<LoadedConfig | undefined>;

  constructor(readonly opts: GlobalOptions) {
    this.temporal = temporalOptions(opts);
  }

  get json(): boolean {
    return !!this.opts.json;
  }

  get home(): string {
    return path.resolve(process.env.SHIPGATE_HOME ?? '.shipgate');
  }

  /** The config named by --config or SHIPGATE_CONFIG (read once); undefined when neither is given. */
  explicitConfig(): Promise<LoadedConfig | undefined> {
    const file = this.opts.config ?? process.env.SHIPGATE_CONFIG;
    this.explicit ??= file
      ? loadConfigModule().then(({ loadConfig }) => loadConfig(file))
      : Promise.resolve(undefined);
    return this.explicit;
  }

  /** The worker-side lookup: --config, SHIPGATE_CONFIG, then ./shipgate.yaml. */
  async requireConfig(): Promise<LoadedConfig> {
    const { loadConfig, resolveConfigPath } = await loadConfigModule();
    const file = resolveConfigPath(this.opts.config);
    if (!existsSync(file))
      throw new BadInputError(`config not found: ${file} (use --config FILE or SHIPGATE_CONFIG)`);
    return loadConfig(file);
  }

  /** The client, connected on first use. No graceful close: the process exits right after the command. */
  shipgate(): Promise<ShipgateClient> {
    this.connected ??= ShipgateClient.connect(this.temporal);
    return this.connected;
  }

  /**
   * Prints one JSON document with --json, else the human text. Neither reaches the terminal with a raw control
   * character: commands escape each free text they quote (esc), and this escapes whatever is left but newlines.
   */
  print(human: string | (() => string), json: unknown): void {
    if (this.json) process.stdout.write(jsonForTerminal(json) + '\n');
    else process.stdout.write(escLines(typeof human === 'function' ? human() : human) + '\n');
  }

  info(text: string): void {
    if (!this.json) process.stderr.write(escLines(text) + '\n');
  }
}

/** With a config in hand, unknown apps and environments are caught before anything starts. */
export function checkNames(config: LoadedConfig | undefined, app: string, env?: string): void {
  if (!config) return;
  const a = config.config.apps[app];
  if (!a)
    throw new BadInputError(
      `unknown app "${app}" (configured apps: ${Object.keys(config.config.apps).join(', ')})`,
    );
  if (env !== undefined && !a.environments[env]) {
    throw new BadInputError(
      `unknown environment "${env}" for app ${app} (environments: ${Object.keys(a.environments).join(', ')})`,
    );
  }
}

export type Runner = (fn: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

/** zod, yaml and croner load only for commands that read a config: a rollback should start fast. */
function loadConfigModule() {
  return import('../config/load.js');
}
