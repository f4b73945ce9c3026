/**
 * flowproof's own version, for the `processing_engine` facet and the default `producer` of
 * OpenLineage events. The build (tsup) and the test runner (vitest) replace `__FLOWPROOF_VERSION__`
 * with package.json's `version`; anything else running the sources sees `0.0.0-dev`.
 */
declare const __FLOWPROOF_VERSION__: string | undefined;

/** The version of this copy of flowproof. */
export const FLOWPROOF_VERSION: string =
  typeof __FLOWPROOF_VERSION__ === 'string' ? __FLOWPROOF_VERSION__ : '0.0.0-dev';
