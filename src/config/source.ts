import { statSync } from 'node:fs';
import { loadConfig, type LoadedConfig } from './load.js';

/**
 * The worker's config, read live: restrictions (windows, freezes, gates) must reflect the file as it is when
 * they matter, so each read checks the file's mtime and reloads when it changed.
 */
export interface ConfigSource {
  get(): LoadedConfig;
  readonly file: string;
}

export function createConfigSource(file: string): ConfigSource {
  let cached: { mtimeMs: number; size: number; loaded: LoadedConfig } | undefined;
  return {
    file,
    get() {
      const st = statSync(file);
      if (!cached || cached.mtimeMs !== st.mtimeMs || cached.size !== st.size) {
        cached = { mtimeMs: st.mtimeMs, size: st.size, loaded: loadConfig(file) };
      }
      return cached.loaded;
    },
  };
}

export function staticConfigSource(loaded: LoadedConfig): ConfigSource {
  return { file: loaded.file, get: () => loaded };
}
