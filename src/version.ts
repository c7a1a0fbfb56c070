/**
 * certpin's version, as reports and the CLI state it. A test keeps it equal to package.json's.
 * @module
 */

/** The version of this certpin. */
export const CERTPIN_VERSION = '0.2.0';
