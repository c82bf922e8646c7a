/** Kept for importers of this path; the names live in src/protocol/search-attributes.ts. */
export { SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTE_NAMES } from '../protocol/search-attributes.js';
