export { releaseWorkflow } from './release.js';
export { environmentWorkflow } from './environment.js';
