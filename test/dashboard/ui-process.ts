/**
 * `shipgate ui` as a real process against a test stack, and a small event-stream reader for its `/events`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/temporal/ports.js';
import { BIN } from '../helpers/processes.js';
import { NO_SIGNER_ENV, type Stack } from '../helpers/fixture.js';

export interface UiProcess {
  url: string;
  child: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts `shipgate ui --port <free>` over the stack's config and server; resolves once it listens. */
export async function startUi(stack: Stack, extraArgs: string[] = []): Promise<UiProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      BIN,
      'ui',
      '--config',
      stack.configFile,
      '--address',
      stack.server.address,
      '--port',
      String(port),
      ...extraArgs,
    ],
    {
      env: { ...process.env, ...NO_SIGNER_ENV, SHIPGATE_HOME: stack.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let logs = '';
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`shipgate ui did not start:\n${logs}`)), 60_000);
    const poll = setInterval(() => {
      const m = /shipgate ui: (http:\/\/\S+)/.exec(logs);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(m[1]!);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`shipgate ui exited with ${code}:\n${logs}`));
    });
  });
  return {
    url,
    child,
    logs: () => logs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface ServerEvent {
  event: string;
  data: unknown;
}

/** Reads `GET /events`: every event as it arrives, and a way to wait for one that matches. */
export class EventStream {
  readonly events: ServerEvent[] = [];
  private waiters: { pred: (e: ServerEvent) => boolean; resolve: (e: ServerEvent) => void }[] = [];
  private readonly abort = new AbortController();
  headers: Headers | null = null;

  static async open(url: string): Promise<EventStream> {
    const s = new EventStream();
    const res = await fetch(`${url}/events`, { signal: s.abort.signal });
    s.headers = res.headers;
    void s.read(res.body!.getReader());
    return s;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length === 0) continue;
          const e = { event, data: JSON.parse(data.join('\n')) as unknown };
          this.events.push(e);
          this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
        }
      }
    } catch {
      /* closed */
    }
  }

  /** The first event, already received or to come, for which `pred` holds. */
  next(pred: (e: ServerEvent) => boolean): Promise<ServerEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  close(): void {
    this.abort.abort();
  }
}
