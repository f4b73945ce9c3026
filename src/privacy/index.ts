/**
 * Privacy: classification of PII/PCI/PHI/secret fields, redaction, masking, tokenization, hashing, field-level encryption and crypto-shredding.
 *
 * Not implemented yet: this entry is reserved so the package's export map is stable. See the
 * README's module list for status.
 *
 * @module
 */
export {};
