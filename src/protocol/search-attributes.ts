import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Keyword search attributes on releases, so the Temporal UI can filter by app, environment, stage and actor. */
export const SEARCH_ATTRIBUTES = {
  app: defineSearchAttributeKey('ShipgateApp', SearchAttributeType.KEYWORD),
  env: defineSearchAttributeKey('ShipgateEnv', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('ShipgateVersion', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('ShipgateStage', SearchAttributeType.KEYWORD),
  actor: defineSearchAttributeKey('ShipgateActor', SearchAttributeType.KEYWORD),
} as const;

export const SEARCH_ATTRIBUTE_NAMES = Object.values(SEARCH_ATTRIBUTES).map((k) => k.name);
