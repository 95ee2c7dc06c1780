/**
 * The signing key a coordinator uses when none is configured. It is public,
 * so it only serves local development: a coordinator using it binds loopback
 * only, and says so.
 */
export const DEV_KID = 'dev'
export const DEV_SIGNING_KEY = 'slew-dev-signing-key-not-a-secret'
export const devSigningKeys = Object.freeze({ [DEV_KID]: DEV_SIGNING_KEY })
