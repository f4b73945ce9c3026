/**
 * Validation pipelines: staged transform/validate/enrich chains with trust boundaries, per-stage error policies and field-loss detection.
 *
 * Not implemented yet: this entry is reserved so the package's export map is stable. See the
 * README's module list for status.
 *
 * @module
 */
export {};
