/** @deprecated Import from src/client/errors.ts; this stays only until the demo command moves over. */
export { EXIT } from '../client/errors.js';
