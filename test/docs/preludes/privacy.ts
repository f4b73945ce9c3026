/**
 * What docs/privacy.md's snippets assume the application has: a `pg` pool for the application's
 * data and another for the data-key store (kept apart from the data, as the guide advises), each
 * in a schema of its own on the test PostgreSQL server.
 */
import { guideDatabase } from '../../support/guide-database.js';

/** The application's pool. */
export const pool = (await guideDatabase('docs/privacy.md', 'docs_privacy')).pool;

/** The pool of the database the data keys live in. */
export const keysPool = (await guideDatabase('docs/privacy.md', 'docs_privacy_keys')).pool;
