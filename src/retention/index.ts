/**
 * Retention and deletion: declarative retention policies, a data map per subject, soft-then-hard deletion, anonymization, legal holds and batched sweeps.
 *
 * Not implemented yet: this entry is reserved so the package's export map is stable. See the
 * README's module list for status.
 *
 * @module
 */
export {};
