/** The Action's entry point, bundled to dist/index.js (see scripts/build-action.mjs and action.yml). */
import { runAction } from './run.js';

const code = await runAction();
// Exit once the log is flushed: the open gRPC channel would otherwise keep the process alive.
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
