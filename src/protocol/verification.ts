/**
 * The failure type activateAndVerifyVersion gives a verification that threw after the switch took (the version
 * serves, unverified); the environment workflow reads it to tell that apart from a switch that failed.
 */
export const VERIFY_THREW = 'ShipgateVerificationError';
