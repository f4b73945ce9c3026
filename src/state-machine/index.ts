/**
 * State machines: typed entity lifecycles with guards, persisted with optimistic locking, versioned, with durable timers.
 *
 * Not implemented yet: this entry is reserved so the package's export map is stable. See the
 * README's module list for status.
 *
 * @module
 */
export {};
